"""`ltx-triton download`: fetch exactly the files the pipeline classes need into the Hugging Face cache (for
Docker images and air-gapped hosts; `HF_HUB_OFFLINE=1 ltx-triton generate/serve` then runs from it), and print
where each lies."""
from __future__ import annotations

import argparse


def add_download_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ltx_backend.pipelines.registry import PIPELINE_CLASSES
    from ltx_client.load_flags import add_file_flags

    p = sub.add_parser("download", help="download the files a model's pipeline classes need (the Hugging Face cache)")
    p.add_argument("--model-path", required=True, help="Hugging Face repo id (or a local folder: nothing to download, the files are checked)")
    p.add_argument("--pipeline-class-name", nargs="+", default=None,
                   help=f"{', '.join(PIPELINE_CLASSES)} (default: every class the checkpoint has)")
    add_file_flags(p)
    return p


def resolve_for_classes(args: argparse.Namespace):
    """(the model with every file the classes of `args.pipeline_class_name` need fetched, less those the file flags
    name, and the classes): none named means every class of the checkpoint's version. InvalidRequest names a
    class the version lacks or an upscaler that is not spatial x2; ModelPathError a file not found."""

    from ltx_backend.errors import InvalidRequest
    from ltx_backend.loading.lora import check_lora_file
    from ltx_backend.loading.published_files import Needs
    from ltx_backend.loading.sources import open_model
    from ltx_backend.pipelines.registry import PIPELINES, classes_for, files_needed
    from ltx_backend.runtime.loaders import check_upsampler_file

    model_path, class_names = args.model_path, args.pipeline_class_name
    for name in class_names or ():
        if name not in PIPELINES:
            raise InvalidRequest("--pipeline-class-name", name, f"one of {', '.join(PIPELINES)}")
    # The checkpoint and Gemma first (its version names the classes; a gated Gemma stops before any download): the
    # distilled one where the distilled class is asked for (alone: files_needed refuses it beside the others).
    distilled = files_needed(class_names).distilled_checkpoint if class_names else False
    version = open_model(model_path, Needs(text_encoder=True, distilled_checkpoint=distilled), args.text_encoder_path).model_version
    runnable = [name for name, cls in PIPELINES.items() if cls.spec.runs_on(version)]
    for name in class_names or ():
        if name not in runnable:
            raise InvalidRequest("--pipeline-class-name", name, f"a pipeline class LTX-{version} has: {', '.join(runnable)}")
    classes = list(class_names or classes_for(version))
    needs = files_needed(classes, bool(args.spatial_upsampler_path), bool(args.distilled_lora_path))
    # the files the flags name, where a class uses them, checked now (a temporal or x1.5 upscaler too), not in a model's log
    used = files_needed(classes)
    if args.spatial_upsampler_path and used.spatial_upsampler:
        check_upsampler_file(args.spatial_upsampler_path)
    if args.distilled_lora_path and used.distilled_lora:
        check_lora_file(args.distilled_lora_path, field="distilled_lora_path")
    return open_model(model_path, needs, args.text_encoder_path), classes


def run_download(args: argparse.Namespace) -> int:
    from ltx_backend.errors import InvalidRequest, LoadError
    from ltx_client.flag_errors import print_error

    try:
        source, classes = resolve_for_classes(args)
    except (InvalidRequest, LoadError) as error:
        print_error(error, args)
        return 2
    files = source.files
    print(f"LTX-{source.model_version} files for {', '.join(classes)}:")
    for kind, path in (("checkpoint", files.checkpoint if files.checkpoint else files.root),
                       ("spatial upscaler", files.spatial_upsampler or args.spatial_upsampler_path),
                       ("distilled LoRA", files.distilled_lora or args.distilled_lora_path)):
        if path is not None:
            print(f"  {kind:17} {path}")
    print(f"  {'text encoder':17} {files.gemma.text_encoder}  ({files.gemma_source})")
    print(f"  {'tokenizer':17} {files.gemma.tokenizer}")
    print(f"`HF_HUB_OFFLINE=1 ltx-triton generate --model-path {args.model_path} ...` runs from them.")
    return 0
