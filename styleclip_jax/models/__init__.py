"""Flax models: StyleGAN2 (more to come: CLIP, IR-SE50, latent mappers)."""

from styleclip_jax.models.stylegan2 import GeneratorConfig, StyleGAN2, load_generator

__all__ = ["GeneratorConfig", "StyleGAN2", "load_generator"]
