"""The photo encoder: e4e (encoder4editing) and pSp's GradualStyleEncoder in Flax."""

from .config import EncoderConfig
from .handle import Encoder, load_encoder, preprocess
from .network import E4EEncoder

__all__ = ["E4EEncoder", "Encoder", "EncoderConfig", "load_encoder", "preprocess"]
