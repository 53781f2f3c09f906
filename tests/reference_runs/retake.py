"""ltx-pipelines' RetakePipeline on a tiny checkpoint, fp32 on the CPU, with the real torchaudio.

argv: IN.npz OUT.npz SETTINGS.json, the settings: directory, checkpoint, params ("LTX_2_PARAMS" / "LTX_2_3_PARAMS"),
video_path, prompt, negative_prompt, seed, num_inference_steps, start, end, regenerate_video, regenerate_audio,
distilled. out: frames uint8 [F, H, W, 3], audio float32 [C, S], rate.
"""
import json
import sys

import numpy as np
import torch

from reference_env import ScriptPatch, TorchWithDtype, prepare_reference, use_tiny_gemma_config


def main() -> None:
    prepare_reference()
    _, result, settings_path = sys.argv[1:4]
    s = json.loads(open(settings_path).read())
    import ltx_pipelines.retake as retake
    from ltx_pipelines.utils import constants

    patch = ScriptPatch()
    use_tiny_gemma_config(s["directory"], patch)
    patch.setattr(retake, "torch", TorchWithDtype(torch.float32))
    pipeline = retake.RetakePipeline(checkpoint_path=s["checkpoint"], gemma_root=s["directory"], loras=[], device=torch.device("cpu"))
    params = getattr(constants, s["params"])
    with torch.inference_mode():
        video, audio = pipeline(
            video_path=s["video_path"], prompt=s["prompt"], start_time=s["start"], end_time=s["end"], seed=s["seed"],
            negative_prompt=s["negative_prompt"], num_inference_steps=s["num_inference_steps"],
            video_guider_params=params.video_guider_params, audio_guider_params=params.audio_guider_params,
            regenerate_video=s["regenerate_video"], regenerate_audio=s["regenerate_audio"], distilled=s["distilled"],
        )
        frames = torch.cat(list(video)).numpy()
    np.savez(result, frames=frames, audio=audio.waveform.float().numpy(), rate=np.array(audio.sampling_rate))


if __name__ == "__main__":
    main()
