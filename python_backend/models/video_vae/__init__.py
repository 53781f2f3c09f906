"""Video VAE: encoder and decoder of LTX-2 / LTX-2.3 (ltx-core's parameter names)."""
from .config import build_video_decoder, build_video_encoder, tiny_vae_config, video_decoder_key, video_encoder_key
from .model import VideoDecoder, VideoEncoder, decode_video

__all__ = [
    "VideoDecoder",
    "VideoEncoder",
    "build_video_decoder",
    "build_video_encoder",
    "decode_video",
    "tiny_vae_config",
    "video_decoder_key",
    "video_encoder_key",
]
