"""Torch-free, code-free converters from upstream checkpoints into styleclip-jax folders."""

from convert_weights.stylegan2 import convert_generator, generator_from_checkpoint
from styleclip_jax.io.torch_pickle import load_checkpoint

__all__ = ["convert_generator", "generator_from_checkpoint", "load_checkpoint"]
