#!/usr/bin/env python
"""Write a random-weight LTX-2 / LTX-2.3 model folder as a user's download holds it: the published file names
and formats, full size (or tiny), so `ltx-triton serve --model-path DIR` loads it as it loads the real one.
For issue #16's start-up and served measurements on a GPU machine, where no weights can be downloaded.

    python build/write_random_model.py DIR --version 2.3                     # full size, bf16, made on cuda
    python build/write_random_model.py DIR --version 2.3 --gemma-dir /dev/shm/gemma   # Gemma elsewhere, linked
    python build/write_random_model.py DIR --version 2 --size tiny --device cpu

DIR/ltx-2.3-22b-dev.safetensors (ltx-2-19b-dev for LTX-2)   transformer, connectors, VAEs, vocoder; config metadata
DIR/ltx-2.3-spatial-upscaler-x2-1.0.safetensors           the x2 latent upsampler, its config in metadata
DIR/ltx-2.3-22b-distilled-lora-384.safetensors            the distilled LoRA (rank 384; tiny: 4)
DIR/text_encoder/ config.json, model-0000N-of-0000M.safetensors + index   Gemma 3 12B's text tower, hub keys
DIR/tokenizer/                                           a byte-level tokenizer (Gemma's is a file we do not have;
                                                         prompts are padded to 1024 tokens either way)

The values are build/ltx_testing/random_weights.py's (RandomWeightsModel, same seed): every component is
made on --device one at a time and streamed to its file tensor by tensor (a safetensors file is a JSON
header, then the tensors' bytes), so no full-size copy is held in host memory. Full size needs about 79 GB
of disk for LTX-2.3 (checkpoint 46 GB, distilled LoRA 8 GB, upsampler 1 GB, Gemma 24 GB); --gemma-dir puts Gemma on
another file system (auto: the GPU machine's /dev/shm, where it has room) and links text_encoder/ and tokenizer/ to
it. Refused before anything is written where a file system cannot hold its part.
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ltx_testing.random_weights import RandomWeightsModel, byte_tokenizer  # noqa: E402

# The published names (Lightricks/LTX-2, Lightricks/LTX-2.3), which the resolver picks by.
FILE_NAMES = {
    "2": ("ltx-2-19b-dev", "ltx-2-spatial-upscaler-x2-1.0", "ltx-2-19b-distilled-lora-384"),
    "2.3": ("ltx-2.3-22b-dev", "ltx-2.3-spatial-upscaler-x2-1.0", "ltx-2.3-22b-distilled-lora-384"),
}
MODEL_VERSIONS = {"2": "2.0.0", "2.3": "2.3.0"}  # the checkpoint's metadata model_version
GEMMA_SHARD_BYTES = 5 * 2**30
_DTYPES = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32", torch.float8_e4m3fn: "F8_E4M3",
           torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}

# A part of a file: its tensors' (key, shape, dtype), read without making them, and a maker of the tensors
# themselves, in the same order (made on the device when the file gets to it).
Part = tuple[list[tuple[str, tuple[int, ...], torch.dtype]], Callable[[], Iterable[tuple[str, torch.Tensor]]]]


def write_safetensors(path: Path, parts: list[Part], metadata: dict[str, str] | None = None) -> int:
    """Stream the parts' tensors into one safetensors file; returns its size in bytes."""
    header: dict = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for specs, _ in parts:
        for key, shape, dtype in specs:
            size = torch.Size(shape).numel() * dtype.itemsize
            header[key] = {"dtype": _DTYPES[dtype], "shape": list(shape), "data_offsets": [offset, offset + size]}
            offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned, as safetensors writes it
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(encoded)) + encoded)
        for specs, make in parts:
            expected = iter(specs)
            for key, tensor in make():
                spec = next(expected)
                if (key, tuple(tensor.shape), tensor.dtype) != spec:
                    raise RuntimeError(f"{path.name}: made {key} {tuple(tensor.shape)} {tensor.dtype}, the header says {spec}")
                file.write(tensor.detach().contiguous().reshape(-1).view(torch.uint8).cpu().numpy().data)
            if next(expected, None) is not None:
                raise RuntimeError(f"{path.name}: a part made fewer tensors than its header lists")
    return len(encoded) + 8 + offset


def module_part(make: Callable[[torch.device], torch.nn.Module], device: torch.device, key: Callable[[str], str | None],
                skip: set[str]) -> Part:
    """The tensors of the module make(device) builds, under key(module key) (None: not stored), less `skip`."""
    specs = [(key(k), tuple(v.shape), v.dtype) for k, v in make(torch.device("meta")).state_dict().items() if key(k) and key(k) not in skip]
    keys = {k for k, _, _ in specs}
    if len(keys) != len(specs):  # two module tensors under one file key: the header would list one, the data hold two
        raise RuntimeError(f"tensors sharing a file key: {sorted(k for k, _, _ in specs if [s[0] for s in specs].count(k) > 1)[:3]}")
    skip |= keys  # a tensor two parts share (the VAE's statistics) is written by the first

    def tensors() -> Iterator[tuple[str, torch.Tensor]]:
        module = make(device)
        for name, value in module.state_dict().items():
            if key(name) in keys:
                yield key(name), value
        del module

    return specs, tensors


