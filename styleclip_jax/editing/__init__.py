"""The three StyleCLIP editing methods, one sub-package each, with ``config.py`` (frozen settings),
``core.py`` (pure jittable maths) and ``run.py`` (the host driver) in each, plus the files a method
needs beyond those (the mapper's ``apply.py``; global directions' ``stats``, ``relevance``, ``text``,
``constrain`` and the contrib ``population``):

- ``optimization/``: method A, ``optimize(generator, clip, prompts, latents, config=...)``;
- ``mapper/``: method B, ``train_mapper(generator, clip, config, exp_dir, latents=...)`` and
  ``apply_mapper(generator, mapper, latents, alphas)``;
- ``global_directions/``: method C, ``precompute(generator, clip, out)`` (stats + fs3) and
  ``global_edit(generator, clip, stats, latents, [TextEdit, ...], alphas)``;
- ``inversion/``: photos to W+ (``photos.py`` encodes and pastes back, ``core.py`` refines,
  ``training.py`` trains an e4e encoder);
- ``contrib/``: what goes beyond upstream (the population estimator, the warm start), never a default;
- ``constraints/``: what an edit must leave alone, shared by the methods: keep-texts, regions
  (mask, box, the explicit blend) and composed prompts (``keep=``, ``mask=``, ``box=``,
  ``blend=`` on ``optimize``, ``train_mapper``, ``apply_mapper`` and ``global_edit``).

One call shape: the loaded models first, then the latents (W+ (B, L, D)), then what to do (a
frozen config or typed edits); long jobs take ``progress(done, total)``
(``styleclip_jax.progress``); every result has ``save(out)``. Names load lazily, so light
submodules (the configs) import without JAX.
"""

from styleclip_jax._lazy import lazy_getattr

_LAZY = {
    "OptimizeConfig": "styleclip_jax.editing.optimization.config",
    "lr_ramp": "styleclip_jax.editing.optimization.config",
    "OptimizeResult": "styleclip_jax.editing.optimization.run",
    "optimize": "styleclip_jax.editing.optimization.run",
    "MapperTrainConfig": "styleclip_jax.editing.mapper.config",
    "train_mapper": "styleclip_jax.editing.mapper.run",
    "StyleSpaceStats": "styleclip_jax.editing.global_directions.stats",
    "compute_stats": "styleclip_jax.editing.global_directions.stats",
    "precompute_fs3": "styleclip_jax.editing.global_directions.relevance",
    "text_direction": "styleclip_jax.editing.global_directions.text",
    "direction": "styleclip_jax.editing.global_directions.core",
    "global_edit": "styleclip_jax.editing.global_directions.core",
    "TextEdit": "styleclip_jax.editing.global_directions.config",
    "GlobalEdit": "styleclip_jax.editing.global_directions.core",
    "precompute": "styleclip_jax.editing.global_directions.run",
    "apply_mapper": "styleclip_jax.editing.mapper.apply",
    "MapperEdit": "styleclip_jax.editing.mapper.apply",
    "TrainResult": "styleclip_jax.editing.mapper.run",
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
