"""Flax NNX StyleGAN2 (rosinality and NVIDIA stylegan2-ada layouts)."""

from styleclip_jax.models.stylegan2.config import GeneratorConfig, StyleLayer
from styleclip_jax.models.stylegan2.handle import StyleGAN2, load_generator
from styleclip_jax.models.stylegan2.network import Generator

__all__ = ["Generator", "GeneratorConfig", "StyleGAN2", "StyleLayer", "load_generator"]
