"""The Triton attention kernel (CPU interpreter) against the plain-PyTorch reference and torch SDPA, the
backend dispatch, and the tiny transformer run with backend "triton" against the "sdpa" run.

TRITON_INTERPRET must be set before the kernels' modules import triton (they do so lazily, on the first
Triton call), so it is set here, before anything else runs.
"""
from __future__ import annotations

import importlib.util
import os

os.environ["TRITON_INTERPRET"] = "1"

import dataclasses  # noqa: E402
import logging  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

import ltx_kernels  # noqa: E402
from conftest import ROOT, checkpoint_file  # noqa: E402
from ltx_kernels import dispatch  # noqa: E402
from ltx_kernels.attention import reference_attention, sdpa_attention  # noqa: E402


def _triton(q, k, v, heads, mask=None):
    from ltx_kernels.triton_attention import triton_attention

    return triton_attention(q, k, v, heads, mask)


def _inputs(batch, heads, head_dim, tq, tk, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(batch, t, heads * head_dim, generator=g).to(dtype) for t in (tq, tk, tk))
    return q, k, v


def _mask(kind: str, batch, heads, tq, tk, seed=1):
    """The mask shapes the models pass ([B,1,1,S] text padding, [B,1,T,T] self-attention) and the others
    the dispatch accepts ([Tq,Tk], [B,Tq,Tk], [B,H,Tq,Tk], bool)."""
    g = torch.Generator().manual_seed(seed)
    if kind == "none":
        return None
    if kind == "text_padding":  # as stream.text_padding_bias: 0 / -finfo.max, element i has 3i padding keys
        real = torch.ones(batch, tk)
        for i in range(batch):
            real[i, tk - 3 * i :] = 0 if i else 1
        return ((real - 1) * torch.finfo(torch.float32).max).reshape(batch, 1, 1, tk)
    if kind == "self_bias":  # as stream.self_attention_bias: log(w), finfo.min where w == 0
        w = torch.rand(batch, tq, tk, generator=g)
        w[w < 0.3] = 0.0
        log_w = torch.log(w.clamp(min=torch.finfo(torch.float32).tiny))
        return torch.where(w > 0, log_w, torch.full_like(log_w, torch.finfo(torch.float32).min)).unsqueeze(1)
    if kind == "2d":
        return torch.randn(tq, tk, generator=g)
    if kind == "3d":
        return torch.randn(batch, tq, tk, generator=g)
    if kind == "per_head":
        return torch.randn(batch, heads, tq, tk, generator=g)
    if kind == "bool":
        m = torch.rand(batch, 1, tq, tk, generator=g) > 0.4
        m[..., 0] = True
        return m
    raise ValueError(kind)


SHAPES = [  # batch, heads, head_dim, Tq, Tk
    (1, 1, 16, 1, 1),
    (2, 2, 16, 5, 9),
    (1, 2, 32, 17, 33),
    (2, 1, 64, 37, 70),
    (1, 2, 64, 70, 16),
    (2, 3, 8, 5, 9),  # head dim 8: padded to the 16-wide tile
    (1, 1, 24, 19, 7),  # head dim not a power of two
]


@pytest.mark.parametrize("shape", SHAPES, ids=[f"b{b}h{h}d{d}q{q}k{k}" for b, h, d, q, k in SHAPES])
@pytest.mark.parametrize("mask_kind", ["none", "text_padding", "self_bias"])
def test_fp32_matches_reference(shape, mask_kind):
    batch, heads, head_dim, tq, tk = shape
    if mask_kind == "self_bias" and tq != tk:
        tk = tq
    q, k, v = _inputs(batch, heads, head_dim, tq, tk, torch.float32)
    mask = _mask(mask_kind, batch, heads, tq, tk)
    out = _triton(q, k, v, heads, mask)
    expected = reference_attention(q, k, v, heads, mask)
    assert out.shape == expected.shape and out.dtype == torch.float32
    assert (out - expected).abs().max().item() <= 1e-5
    assert (out - sdpa_attention(q, k, v, heads, mask)).abs().max().item() <= 1e-5
    assert expected.abs().max() > 0.1


