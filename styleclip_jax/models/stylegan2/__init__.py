"""Flax NNX StyleGAN2 (rosinality and NVIDIA stylegan2-ada layouts)."""

from .config import GeneratorConfig, StyleLayer
from .generator import StyleGAN2, load_generator
from .network import Generator

__all__ = ["Generator", "GeneratorConfig", "StyleGAN2", "StyleLayer", "load_generator"]
