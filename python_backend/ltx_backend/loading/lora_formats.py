"""Community LoRA key formats -> our transformer's module paths.

A LoRA file names, per adapted Linear layer, a down matrix A [rank, in], an up matrix B [out, rank] and
optionally an alpha. The formats in circulation for LTX-2 / LTX-2.3 differ in three places:

    wrapper prefix   diffusion_model.            Lightricks' own files (ltx-trainer), ComfyUI
                     model.diffusion_model.      ComfyUI checkpoint-style keys
                     transformer.                diffusers / PEFT as diffusers saves them
                     base_model.model.           raw PEFT state dicts (often with transformer. inside)
    matrix names     .lora_A.weight / .lora_B.weight          PEFT, Lightricks, diffusers
                     .lora_A.<adapter>.weight / .lora_B...    PEFT with the adapter name (e.g. "default")
                     .lora_down.weight / .lora_up.weight      ComfyUI / kohya style
                     .lora.down.weight / .lora.up.weight      old diffusers attention-processor style
    alpha            .alpha (a scalar tensor per layer), or lora_alpha in a PEFT adapter_config.json
    module names     ltx-core's (= ours: transformer_blocks.0.attn1.to_q, patchify_proj, adaln_single...)
                     or diffusers' (proj_in, time_embed, av_cross_attn_*, prompt_adaln, ...)

Module names are mapped to ours with the inverse of diffusers_layout.transformer_diffusers_key (the
conversion diffusers' script applies to the official checkpoint keys). The Linear layers inside the
transformer blocks carry the same names in both namings; only top-level modules differ.

How ltx-core 1.0.0 reads LoRAs (loader/sd_ops.py LTXV_LORA_COMFY_RENAMING_MAP, loader/fuse_loras.py):
it replaces every "diffusion_model." in a key by "" and, for each model weight "<m>.weight", looks up
"<m>.lora_A.weight" / "<m>.lora_B.weight"; anything else in the file (.alpha keys, lora_down/lora_up,
other prefixes) is silently ignored. Its delta is (B * strength) @ A with no alpha / rank factor.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ltx_backend.loading.diffusers_layout import transformer_diffusers_key
from ltx_backend.models.transformer.config import CHECKPOINT_PREFIX, TOP_LEVEL_NAMES

# Outer prefixes of the key, stripped (repeatedly, any order) until a transformer module name starts it.
WRAPPER_PREFIXES = ("base_model.model.", CHECKPOINT_PREFIX, "diffusion_model.", "transformer.", "model.")

# diffusers' name of each of our top-level modules (e.g. time_embed <- adaln_single).
DIFFUSERS_TOP_LEVEL = {transformer_diffusers_key(name + ".")[:-1]: name for name in TOP_LEVEL_NAMES}
# Renames inside the modules (only norms differ; they carry no LoRA but a file may still name them).
DIFFUSERS_INNER = (("norm_q", "q_norm"), ("norm_k", "k_norm"))

_MATRIX = re.compile(
    r"^(?P<module>.+?)\.(?:"
    r"lora_(?P<peft>[AB])(?:\.(?P<adapter>[^.]+))?\.weight"
    r"|lora_(?P<comfy>down|up)\.weight"
    r"|lora\.(?P<old>down|up)\.weight"
    r")$"
)
_ALPHA = re.compile(r"^(?P<module>.+)\.alpha$")


@dataclass(frozen=True)
class ParsedKey:
    """One key of a LoRA file: the module it adapts (file naming, wrapper prefixes kept) and its role."""

    stem: str  # the key without its LoRA suffix, e.g. "diffusion_model.transformer_blocks.0.attn1.to_q"
    role: str  # "down", "up" or "alpha"
    adapter: str | None  # PEFT adapter name, when the key carries one
    style: str  # "lora_A/lora_B", "lora_down/lora_up" or "lora.down/lora.up" ("alpha" for alpha keys)


def parse_key(key: str) -> ParsedKey | None:
    """The role of one key, or None when the key is not a LoRA matrix or alpha."""
    match = _MATRIX.match(key)
    if match:
        if match["peft"]:
            return ParsedKey(match["module"], "down" if match["peft"] == "A" else "up", match["adapter"], "lora_A/lora_B")
        if match["comfy"]:
            return ParsedKey(match["module"], match["comfy"], None, "lora_down/lora_up")
        return ParsedKey(match["module"], match["old"], None, "lora.down/lora.up")
    match = _ALPHA.match(key)
    if match:
        return ParsedKey(match["module"], "alpha", None, "alpha")
    return None


def strip_wrappers(stem: str) -> tuple[str, str]:
    """(wrapper prefix, module path) of a key stem; the prefix is "" when none is recognised."""
    prefix, rest = "", stem
    while rest.split(".", 1)[0] not in TOP_LEVEL_NAMES and rest.split(".", 1)[0] not in DIFFUSERS_TOP_LEVEL:
        for wrapper in WRAPPER_PREFIXES:
            if rest.startswith(wrapper):
                prefix, rest = prefix + wrapper, rest[len(wrapper):]
                break
        else:
            return prefix, rest
    return prefix, rest


def to_our_module_path(stem: str) -> str | None:
    """Our transformer's module path for a key stem in any supported naming, or None when the stem
    does not name a module of the transformer (text encoder, connectors, another model's LoRA)."""
    _, path = strip_wrappers(stem)
    top, _, rest = path.partition(".")
    if top in TOP_LEVEL_NAMES:
        ours_top = top
    elif top in DIFFUSERS_TOP_LEVEL:
        ours_top = DIFFUSERS_TOP_LEVEL[top]
    else:
        return None
    for old, new in DIFFUSERS_INNER:
        rest = rest.replace(old, new)
    return f"{ours_top}.{rest}" if rest else ours_top


def format_name(wrappers: set[str], styles: set[str]) -> str:
    """A short description of a file's key format, for logs (e.g. "diffusion_model.* lora_A/lora_B")."""
    prefix = "/".join(sorted(f"{w}*" if w else "(no prefix)" for w in wrappers)) or "(no keys)"
    return f"{prefix} {'+'.join(sorted(styles))}".strip()


def alpha_pattern_regex(pattern: str) -> str:
    """The regular expression PEFT matches an alpha_pattern key with, against a module path."""
    return rf"(.*\.)?({pattern})$"


def peft_alpha(config: dict, module_path_in_file: str, rank: int) -> float | None:
    """The alpha PEFT would use for one module (lora_alpha, alpha_pattern), in our alpha / rank convention.

    PEFT scales by lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora: returned as the alpha
    that gives the same factor when divided by the module's actual rank.
    """
    alpha = config.get("lora_alpha")
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.match(alpha_pattern_regex(pattern), module_path_in_file):
            alpha = value
            break
    if alpha is None:
        return None
    alpha = float(alpha)
    return alpha * math.sqrt(rank) if config.get("use_rslora") else alpha
