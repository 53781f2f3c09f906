"""`--enable-torch-compile` / `--torch-compile-mode`, shared by `generate` and `serve`."""
from __future__ import annotations

import argparse

from ltx_backend.errors import InvalidRequest
from ltx_backend.models.transformer.compile import COMPILE_MODES


def add_compile_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--enable-torch-compile", action="store_true",
                   help="compile the transformer blocks with torch.compile (the first request of each shape compiles)")
    p.add_argument("--torch-compile-mode", choices=COMPILE_MODES, default=None,
                   help="torch.compile mode with --enable-torch-compile (default: default; reduce-overhead adds CUDA graphs)")


def torch_compile_mode(args: argparse.Namespace) -> str | None:
    """The torch.compile mode the flags ask for, None for eager."""
    if not args.enable_torch_compile:
        if args.torch_compile_mode is not None:
            raise InvalidRequest("--torch-compile-mode", args.torch_compile_mode, "only with --enable-torch-compile")
        return None
    return args.torch_compile_mode or "default"
