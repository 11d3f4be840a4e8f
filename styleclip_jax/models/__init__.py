"""Flax models, one folder each (``config.py`` / ``network.py`` / ``handle.py`` / ``loss.py`` where
they apply): ``stylegan2``, ``clip``, ``idnet`` (IR-SE50), ``mapper`` (latent mappers), ``e4e``,
``mtcnn``. ``handle.py`` here is the base class of every loaded model."""

from styleclip_jax.models.stylegan2 import GeneratorConfig, StyleGAN2, load_generator

__all__ = ["GeneratorConfig", "StyleGAN2", "load_generator"]
