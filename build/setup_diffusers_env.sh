#!/usr/bin/env bash
# A separate venv for Hugging Face diffusers (LTX2Pipeline), used to write the tiny diffusers-layout
# model and its reference outputs for tests/test_diffusers_layout.py, and to run our Gemma code under transformers 5
# (tests/test_transformers_versions.py).
# diffusers 0.42 needs transformers 5 / huggingface_hub >= 1.32, while the main venv keeps transformers 4.x
# (ltx-core needs it), so the two cannot share one environment. Idempotent: a finished env is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python3}"
VENV=.venv-diffusers
STAMP="$VENV/.setup-done"
if [ -f "$STAMP" ]; then
    exit 0
fi
test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch 2.13.0 CPU build lies on disk here; an unpinned torch would pull several GB of CUDA wheels
"$VENV/bin/python" -m pip install -q torch==2.13.0 || "$VENV/bin/python" -m pip install -q "torch>=2.7"
"$VENV/bin/python" -m pip install -q diffusers==0.42.1 "transformers>=5,<6" safetensors sentencepiece accelerate "numpy<2"
touch "$STAMP"
