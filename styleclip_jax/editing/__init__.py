"""The three StyleCLIP editing methods: latent optimisation (A), latent mappers (B, trained and
applied), global directions in StyleSpace (C). Names load lazily, so light submodules (the
training config) import without JAX."""

from .._lazy import lazy_getattr

_LAZY = {
    "OptimizeConfig": ".optimization", "lr_ramp": ".optimization", "OptimizeResult": ".latent_optimize",
    "optimize": ".latent_optimize", "MapperTrainConfig": ".mapper_train_config", "train_mapper": ".mapper_trainer",
    "StyleSpaceStats": ".stylespace_stats", "compute_stats": ".stylespace_stats",
    "precompute_fs3": ".channel_relevance", "text_direction": ".text_directions", "direction": ".global_directions",
    "global_edit": ".global_directions",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
