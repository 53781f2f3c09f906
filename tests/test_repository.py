"""The checked-in model repository is the default rendering of ltx_backend.serving.repository."""
from __future__ import annotations

from conftest import ROOT
from ltx_backend.serving.repository import DEFAULT_MODEL_PATH, RepositoryOptions, render_repository


def test_checked_in_repository_is_the_default_rendering(tmp_path):
    rendered = render_repository(RepositoryOptions(), tmp_path / "repo")
    checked_in = ROOT / "model_repository"
    names = sorted(p.name for p in rendered.iterdir())
    assert names == sorted(p.name for p in checked_in.iterdir() if p.is_dir())
    for name in names:
        for file in ("config.pbtxt", "1/model.py"):
            assert (rendered / name / file).read_text() == (checked_in / name / file).read_text(), f"{name}/{file}"


def test_checked_in_repository_names_the_real_model():
    """What `tritonserver --model-repository model_repository` serves without LTX_MODEL_PATH: the published
    LTX-2.3, not a test checkpoint."""
    assert DEFAULT_MODEL_PATH == "Lightricks/LTX-2.3"
    config = (ROOT / "model_repository" / "denoiser" / "config.pbtxt").read_text()
    assert 'key: "model_path" value: { string_value: "Lightricks/LTX-2.3" }' in config


def test_the_quantization_reaches_the_denoisers_and_only_them(tmp_path):
    """serve --quantization fp8-cast: each denoiser model (both in resident mode) loads its transformer so."""
    from ltx_backend.request import LoadOptions

    for mode, denoisers in (("snapshot", ["denoiser"]), ("resident", ["denoiser_stage1", "denoiser_stage2"])):
        options = RepositoryOptions(pipeline_classes=("LTX2TwoStagePipeline",), device_mode=mode, load=LoadOptions(quantization="fp8-cast"))
        rendered = render_repository(options, tmp_path / mode)
        for model in sorted(p.name for p in rendered.iterdir()):
            config = (rendered / model / "config.pbtxt").read_text()
            assert ('key: "quantization" value: { string_value: "fp8-cast" }' in config) == (model in denoisers), model


def test_the_models_processes_import_their_adapters_without_transformers():
    """Each Triton model runs in its own process that imports its adapter at start-up. transformers (2-3 s and
    ~200 MB a process on import) is for the text encoder's Gemma, loaded when that model initialises: importing it
    at module level made the tiny server's start 40 s instead of 10 s on 2 cores."""
    import subprocess
    import sys

    adapters = sorted(p.stem for p in (ROOT / "python_backend/ltx_backend/serving/adapters").glob("*.py") if p.stem != "__init__")
    assert {"denoiser", "pipeline", "text_encoder", "vae_decoder"} <= set(adapters)
    code = "import importlib, sys\n" + "".join(f"importlib.import_module('ltx_backend.serving.adapters.{a}')\n" for a in adapters)
    code += "print(sorted(m for m in sys.modules if m.split('.')[0] in ('transformers', 'scipy', 'sklearn')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PATH": "", "PYTHONPATH": str(ROOT / "python_backend")}).stdout.strip()
    assert loaded == "[]", loaded
