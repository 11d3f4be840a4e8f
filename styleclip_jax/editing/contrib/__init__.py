"""What this project adds beyond StyleCLIP's paper and code, in one place (as optax keeps
``contrib``). The library's defaults never use any of it: ``TextEdit(source="fs3")`` and
``OptimizeConfig(warm_start=0)`` are upstream's. Each entry was measured on the toy world
(docs/research.md, ``styleclip_jax/toyworld/weights/RECORD.md``); the demo and the browser editor
opt in, and ``--faithful`` turns them off.

- the population estimator of a global direction's channel relevance (CLIP-labelled generator
  samples, toRGB layers included), beside StyleCLIP's fs3: ``TextEdit(source="population")``,
  made by ``precompute_population`` into the stats folder as ``population.npz``;
- the warm start of latent optimisation along the same samples' W direction:
  ``OptimizeConfig(warm_start=...)`` with ``optimize(population=...)`` (``warm_offsets``);
- latent optimisation held to the directions in which the bank's W codes vary (projected Adam):
  ``OptimizeConfig(subspace=...)`` (``Population.subspace``);
- the mapper started at the population's W direction: ``MapperTrainConfig(population_scale=...)``
  (its last biases, ``offset_start``), optionally held there (``population_lambda``);
- every population direction conditioned on the start image (among the bank's samples that look
  like it, ``conditioned_shift``): ``TextEdit(condition=...)`` (one global direction per latent),
  ``OptimizeConfig(warm_condition=...)`` (one warm start per pair) and
  ``MapperTrainConfig(population_condition=...)`` (the mapper first fitted to each bank sample's
  direction, ``fit_offsets``).
"""

from styleclip_jax._lazy import lazy_getattr

_LAZY = {
    "Population": "styleclip_jax.editing.global_directions.population",
    "precompute_population": "styleclip_jax.editing.global_directions.population",
    "warm_offsets": "styleclip_jax.editing.optimization.run",
    "conditioned_shift": "styleclip_jax.editing.global_directions.population",
    "fit_offsets": "styleclip_jax.editing.mapper.core",
}

# (what, where it is switched on, the upstream default that leaves it off)
BEYOND_UPSTREAM = (
    ("population relevance", "TextEdit.source = 'population'", "TextEdit.source = 'fs3'"),
    ("optimisation warm start", "OptimizeConfig.warm_start > 0", "OptimizeConfig.warm_start = 0"),
    ("optimisation in the codes' subspace", "OptimizeConfig.subspace > 0", "OptimizeConfig.subspace = 0"),
    ("mapper population start", "MapperTrainConfig.population_scale > 0", "MapperTrainConfig.population_scale = 0"),
    ("global direction per start image", "TextEdit.condition > 0", "TextEdit.condition = 0"),
    ("warm start per start image", "OptimizeConfig.warm_condition > 0", "OptimizeConfig.warm_condition = 0"),
    (
        "mapper fitted to per-image directions",
        "MapperTrainConfig.population_condition > 0",
        "MapperTrainConfig.population_condition = 0",
    ),
)

__all__ = [*_LAZY, "BEYOND_UPSTREAM"]

__getattr__ = lazy_getattr(__name__, _LAZY, globals())
