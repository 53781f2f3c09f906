"""fp8 transformer weights (#14): `--quantization fp8-cast` on a full-precision file and a published-format fp8
file (block Linears stored float8_e4m3fn, with or without per-tensor scales) give ltx-pipelines' fp8-cast
video; the weights stay fp8 in memory; a bad quantization is refused naming it.

The tiny checkpoints are fp32 and run in fp32 on CPU, as the other parity tests: fp8-cast there upcasts to
fp32, as ltx-core does to the activation dtype.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from conftest import checkpoint_file
from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.quantization import cast_at_load
from ltx_backend.models.fp8_linear import Fp8CastLinear
from ltx_backend.models.transformer.config import transformer_key
from ltx_backend.request import GenerationRequest, LoadOptions
from ltx_backend.runtime.local_components import load_pipeline
from parity import compare, psnr
from reference_env import TorchWithDtype, use_tiny_gemma_config
from reference_env import run_reference as reference_run

SETTINGS = dict(prompt="A red fox trots through fresh snow, wind howling", seed=42, width=96, height=64, num_frames=9, num_inference_steps=3)
CPU = torch.device("cpu")
pytestmark = pytest.mark.slow


def write_fp8_file(source: Path, directory: Path, name: str, scaled: bool) -> Path:
    """The tiny checkpoint in a published fp8 file's form, under `name` beside the same Gemma: the block Linears
    ltx-core's downcast map picks stored float8_e4m3fn; with `scaled`, weights quantised per tensor
    (amax / 448) with their `weight_scale` and an `input_scale` beside them."""
    directory.mkdir(parents=True)
    for sub in ("text_encoder", "tokenizer"):
        shutil.copytree(source / sub, directory / sub)
    with safe_open(str(checkpoint_file(source)), framework="pt") as f:
        metadata = f.metadata()
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    out = {}
    for key, tensor in tensors.items():
        target = transformer_key(key)
        if target is None or not cast_at_load(target):
            out[key] = tensor
        elif scaled and key.endswith(".weight"):
            scale = tensor.abs().amax().float() / torch.finfo(torch.float8_e4m3fn).max
            out[key] = (tensor / scale).to(torch.float8_e4m3fn)
            out[key.removesuffix(".weight") + ".weight_scale"] = scale.reshape(())
            out[key.removesuffix(".weight") + ".input_scale"] = torch.tensor(1.0)
        else:
            out[key] = tensor.to(torch.float8_e4m3fn)
    path = directory / name
    save_file(out, str(path), metadata=metadata)
    return path


def run_reference_fp8_cast(checkpoint: Path, gemma_root: Path, request, monkeypatch):
    import ltx_pipelines.ti2vid_one_stage as one_stage
    from ltx_core.quantization import QuantizationPolicy
    from ltx_pipelines.utils.constants import LTX_2_PARAMS

    use_tiny_gemma_config(gemma_root, monkeypatch)
    monkeypatch.setattr(one_stage, "torch", TorchWithDtype(torch.float32))
    pipeline = one_stage.TI2VidOneStagePipeline(checkpoint_path=str(checkpoint), gemma_root=str(gemma_root), loras=[], device=CPU,
                                                quantization=QuantizationPolicy.fp8_cast())
    return reference_run(pipeline, request, LTX_2_PARAMS)


def block_linears(pipeline) -> list[torch.nn.Linear]:
    transformer = pipeline.components.transformer
    return [m for name, m in transformer.named_modules() if name.startswith("transformer_blocks.") and isinstance(m, torch.nn.Linear)]


@pytest.fixture(scope="module")
def request_and_full(tiny_checkpoints):
    """The request, and the full-precision video (the distance fp8 moves the video is measured against it)."""
    request = GenerationRequest(**SETTINGS).resolve("2")
    return request, load_pipeline(str(tiny_checkpoints["2"]), device=CPU, dtype=torch.float32)(request)


def test_fp8_cast_matches_the_reference_and_holds_fp8_weights(tiny_checkpoints, request_and_full, monkeypatch):
    directory = tiny_checkpoints["2"]
    request, full = request_and_full
    pipeline = load_pipeline(str(directory), device=CPU, dtype=torch.float32, options=LoadOptions(quantization="fp8-cast"))
    linears = block_linears(pipeline)
    cast = [m for m in linears if isinstance(m, Fp8CastLinear)]
    # attention q/k/v/out and the two feed-forward projections: 6 per attention-or-ff group; gates stay fp32
    assert cast and all(m.weight.dtype == torch.float8_e4m3fn and m.weight.element_size() == 1 for m in cast)
    assert all(m.bias.dtype == torch.float8_e4m3fn for m in cast)
    assert all(m.weight.dtype == torch.float32 for m in linears if not isinstance(m, Fp8CastLinear))  # e.g. to_gate_logits
    ours = pipeline(request)
    moved = psnr(ours.frames, full.frames)
    matched = compare("LTX-2 one-stage fp8-cast", ours, run_reference_fp8_cast(checkpoint_file(directory), directory, request, monkeypatch), request)
    print(f"fp8-cast vs full precision: {moved:.1f} dB")
    assert matched > moved + 10  # the test tells fp8 from full precision


def test_a_published_fp8_file_loads_as_fp8_and_matches_fp8_cast(tiny_checkpoints, request_and_full, tmp_path, monkeypatch):
    source = tiny_checkpoints["2"]
    request, full = request_and_full
    path = write_fp8_file(source, tmp_path / "fp8", "ltx-2-19b-dev-fp8.safetensors", scaled=False)
    pipeline = load_pipeline(str(path.parent), device=CPU, dtype=torch.float32)  # no flag: the file decides
    cast = [m for m in block_linears(pipeline) if isinstance(m, Fp8CastLinear)]
    assert cast and all(m.weight.dtype == torch.float8_e4m3fn for m in cast)
    ours = pipeline(request)
    flagged = load_pipeline(str(source), device=CPU, dtype=torch.float32, options=LoadOptions(quantization="fp8-cast"))(request)
    assert (ours.frames == flagged.frames).all()  # the same fp8 values, the same computation
    compare("LTX-2 one-stage, fp8 file", ours, run_reference_fp8_cast(path, path.parent, request, monkeypatch), request)
    assert psnr(ours.frames, full.frames) < 60


def test_a_scaled_fp8_file_computes_with_its_weight_scales(tiny_checkpoints, tmp_path):
    """W = fp8(W / s) * s: the transformer equals one holding those dequantised weights in fp32 (input scales,
    for fp8 matmuls, are not used by fp8-cast)."""
    from ltx_backend.loading.sources import open_model
    from ltx_backend.runtime.loaders import load_transformer

    path = write_fp8_file(tiny_checkpoints["2"], tmp_path / "scaled", "ltx-2-19b-dev-fp8.safetensors", scaled=True)
    scaled = load_transformer(open_model(str(path.parent)), CPU, torch.float32)
    layers = [m for m in scaled.modules() if isinstance(m, Fp8CastLinear)]
    assert layers and all(m.weight_scale is not None and m.weight_scale.dtype == torch.float32 for m in layers)
    dequantised = load_transformer(open_model(str(path.parent)), CPU, torch.float32)
    with torch.no_grad():
        for name, module in list(dequantised.named_modules()):
            if isinstance(module, Fp8CastLinear):
                plain = torch.nn.Linear(module.in_features, module.out_features)
                plain.weight.copy_(module.weight.float() * module.weight_scale)
                plain.bias.copy_(module.bias.float())
                parent, _, attr = name.rpartition(".")
                setattr(dequantised.get_submodule(parent), attr, plain)
    x = torch.randn(1, 8, scaled.transformer_blocks[0].attn1.to_q.in_features, generator=torch.Generator().manual_seed(0))
    layer, plain = scaled.transformer_blocks[0].attn1.to_q, dequantised.transformer_blocks[0].attn1.to_q
    assert torch.equal(layer(x), plain(x))
    assert not torch.equal(layer(x), torch.nn.functional.linear(x, layer.weight.float(), layer.bias.float()))  # the scale matters


def test_an_unknown_quantization_is_refused_naming_it():
    with pytest.raises(InvalidRequest, match=r"invalid quantization='fp4': one of fp8-cast"):
        LoadOptions(quantization="fp4").check()
    with pytest.raises(InvalidRequest, match=r"invalid --quantization='int8'"):
        LoadOptions(quantization="int8").check(as_flags=True)



# ---------------------------------------------------------------------------------------- LoRA on fp8 weights


def _fp8_layers_and_lora(tiny_checkpoints, tmp_path, path: Path | None = None):
    """The fp8-cast transformer (or the one of an fp8 file at `path`), and a bf16 LoRA on its fp8 Linears."""
    from conftest import load_build_script
    from ltx_backend.loading.sources import open_model
    from ltx_backend.runtime.loaders import load_transformer

    source = open_model(str(path.parent if path else tiny_checkpoints["2"]))
    model = load_transformer(source, CPU, torch.float32, quantization=None if path else "fp8-cast")
    modules = [name for name, m in model.named_modules() if isinstance(m, Fp8CastLinear) and ".1." not in name]
    lora = load_build_script("make_tiny_checkpoints").make_tiny_lora(
        tmp_path / "lora.safetensors", "2", "reference", rank=8, seed=4, modules=modules, dtype=torch.bfloat16)
    return model, modules, lora


def _reference_lora_sd(path: Path):
    from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP
    from ltx_core.loader.sft_loader import SafetensorsStateDictLoader

    return SafetensorsStateDictLoader().load(str(path), sd_ops=LTXV_LORA_COMFY_RENAMING_MAP)


def test_a_lora_merged_into_fp8_cast_weights_equals_ltx_core_merge(tiny_checkpoints, tmp_path):
    """ltx-core's fuse_loras on the fp8-cast state dict (CPU: bf16 delta + bf16(W), rounded to fp8) vs ours."""
    from ltx_core.loader import LoraStateDictWithStrength
    from ltx_core.loader import apply_loras as reference_apply_loras
    from ltx_core.loader.primitives import StateDict

    from ltx_backend.loading.lora import apply_loras, read_lora

    model, modules, lora_path = _fp8_layers_and_lora(tiny_checkpoints, tmp_path)
    base = {k: v.clone() for k, v in model.state_dict().items()}
    fp8_sd = {f"{m}.weight": base[f"{m}.weight"] for m in modules}
    reference = reference_apply_loras(StateDict(fp8_sd, CPU, 0, {torch.float8_e4m3fn}),
                                      [LoraStateDictWithStrength(_reference_lora_sd(lora_path), 0.8)]).sd
    apply_loras(model, [(read_lora(str(lora_path)), 0.8)])
    merged = model.state_dict()
    changed = 0
    for key, value in reference.items():
        assert merged[key].dtype == value.dtype == torch.float8_e4m3fn
        assert torch.equal(merged[key].view(torch.uint8), value.view(torch.uint8)), key
        changed += not torch.equal(value.view(torch.uint8), base[key].view(torch.uint8))
    assert changed == len(modules)


