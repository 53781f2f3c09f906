"""Compile the Triton kernels for a CUDA architecture without a GPU: `python build/compile_check.py`.

Triton lowers each kernel specialization the models use (bf16 attention at head dims 64 / 128 with no
mask, a key-padding row and a full bias; fp32 attention; QK-norm + RoPE in both layouts; AdaLN (with and
without the norm) and the gated residual at the LTX widths; LTX-2.3's attention output gate; fp8-scaled-mm's
activation quantisation) down to a cubin with its bundled ptxas, for sm_90 (H100 / H200) by default. It catches
what the CPU interpreter cannot: type and layout errors of the compiled path, the tensor-core (wgmma) lowering, and
shared memory per config. Must run without TRITON_INTERPRET.
"""
from __future__ import annotations

import argparse
import os
import sys

# Shared memory one block may use, per compute capability (H100 / H200: 227 KiB).
SHARED_MEMORY_LIMIT = {90: 232448}


def _jit(kernel):
    import triton

    while not isinstance(kernel, triton.runtime.jit.JITFunction):
        kernel = kernel.fn
    return kernel


def compile_kernel(kernel, types: dict, constexprs: dict, arch: int, num_warps: int, num_stages: int = 3):
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    fn = _jit(kernel)
    signature = {n: "constexpr" if n in constexprs else types.get(n, "i32") for n in fn.arg_names}
    source = ASTSource(
        fn=fn, signature=signature, constexprs={(fn.arg_names.index(k),): v for k, v in constexprs.items()}
    )
    return triton.compile(
        source, target=GPUTarget("cuda", arch, 32), options={"num_warps": num_warps, "num_stages": num_stages}
    )


def check(arch: int = 90, quick: bool = False) -> list[str]:
    """Compile the specializations; returns one line per kernel (raises on the first failure)."""
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        raise RuntimeError("compile_check needs TRITON_INTERPRET unset (the interpreter replaces the compiler)")
    from ltx_kernels import triton_adaln, triton_attention, triton_attention_gate, triton_fp8_quantize, triton_qk_norm_rope

    lines = []
    configs = [c for c in triton_attention._configs()]
    attention_cases = [  # head dim, dtype, mask (None, "row", "full")
        (128, "bf16", None), (128, "bf16", "row"), (128, "bf16", "full"), (64, "bf16", "full"), (128, "fp16", None),
        (64, "fp32", "row"),
    ]
    if quick:  # the first pointer and the first descriptor config
        attention_cases = attention_cases[:2]
        configs = [next(c for c in configs if not c.kwargs["USE_TMA"]), next(c for c in configs if c.kwargs["USE_TMA"])]
    for head_dim, dtype, mask in attention_cases:
        for config in configs:
            types = {n: f"*{dtype}" for n in ("Q", "K", "V", "O", "Bias")}
            types["sm_scale"] = "fp32"
            constexprs = dict(
                HEAD_DIM=head_dim, BLOCK_D=head_dim, HAS_MASK=mask is not None, BIAS_ROW=mask == "row",
                DOT_PRECISION="ieee" if dtype == "fp32" else "tf32", UPCAST_DOT=False, **config.kwargs,
            )
            if config.kwargs["USE_TMA"]:  # host descriptors, boxes as the config's pre-hook sets them
                rows = {"DescQ": config.kwargs["BLOCK_M"], "DescK": config.kwargs["BLOCK_N"], "DescV": config.kwargs["BLOCK_N"]}
                types.update({n: f"tensordesc<{dtype}[{r}, {head_dim}]>" for n, r in rows.items()})
            else:
                constexprs.update(DescQ=None, DescK=None, DescV=None)
            compiled = compile_kernel(
                triton_attention._attention_fwd, types, constexprs, arch, config.num_warps, config.num_stages
            )
            ptx = compiled.asm["ptx"]
            mma = "wgmma" if "wgmma" in ptx else "mma" if "mma" in ptx else "no mma"
            loads = "tma" if "cp.async.bulk.tensor" in ptx else "pointer"
            shared = compiled.metadata.shared
            fits = "" if shared <= SHARED_MEMORY_LIMIT.get(arch, shared) else f" (over the {SHARED_MEMORY_LIMIT[arch]} B limit)"
            lines.append(
                f"attention d{head_dim} {dtype} mask={mask} {config.kwargs} w{config.num_warps} s{config.num_stages}: "
                f"{mma}, {loads} loads, {shared} B shared{fits}"
            )
    for rope, head_dim in ((0, 4096), (1, 4096), (2, 128)):
        types = {n: "*bf16" for n in ("Q", "K", "WQ", "WK", "OQ", "OK", "COS", "SIN")}
        types["eps"] = "fp32"
        constexprs = dict(N=4096, HEAD_DIM=head_dim, BLOCK=4096, HAS_K=True, HAS_W=True, ROPE=rope)
        compile_kernel(triton_qk_norm_rope._qk_norm_rope_kernel, types, constexprs, arch, 8)
        lines.append(f"qk_norm_rope rope={rope} bf16 4096: ok")
    types = {n: "*bf16" for n in ("X", "SHIFT", "SCALE", "OUT", "Y", "GATE", "INDEX")}
    types["eps"] = "fp32"
    for width, warps in ((4096, 8), (2048, 4)):
        # adaln_modulate, modulate (no index), and adaln_modulate / gated_residual with vectors per noise level
        for normalize, levels in ((True, False), (False, False), (True, True)):
            types["INDEX"] = "*i64" if levels else "*bf16"
            constexprs = dict(D=width, BLOCK=width, NORMALIZE=normalize, LEVELS=levels)
            compile_kernel(triton_adaln._adaln_modulate_kernel, types, constexprs, arch, warps)
        for levels in (False, True):
            types["INDEX"] = "*i64" if levels else "*bf16"
            compile_kernel(triton_adaln._gated_residual_kernel, types, dict(D=width, BLOCK=width, LEVELS=levels), arch, warps)
        lines.append(f"adaln_modulate / modulate / gated_residual bf16 {width} (per level too): ok")
    for heads, head_dim, warps in ((32, 128, 8), (32, 64, 4)):  # LTX-2.3's video and audio attentions, as launched
        types = {"X": "*bf16", "LOGITS": "*bf16", "OUT": "*bf16"}
        constexprs = dict(H=heads, HEAD_DIM=head_dim, BLOCK_H=heads, BLOCK_D=head_dim)
        compile_kernel(triton_attention_gate._attention_gate_kernel, types, constexprs, arch, warps)
        lines.append(f"attention_gate bf16 {heads}x{head_dim}: ok")
    quantize = triton_fp8_quantize
    for dtype in ("bf16", "fp32"):
        block = dict(BLOCK=quantize.BLOCK)
        compile_kernel(quantize._abs_max_kernel, {"X": f"*{dtype}", "AMAX": "*fp32"}, block, arch, 8)
        types = {"X": f"*{dtype}", "AMAX": "*fp32", "OUT": "*u8", "SCALE": "*fp32", "fp8_max": "fp32",
                 "min_scale": "fp32", "rint": "fp32"}
        ptx = compile_kernel(quantize._quantize_kernel, types, block, arch, 8).asm["ptx"]
        convert = "cvt to e4m3" if "e4m3x2" in ptx else "no fp8 cvt"
        lines.append(f"quantize_fp8 {dtype} (amax, quantise): ok, {convert}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", type=int, default=90, help="CUDA compute capability x10 (90: H100/H200)")
    parser.add_argument("--quick", action="store_true", help="one config of two attention specializations")
    args = parser.parse_args(argv)
    for line in check(args.arch, args.quick):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
