"""Write tiny random-weight LTX-2 and LTX-2.3 checkpoints in the official single-file layout.

    build/tiny/ltx-2/ltx-2-tiny.safetensors      transformer + connectors + VAEs + vocoder, config in metadata
    build/tiny/ltx-2/text_encoder/, tokenizer/   a tiny Gemma 3 and a SentencePiece tokenizer
    build/tiny/ltx-2/tiny-ltx-2-spatial-upscaler-x2.safetensors   the latent upsampler, its config in metadata
    build/tiny/ltx-2/tiny-ltx-2-distilled-lora.safetensors        a random LoRA in the reference's key format
    build/tiny/ltx-2.3/...                       the same for LTX-2.3

Weights are seeded and deterministic: the same command writes byte-identical files. Every component is
built from its tiny config by our own model code, filled with scaled random values (so no output is
trivially zero), and written under the key names the reference's loaders expect; the reference loads
these files (tests/test_checkpoint_loading.py checks it).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS  # noqa: E402
from ltx_backend.models.text_encoder import build_embeddings_processor  # noqa: E402
from ltx_backend.models.text_encoder import checkpoint_key as embeddings_checkpoint_key  # noqa: E402
from ltx_backend.models.text_encoder.gemma import load_gemma_text_config  # noqa: E402
from ltx_testing.tiny_configs import tiny_checkpoint_config  # noqa: E402

VERSIONS = {"2": "2.0.0-tiny", "2.3": "2.3.0-tiny"}
CANDIDATE_PREFIXES = (
    "model.diffusion_model.",
    "vae.",
    "vae.encoder.",
    "vae.decoder.",
    "audio_vae.",
    "audio_vae.decoder.",
    "audio_vae.encoder.",
    "vocoder.",
    "",
)


def randomize_(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Fill every parameter and float buffer with seeded values of a sensible scale.

    Matrices and kernels: N(0, 1/fan_in); norm weights and standard deviations: around 1; other
    vectors (biases, shifts, tables, means): N(0, 0.05^2). Buffers keep their computed values (filters,
    windows) except the VAEs' per-channel latent statistics, which are learned in real checkpoints.
    """
    buffers = [(n, b) for n, b in module.named_buffers() if "statistics" in n]
    for name, tensor in list(module.named_parameters()) + buffers:
        if not tensor.is_floating_point():
            continue
        with torch.no_grad():
            if tensor.dim() >= 2:
                fan_in = math.prod(tensor.shape[1:])
                value = torch.randn(tensor.shape, generator=generator) / math.sqrt(fan_in)
            elif any(tag in name for tag in ("norm", "std", "scale_factor")) and "bias" not in name:
                value = 1.0 + 0.05 * torch.randn(tensor.shape, generator=generator)
            else:
                value = 0.05 * torch.randn(tensor.shape, generator=generator)
            tensor.copy_(value.to(tensor.dtype))


def checkpoint_key(module_key: str, key_map) -> str:
    for prefix in CANDIDATE_PREFIXES:
        candidate = prefix + module_key
        if key_map(candidate) == module_key:
            return candidate
    raise KeyError(f"no checkpoint key maps to module key {module_key!r}")


def make_checkpoint(out_dir: Path, version: str, seed: int, config: dict | None = None, name: str | None = None) -> Path:
    """Write `out_dir`/`name`.safetensors (default ltx-2-tiny / ltx-2.3-tiny), the tiny Gemma and the two-stage
    extras. `config`: the metadata config (default: tiny_checkpoint_config(version))."""
    from tiny_gemma import make_tiny_gemma

    out_dir.mkdir(parents=True, exist_ok=True)
    make_tiny_gemma(out_dir, seed=seed)
    gemma = load_gemma_text_config(out_dir / "text_encoder")
    config = tiny_checkpoint_config(version) if config is None else config
    # (builder, module key -> checkpoint key) per component of the file
    builders = [(spec.build, lambda key, key_map=spec.key_map: checkpoint_key(key, key_map)) for spec in CHECKPOINT_PARTS.values()]
    builders.append((lambda cfg: build_embeddings_processor(cfg, gemma), embeddings_checkpoint_key))
    tensors: dict[str, torch.Tensor] = {}
    for index, (build, to_checkpoint_key) in enumerate(builders):
        generator = torch.Generator().manual_seed(seed * 1000 + index)
        module = build(config)
        randomize_(module, generator)
        for key, value in module.state_dict().items():
            ckey = to_checkpoint_key(key)
            # keys shared by two components (the VAE's per-channel statistics) are written once
            tensors.setdefault(ckey, value.detach().contiguous().clone())
    name = name or ("ltx-2-tiny" if version == "2" else "ltx-2.3-tiny")
    path = out_dir / f"{name}.safetensors"
    save_file(tensors, str(path), metadata={"config": json.dumps(config, sort_keys=True), "model_version": VERSIONS[version]})
    make_two_stage_extras(out_dir, name, version, seed, config["transformer"])
    return path


