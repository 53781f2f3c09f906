"""The LTX-2 / LTX-2.3 audio+video diffusion transformer."""
from .config import (
    build_transformer,
    full_transformer_config,
    read_transformer_config,
    transformer_key,
)
from .inputs import BatchPerturbations, BlockSkips, ModalityInput, Perturbation, ProjectedText, Skip
from .model import AVTransformer, AVTransformerConfig, to_denoised

__all__ = [
    "AVTransformer",
    "AVTransformerConfig",
    "BatchPerturbations",
    "BlockSkips",
    "ModalityInput",
    "Perturbation",
    "ProjectedText",
    "Skip",
    "build_transformer",
    "full_transformer_config",
    "read_transformer_config",
    "to_denoised",
    "transformer_key",
]