def write_checkpoint(source: RandomWeightsModel, path: Path, device: torch.device, dtype: torch.dtype) -> int:
    from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS
    from ltx_backend.models.text_encoder import checkpoint_key as embeddings_key
    from make_tiny_checkpoints import checkpoint_key

    written: set[str] = set()
    parts = [
        module_part(lambda d, n=name: source.load(n, d, dtype), device, lambda k, m=spec.key_map: checkpoint_key(k, m), written)
        for name, spec in CHECKPOINT_PARTS.items()
    ]
    parts.append(module_part(lambda d: source.embeddings_processor(d, dtype), device, embeddings_key, written))
    metadata = {"config": json.dumps(source.config, sort_keys=True), "model_version": MODEL_VERSIONS[source.model_version]}
    return write_safetensors(path, parts, metadata)


def write_upsampler(source: RandomWeightsModel, path: Path, device: torch.device, dtype: torch.dtype) -> int:
    part = module_part(lambda d: source.latent_upsampler(d, dtype), device, lambda k: k, set())
    return write_safetensors(path, [part], {"config": json.dumps(source.upsampler_config(), sort_keys=True)})


def write_lora(source: RandomWeightsModel, path: Path, device: torch.device, dtype: torch.dtype) -> int:
    def stored(lora) -> Iterator[tuple[str, torch.Tensor]]:  # as Lightricks' files key them: delta = B @ A
        for module, layer in lora.layers.items():
            yield f"diffusion_model.{module}.lora_A.weight", layer.down
            yield f"diffusion_model.{module}.lora_B.weight", layer.up

    specs = [(k, tuple(v.shape), v.dtype) for k, v in stored(source.distilled_lora("meta", dtype))]
    return write_safetensors(path, [(specs, lambda: stored(source.distilled_lora(device, dtype)))])


