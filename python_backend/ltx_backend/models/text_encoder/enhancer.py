"""Prompt enhancement: Gemma 3 as a chat model rewrites a prompt before it is encoded (ltx-core's
GemmaTextEncoder.enhance_t2v / enhance_i2v and ltx-pipelines' generate_enhanced_prompt).

The chat is Lightricks' system prompt (prompts/, ltx-core 1.0.0's files) and the user's prompt, with the first
conditioning image for image-to-video (resized by the pipeline: pipelines/prompt_enhancement.py). transformers'
Gemma 3 generates up to 512 tokens, sampling at temperature 0.7 from a seeded generator; the answer is cleaned of curly quotes and
of what precedes its first letter. The model is the full Gemma3ForConditionalGeneration sharing the text tower
the encoder already holds (its lm_head is the tied token embedding): only the vision tower and its projector are
loaded besides, on the first enhancement.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import AutoImageProcessor, Gemma3Config, Gemma3ForConditionalGeneration, Gemma3Processor

from .gemma import GemmaEncoder
from .gemma_files import weight_files

PROMPTS = Path(__file__).resolve().parent / "prompts"

MAX_NEW_TOKENS = 512
TEMPERATURE = 0.7
ALIGNMENT = 8  # the chat's tokens are right-padded to a multiple of this (the reference pads for Flash Attention)
_UNICODE_REPLACEMENTS = str.maketrans("\u2018\u2019\u201c\u201d\u2014\u2013\u00a0\u2032\u2212", "''\"\"-- '-")


@functools.lru_cache(maxsize=2)
def system_prompt(kind: str) -> str:
    """kind: "t2v" or "i2v"."""
    return (PROMPTS / f"gemma_{kind}_system_prompt.txt").read_text()


def clean_response(text: str) -> str:
    """Curly quotes, dashes and odd spaces made plain; anything before the first letter dropped."""
    text = text.translate(_UNICODE_REPLACEMENTS)
    for i, char in enumerate(text):
        if char.isalpha():
            return text[i:]
    return text


class PromptEnhancer:
    def __init__(self, model: Gemma3ForConditionalGeneration, processor: Gemma3Processor):
        self.model = model
        self.processor = processor

    def enhance(self, prompt: str, image: torch.Tensor | None, seed: int) -> str:
        """The rewritten prompt (cleaned), for text-to-video, or image-to-video with `image` (uint8 [h, w, 3])."""
        if image is None:
            messages = [{"role": "system", "content": system_prompt("t2v")}, {"role": "user", "content": f"user prompt: {prompt}"}]
            return clean_response(self._generate(messages, None, seed))
        messages = [
            {"role": "system", "content": system_prompt("i2v")},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"User Raw Input Prompt: {prompt}."}]},
        ]
        return clean_response(self._generate(messages, image, seed))

    def _generate(self, messages: list[dict], image: torch.Tensor | None, seed: int) -> str:
        tokenizer = self.processor.tokenizer
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        device = self.model.device
        inputs = self.processor(text=text, images=image, return_tensors="pt").to(device)
        _pad_to_alignment(inputs, tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
        # the global generators are forked (the CPU's always; a GPU's where the model is) and seeded
        with torch.inference_mode(), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            output = self.model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=True, temperature=TEMPERATURE)
        return tokenizer.decode(output[0][inputs.input_ids.shape[1]:], skip_special_tokens=True)


def _pad_to_alignment(inputs, pad_token_id: int) -> None:
    """Right-pad input_ids (pad id), attention_mask and token_type_ids (0) to a multiple of ALIGNMENT tokens."""
    length = inputs.input_ids.shape[1]
    missing = -length % ALIGNMENT
    if not missing:
        return
    for name, value in (("input_ids", pad_token_id), ("attention_mask", 0), ("token_type_ids", 0)):
        if inputs.get(name) is not None:
            tensor = inputs[name]
            inputs[name] = torch.cat([tensor, torch.full((1, missing), value, dtype=tensor.dtype, device=tensor.device)], dim=1)


class EnhancerError(ValueError):
    """A Gemma that cannot chat: no chat template, no vision tower for an image (the message says which)."""


def build_prompt_enhancer(gemma: GemmaEncoder) -> PromptEnhancer:
    """Gemma3ForConditionalGeneration around the encoder's text tower (shared, not copied): the vision tower and
    projector read from Gemma's files onto the text tower's device and dtype, the lm_head tied to the embedding."""
    files = gemma.files
    raw = json.loads((files.text_encoder / "config.json").read_text())
    if "vision_config" not in raw:
        raise EnhancerError(f"{files.text_encoder}/config.json is a text-only Gemma: prompt enhancement needs Gemma 3 "
                            "with its vision tower (Gemma3ForConditionalGeneration)")
    if not gemma.tokenizer.chat_template:
        raise EnhancerError(f"the tokenizer in {files.tokenizer} has no chat template: prompt enhancement chats with Gemma")
    weight = gemma.model.embed_tokens.weight
    with torch.device("meta"):
        model = Gemma3ForConditionalGeneration(Gemma3Config.from_dict(raw))
    model.model.language_model = gemma.model
    for name in ("vision_tower", "multi_modal_projector"):
        part = getattr(model.model, name)
        part.load_state_dict(_as_module_keys(_read_prefixed(files.text_encoder, name + ".", weight), part),
                             strict=True, assign=True)
    vision = model.model.vision_tower
    embeddings = getattr(vision, "vision_model", vision).embeddings  # its position ids are not in checkpoints
    embeddings.register_buffer("position_ids", torch.arange(embeddings.num_positions, device=weight.device).expand((1, -1)),
                               persistent=False)
    model.lm_head.weight = weight
    processor = Gemma3Processor(image_processor=AutoImageProcessor.from_pretrained(str(files.tokenizer), local_files_only=True),
                                tokenizer=gemma.tokenizer)
    return PromptEnhancer(model.eval(), processor)


def _as_module_keys(weights: dict[str, torch.Tensor], module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The checkpoint's keys as `module` names them: the files say `vision_tower.vision_model.*`, which is
    transformers 4's SiglipVisionModel; transformers 5's holds the same modules one level up (`embeddings.*`)."""
    expected = module.state_dict().keys()
    if expected and not any(key.startswith("vision_model.") for key in expected):
        return {key.removeprefix("vision_model."): value for key, value in weights.items()}
    return weights


def _read_prefixed(directory: Path, prefix: str, like: torch.Tensor) -> dict[str, torch.Tensor]:
    weights = {}
    for path in weight_files(directory):
        with safe_open(str(path), framework="pt", device=str(like.device)) as file:
            for key in file.keys():
                if key.startswith(prefix):
                    weights[key[len(prefix):]] = file.get_tensor(key).to(like.dtype)
    return weights
