#!/usr/bin/env bash
# A separate venv where Lightricks' reference (ltx-core / ltx-pipelines 1.0.0) runs with the real torchaudio,
# for the parity tests of what uses it: audio encoding (torchaudio's MelSpectrogram and resample), and so the
# audio-to-video and retake pipelines end to end. No torchaudio build loads beside the main venv's
# torch 2.13 CPU; torch 2.11 + torchaudio 2.11 from PyPI do (a CUDA build, about 4.6 GB, run on the CPU).
# The main venv keeps the reference for everything else, in-process. Idempotent: a finished env is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python3}"
VENV=.venv-reference
STAMP="$VENV/.setup-done"
if [ -f "$STAMP" ]; then
    exit 0
fi
test -x "$VENV/bin/python" || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# ~4 GB from PyPI, not kept again in pip's cache (--no-cache-dir: the venv is all the disk it needs); a dropped
# connection resumes (--resume-retries), and the whole install is tried up to 3 times
for attempt in 1 2 3; do
    "$VENV/bin/python" -m pip install -q --no-cache-dir --retries 10 --resume-retries 20 torch==2.11.0 torchaudio==2.11.0 && break
    if [ "$attempt" = 3 ]; then exit 1; fi
    echo "setup_reference_env: torch download failed (attempt $attempt), retrying" >&2
done
# the same versions of the reference's dependencies as the main venv
"$VENV/bin/python" -m pip install -q "numpy<2" "transformers>=4.52,<5" safetensors einops accelerate scipy av tqdm pillow sentencepiece
"$VENV/bin/python" -m pip install -q ltx-core==1.0.0 ltx-pipelines==1.0.0
"$VENV/bin/python" -c "import torchaudio, ltx_pipelines.a2vid_two_stage, ltx_pipelines.retake"
touch "$STAMP"
