"""The three StyleCLIP editing methods: latent optimisation (A), latent mappers (B, trained and
applied), global directions in StyleSpace (C). Names load lazily, so light submodules (the
training config) import without JAX."""

from importlib import import_module

_LAZY = {
    "OptimizeConfig": ".optimization", "lr_ramp": ".optimization", "OptimizeResult": ".optimize",
    "optimize": ".optimize", "MapperTrainConfig": ".mapper_train_config", "train_mapper": ".mapper_trainer",
    "StyleSpaceStats": ".stylespace_stats", "compute_stats": ".stylespace_stats",
    "precompute_fs3": ".channel_relevance", "text_direction": ".text_direction", "direction": ".global_directions",
    "global_edit": ".global_directions",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'styleclip_jax.editing' has no attribute {name!r}")
