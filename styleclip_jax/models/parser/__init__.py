"""The face-parsing BiSeNet (zllrunning/face-parsing.PyTorch) in Flax: ``config.py`` (widths,
class names, named regions), ``network.py`` (NNX modules), ``handle.py`` (``FaceParser``)."""

from styleclip_jax._lazy import lazy_getattr

_LAZY = {
    "ParserConfig": "styleclip_jax.models.parser.config",
    "CLASS_NAMES": "styleclip_jax.models.parser.config",
    "class_ids": "styleclip_jax.models.parser.config",
    "BiSeNet": "styleclip_jax.models.parser.network",
    "FaceParser": "styleclip_jax.models.parser.handle",
    "load_parser": "styleclip_jax.models.parser.handle",
}

__all__ = list(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
