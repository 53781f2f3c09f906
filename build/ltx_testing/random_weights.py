"""A model source with random weights: every component of LTX-2 / LTX-2.3, full size or tiny, no files.

    source = RandomWeightsModel("2", "full")                 # the published LTX-2 19B structure
    transformer = source.load("transformer", device, torch.bfloat16)
    text_encoder = source.text_encoder(device, torch.bfloat16)   # Gemma 3 12B text tower + connectors
    upsampler = source.latent_upsampler(device, dtype)       # spatial x2 latent upsampler
    distilled = source.distilled_lora(device, dtype)         # LoraFile, rank 384 on every block Linear

The same interface as the sources of loading/sources.py (model_version, description, files, load(),
text_encoder()), for benchmarks: speed does not depend on the values of the weights, so a full-size
pipeline can be timed without downloading ~60 GB. The modules are built from the same configs the
published checkpoints carry (transformer/connectors, video VAE, audio VAE, vocoder, upsampler; Gemma 3
12B as ltx-core's GEMMA3_CONFIG_FOR_LTX) or the tiny checkpoints' configs (build/make_tiny_checkpoints.py,
build/tiny_gemma.py), so their state dicts have the same keys, shapes and dtypes as a loaded checkpoint.

Weights are created on the meta device and materialised straight on the target device in the target
dtype (no full-size float32 copy anywhere), then filled in place with seeded values of a sensible scale
(matrices and kernels N(0, 1/fan_in); norm weights, standard deviations around 1; other vectors
N(0, 0.05^2); Gemma's norms, which scale by 1 + w, N(0, 0.1^2)), so activations stay O(1) through the
pipeline in bf16 and no NaN or inf changes which kernel paths run. Each tensor's values depend only on
(seed, component, tensor name), and are the same on every run on the same device type. Modules with
computed buffers (the LTX-2.3 vocoder's anti-aliasing filters) are small: they are built on the device in
float32, so the buffers get their computed values, then filled and cast, as loading from a file would.

The tokenizer is a byte-level one built in memory (the real Gemma tokenizer is a file we do not have):
every prompt is padded to 1024 tokens either way, so the text encoder does the same work.
"""
from __future__ import annotations

import copy
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS
from ltx_backend.loading.lora import BLOCKS_PREFIX, LoraFile, lora_from_state_dict

VERSIONS = ("2", "2.3")
SIZES = ("full", "tiny")

# Rank of Lightricks' distilled LoRAs (ltx-2-19b-distilled-lora-384, ltx-2.3-22b-distilled-lora-384).
FULL_LORA_RANK = 384
TINY_LORA_RANK = 4
# |B @ A| relative to |W|: a distilled LoRA is a correction of the base weights, not a replacement.
LORA_DELTA_SCALE = 0.1

# Gemma 3 12B's text tower, as ltx-core 1.0.0's GEMMA3_CONFIG_FOR_LTX.text_config (tests compare the two).
GEMMA3_12B_TEXT_CONFIG: dict = {
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "cache_implementation": "hybrid",
    "final_logit_softcapping": None,
    "head_dim": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 3840,
    "initializer_range": 0.02,
    "intermediate_size": 15360,
    "max_position_embeddings": 131072,
    "model_type": "gemma3_text",
    "num_attention_heads": 16,
    "num_hidden_layers": 48,
    "num_key_value_heads": 8,
    "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
    "rope_theta": 1000000,
    "sliding_window": 1024,
    "sliding_window_pattern": 6,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": 262208,
}

# The tiny checkpoints' Gemma (build/tiny_gemma.py TEXT_CONFIG; tests compare the two).
TINY_GEMMA_TEXT_CONFIG: dict = {
    **GEMMA3_12B_TEXT_CONFIG,
    "head_dim": 32,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "num_key_value_heads": 1,
    "query_pre_attn_scalar": 32,
    "sliding_window": 16,
    "sliding_window_pattern": 2,
    "vocab_size": 512,
}

