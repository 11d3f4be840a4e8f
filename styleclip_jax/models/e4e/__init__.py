"""The photo encoder: e4e (encoder4editing) and pSp's GradualStyleEncoder in Flax."""

from styleclip_jax.models.e4e.config import EncoderConfig
from styleclip_jax.models.e4e.handle import Encoder, load_encoder, preprocess
from styleclip_jax.models.e4e.network import E4EEncoder

__all__ = ["E4EEncoder", "Encoder", "EncoderConfig", "load_encoder", "preprocess"]
