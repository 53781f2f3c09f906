# Quick start: `make demo` then `make test`. Both set everything up from nothing.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.setup-done
TINY    := build/tiny
TINY_STAMP := $(TINY)/.done
TRITON_STAMP := build/triton-server/.done
PYTEST  := $(BIN)/python -m pytest

.PHONY: setup test test-fast demo tiny clean diffusers-env reference-env trained-checkpoint

setup: $(STAMP) $(TINY_STAMP) $(TRITON_STAMP) diffusers-env reference-env

# diffusers 0.42 needs transformers 5 / huggingface_hub >= 1.32, the reference needs transformers 4:
# diffusers lives in its own venv, used only to write diffusers-layout test checkpoints.
diffusers-env:
	PY=$(PY) bash build/setup_diffusers_env.sh

# The reference with the real torchaudio (torch 2.11), for the parity tests of audio encoding and audio-to-video:
# no torchaudio build loads beside the main venv's torch 2.13.
reference-env:
	PY=$(PY) bash build/setup_reference_env.sh

$(STAMP): pyproject.toml build/requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch 2.13.0 CPU build lies on disk here; an unpinned torch would pull several GB of CUDA wheels
	$(BIN)/python -m pip install -q torch==2.13.0 || $(BIN)/python -m pip install -q "torch>=2.7"
	$(BIN)/python -m pip install -q -r build/requirements.txt
	# Lightricks' reference (the specification for parity tests); its torchaudio pin is in the way
	$(BIN)/python -m pip install -q --no-deps ltx-core==1.0.0 ltx-pipelines==1.0.0
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

$(TINY_STAMP): $(STAMP) build/make_tiny_checkpoints.py build/tiny_gemma.py
	$(BIN)/python build/make_tiny_checkpoints.py --out $(TINY)
	touch $@

tiny: $(TINY_STAMP)

# The tiny LTX-2.3 checkpoint trained on synthetic clips, for the tests that look at pixels: committed under
# tests/fixtures/ (training is chaotic: the same seeded run gives other weights on another CPU). This makes it
# anew (about seven CPU minutes) and fails unless it meets the script's stated criterion.
trained-checkpoint: $(STAMP)
	$(BIN)/python build/train_tiny_checkpoint.py --out tests/fixtures/ltx-2.3-trained

# A real Triton Inference Server (2.51, from the nvidia-pytriton wheel) and perf_analyzer (tritonclient 2.49.0 wheel)
$(TRITON_STAMP): $(STAMP) build/install_triton.sh
	PY=$(BIN)/python bash build/install_triton.sh

# Everything (CI runs this; the 25 slowest tests are listed, to keep the suite fast). test-fast: the edit-test loop, without the tritonserver and slow tests.
test: setup
	$(PYTEST) tests --durations=25

test-fast: setup
	$(PYTEST) tests -m "not server and not slow"

demo: setup
	$(BIN)/ltx-triton generate --model-path $(TINY)/ltx-2.3 --prompt "A red fox runs through fresh snow at dawn" \
		--seed 10 --width 256 --height 192 --num-frames 25 --num-inference-steps 8 \
		--save-output --output-path outputs/demo.mp4

clean:
	rm -rf $(VENV) .venv-diffusers .venv-reference $(TINY) outputs