def write_gemma(source: RandomWeightsModel, root: Path, device: torch.device, dtype: torch.dtype) -> int:
    """text_encoder/: a Gemma3ForConditionalGeneration config.json and the text tower in shards of at most 5 GiB
    with their index (hub keys language_model.model.*); tokenizer/: the byte-level tokenizer's files."""
    from ltx_backend.models.text_encoder.config import GEMMA_TEXT_PREFIXES
    from ltx_testing.random_weights import GEMMA3_12B_TEXT_CONFIG, TINY_GEMMA_TEXT_CONFIG

    prefix = GEMMA_TEXT_PREFIXES[0]
    text_encoder, tokenizer = root / "text_encoder", root / "tokenizer"
    text_encoder.mkdir(parents=True, exist_ok=True)
    text = GEMMA3_12B_TEXT_CONFIG if source.size == "full" else TINY_GEMMA_TEXT_CONFIG
    config = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "text_config": text,
              "torch_dtype": "bfloat16"}
    (text_encoder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    specs = [(prefix + k, tuple(v.shape), v.dtype) for k, v in source.gemma("meta", dtype).state_dict().items()]
    shards: list[list] = [[]]
    size = 0
    for spec in specs:
        nbytes = torch.Size(spec[1]).numel() * spec[2].itemsize
        if shards[-1] and size + nbytes > GEMMA_SHARD_BYTES:
            shards.append([])
            size = 0
        shards[-1].append(spec)
        size += nbytes
    gemma = source.gemma(device, dtype)  # made once, written shard by shard
    state = gemma.state_dict()
    names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    total = 0
    for name, shard in zip(names, shards):
        keys = [k for k, _, _ in shard]
        total += write_safetensors(text_encoder / name, [(shard, lambda keys=keys: ((k, state[k[len(prefix):]]) for k in keys))],
                                   {"format": "pt"})
    del gemma, state
    weight_map = {k: name for name, shard in zip(names, shards) for k, _, _ in shard}
    index = {"metadata": {"total_size": sum(torch.Size(s).numel() * d.itemsize for _, s, d in specs)}, "weight_map": weight_map}
    (text_encoder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    byte_tokenizer().save_pretrained(str(tokenizer))
    return total


def state_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def planned_bytes(source: RandomWeightsModel, dtype: torch.dtype) -> tuple[int, int]:
    """(the three files', Gemma's) bytes, from the structures on the meta device."""
    from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS

    meta = torch.device("meta")
    files = sum(state_bytes(source.load(name, meta, dtype)) for name in CHECKPOINT_PARTS) + state_bytes(source.embeddings_processor(meta, dtype))
    files += state_bytes(source.latent_upsampler(meta, dtype))
    files += sum((layer.down.numel() + layer.up.numel()) * dtype.itemsize for layer in source.distilled_lora(meta, dtype).layers.values())
    return files, state_bytes(source.gemma(meta, dtype))


def check_space(out: Path, gemma_dir: Path, files: int, gemma: int) -> None:
    """Refuse before writing anything where the file systems cannot hold it (the GPU machine has 64 GiB of disk)."""
    import os
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    gemma_dir.mkdir(parents=True, exist_ok=True)
    needs = {os.stat(out).st_dev: [out, files]}
    needs.setdefault(os.stat(gemma_dir).st_dev, [gemma_dir, 0])[1] += gemma
    for folder, size in needs.values():
        free = shutil.disk_usage(folder).free
        if size > free:
            raise SystemExit(f"error: {folder} has {free / 1e9:.1f} GB free, the random model needs {size / 1e9:.1f} GB there "
                             f"(files {files / 1e9:.1f} GB, Gemma {gemma / 1e9:.1f} GB; --gemma-dir puts Gemma elsewhere)")


def auto_gemma_dir(out: Path, gemma: int) -> Path | None:
    """/dev/shm/<DIR's name>-gemma where it has room for Gemma (the GPU machine's disk cannot hold it beside a 22B
    checkpoint), else None: Gemma beside the files."""
    import shutil

    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 1.05 * gemma:
        return shm / f"{out.resolve().name}-gemma"
    return None


def clear_gemma_links(out: Path, gemma_dir: Path | None) -> None:
    """Before writing: DIR/text_encoder and DIR/tokenizer left by an earlier run must not redirect this one. Links
    are removed; folders are refused where Gemma goes elsewhere (this script does not delete folders)."""
    for folder in ("text_encoder", "tokenizer"):
        path = out / folder
        if path.is_symlink():
            path.unlink()
        elif path.exists() and gemma_dir is not None:
            raise SystemExit(f"error: {path} is a folder; remove it to link Gemma from {gemma_dir}")


def write_model(out: Path, version: str, size: str = "full", device: torch.device | str = "cuda", dtype: torch.dtype = torch.bfloat16,
                seed: int = 0, gemma_dir: Path | str | None = None, log=print) -> dict[str, int]:
    """Write the folder; returns each file's (or Gemma's) size in bytes. gemma_dir "auto": /dev/shm where it has room."""
    device = torch.device(device)
    source = RandomWeightsModel(version, size, seed=seed)
    checkpoint, upsampler, lora = FILE_NAMES[version]
    files, gemma = planned_bytes(source, dtype)
    if gemma_dir == "auto":
        gemma_dir = auto_gemma_dir(out, gemma)
    gemma_dir = None if gemma_dir is None or Path(gemma_dir).resolve() == out.resolve() else Path(gemma_dir)
    out.mkdir(parents=True, exist_ok=True)
    clear_gemma_links(out, gemma_dir)
    check_space(out, gemma_dir or out, files, gemma)
    log(f"writing {files / 1e9:.1f} GB to {out}, Gemma's {gemma / 1e9:.1f} GB to {gemma_dir or out}")
    sizes = {}
    steps = (
        (f"{checkpoint}.safetensors", lambda path: write_checkpoint(source, path, device, dtype)),
        (f"{upsampler}.safetensors", lambda path: write_upsampler(source, path, device, dtype)),
        (f"{lora}.safetensors", lambda path: write_lora(source, path, device, dtype)),
        ("text_encoder/ + tokenizer/", lambda _: write_gemma(source, gemma_dir or out, device, dtype)),
    )
    for name, write in steps:
        start = time.perf_counter()
        sizes[name] = write(out / name)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        log(f"wrote {name}: {sizes[name] / 1e9:.2f} GB in {time.perf_counter() - start:.1f} s")
    if gemma_dir is not None:
        for folder in ("text_encoder", "tokenizer"):
            (out / folder).symlink_to(gemma_dir.resolve() / folder, target_is_directory=True)
    return sizes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--version", default="2.3", choices=tuple(FILE_NAMES))
    p.add_argument("--size", default="full", choices=("full", "tiny"))
    p.add_argument("--device", default=None, help="where the weights are made (default cuda when available)")
    p.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float32"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gemma-dir", default=None, help="write Gemma here and link DIR/text_encoder, DIR/tokenizer to it; "
                   "auto: /dev/shm where it has room")
    args = p.parse_args(argv)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    start = time.perf_counter()
    sizes = write_model(args.out, args.version, args.size, device, getattr(torch, args.dtype), args.seed, args.gemma_dir)
    print(f"wrote {sum(sizes.values()) / 1e9:.2f} GB in {time.perf_counter() - start:.1f} s to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