@pytest.mark.parametrize("mask_kind", ["2d", "3d", "per_head", "bool"])
def test_other_mask_shapes(mask_kind):
    batch, heads, head_dim, tq, tk = 2, 2, 16, 11, 21
    q, k, v = _inputs(batch, heads, head_dim, tq, tk, torch.float32, seed=4)
    mask = _mask(mask_kind, batch, heads, tq, tk)
    out = _triton(q, k, v, heads, mask)
    assert (out - reference_attention(q, k, v, heads, mask)).abs().max().item() <= 1e-5
    assert (out - sdpa_attention(q, k, v, heads, mask)).abs().max().item() <= 1e-5


def test_fully_masked_rows_behave_like_sdpa():
    """-finfo.max on every key: the uniform average (as SDPA); -inf / False on every key: 0 (as SDPA)."""
    batch, heads, head_dim, tq, tk = 2, 2, 16, 5, 19
    q, k, v = _inputs(batch, heads, head_dim, tq, tk, torch.float32, seed=5)
    finite = torch.zeros(batch, 1, 1, tk)
    finite[1] = -torch.finfo(torch.float32).max
    infinite = torch.zeros(batch, 1, tq, tk)
    infinite[0, :, 2] = float("-inf")
    boolean = torch.ones(batch, 1, tq, tk, dtype=torch.bool)
    boolean[1, :, 0] = False
    for mask in (finite, infinite, boolean):
        out = _triton(q, k, v, heads, mask)
        torch.testing.assert_close(out, sdpa_attention(q, k, v, heads, mask), rtol=0, atol=1e-5)
    out = _triton(q, k, v, heads, finite)
    torch.testing.assert_close(out[1], v[1].mean(0, keepdim=True).expand(tq, -1), rtol=0, atol=1e-5)
    assert _triton(q, k, v, heads, infinite)[0, 2].abs().max() == 0


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("mask_kind", ["none", "text_padding", "self_bias"])
def test_half_precision_within_2e2_relative(dtype, mask_kind):
    batch, heads, head_dim, tq, tk = 2, 2, 64, 33, 33
    q, k, v = _inputs(batch, heads, head_dim, tq, tk, dtype, seed=6)
    mask = _mask(mask_kind, batch, heads, tq, tk)
    if mask is not None:
        mask = mask.to(dtype)  # the model builds its biases in the run's dtype
    out = _triton(q, k, v, heads, mask)
    assert out.dtype == dtype
    expected = reference_attention(q.float(), k.float(), v.float(), heads, None if mask is None else mask.float())
    error = (out.float() - expected).abs().max().item() / expected.abs().max().item()
    assert error <= 2e-2, error


def test_strided_inputs_are_read_in_place():
    """q, k, v as column slices of one packed [B, T, 3*H*D] projection (row stride 3*H*D)."""
    batch, heads, head_dim, tokens = 2, 2, 16, 13
    qkv = torch.randn(batch, tokens, 3 * heads * head_dim)
    q, k, v = qkv.chunk(3, dim=-1)
    assert not q.is_contiguous()
    out = _triton(q, k, v, heads)
    assert (out - reference_attention(q, k, v, heads)).abs().max().item() <= 1e-5


DESCRIPTOR_SHAPES = [  # power-of-two head dims >= 16 (what TMA boxes take); odd lengths, batch > 1
    (2, 2, 16, 5, 9),
    (1, 2, 32, 17, 33),
    (2, 1, 64, 37, 70),
    (3, 2, 16, 16, 32),
]


