"""`text_encoder`: PROMPTS (BYTES [N]) -> VIDEO_CONTEXT [N, S, Dv], AUDIO_CONTEXT [N, S, Da] (Gemma 3 + connectors);
or, with ENHANCE_SEED (INT64 [1]) and for image-to-video ENHANCE_IMAGE (uint8 [h, w, 3]), one prompt -> ENHANCED_PROMPT
(BYTES [1]): Gemma 3's rewrite of it (models/text_encoder/enhancer.py)."""
from __future__ import annotations

import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.sources import open_model
from ltx_backend.request import MAX_PROMPT_CHARS
from ltx_backend.serving.model_adapter import ModelAdapter, require
from ltx_backend.serving.tensors import as_strings, bytes_array


class TritonPythonModel(ModelAdapter):
    bytes_inputs = frozenset({"PROMPTS"})

    def load(self, args):
        source = open_model(args.model_path(), args.needs(text_encoder=True), args.parameters.get("text_encoder_path") or None)
        self.encoder = source.text_encoder(self.device, self.dtype)

    def run(self, inputs):
        try:
            prompts = as_strings(require(inputs, "PROMPTS"))
        except UnicodeDecodeError as error:
            raise InvalidRequest("PROMPTS", "<bytes>", f"UTF-8 text ({error.reason})") from None
        if not 1 <= len(prompts) <= 8 or any(len(p) > MAX_PROMPT_CHARS for p in prompts):
            raise InvalidRequest("PROMPTS", f"<{len(prompts)} prompts>", f"1 to 8 prompts of at most {MAX_PROMPT_CHARS} characters")
        if "ENHANCE_SEED" in inputs:
            return {"ENHANCED_PROMPT": bytes_array([self.enhance(prompts, inputs)])}
        encoded = self.encoder.encode(prompts).unbind()
        return {
            "VIDEO_CONTEXT": torch.cat([e.video for e in encoded]),
            "AUDIO_CONTEXT": torch.cat([e.audio for e in encoded]),
        }

    def enhance(self, prompts: list[str], inputs) -> str:
        if len(prompts) != 1:
            raise InvalidRequest("PROMPTS", f"<{len(prompts)} prompts>", "one prompt to enhance")
        seed = int(inputs["ENHANCE_SEED"].reshape(-1)[0])
        image = inputs.get("ENHANCE_IMAGE")
        if image is not None and (image.dim() != 3 or image.shape[2] != 3 or image.dtype != torch.uint8):
            raise InvalidRequest("ENHANCE_IMAGE", list(image.shape), "a uint8 image [h, w, 3]")
        return self.encoder.enhance(prompts[0], None if image is None else image.cpu(), seed)