def test_a_lora_merged_into_scaled_fp8_weights_requantises_as_ltx_core(tiny_checkpoints, tmp_path):
    """Scaled fp8: dequantise, add, requantise per tensor, the weight and its scale as ltx-core's (which keeps
    the weight transposed for its fp8 matmul); a snapshot restores both bit for bit."""
    from ltx_core.loader import LoraStateDictWithStrength
    from ltx_core.loader import apply_loras as reference_apply_loras
    from ltx_core.loader.primitives import StateDict

    from ltx_backend.loading.lora import WeightSnapshot, apply_loras, read_lora

    fp8_file = write_fp8_file(tiny_checkpoints["2"], tmp_path / "scaled", "ltx-2-19b-dev-fp8.safetensors", scaled=True)
    model, modules, lora_path = _fp8_layers_and_lora(tiny_checkpoints, tmp_path, fp8_file)
    base = {k: v.clone() for k, v in model.state_dict().items()}
    sd = {}
    for m in modules:
        sd[f"{m}.weight"] = base[f"{m}.weight"].t()  # ltx-core's scaled layout: [in, out]
        sd[f"{m}.weight_scale"] = base[f"{m}.weight_scale"]
    reference = reference_apply_loras(StateDict(sd, CPU, 0, {torch.float8_e4m3fn}),
                                      [LoraStateDictWithStrength(_reference_lora_sd(lora_path), 0.8)]).sd
    snapshot = WeightSnapshot.take(model, modules)
    apply_loras(model, [(read_lora(str(lora_path)), 0.8)])
    merged = model.state_dict()
    for m in modules:
        assert torch.equal(merged[f"{m}.weight"].view(torch.uint8), reference[f"{m}.weight"].t().view(torch.uint8)), m
        assert torch.equal(merged[f"{m}.weight_scale"], reference[f"{m}.weight_scale"]), m
        assert not torch.equal(merged[f"{m}.weight_scale"], base[f"{m}.weight_scale"]), m
    snapshot.restore(model)
    restored = model.state_dict()
    assert all(torch.equal(restored[k].view(torch.uint8) if restored[k].dtype == torch.float8_e4m3fn else restored[k],
                           base[k].view(torch.uint8) if base[k].dtype == torch.float8_e4m3fn else base[k]) for k in base)


