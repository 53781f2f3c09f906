"""ltx-pipelines' A2VidPipelineTwoStage on a tiny checkpoint, fp32 on the CPU, with the real torchaudio.

argv: IN.npz OUT.npz SETTINGS.json, the settings: checkpoint directory and file, upsampler, distilled LoRA,
params ("LTX_2_PARAMS" / "LTX_2_3_PARAMS"), prompt, negative_prompt, seed, width, height, num_frames, fps,
num_inference_steps, audio_path, audio_start_time, audio_max_duration, images [[path, frame, strength], ...].
out: frames uint8 [F, H, W, 3], audio float32 [C, S], rate.
The same allowances as the in-process parity tests (reference_env.py): bf16 bound to fp32, the tiny Gemma
config, fp32 LoRA fusion through the bf16 branch.
"""
import json
import sys

import numpy as np
import torch

from reference_env import ScriptPatch, TorchWithDtype, allow_fp32_lora_fusion, prepare_reference, use_tiny_gemma_config


def main() -> None:
    prepare_reference()
    _, result, settings_path = sys.argv[1:4]
    s = json.loads(open(settings_path).read())
    import ltx_pipelines.a2vid_two_stage as a2v
    from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraPathStrengthAndSDOps
    from ltx_pipelines.utils import constants
    from ltx_pipelines.utils.args import ImageConditioningInput

    patch = ScriptPatch()
    use_tiny_gemma_config(s["directory"], patch)
    patch.setattr(a2v, "torch", TorchWithDtype(torch.float32))
    allow_fp32_lora_fusion(patch)
    pipeline = a2v.A2VidPipelineTwoStage(
        checkpoint_path=s["checkpoint"],
        distilled_lora=[LoraPathStrengthAndSDOps(s["lora"], 1.0, LTXV_LORA_COMFY_RENAMING_MAP)],
        spatial_upsampler_path=s["upsampler"],
        gemma_root=s["directory"],
        loras=[],
        device=torch.device("cpu"),
    )
    params = getattr(constants, s["params"])
    with torch.inference_mode():
        video, audio = pipeline(
            prompt=s["prompt"], negative_prompt=s["negative_prompt"], seed=s["seed"], height=s["height"],
            width=s["width"], num_frames=s["num_frames"], frame_rate=s["fps"],
            num_inference_steps=s["num_inference_steps"], video_guider_params=params.video_guider_params,
            images=[ImageConditioningInput(p, f, w, 33) for p, f, w in s["images"]],
            audio_path=s["audio_path"], audio_start_time=s["audio_start_time"],
            audio_max_duration=s["audio_max_duration"],
        )
        frames = torch.cat(list(video)).numpy()
    np.savez(result, frames=frames, audio=audio.waveform.float().numpy(), rate=np.array(audio.sampling_rate))


if __name__ == "__main__":
    main()
