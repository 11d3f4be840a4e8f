"""Flax NNX StyleGAN2 (rosinality and NVIDIA stylegan2-ada layouts). ``load_generator`` (any
generator folder, StyleGAN3 too) lives in ``styleclip_jax.models.generators``; it is re-exported
here lazily for the names users already import."""

from styleclip_jax._lazy import lazy_getattr
from styleclip_jax.models.stylegan2.config import GeneratorConfig, StyleLayer
from styleclip_jax.models.stylegan2.handle import StyleGAN2
from styleclip_jax.models.stylegan2.network import Generator

_LAZY = {"load_generator": "styleclip_jax.models.generators"}

__all__ = ["Generator", "GeneratorConfig", "StyleGAN2", "StyleLayer", "load_generator"]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
