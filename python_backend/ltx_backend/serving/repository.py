"""Render the Triton model repository: config.pbtxt + 1/model.py per model, from the serve options.

The checked-in model_repository/ is `render_repository(RepositoryOptions())` (a test keeps them equal);
`ltx-triton serve` renders its own copy into a run directory for its flags. Placement is the instance
groups: KIND_GPU where a GPU is used (the text encoder may stay on CPU), KIND_CPU otherwise.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ltx_backend.pipelines.registry import DEV_CLASSES, ONE_STAGE, files_needed, spec_of
from ltx_backend.request import LoadOptions
from ltx_backend.runtime.stage_weights import DEFAULT_DEVICE_MODE
from ltx_backend.serving.request_fields import PIPELINE_INPUTS
from ltx_backend.serving.wire import STEP_TENSORS

UNARY_PIPELINE_MODEL = "pipeline_unary"  # the pipeline for KServe v2 /infer clients (one response per request)
DEFAULT_MODEL_PATH = "Lightricks/LTX-2.3"  # what a user serves; tests and `serve` set their own (LTX_MODEL_PATH overrides it)


@dataclass(frozen=True)
class RepositoryOptions:
    model_path: str = DEFAULT_MODEL_PATH
    pipeline_classes: tuple[str, ...] = DEV_CLASSES
    text_encoder_path: str | None = None  # Gemma 3 from here (None: the checkpoint's own, else its repo: loading/model_path.py)
    upsampler_path: str | None = None  # the spatial x2 upscaler file (None: the resolver's choice)
    distilled_lora_path: str | None = None  # the distilled LoRA file (None: the resolver's choice)
    gpu: bool = False  # KIND_GPU instances on GPU `gpu_id`, bf16; else KIND_CPU, fp32
    gpu_id: int = 0
    text_encoder_on_cpu: bool = False
    # Requests in flight per pipeline model. More than one: a request is validated (and refused) while another
    # generates, and concurrent generations interleave their steps in the denoiser. Each instance is a stub
    # process without weights (~0.3 GB RAM; on a GPU also a CUDA context).
    pipeline_instances: int = 2
    device_mode: str = DEFAULT_DEVICE_MODE  # two-stage weight switching (runtime/stage_weights.py DEVICE_MODES)
    load: LoadOptions = LoadOptions()  # the user LoRA merged into the denoiser(s) at load
    attention_backend: str = "auto"  # ltx_kernels backend of every attention call: auto | triton | flash_attn | sdpa
    torch_compile_mode: str | None = None  # the denoisers' transformer blocks under torch.compile in this mode (None: eager)

    @property
    def two_stage(self) -> bool:
        return any(name != ONE_STAGE for name in self.pipeline_classes)

    @property
    def audio_encoder(self) -> bool:
        """A served class encodes audio (a soundtrack, a source clip's sound): the vae_encoder loads the audio encoder too."""
        return any(spec_of(name).encodes_audio for name in self.pipeline_classes)

    @property
    def model_type(self) -> str:
        return "TYPE_BF16" if self.gpu else "TYPE_FP32"


@dataclass(frozen=True)
class Tensor:
    name: str
    data_type: str
    dims: tuple[int, ...]
    optional: bool = False

    def render(self) -> str:
        dims = ", ".join(str(d) for d in self.dims)
        optional = " optional: true" if self.optional else ""
        return f'  {{ name: "{self.name}" data_type: {self.data_type} dims: [ {dims} ]{optional} }}'


@dataclass(frozen=True)
class ModelSpec:
    name: str
    adapter: str
    doc: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    gpu: bool
    count: int = 1
    decoupled: bool = False
    parameters: tuple[tuple[str, str], ...] = ()


def model_specs(o: RepositoryOptions) -> list[ModelSpec]:
    m = o.model_type
    any3 = (-1, -1, -1)
    step_inputs = tuple(
        Tensor(name, m if kind == "model" else "TYPE_FP32", (-1,) * rank, optional=True)  # a prepare request has none
        for name, (rank, kind) in STEP_TENSORS.items()
    ) + (Tensor("STEP_META", "TYPE_STRING", (1,)),)
    pipeline_inputs = tuple(
        Tensor(name, data_type, (1,) if scalar else (-1,), optional=True) for name, (_, data_type, scalar) in PIPELINE_INPUTS.items()
    )
    results = (
        Tensor("VIDEO_MP4", "TYPE_STRING", (1,)),
        Tensor("VIDEO_MP4_BASE64", "TYPE_STRING", (1,)),
        Tensor("FRAMES", "TYPE_UINT8", (-1, -1, -1, 3)),
        Tensor("AUDIO", "TYPE_FP32", (-1, -1)),
        Tensor("SAMPLE_RATE", "TYPE_INT32", (1,)),
        Tensor("ENHANCED_PROMPT", "TYPE_STRING", (1,)),
        Tensor("SEED", "TYPE_INT64", (1,)),
    )
    pipeline_parameters = (("pipeline_classes", ",".join(o.pipeline_classes)),)
    if any(spec_of(name).reference_videos for name in o.pipeline_classes) and o.load.lora_path is not None:
        # the IC-LoRA's reference scale (its metadata) sizes the control videos the pipeline model prepares
        pipeline_parameters += tuple((k, v) for k, v in _load_parameters(o) if k in ("lora_path", "lora_weight_name"))
    if o.device_mode == "resident" and o.two_stage:
        pipeline_parameters += (("stage_denoisers", "1:denoiser_stage1,2:denoiser_stage2"),)
    elif o.two_stage:  # one denoiser switching weights: interleaved two-stage requests would switch at every step
        pipeline_parameters += (("one_generation_at_a_time", "true"),)
    return [
        ModelSpec(
            "text_encoder", "text_encoder", "prompts -> video/audio text contexts (Gemma 3 + embeddings connectors); a prompt -> its enhanced rewrite",
            (Tensor("PROMPTS", "TYPE_STRING", (-1,)), Tensor("ENHANCE_SEED", "TYPE_INT64", (1,), optional=True),
             Tensor("ENHANCE_IMAGE", "TYPE_UINT8", (-1, -1, 3), optional=True)),
            # on CPU the encoder computes in fp32 whatever the denoiser's dtype; the pipeline casts
            tuple(Tensor(n, "TYPE_FP32" if o.text_encoder_on_cpu else m, any3) for n in ("VIDEO_CONTEXT", "AUDIO_CONTEXT"))
            + (Tensor("ENHANCED_PROMPT", "TYPE_STRING", (1,)),),
            gpu=o.gpu and not o.text_encoder_on_cpu,
            parameters=(("text_encoder_path", o.text_encoder_path),) if o.text_encoder_path else (),
        ),
        *denoiser_specs(o, step_inputs, (Tensor("VIDEO_X0", m, any3), Tensor("AUDIO_X0", m, any3))),
        ModelSpec(
            "vae_encoder", "vae_encoder", "conditioning images (preprocessed pixels) -> latents; a soundtrack -> audio latents",
            (Tensor("PIXELS", m, (-1,) * 5, optional=True), Tensor("WAVEFORM", "TYPE_FP32", any3, optional=True),
             Tensor("SAMPLE_RATE", "TYPE_INT32", (1,), optional=True)),
            (Tensor("LATENTS", m, (-1,) * 5), Tensor("AUDIO_LATENTS", m, (-1,) * 4)), gpu=o.gpu,
            parameters=(("audio_encoder", "true"),) if o.audio_encoder else (),
        ),
        *([ModelSpec(
            "latent_upsampler", "latent_upsampler", "spatial x2 latent upsampler between the two stages",
            (Tensor("LATENT", m, (-1,) * 5),), (Tensor("LATENT", m, (-1,) * 5),), gpu=o.gpu,
            parameters=(("upsampler_path", o.upsampler_path),) if o.upsampler_path else (),
        )] if o.two_stage else []),
        ModelSpec(
            "vae_decoder", "vae_decoder", "video latents -> uint8 frames (tiled for large outputs)",
            (Tensor("LATENT", m, (-1,) * 5), Tensor("GENERATOR_STATE", "TYPE_UINT8", (-1,), optional=True)),
            (Tensor("FRAMES", "TYPE_UINT8", (-1, -1, -1, 3)),), gpu=o.gpu,
        ),
        ModelSpec(
            "audio_decoder", "audio_decoder", "audio latents -> waveform (audio VAE decoder + vocoder)",
            (Tensor("LATENT", m, (-1,) * 4),),
            (Tensor("WAVEFORM", "TYPE_FP32", (-1, -1)), Tensor("SAMPLE_RATE", "TYPE_INT32", (1,))), gpu=o.gpu,
        ),
        ModelSpec(
            "pipeline", "pipeline", "the generate request -> progress stream, then MP4 (+ raw frames and audio); BLS orchestrator",
            pipeline_inputs, (Tensor("PROGRESS", "TYPE_INT32", (3,)),) + results,
            gpu=o.gpu, count=o.pipeline_instances, decoupled=True, parameters=pipeline_parameters,
        ),
        ModelSpec(
            UNARY_PIPELINE_MODEL, "pipeline", "the pipeline without progress responses, for KServe v2 /infer clients",
            pipeline_inputs, results, gpu=o.gpu, count=o.pipeline_instances, parameters=pipeline_parameters,
        ),
    ]


def denoiser_specs(o: RepositoryOptions, inputs: tuple[Tensor, ...], outputs: tuple[Tensor, ...]) -> list[ModelSpec]:
    """snapshot / original (or one-stage only): one `denoiser` holding every stage's weights, switched by the
    device mode; resident: `denoiser_stage1` + `denoiser_stage2`, each with its own instance group."""
    common = (("pipeline_classes", ",".join(o.pipeline_classes)), *_load_parameters(o))
    if o.distilled_lora_path is not None:
        common += (("distilled_lora_path", o.distilled_lora_path),)
    if o.torch_compile_mode is not None:
        common += (("torch_compile_mode", o.torch_compile_mode),)
    doc = "one guided x0 prediction of the audio+video transformer (see ltx_backend/serving/wire.py)"
    if o.device_mode == "resident" and o.two_stage:
        return [
            ModelSpec(f"denoiser_stage{stage}", "denoiser", f"stage {stage}: {doc}", inputs, outputs, gpu=o.gpu,
                      parameters=(("device_mode", "resident"), ("stages", str(stage)), *common))
            for stage in (1, 2)
        ]
    return [ModelSpec("denoiser", "denoiser", doc, inputs, outputs, gpu=o.gpu, parameters=(("device_mode", o.device_mode), *common))]


def _load_parameters(o: RepositoryOptions) -> tuple[tuple[str, str], ...]:
    """The LoadOptions the denoiser loads its transformer with (the user LoRA, the quantization)."""
    load = o.load
    out = []
    if load.lora_path is not None:
        out += [("lora_path", load.lora_path), ("lora_scale", repr(float(load.lora_scale)))]
        if load.lora_weight_name:
            out.append(("lora_weight_name", load.lora_weight_name))
    if load.quantization is not None:
        out.append(("quantization", load.quantization))
    return tuple(out)


def render_config(spec: ModelSpec, o: RepositoryOptions) -> str:
    lines = [
        f"# {spec.name}: {spec.doc}",
        "# Rendered by ltx_backend.serving.repository (ltx-triton serve); edit that module, not this file.",
        f'name: "{spec.name}"',
        'backend: "python"',
        "max_batch_size: 0",
        "input [",
        ",\n".join(t.render() for t in spec.inputs),
        "]",
        "output [",
        ",\n".join(t.render() for t in spec.outputs),
        "]",
    ]
    if spec.gpu:
        lines.append(f"instance_group [ {{ kind: KIND_GPU count: {spec.count} gpus: [ {o.gpu_id} ] }} ]")
    else:
        lines.append(f"instance_group [ {{ kind: KIND_CPU count: {spec.count} }} ]")
    if spec.decoupled:
        lines.append("model_transaction_policy { decoupled: true }")
    parameters = [("model_path", o.model_path), *spec.parameters]
    if files_needed(o.pipeline_classes).distilled_checkpoint:  # every model reads the distilled checkpoint (ModelArgs.needs)
        parameters.insert(1, ("checkpoint", "distilled"))
    if o.attention_backend != "auto":
        parameters.append(("attention_backend", o.attention_backend))
    if o.gpu:  # BLS tensors stay on the GPU
        parameters.append(("FORCE_CPU_ONLY_INPUT_TENSORS", "no"))
    for key, value in parameters:
        lines.append(f'parameters {{ key: "{key}" value: {{ string_value: "{value}" }} }}')
    return "\n".join(lines) + "\n"


def render_model_py(spec: ModelSpec) -> str:
    return (
        f'"""Triton model `{spec.name}`: {spec.doc}. The logic lives in ltx_backend.serving.adapters.{spec.adapter}."""\n'
        f"from ltx_backend.serving.adapters.{spec.adapter} import TritonPythonModel  # noqa: F401\n"
    )


def render_repository(options: RepositoryOptions, out: str | Path) -> Path:
    """Write the repository into `out` (its model folders are replaced; other files are kept)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for spec in model_specs(options):
        folder = out / spec.name
        if folder.exists():
            shutil.rmtree(folder)
        (folder / "1").mkdir(parents=True)
        (folder / "config.pbtxt").write_text(render_config(spec, options))
        (folder / "1" / "model.py").write_text(render_model_py(spec))
    return out


def model_names(options: RepositoryOptions) -> list[str]:
    return [spec.name for spec in model_specs(options)]
