"""`ltx-triton download`: fetch exactly the files the pipeline classes need into the Hugging Face cache (for
Docker images and air-gapped hosts; `HF_HUB_OFFLINE=1 ltx-triton generate/serve` then runs from it), and print
where each lies."""
from __future__ import annotations

import argparse
import sys


def add_download_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ltx_backend.pipelines.registry import PIPELINE_CLASSES
    from ltx_client.load_flags import add_text_encoder_flag

    p = sub.add_parser("download", help="download the files a model's pipeline classes need (the Hugging Face cache)")
    p.add_argument("--model-path", required=True, help="Hugging Face repo id (or a local folder: nothing to download, the files are checked)")
    p.add_argument("--pipeline-class-name", nargs="+", default=None,
                   help=f"{', '.join(PIPELINE_CLASSES)} (default: every class the checkpoint has)")
    add_text_encoder_flag(p)
    return p


def resolve_for_classes(model_path: str, class_names: list[str] | None, text_encoder_path: str | None):
    """(the model with every file `class_names` need fetched, the classes): None means every class of the
    checkpoint's version. InvalidRequest names a class the version lacks; ModelPathError a file not found."""
    from ltx_backend.errors import InvalidRequest
    from ltx_backend.loading.sources import open_model
    from ltx_backend.pipelines.registry import PIPELINES, classes_for, files_needed

    for name in class_names or ():
        if name not in PIPELINES:
            raise InvalidRequest("--pipeline-class-name", name, f"one of {', '.join(PIPELINES)}")
    version = open_model(model_path).model_version  # the checkpoint alone first: its version names the classes
    available = classes_for(version)
    for name in class_names or ():
        if name not in available:
            raise InvalidRequest("--pipeline-class-name", name, f"a pipeline class LTX-{version} has: {', '.join(available)}")
    classes = list(class_names or available)
    return open_model(model_path, files_needed(classes), text_encoder_path), classes


def run_download(args: argparse.Namespace) -> int:
    from ltx_backend.errors import InvalidRequest, LoadError

    try:
        source, classes = resolve_for_classes(args.model_path, args.pipeline_class_name, args.text_encoder_path)
    except (InvalidRequest, LoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    files = source.files
    print(f"LTX-{source.model_version} files for {', '.join(classes)}:")
    for kind, path in (("checkpoint", files.checkpoint if files.checkpoint else files.root), ("spatial upscaler", files.spatial_upsampler),
                       ("distilled LoRA", files.distilled_lora)):
        if path is not None:
            print(f"  {kind:17} {path}")
    print(f"  {'text encoder':17} {files.gemma.text_encoder}  ({files.gemma_source})")
    print(f"  {'tokenizer':17} {files.gemma.tokenizer}")
    print(f"`HF_HUB_OFFLINE=1 ltx-triton generate --model-path {args.model_path} ...` runs from them.")
    return 0
