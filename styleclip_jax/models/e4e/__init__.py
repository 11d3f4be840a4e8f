"""The photo encoder: e4e (encoder4editing) and pSp's GradualStyleEncoder in Flax.
``transform.py`` (e4e's ``transform_inference``, numpy + Pillow) imports without JAX; the other names load lazily."""

from styleclip_jax._lazy import lazy_getattr

_LAZY = {
    "EncoderConfig": "styleclip_jax.models.e4e.config",
    "E4EEncoder": "styleclip_jax.models.e4e.network",
    "Encoder": "styleclip_jax.models.e4e.handle",
    "load_encoder": "styleclip_jax.models.e4e.handle",
    "preprocess": "styleclip_jax.models.e4e.transform",
}

__all__ = list(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
