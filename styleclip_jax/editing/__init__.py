"""The three StyleCLIP editing methods: latent optimisation (A), latent mappers (B, trained and
applied), global directions in StyleSpace (C). Names load lazily, so light submodules (the
training config) import without JAX."""

from styleclip_jax._lazy import lazy_getattr

_LAZY = {
    "OptimizeConfig": "styleclip_jax.editing.optimization", "lr_ramp": "styleclip_jax.editing.optimization", "OptimizeResult": "styleclip_jax.editing.latent_optimize",
    "optimize": "styleclip_jax.editing.latent_optimize", "MapperTrainConfig": "styleclip_jax.editing.mapper_train_config", "train_mapper": "styleclip_jax.editing.mapper_trainer",
    "StyleSpaceStats": "styleclip_jax.editing.stylespace_stats", "compute_stats": "styleclip_jax.editing.stylespace_stats",
    "precompute_fs3": "styleclip_jax.editing.channel_relevance", "text_direction": "styleclip_jax.editing.text_directions", "direction": "styleclip_jax.editing.global_directions",
    "global_edit": "styleclip_jax.editing.global_directions",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
