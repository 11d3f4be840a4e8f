"""Flax NNX StyleGAN3 (alias-free, configs T and R): ``config.py`` (geometry from init_kwargs),
``filters.py`` (FIR design), ``network.py`` (NNX modules), ``handle.py`` (``StyleGAN3``, the
StyleGAN2 API), ``random_init.py``. Folders load with ``styleclip_jax.load_generator``."""

from styleclip_jax.models.stylegan3.config import SG3Config
from styleclip_jax.models.stylegan3.handle import (
    StyleGAN3,
    from_editing_convention,
    make_transform,
    to_editing_convention,
)

__all__ = ["SG3Config", "StyleGAN3", "from_editing_convention", "make_transform", "to_editing_convention"]
