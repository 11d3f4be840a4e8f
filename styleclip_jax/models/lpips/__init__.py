"""LPIPS (Zhang et al. 2018, the ``lpips`` 0.1.4 package) in Flax: ``config.py`` (which trunk, its
widths), ``network.py`` (AlexNet / VGG16 feature stacks, the linear heads), ``handle.py`` (``Lpips``:
distances, per-layer terms, spatial maps; a pure ``distance`` for losses inside jit)."""

from styleclip_jax._lazy import lazy_getattr

_LAZY = {
    "LpipsConfig": "styleclip_jax.models.lpips.config",
    "LpipsNet": "styleclip_jax.models.lpips.network",
    "Lpips": "styleclip_jax.models.lpips.handle",
    "load_lpips": "styleclip_jax.models.lpips.handle",
    "random_lpips": "styleclip_jax.models.lpips.handle",
    "open_lpips": "styleclip_jax.models.lpips.handle",
}

__all__ = list(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
