import importlib.util
import os
import sys
from pathlib import Path

# Triton kernels run on CPU through the interpreter; it must be chosen before anything imports triton.
os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(ROOT / "build"))  # the test fixtures package ltx_testing and the build scripts
from reference_env import prepare_reference  # noqa: E402

prepare_reference()
# Two threads (CI's cores), or OMP_NUM_THREADS where set: checks that a test does not depend on the thread count.
# Exported, so the processes tests start (the CLI, tritonserver's model stubs) compute as this one does.
THREADS = int(os.environ.get("OMP_NUM_THREADS") or max(1, min(2, os.cpu_count() or 1)))
torch.set_num_threads(THREADS)
os.environ["OMP_NUM_THREADS"] = str(THREADS)


def pytest_collection_modifyitems(config, items):
    """`gpu` tests need CUDA: skipped, with the reason, where there is none (CI)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (run `pytest -m gpu` on the device machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _deterministic():
    """Every test starts from seed 0 and leaves the kernels' backend at "auto" (the kernel tests switch it)."""
    import ltx_kernels

    torch.manual_seed(0)
    yield
    ltx_kernels.set_attention_backend("auto")


def load_build_script(name: str):
    """A build/ script as a module, loaded once per run (and registered, as dataclasses look their module up)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "build" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """The tiny LTX-2 and LTX-2.3 checkpoints in the official single-file layout, built once per run.

    Returns {"2": dir, "2.3": dir}; each dir holds the .safetensors file, text_encoder/ and tokenizer/.
    """
    maker = load_build_script("make_tiny_checkpoints")
    root = tmp_path_factory.mktemp("tiny")
    return {version: maker.make_checkpoint(root / f"ltx-{version}", version, seed=0).parent for version in ("2", "2.3")}


@pytest.fixture(scope="session")
def trained_checkpoint() -> Path:
    """The tiny LTX-2.3 checkpoint trained on synthetic clips, committed (build/train_tiny_checkpoint.py says why
    it is not trained per run; `make trained-checkpoint` makes it anew)."""
    directory = ROOT / "tests" / "fixtures" / "ltx-2.3-trained"
    assert (directory / "training.json").is_file(), f"{directory} is missing: `make trained-checkpoint` writes it"
    return directory


def checkpoint_file(directory: Path) -> Path:
    (path,) = directory.glob("ltx-*.safetensors")
    return path
