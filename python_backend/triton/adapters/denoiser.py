"""`denoiser`: one guided x0 prediction of the transformer (all guidance passes batched), see triton/wire.py."""
from __future__ import annotations

from ltx_backend.loading.sources import open_model
from ltx_backend.sampling.denoise import guided_denoise
from ltx_backend.triton.component import ComponentModel, require
from ltx_backend.triton.tensors import as_strings
from ltx_backend.triton.wire import unpack_step


class TritonPythonModel(ComponentModel):
    bytes_inputs = frozenset({"STEP_META"})

    def load(self, args):
        self.transformer = open_model(args.model_path()).load("transformer", self.device, self.dtype)
        if args.parameters.get("lora_path"):
            from ltx_backend.loading.lora import apply_loras, read_lora

            lora = read_lora(args.parameters["lora_path"], args.parameters.get("lora_weight_name") or None)
            apply_loras(self.transformer, [(lora, float(args.parameters.get("lora_scale", "1.0")))])

    def run(self, inputs):
        (meta,) = as_strings(require(inputs, "STEP_META"))
        tensors = {name: value.to(self.device) for name, value in inputs.items() if name != "STEP_META"}
        step = unpack_step(tensors, meta)
        video_x0, audio_x0 = guided_denoise(
            self.transformer, step.video, step.audio, step.sigma, step.contexts,
            step.video_guidance, step.audio_guidance, step.step_index, step.previous,
        )
        return {"VIDEO_X0": video_x0, "AUDIO_X0": audio_x0}