# Which component's tensors share values (each VAE's per-channel statistics are one set of tensors in a
# checkpoint, read by both its encoder and its decoder).
_VALUE_GROUPS = {"video_encoder": "vae", "video_decoder": "vae", "audio_encoder": "audio_vae", "audio_decoder": "audio_vae"}


@dataclass(frozen=True)
class RandomFiles:
    """What `files` gives for a checkpoint on disk; a random model has no files (all None).
    load_pipeline() therefore cannot find the upsampler / distilled LoRA: use latent_upsampler() and
    distilled_lora() (build/bench_e2e.py builds the two-stage components with them)."""

    root: Path | None = None
    layout: str = "random"
    checkpoint: Path | None = None
    text_encoder: Path | None = None
    tokenizer: Path | None = None
    spatial_upsampler: Path | None = None
    distilled_lora: Path | None = None


def full_checkpoint_config(version: str) -> dict:
    """The metadata "config" of the published single-file checkpoint of `version` (all sections)."""
    from ltx_backend.models.audio_vae.config import published_audio_vae_config, published_vocoder_config
    from ltx_backend.models.transformer.config import full_transformer_config
    from ltx_backend.models.video_vae.config import published_vae_config

    return {
        "transformer": full_transformer_config(version),
        "vae": published_vae_config(version),
        "audio_vae": published_audio_vae_config(version),
        "vocoder": published_vocoder_config(version),
    }


def gemma_text_config(size: str):
    """transformers' Gemma3TextConfig of the text tower, read the way load_gemma_text_config reads a
    Gemma3ForConditionalGeneration config.json."""
    from transformers import Gemma3Config

    text = GEMMA3_12B_TEXT_CONFIG if size == "full" else TINY_GEMMA_TEXT_CONFIG
    return Gemma3Config.from_dict({"model_type": "gemma3", "text_config": copy.deepcopy(text)}).text_config


