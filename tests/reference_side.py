"""Running Lightricks' reference in .venv-reference (build/setup_reference_env.sh): torch 2.11 with the real
torchaudio, which its audio encoding needs and which no build of loads beside the main venv's torch.

A test writes its inputs to an .npz, runs a script of tests/reference_runs/ there, and reads its outputs
back from another .npz. The scripts import nothing of ours: they are the reference's side alone.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv-reference" / "bin" / "python"
RUNS = Path(__file__).resolve().parent / "reference_runs"


def run_reference_script(script: str, tmp_path: Path, inputs: dict[str, np.ndarray] | None = None,
                         *args: str, timeout: float = 600) -> dict[str, np.ndarray]:
    """Run tests/reference_runs/<script>.py INPUT.npz OUTPUT.npz ARGS... in the reference venv."""
    if not PYTHON.exists():
        raise RuntimeError(f"{PYTHON} is missing: `make setup` builds it (build/setup_reference_env.sh)")
    source, result = tmp_path / f"{script}-in.npz", tmp_path / f"{script}-out.npz"
    np.savez(source, **(inputs or {}))
    env = dict(os.environ, PYTHONPATH=str(RUNS.parent), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    env.pop("TRITON_INTERPRET", None)
    done = subprocess.run([str(PYTHON), str(RUNS / f"{script}.py"), str(source), str(result), *args],
                          env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-8000:])
        raise RuntimeError(f"reference script {script} failed (exit {done.returncode})")
    with np.load(result) as data:
        return {name: data[name] for name in data.files}
