"""Video VAE of LTX-2 / LTX-2.3: encoder, decoder (timestep-conditioned, noise-injecting), tiled decoding."""
from .config import build_video_decoder, build_video_encoder, published_vae_config, video_decoder_key, video_encoder_key
from .decode import decode_chunks, decode_video, encode_video, to_uint8_frames
from .model import VideoDecoder, VideoEncoder
from .tiling import NO_TILING, SpatialTilingConfig, TemporalTilingConfig, TilingConfig

__all__ = [
    "NO_TILING",
    "SpatialTilingConfig",
    "TemporalTilingConfig",
    "TilingConfig",
    "VideoDecoder",
    "VideoEncoder",
    "build_video_decoder",
    "build_video_encoder",
    "decode_chunks",
    "decode_video",
    "encode_video",
    "published_vae_config",
    "to_uint8_frames",
    "video_decoder_key",
    "video_encoder_key",
]