class RandomWeightsModel:
    """Random-weight LTX-`version` ("2" or "2.3") at `size` ("full": the published structures; "tiny":
    the tiny checkpoints'). Each load() builds a fresh module on the asked device and dtype."""

    def __init__(self, version: str, size: str = "full", seed: int = 0):
        if version not in VERSIONS:
            raise ValueError(f"invalid version={version!r}: one of {', '.join(VERSIONS)}")
        if size not in SIZES:
            raise ValueError(f"invalid size={size!r}: one of {', '.join(SIZES)}")
        self.model_version = version
        self.size = size
        self.seed = int(seed)
        self.files = RandomFiles()
        self.description = f"random {size}-size LTX-{version} weights (seed {seed})"
        if size == "full":
            self.config = full_checkpoint_config(version)
        else:
            from ltx_testing.tiny_configs import tiny_checkpoint_config

            self.config = tiny_checkpoint_config(version)

    # -------------------------------------------------------------------------------- components

    def load(self, name: str, device: torch.device | str, dtype: torch.dtype, storage=None) -> nn.Module:
        """The checkpoint part `name` (loading.checkpoint_parts.CHECKPOINT_PARTS) with random weights; stored as
        `storage` says (loading.checkpoint.WeightStorage: the transformer's fp8), as if read from a file."""
        if name not in CHECKPOINT_PARTS:
            raise KeyError(f"unknown checkpoint part {name!r}: one of {', '.join(CHECKPOINT_PARTS)}")
        module = materialize(lambda: CHECKPOINT_PARTS[name].build(self.config), device, dtype)
        randomize_(module, self.seed, _VALUE_GROUPS.get(name, name))
        if storage is not None:
            state = dict(module.state_dict())
            del module
            for key in list(state):  # one tensor at a time: the full-size transformer is not held twice
                state[key] = state[key].to(storage.stored_dtype(key, state[key], dtype))
            with torch.device("meta"):
                module = CHECKPOINT_PARTS[name].build(self.config)
            storage.prepare(module, state, name)
            module.load_state_dict(state, strict=True, assign=True)
        return module.eval().requires_grad_(False)

    def text_encoder(self, device: torch.device | str, dtype: torch.dtype):
        """Gemma 3's text tower (12B or tiny) + the feature extractor and connectors of this version."""
        from ltx_backend.models.text_encoder.encoder import TextEncoder
        from ltx_backend.models.text_encoder.gemma import GemmaEncoder, _materialize_non_persistent_buffers

        device = torch.device(device)
        gemma = self.gemma(device, dtype)
        _materialize_non_persistent_buffers(gemma, device)
        encoder = TextEncoder(GemmaEncoder(gemma.eval(), byte_tokenizer()), self.embeddings_processor(device, dtype).eval())
        return encoder.eval().requires_grad_(False)

    def gemma(self, device: torch.device | str, dtype: torch.dtype) -> nn.Module:
        """Gemma 3's text tower (transformers' Gemma3TextModel; its non-persistent buffers are not computed)."""
        from transformers import Gemma3TextModel

        config = gemma_text_config(self.size)
        gemma = materialize(lambda: Gemma3TextModel(config), device, dtype)
        randomize_(gemma, self.seed, "gemma", gemma_norms=True)
        return gemma

    def embeddings_processor(self, device: torch.device | str, dtype: torch.dtype) -> nn.Module:
        """The feature extractor and connectors between Gemma and the transformer (stored in the checkpoint)."""
        from ltx_backend.models.text_encoder import build_embeddings_processor

        processor = materialize(lambda: build_embeddings_processor(self.config, gemma_text_config(self.size)), device, dtype)
        randomize_(processor, self.seed, "embeddings_processor")
        return processor

    def latent_upsampler(self, device: torch.device | str, dtype: torch.dtype) -> nn.Module:
        """The spatial x2 latent upsampler (published structure: 1024 middle channels; tiny: 32)."""
        from ltx_backend.models.latent_upsampler import build_latent_upsampler

        config = self.upsampler_config()
        module = materialize(lambda: build_latent_upsampler(config), device, dtype)
        randomize_(module, self.seed, "latent_upsampler")
        return module.eval().requires_grad_(False)

    def upsampler_config(self) -> dict:
        """The upsampler's metadata config (published structure: 1024 middle channels; tiny: 32)."""
        from ltx_backend.models.latent_upsampler import published_upsampler_config
        from ltx_testing.tiny_configs import tiny_upsampler_config

        return published_upsampler_config() if self.size == "full" else tiny_upsampler_config()

    def distilled_lora(self, device: torch.device | str, dtype: torch.dtype, rank: int | None = None) -> LoraFile:
        # (on the meta device: the shapes only, e.g. to count parameters)
        """A random "distilled" LoRA on every Linear of the transformer blocks (as Lightricks' distilled
        LoRAs adapt), rank 384 at full size and 4 tiny, keyed as Lightricks' files
        (diffusion_model.<module>.lora_A/lora_B.weight, no alpha: delta = B @ A). down (A) ~ N(0, 1/in),
        up (B) ~ N(0, (0.1 / rank)): deltas about a tenth of the base weights. Tensors on `device`."""
        rank = rank or (FULL_LORA_RANK if self.size == "full" else TINY_LORA_RANK)
        with torch.device("meta"):
            model = CHECKPOINT_PARTS["transformer"].build(self.config)
        linears = [(n, m) for n, m in model.named_modules() if n.startswith(BLOCKS_PREFIX) and isinstance(m, nn.Linear)]
        device = torch.device(device)
        generator = None if device.type == "meta" else _generator(device)
        state: dict[str, torch.Tensor] = {}
        for path, linear in linears:
            down = torch.empty(rank, linear.in_features, device=device, dtype=dtype)
            up = torch.empty(linear.out_features, rank, device=device, dtype=dtype)
            if generator is not None:
                _seed(generator, self.seed, "distilled_lora", path + ".down")
                down.normal_(0.0, 1.0 / math.sqrt(linear.in_features), generator=generator)
                _seed(generator, self.seed, "distilled_lora", path + ".up")
                up.normal_(0.0, LORA_DELTA_SCALE / math.sqrt(rank), generator=generator)
            state[f"diffusion_model.{path}.lora_A.weight"] = down
            state[f"diffusion_model.{path}.lora_B.weight"] = up
        name = f"random-ltx-{self.model_version}-{self.size}-distilled-lora-{rank}"
        return lora_from_state_dict(state, name)