def make_two_stage_extras(out_dir: Path, name: str, version: str, seed: int, transformer_config: dict | None = None) -> tuple[Path, Path]:
    """The files the two-stage pipelines find beside the checkpoint (names as model_path.py looks for them):
    a tiny spatial x2 latent upsampler (flat config JSON in metadata `config`, unprefixed module keys, as
    ltx-core's upsampler loader reads it) and a tiny random "distilled" LoRA for every Linear of the
    transformer blocks, keyed diffusion_model.<module>.lora_A/lora_B.weight with no alpha (as Lightricks'
    distilled LoRAs; ltx-core applies delta = strength * B @ A)."""
    from ltx_backend.models.latent_upsampler import build_latent_upsampler
    from ltx_testing.tiny_configs import tiny_upsampler_config

    upsampler_config = tiny_upsampler_config()
    upsampler = build_latent_upsampler(upsampler_config)
    randomize_(upsampler, torch.Generator().manual_seed(seed * 1000 + 500))
    upsampler_path = out_dir / f"tiny-{name.removesuffix('-tiny')}-spatial-upscaler-x2.safetensors"
    state = {k: v.detach().contiguous().clone() for k, v in upsampler.state_dict().items()}
    save_file(state, str(upsampler_path), metadata={"config": json.dumps(upsampler_config, sort_keys=True)})
    lora_path = out_dir / f"tiny-{name.removesuffix('-tiny')}-distilled-lora.safetensors"
    make_tiny_lora(lora_path, version, "reference", rank=4, seed=seed * 1000 + 501, transformer_config=transformer_config)
    return upsampler_path, lora_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/tiny", type=Path)
    parser.add_argument("--seed", default=0, type=int)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    for version in VERSIONS:
        path = make_checkpoint(args.out / ("ltx-2" if version == "2" else "ltx-2.3"), version, args.seed)
        print(f"wrote {path}")



def make_tiny_lora(
    path: Path,
    version: str,
    key_format: str = "reference",
    rank: int = 4,
    seed: int = 0,
    modules: "list[str] | None" = None,
    alpha: "float | None" = None,
    dtype: torch.dtype = torch.float32,
    transformer_config: dict | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a random LoRA for the tiny `version` transformer, keyed in one community format.

    key_format: "reference"  diffusion_model.<ours>.lora_A.weight / lora_B.weight (Lightricks' files)
                "comfyui"    diffusion_model.<ours>.lora_down.weight / lora_up.weight (+ .alpha)
                "diffusers"  transformer.<diffusers name>.lora_A.weight / lora_B.weight (+ .alpha)
                "diffusers-down-up"  transformer.<diffusers name>.lora_down.weight / lora_up.weight (+ .alpha)
                "peft"       base_model.model.<diffusers name>.lora_A.default.weight / ...lora_B.default.weight,
                             alpha as lora_alpha in an adapter_config.json beside the file
    modules: our module paths to adapt (default: every Linear of the transformer blocks). `alpha` None
    writes no alpha. down (A) ~ N(0, 1/in), up (B) ~ N(0, 1/rank): deltas the size of the weights.
    transformer_config: the checkpoint's "transformer" section (default: the tiny `version` one). metadata: the
    file's safetensors metadata (an IC-LoRA's reference_downscale_factor).
    Deterministic: the same arguments write the same tensors.
    """
    from ltx_backend.loading.diffusers_layout import transformer_diffusers_key

    formats = {
        "reference": ("diffusion_model.", False, "lora_A.weight", "lora_B.weight"),
        "comfyui": ("diffusion_model.", False, "lora_down.weight", "lora_up.weight"),
        "diffusers": ("transformer.", True, "lora_A.weight", "lora_B.weight"),
        "diffusers-down-up": ("transformer.", True, "lora_down.weight", "lora_up.weight"),
        "peft": ("base_model.model.", True, "lora_A.default.weight", "lora_B.default.weight"),
    }
    if key_format not in formats:
        raise ValueError(f"key_format={key_format!r} is not one of {', '.join(formats)}")
    prefix, diffusers_names, down_suffix, up_suffix = formats[key_format]
    with torch.device("meta"):
        config = tiny_checkpoint_config(version)
        if transformer_config is not None:
            config = {**config, "transformer": transformer_config}
        model = CHECKPOINT_PARTS["transformer"].build(config)
    linears = {name: m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    if modules is None:
        modules = [name for name in linears if name.startswith("transformer_blocks.")]
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for name in modules:
        linear = linears[name]
        down = torch.randn(rank, linear.in_features, generator=generator) / math.sqrt(linear.in_features)
        up = torch.randn(linear.out_features, rank, generator=generator) / math.sqrt(rank)
        stem = prefix + (transformer_diffusers_key(name) if diffusers_names else name)
        tensors[f"{stem}.{down_suffix}"] = down.to(dtype).contiguous()
        tensors[f"{stem}.{up_suffix}"] = up.to(dtype).contiguous()
        if alpha is not None and key_format != "peft":
            tensors[f"{stem}.alpha"] = torch.tensor(float(alpha), dtype=dtype)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=metadata)
    if key_format == "peft":
        config = {"peft_type": "LORA", "r": rank, "target_modules": sorted({m.rsplit(".", 1)[-1] for m in modules})}
        if alpha is not None:
            config["lora_alpha"] = alpha
        (path.parent / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return path


if __name__ == "__main__":
    main()