# --------------------------------------------------------------------------------------------- fp8-scaled-mm


def test_fp8_scaled_mm_is_refused_on_a_cpu_naming_it(tiny_checkpoints):
    with pytest.raises(InvalidRequest, match=r"invalid quantization='fp8-scaled-mm': a CUDA GPU with fp8 matmuls .*this is a CPU: use fp8-cast"):
        load_pipeline(str(tiny_checkpoints["2"]), device=CPU, dtype=torch.float32, options=LoadOptions(quantization="fp8-scaled-mm"))


def test_serve_refuses_fp8_scaled_mm_on_a_cpu_before_starting_anything(tiny_checkpoints, tmp_path, capsys):
    from ltx_client.cli import main

    assert main(["serve", "--model-path", str(tiny_checkpoints["2"]), "--run-dir", str(tmp_path), "--device", "cpu",
                 "--quantization", "fp8-scaled-mm"]) == 2
    assert "invalid --quantization='fp8-scaled-mm'" in capsys.readouterr().err
    assert not (tmp_path / "model_repository").exists()


def test_fp8_scaled_mm_quantises_the_block_linears_ltx_core_does_per_tensor(tiny_checkpoints, tmp_path):
    """The layers (ltx-core's: the cast map's Linears, not in block 0 or 43-47) become Fp8ScaledLinear with
    W = fp8(W / s) * s, s = amax / 448 (computed at load, or the file's); the rest stays as it was. The matmul
    itself is checked on a GPU (tests/test_gpu.py); here its reference runs."""
    from ltx_backend.loading.quantization import TransformerWeights
    from ltx_backend.loading.sources import open_model
    from ltx_backend.models.fp8_linear import Fp8ScaledLinear

    source = open_model(str(tiny_checkpoints["2"]))
    full = source.load("transformer", CPU, torch.float32)
    scaled = source.load("transformer", CPU, torch.float32, TransformerWeights("fp8-scaled-mm"))
    layers = {name: m for name, m in scaled.named_modules() if isinstance(m, Fp8ScaledLinear)}
    assert layers and all(name.startswith("transformer_blocks.1.") for name in layers)  # block 0 stays full precision
    assert not any(isinstance(m, Fp8ScaledLinear) for m in scaled.transformer_blocks[0].modules())
    for name, layer in layers.items():
        original = full.get_submodule(name).weight
        assert layer.weight.dtype == torch.float8_e4m3fn and layer.bias.dtype == torch.float32
        assert torch.equal(layer.weight_scale, original.abs().amax() / 448)
        assert torch.allclose(layer.weight.float() * layer.weight_scale, original, rtol=0.07, atol=float(layer.weight_scale) * 2**-9)
    # a scaled fp8 file keeps its own scales
    path = write_fp8_file(tiny_checkpoints["2"], tmp_path / "scaled", "ltx-2-19b-dev-fp8.safetensors", scaled=True)
    from_file = open_model(str(path.parent)).load("transformer", CPU, torch.float32, TransformerWeights("fp8-scaled-mm"))
    with safe_open(str(path), framework="pt") as f:
        key = next(k for k in f.keys() if k.endswith("transformer_blocks.1.attn1.to_q.weight_scale"))
        assert torch.equal(from_file.transformer_blocks[1].attn1.to_q.weight_scale, f.get_tensor(key))