# ------------------------------------------------------------------------------------------- helpers


def materialize(build, device: torch.device | str, dtype: torch.dtype) -> nn.Module:
    """build() on the meta device, then storage on `device` in `dtype` (values uninitialised).

    A module with buffers other than per-channel statistics (computed filters, windows) is instead
    built on `device` in float32, so those buffers hold their computed values, and cast to `dtype`.
    """
    device = torch.device(device)
    with torch.device("meta"):
        module = build()
    computed = [n for n, _ in module.named_buffers() if "statistics" not in n]
    if computed and not isinstance(module, _GEMMA_TYPES()):
        with torch.device(device):
            module = build()
        return module.to(dtype)
    return module.to(dtype).to_empty(device=device)


def _GEMMA_TYPES() -> tuple[type, ...]:
    # Gemma's buffers (embedding scale, RoPE inverse frequencies) are non-persistent; gemma.py computes
    # them after loading (_materialize_non_persistent_buffers), as for a checkpoint.
    from transformers import Gemma3TextModel

    return (Gemma3TextModel,)


def _generator(device: torch.device) -> torch.Generator:
    return torch.Generator(device=device)


def _seed(generator: torch.Generator, seed: int, group: str, name: str) -> torch.Generator:
    """Seed from (seed, group, tensor name) alone: values do not depend on build or iteration order."""
    generator.manual_seed((seed * 1_000_003 + zlib.crc32(f"{group}/{name}".encode())) % (2**63 - 1))
    return generator


@torch.no_grad()
def randomize_(module: nn.Module, seed: int, group: str, gemma_norms: bool = False) -> None:
    """Fill every parameter and the per-channel statistics buffers in place, on their device and dtype.

    Matrices and kernels: N(0, 1/fan_in). 1-D norm weights, standard deviations, scale factors: 1 + N(0,
    0.05^2) (Gemma's norms, gemma_norms=True, scale by 1 + w: N(0, 0.1^2)). Other vectors and scalars
    (biases, shifts, means, learnable registers' rows are matrices): N(0, 0.05^2). Other buffers (computed
    filters) keep their values.
    """
    tensors = list(module.named_parameters()) + [(n, b) for n, b in module.named_buffers() if "statistics" in n]
    generators: dict[torch.device, torch.Generator] = {}
    for name, tensor in tensors:
        if not tensor.is_floating_point() or tensor.is_meta:  # on the meta device: shapes only
            continue
        generator = generators.setdefault(tensor.device, _generator(tensor.device))
        _seed(generator, seed, group, name)
        if tensor.dim() >= 2:
            tensor.normal_(0.0, 1.0 / math.sqrt(math.prod(tensor.shape[1:])), generator=generator)
        elif gemma_norms:
            tensor.normal_(0.0, 0.1, generator=generator)
        elif any(tag in name for tag in ("norm", "std", "scale_factor")) and "bias" not in name:
            tensor.normal_(1.0, 0.05, generator=generator)
        else:
            tensor.normal_(0.0, 0.05, generator=generator)


def byte_tokenizer(max_length: int = 1024):
    """A Gemma-like tokenizer without files: <pad>=0, <eos>=1, <bos>=2, <unk>=3, then one token per
    UTF-8 byte; <bos> prepended, left padding to `max_length` (as load_gemma_tokenizer sets up Gemma's)."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: i for i, token in enumerate(specials + sorted(alphabet))}
    backend = Tokenizer(BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        model_max_length=max_length,
        padding_side="left",
    )
    return tokenizer
