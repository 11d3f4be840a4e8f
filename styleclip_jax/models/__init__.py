"""Flax models, one folder each (``config.py`` / ``network.py`` / ``handle.py`` / ``loss.py`` where
they apply): ``stylegan2``, ``stylegan3``, ``clip``, ``idnet`` (IR-SE50), ``mapper`` (latent
mappers), ``e4e``, ``mtcnn``. ``handle.py`` here is the base class of every loaded model;
``generators.py`` loads a generator folder of any kind. Names load lazily, so a light submodule
(``models.e4e.transform``, numpy + Pillow) imports without JAX."""

from styleclip_jax._lazy import lazy_getattr

_LAZY = {
    "GeneratorConfig": "styleclip_jax.models.stylegan2.config",
    "StyleGAN2": "styleclip_jax.models.stylegan2.handle",
    "load_generator": "styleclip_jax.models.generators",
}

__all__ = list(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