@pytest.mark.parametrize("shape", DESCRIPTOR_SHAPES, ids=[f"b{b}h{h}d{d}q{q}k{k}" for b, h, d, q, k in DESCRIPTOR_SHAPES])
@pytest.mark.parametrize("mask_kind", ["none", "text_padding", "self_bias"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_descriptor_loads_equal_pointer_loads(shape, mask_kind, dtype):
    """The TMA-descriptor configs (Hopper) read the same tiles as the pointer configs: the same outputs, bit
    for bit, and within 1e-5 of the reference in fp32."""
    from ltx_kernels.triton_attention import _attention_fwd, attention_forward

    batch, heads, head_dim, tq, tk = shape
    if mask_kind == "self_bias":
        tk = tq
    q, k, v = _inputs(batch, heads, head_dim, tq, tk, dtype, seed=11)
    mask = _mask(mask_kind, batch, heads, tq, tk)
    if mask is not None:
        mask = mask.to(dtype)
    pointers = attention_forward(q, k, v, heads, mask, descriptors="off")
    assert _attention_fwd.best_config.kwargs["USE_TMA"] is False
    tma = attention_forward(q, k, v, heads, mask, descriptors="on")
    assert _attention_fwd.best_config.kwargs["USE_TMA"] is True
    assert torch.equal(tma, pointers)
    if dtype == torch.float32:
        assert (tma - reference_attention(q, k, v, heads, mask)).abs().max().item() <= 1e-5


def test_descriptor_loads_keep_batch_elements_apart():
    """A descriptor tile past an element's last key or query reads the next element's rows: they must not
    reach the output, even when they hold inf / NaN."""
    from ltx_kernels.triton_attention import attention_forward

    batch, heads, head_dim, tq, tk = 2, 2, 16, 7, 19
    q, k, v = _inputs(batch, heads, head_dim, tq, tk, torch.float32, seed=12)
    q[1], k[1], v[1] = float("nan"), float("inf"), float("inf")
    out = attention_forward(q, k, v, heads, descriptors="on")
    expected = reference_attention(q[:1], k[:1], v[:1], heads)
    assert torch.isfinite(out[0]).all()
    assert (out[:1] - expected).abs().max().item() <= 1e-5


def test_descriptors_refused_with_the_reason():
    from ltx_kernels.triton_attention import _attention_fwd, attention_forward, descriptor_refusal

    q, k, v = _inputs(2, 1, 24, 5, 9, torch.float32)  # head dim 24
    with pytest.raises(ValueError, match="head dim 24 is not a power of two"):
        attention_forward(q, k, v, 1, descriptors="on")
    q, k, v = _inputs(1, 2, 16, 5, 9, torch.float32)
    shared = k.expand(3, -1, -1)  # one key set for three queries: stride 0 over the batch
    assert "not one run of rows" in descriptor_refusal(q.expand(3, -1, -1).contiguous(), shared, shared, 2)
    # "auto" falls back to the pointer configs (and in the interpreter always uses them)
    out = attention_forward(q.expand(3, -1, -1).contiguous(), shared, shared, 2)
    assert _attention_fwd.best_config.kwargs["USE_TMA"] is False
    assert (out - reference_attention(q.expand(3, -1, -1), shared, shared, 2)).abs().max().item() <= 1e-5
    with pytest.raises(ValueError, match="descriptors 'sometimes' is not one of"):
        attention_forward(q, k, v, 2, descriptors="sometimes")


def test_dispatch_routes_every_backend():
    q, k, v = _inputs(2, 2, 16, 7, 9, torch.float32, seed=7)
    mask = _mask("text_padding", 2, 2, 7, 9)
    expected = reference_attention(q, k, v, 2, mask)
    implementations = {"triton": "triton", "sdpa": "sdpa", "auto": "reference", "flash_attn": "flash_attn"}
    for backend in ltx_kernels.BACKENDS:  # a backend added to BACKENDS must be routed here too
        implementation = implementations[backend]
        if backend == "flash_attn" and importlib.util.find_spec("flash_attn") is None:
            continue  # not installed here (its own test below checks the error)
        ltx_kernels.set_attention_backend(backend)
        before = dispatch.calls[("attention", implementation)]
        out = ltx_kernels.attention(q, k, v, 2, mask)
        assert dispatch.calls[("attention", implementation)] == before + 1, backend
        assert (out - expected).abs().max().item() <= 1e-5, backend


def test_triton_on_cpu_without_the_interpreter_is_a_clear_error(monkeypatch):
    ltx_kernels.set_attention_backend("triton")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    q, k, v = _inputs(1, 1, 16, 3, 3, torch.float32)
    with pytest.raises(RuntimeError, match=r"backend 'triton'.*device 'cpu'"):
        ltx_kernels.attention(q, k, v, 1)


def test_inputs_needing_gradients_run_the_reference():
    ltx_kernels.set_attention_backend("triton")
    q, k, v = (t.requires_grad_() for t in _inputs(1, 1, 16, 3, 3, torch.float32))
    before = dispatch.calls[("attention", "reference")]
    ltx_kernels.attention(q, k, v, 1).sum().backward()
    assert dispatch.calls[("attention", "reference")] == before + 1 and q.grad is not None


def test_flash_attn_backend_needs_the_package():
    import importlib.util

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed here")
    with pytest.raises(RuntimeError, match="flash-attn"):
        ltx_kernels.set_attention_backend("flash_attn")
    assert ltx_kernels.get_attention_backend() == "auto"


def test_choice_is_logged_once(caplog):
    dispatch._logged.clear()
    ltx_kernels.set_attention_backend("triton")
    q, k, v = _inputs(1, 1, 16, 3, 3, torch.float32)
    x, shift = torch.randn(1, 3, 16), torch.randn(1, 1, 16)
    with caplog.at_level(logging.INFO, logger="ltx_kernels"):
        for _ in range(3):
            ltx_kernels.attention(q, k, v, 1)
            ltx_kernels.adaln_modulate(x, shift, shift, 1e-6)  # another op, the same kind: no second line
    records = [r.getMessage() for r in caplog.records if r.name == "ltx_kernels"]
    assert records == ["the Triton kernels on cpu (backend 'triton')"]


# --- the tiny transformer: backend "triton" (every attention, QK-norm + RoPE and AdaLN op in Triton)
# --- against "sdpa" (the PyTorch ops) on the tiny checkpoints' weights


def _transformer_inputs(model, batch: int = 2, per_level: bool = False):
    """A step's inputs with a clean conditioning frame; per_level: the video's timesteps per noise level and each
    token's index (the sampler's form), else per token."""
    from ltx_backend.latents.positions import audio_positions, video_positions
    from ltx_backend.latents.shapes import VideoLatentShape
    from ltx_backend.models.transformer import BatchPerturbations, ModalityInput, Perturbation, Skip

    c = model.config
    g = torch.Generator().manual_seed(11)
    video_shape = VideoLatentShape(batch, c.in_channels, 2, 2, 3)
    t_video, t_audio, text = 12, 7, 7
    sigma = torch.tensor([0.9, 0.4])[:batch]
    timesteps = torch.ones(batch, t_video) * sigma[:, None]
    timesteps[:, :6] = 0.0  # a clean conditioning frame
    context_mask = torch.ones(batch, text, dtype=torch.int64)
    context_mask[1, 4:] = 0
    weights = torch.rand(batch, t_video, t_video, generator=g)
    weights[weights < 0.3] = 0.0
    weights.diagonal(dim1=1, dim2=2).fill_(1.0)
    video_text = c.caption_channels or c.cross_attention_dim
    audio_text = c.caption_channels or c.audio_cross_attention_dim
    levels = dict(timesteps=torch.stack([torch.zeros_like(sigma), sigma], 1), timestep_index=(timesteps > 0).long())
    video = ModalityInput(
        **(levels if per_level else dict(timesteps=timesteps)),
        latent=torch.randn(batch, t_video, c.in_channels, generator=g),
        sigma=sigma,
        positions=video_positions(video_shape, fps=24.0),
        context=torch.randn(batch, text, video_text, generator=g),
        context_mask=context_mask,
        attention_mask=weights,
    )
    audio = ModalityInput(
        latent=torch.randn(batch, t_audio, c.audio_in_channels, generator=g),
        sigma=sigma,
        timesteps=torch.ones(batch, t_audio) * sigma[:, None],
        positions=audio_positions(batch, t_audio),
        context=torch.randn(batch, text, audio_text, generator=g),
        context_mask=context_mask,
    )
    perturbations = BatchPerturbations(((), (Perturbation(Skip.VIDEO_SELF_ATTN, (1,)),)))
    return video, audio, perturbations


def _run(model, backend, inputs):
    ltx_kernels.set_attention_backend(backend)
    with torch.no_grad():
        return model(*inputs)


@pytest.mark.parametrize(("version", "dtype", "per_level"), [
    ("2", torch.float32, False), ("2.3", torch.float32, False), ("2.3", torch.bfloat16, False), ("2", torch.float32, True),
    ("2.3", torch.bfloat16, True),
])
def test_tiny_transformer_triton_matches_sdpa(tiny_checkpoints, version, dtype, per_level):
    from ltx_backend.loading.checkpoint import read_checkpoint_info
    from ltx_backend.loading.checkpoint_parts import load_part

    info = read_checkpoint_info(checkpoint_file(tiny_checkpoints[version]))
    model = load_part(info, "transformer", torch.device("cpu"), dtype).eval()
    video, audio, perturbations = _transformer_inputs(model, per_level=per_level)
    if dtype != torch.float32:  # as the pipelines run bf16: latents, text and positions in bf16, sigmas fp32
        def cast(m):
            return dataclasses.replace(m, latent=m.latent.to(dtype), context=m.context.to(dtype), positions=m.positions.to(dtype))

        video, audio = cast(video), cast(audio)
    inputs = (video, audio, perturbations)

    before = dict(dispatch.calls)
    expected = _run(model, "sdpa", inputs)
    ops = (("attention", "sdpa"), ("qk_norm_rope", "reference"), ("adaln_modulate", "reference"), ("gated_residual", "reference"))
    if version == "2.3":  # its gated attention and text-context modulation
        ops += (("attention_gate", "reference"), ("modulate", "reference"))
    sdpa_calls = {op: dispatch.calls[(op, n)] - before.get((op, n), 0) for op, n in ops}
    before = dict(dispatch.calls)
    out = _run(model, "triton", inputs)
    triton_calls = {op: dispatch.calls[(op, "triton")] - before.get((op, "triton"), 0) for op in sdpa_calls}
    # every call of the sdpa run ran its Triton kernel in the triton run
    assert triton_calls == sdpa_calls and min(triton_calls.values()) > 0, (triton_calls, sdpa_calls)

    for name, a, b in (("video", out[0], expected[0]), ("audio", out[1], expected[1])):
        assert a.dtype == b.dtype == dtype
        scale = b.float().abs().max().item()
        assert scale > 0.1, name
        error = (a.float() - b.float()).abs().max().item()
        if dtype == torch.float32:
            assert error <= 1e-5 * max(1.0, scale), f"{version} {name}: max abs error {error:.3g}"
        else:
            assert error <= 2e-2 * scale, f"{version} {name} bf16: max relative error {error / scale:.3g}"


@pytest.mark.slow
def test_kernels_compile_for_hopper_without_a_gpu(tmp_path):
    """The compiled (non-interpreter) path down to sm_90 cubins with tensor-core (wgmma) attention; the
    descriptor configs lower to TMA copies."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_CACHE_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "build" / "compile_check.py"), "--quick"], env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    attention = [line for line in lines if line.startswith("attention d128 bf16")]
    assert len(attention) == 4 and all("wgmma" in line for line in attention), lines
    assert sum("tma loads" in line for line in attention) == 2, lines  # the descriptor configs copy by TMA
    assert sum(line.startswith("qk_norm_rope") for line in lines) == 3
    assert sum(line.startswith("attention_gate") for line in lines) == 2
