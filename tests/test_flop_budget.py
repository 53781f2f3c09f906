"""build/flop_budget.py: FLOPs of the full-size model calls, counted on the meta device (no weights)."""
from __future__ import annotations

import re

import pytest
import torch

from conftest import load_build_script


@pytest.mark.slow
def test_counts_agree_with_the_arithmetic():
    budget = load_build_script("flop_budget")
    from ltx_backend.models.transformer import build_transformer, full_transformer_config

    # a step's passes are one batch; the skipped paths of the modality-isolation pass are computed for the
    # whole batch and dropped per sample (3 passes: exactly 3x one), and the STG pass, the cond pass's twin,
    # runs blocks 28..47 only: 20 of 48 blocks of a pass, plus its input and output projections
    latent, audio_tokens = (2, 2, 3), 5
    one = budget.transformer_flops("2", 1, latent, audio_tokens)
    assert budget.transformer_flops("2", 3, latent, audio_tokens) == 3 * one
    four = budget.transformer_flops("2", 4, latent, audio_tokens)
    assert 3 * one + 0.35 * one < four < 3 * one + 0.5 * one
    # every block Linear runs on every token of its stream at least once: 2 FLOPs per weight per token
    with torch.device("meta"):
        model = build_transformer({"transformer": full_transformer_config("2")})
    video_linear = sum(
        m.weight.numel() for n, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and n.startswith("transformer_blocks.") and (".attn1." in n or ".ff." in n)
    )
    assert one > 2 * video_linear * 12
    # the timesteps as the sampler passes them: text-to-video one AdaLN row per pass; with an image two levels, so
    # one row more per pass of the video's AdaLN MLP (its timestep embedder and the 6 x 4096 projection), whatever
    # the token count (per token, it would be a row per token)
    adaln = sum(p.numel() for n, p in model.named_parameters() if n.startswith("adaln_single.") and n.endswith(".weight"))
    assert adaln == 256 * 4096 + 4096 * 4096 + 6 * 4096 * 4096
    assert budget.transformer_flops("2", 1, latent, audio_tokens, image=True) - one == 2 * adaln
    assert budget.transformer_flops("2", 3, (2, 2, 6), audio_tokens, image=True) - budget.transformer_flops("2", 3, (2, 2, 6), audio_tokens) == 3 * 2 * adaln
    # Gemma 3 12B on two 1024-token prompts: 2 FLOPs per weight per token (+ attention, + the connectors)
    gemma_weights = 10.8e9  # 11.8B parameters less the 1.0B embedding table, which is a lookup
    text = budget.text_encoder_flops("2", 2)
    assert 2 * gemma_weights * 2048 < text < 1.3 * 2 * gemma_weights * 2048


@pytest.mark.slow
def test_prints_the_request_table(capsys):
    budget = load_build_script("flop_budget")
    assert budget.main(["--width", "128", "--height", "128", "--frames", "9", "--stage1-steps", "2", "--passes", "2"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| model call")]
    calls = {r.split(" | ")[0][2:]: r.split(" | ") for r in rows if "---" not in r}
    names = list(calls)
    assert any(n.startswith("text encoder") for n in names)
    assert any(n.startswith("stage-1 step: 2 passes x 8 video + 9 audio tokens") for n in names)
    assert any(n.startswith("stage-2 step: 1 pass x 32 video") for n in names)
    assert any(n.startswith("video VAE decode") for n in names)
    total = float(re.search(r"\*\*request\*\* \| \| \| \*\*([0-9.]+)\*\*", out).group(1))
    parts = sum(float(cells[3]) for name, cells in calls.items() if not name.startswith("**"))
    assert abs(total - parts) < 0.2
    assert "goal 5.5 s: reachable only above" in out


@pytest.mark.slow
def test_the_distilled_request_in_fp8_scaled_mm(capsys):
    """--pipeline distilled: one prompt, 8 stage-1 steps of one pass, 3 stage-2 steps; with fp8-scaled-mm the block
    Linears it quantises (not blocks 0 and 43-47) run at the fp8 peak, so the speed of light drops below bf16's."""
    budget = load_build_script("flop_budget")
    assert budget.main(["--width", "128", "--height", "128", "--frames", "9", "--pipeline", "distilled", "--quantization", "fp8-scaled-mm"]) == 0
    out = capsys.readouterr().out
    assert "1 prompt x 1024 tokens | 1 |" in out
    assert re.search(r"\| stage-1 step: 1 pass x 8 video \+ 9 audio tokens \| 8 \|", out), out
    assert re.search(r"\| stage-2 step: 1 pass x 32 video \+ 9 audio tokens \| 3 \|", out), out
    least = float(re.search(r"\*\*request\*\* \| \| \| \*\*[0-9.]+\*\* \| \*\*([0-9.]+)\*\*", out).group(1))
    share, bf16 = re.search(r"fp8 matmuls: (\d+)% of the request's FLOPs \(bf16 speed of light ([0-9.]+) s\)", out).groups()
    assert 0 < int(share) < 100 and least < float(bf16)
    total, in_fp8 = budget.transformer_flops("2", 1, (2, 2, 3), 5, split=True)
    assert 0.5 * total < in_fp8 < total  # 42 of 48 blocks' projections: most of a short sequence's FLOPs


@pytest.mark.slow
def test_the_hq_and_one_stage_requests(capsys):
    """HQ: res_2s evaluates twice per step and once at the end, 3 passes (no STG), in both stages; one-stage: its
    steps at the output size, no upsampler, no stage 2."""
    budget = load_build_script("flop_budget")
    assert budget.main(["--version", "2.3", "--pipeline", "hq", "--width", "128", "--height", "128", "--frames", "9",
                        "--stage1-steps", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\| stage-1 res_2s evaluation: 3 passes x 8 video \+ 9 audio tokens \| 5 \|", out), out
    assert re.search(r"\| stage-2 res_2s evaluation: 1 pass x 32 video \+ 9 audio tokens \| 7 \|", out), out
    assert "(2 x 3 passes;" in out
    assert budget.main(["--version", "2.3", "--pipeline", "one-stage", "--width", "128", "--height", "128", "--frames", "9",
                        "--stage1-steps", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\| stage-1 step: 4 passes \(the STG pass from its block on\) x 32 video \+ 9 audio tokens \| 2 \|", out), out
    assert "upsampler" not in out and "stage-2" not in out


def test_an_sglang_case_sets_the_request_and_its_goal():
    budget = load_build_script("flop_budget")
    args = budget.parse_args(["--case", "ltx_2_3_hq_pipeline"])
    assert (args.version, args.pipeline, args.width, args.height, args.frames, args.stage1_steps, args.passes) == (
        "2.3", "hq", 1920, 1088, 25, 15, 3)
    assert args.goal_s == 9.5
    assert args.image  # HQ's case sends an image: two noise levels
    args = budget.parse_args(["--case", "ltx_2_two_stage_t2v"])
    assert (args.version, args.pipeline, args.stage1_steps, args.passes, args.goal_s, args.image) == ("2", "two-stage", 40, 2, 3.39, False)
    with pytest.raises(SystemExit):
        budget.parse_args(["--case", "ltx_3_t2v"])
    assert budget.main(["--pipeline", "hq", "--version", "2"]) == 2  # HQ is LTX-2.3's only
