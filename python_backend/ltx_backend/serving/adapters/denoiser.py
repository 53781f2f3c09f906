"""`denoiser` (or `denoiser_stage1` / `denoiser_stage2` in resident mode): one guided x0 prediction of the
audio+video transformer, all guidance passes batched (see serving/wire.py).

It holds the weights of every (pipeline class, stage) it serves (runtime/weight_plan.py), switched by the
device mode of runtime/stage_weights.py: parameters { device_mode, pipeline_classes, stages, lora_*, distilled_lora_path,
torch_compile_mode }.
"""
from __future__ import annotations

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.lora import read_lora
from ltx_backend.loading.sources import open_model
from ltx_backend.models.transformer.compile import check_compile_mode
from ltx_backend.pipelines.registry import ONE_STAGE, files_needed
from ltx_backend.request import LoadOptions
from ltx_backend.runtime.loaders import load_transformer
from ltx_backend.runtime.stage_weights import DEFAULT_DEVICE_MODE, stage_weights
from ltx_backend.runtime.weight_plan import weight_plan
from ltx_backend.sampling.denoise import guided_denoise
from ltx_backend.serving.input_checks import StepDims, check_step
from ltx_backend.serving.model_adapter import ModelAdapter, require
from ltx_backend.serving.pipeline_classes import served_classes
from ltx_backend.serving.tensors import one_string
from ltx_backend.serving.text_projections import LastTextProjections
from ltx_backend.serving.wire import meta_int, parse_meta, unpack_step


class TritonPythonModel(ModelAdapter):
    bytes_inputs = frozenset({"STEP_META"})

    def load(self, args):
        p = args.parameters
        load = LoadOptions(p.get("lora_path") or None, p.get("lora_weight_name") or None, float(p.get("lora_scale", "1.0")),
                           p.get("quantization") or None).check()
        user = [] if load.lora_path is None else [(read_lora(load.lora_path, load.lora_weight_name), load.lora_scale)]
        classes = served_classes(p)
        needed, given = files_needed(classes).distilled_lora, p.get("distilled_lora_path") or None
        source = open_model(args.model_path(), args.needs(distilled_lora=needed and given is None))
        distilled_path = (given or source.files.distilled_lora) if needed else None
        distilled = None if distilled_path is None else read_lora(str(distilled_path), field="distilled_lora_path")
        plan = weight_plan(source.model_version, classes, distilled, user)
        if p.get("stages"):
            plan = plan.for_stages([int(s) for s in p["stages"].split(",")])
        self.plan = plan
        compile_mode, device_mode = p.get("torch_compile_mode") or None, p.get("device_mode", DEFAULT_DEVICE_MODE)
        check_compile_mode(compile_mode, device_mode)
        self.weights = stage_weights(
            lambda: load_transformer(source, self.device, self.dtype, compile_mode, load.quantization), plan.weights, device_mode
        )
        self.text_projections = LastTextProjections()
        self.dims = StepDims.of(self.weights.held().config)

    def run(self, inputs):
        meta = parse_meta(one_string("STEP_META", require(inputs, "STEP_META")))
        pipeline_class_name = meta.get("pipeline_class_name", ONE_STAGE)
        if not isinstance(pipeline_class_name, str):
            raise InvalidRequest("STEP_META.pipeline_class_name", pipeline_class_name, "a pipeline class name (text)")
        if "prepare_stage" in meta:  # no step: start switching weights (a snapshot copy on a side stream)
            self.weights.prepare(self.plan.key(pipeline_class_name, meta_int(meta, "prepare_stage")))
            return {}
        tensors = {name: value.to(self.device) for name, value in inputs.items() if name != "STEP_META"}
        step = unpack_step(tensors, meta)
        check_step(step, self.dims)
        weights = self.plan.key(pipeline_class_name, step.stage)
        transformer = self.weights.model(weights)
        video_x0, audio_x0 = guided_denoise(
            transformer, step.video, step.audio, step.sigma, step.contexts,
            step.video_guidance, step.audio_guidance, step.step_index, step.previous,
            self.text_projections.cache_for(weights, step.contexts),
        )
        return {"VIDEO_X0": video_x0, "AUDIO_X0": audio_x0}
