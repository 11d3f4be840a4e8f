"""``train_mapper()``: the host side of mapper training (folders, checkpoints, validation, resume).

Experiment folder::

    train_config.json     training config, mapper config, fingerprints of generator / CLIP / ID net
    checkpoints/<step>/   orbax checkpoints (atomic: written to a temporary folder, then renamed)
    metrics.jsonl         one line per training step {"step", "loss", "clip", "l2"[, "id"]}
    val.jsonl, val/       validation losses and x | x̂ grids every ``val_every`` steps
    mapper/, best_mapper/ the final / best-validation mapper in our model format (``mapper apply``)

An interrupted run (Ctrl-C, a crash inside a chunk) saves the last completed chunk before it
exits; ``resume=True`` restores step, parameters and optimiser state and goes on with exactly
the batches an uninterrupted run would have used.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.editing.constraints.mask import region as edit_region
from styleclip_jax.editing.constraints.prompts import keep_features
from styleclip_jax.editing.global_directions.population import check_models
from styleclip_jax.editing.mapper.core import (
    FIT_STEPS,
    Frozen,
    MapperTrainConfig,
    TrainState,
    eval_losses,
    fit_offsets,
    init_mapper_tensors,
    init_state,
    offset_start,
    train_steps,
)
from styleclip_jax.errors import InputError
from styleclip_jax.io.images import make_grid, save_png, to_uint8
from styleclip_jax.io.jobs import float32_sha256
from styleclip_jax.models.clip.handle import CLIPModel
from styleclip_jax.models.clip.tokenizer import tokenize
from styleclip_jax.models.handle import flat_tensors
from styleclip_jax.models.mapper.handle import LatentMapperModel
from styleclip_jax.models.stylegan2.handle import StyleGAN2
from styleclip_jax.parallel.distributed import (
    barrier,
    is_primary,
    replicate,
)
from styleclip_jax.parallel.mesh import batch_shardings
from styleclip_jax.training.loop import experiment, run

CONFIG_FILE = "train_config.json"
# Fields that may change on resume (more steps, different logging); anything else must match.
RESUMABLE_CHANGES = {"steps", "log_every", "val_every", "save_every"}


@dataclasses.dataclass
class TrainResult:
    mapper: LatentMapperModel
    step: int
    metrics: dict  # {name: (steps_run_now,)} of this call
    val: list  # [{"step", "loss", ...}] of this call
    exp_dir: Path

    def save(self, path, overwrite: bool = False) -> Path:
        """The trained mapper as a model folder (what ``mapper apply`` / ``load_mapper`` read)."""
        return self.mapper.save(path, overwrite=overwrite)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _eval(graphdefs, cfg, frozen, params, w, mask):
    return eval_losses(graphdefs, cfg, frozen, params, w, mask)


@functools.partial(jax.jit, static_argnums=(0,))
def _edit_and_render(graphdefs, frozen, params, w):
    m_def, g_def = graphdefs[0], graphdefs[1]
    gen = nnx.merge(g_def, frozen.generator)
    w_hat = nnx.merge(m_def, params).edit(w)

    def render(x):
        return gen.synthesis(gen.synthesis.w_to_s(x))

    return render(w), render(w_hat)


def _split_latents(cfg: MapperTrainConfig, latents, gen: StyleGAN2, region=None):
    """(train (N, L, D) or None, val (V, L, D), train region, val region): a seeded hold-out of the
    file (per-latent regions (N, R, R) split with it), or seeded samples."""
    if latents is not None:
        w = gen.as_wplus(latents)
        perm = np.random.default_rng(cfg.seed).permutation(len(w))
        val, train = (w[perm[: cfg.val_size]] if cfg.val_size else None), w[perm[cfg.val_size :]]
        if len(train) < cfg.batch_size:
            raise InputError(
                f"{len(w)} latents leave {len(train)} for training after holding out val_size="
                f"{cfg.val_size}; need at least batch_size={cfg.batch_size}"
            )
        if region is not None and region.ndim == 3:
            return train, val, region[perm[cfg.val_size :]], region[perm[: cfg.val_size]]
        return train, val, region, region
    z = np.asarray(jax.random.normal(jax.random.key(cfg.seed + 1_000_003), (cfg.val_size, gen.config.z_dim)))
    return None, (np.asarray(gen.mapping(z, cfg.truncation)) if cfg.val_size else None), region, region


def population_target(mapper_cfg, population, text: np.ndarray, scale: float) -> np.ndarray:
    """(L, D): ``scale`` times the population's W direction for the unit text feature ``text``
    on the rows the mapper moves (every row for a single mapper), zeros elsewhere (contrib)."""
    target = np.zeros((mapper_cfg.num_ws, mapper_cfg.latent_dim), np.float32)
    d = scale * population.w_direction(text / np.linalg.norm(text))
    for a, b in mapper_cfg.moving_parts().values():
        target[a:b] = d
    return target


LIKENESS_ROWS = 1024


def conditioned_targets(mapper_cfg, population, text: np.ndarray, scale: float, tau_source: float):
    """(W+ (N, L, D), target (N, L, D)) over the bank's own samples: each sample's code, and
    ``scale`` times the population's W direction for ``text`` taken among that sample's
    lookalikes (itself left out) on the rows the mapper moves (contrib)."""
    unit, n = text / np.linalg.norm(text), len(population.w)
    parts = []
    for i in range(0, n, LIKENESS_ROWS):  # (rows, N) likeness at a time: a 100k bank would be 40 GB at once
        look = population.likeness(population.f[i : i + LIKENESS_ROWS], tau_source)
        rows = np.arange(len(look))
        look[rows, i + rows] = -np.inf  # a sample is not its own lookalike: fresh latents never are
        parts.append(population.w_direction(unit, look=look))
    d = np.concatenate(parts)  # (N, D)
    w = np.repeat(population.w[:, None], mapper_cfg.num_ws, axis=1).astype(np.float32)
    target = np.zeros_like(w)
    for a, b in mapper_cfg.moving_parts().values():
        target[:, a:b] = scale * d[:, None]
    return w, target


def _record(cfg: MapperTrainConfig, mapper_cfg, gen, clip, idnet, latents_info, region, population=None) -> dict:
    rec = {
        "train": cfg.to_dict(),
        "mapper": mapper_cfg.to_dict(),
        "generator": gen.fingerprint(),
        "clip": clip.fingerprint(),
        "idnet": idnet.fingerprint() if idnet is not None else None,
        "latents": latents_info,
    }
    if region is not None:  # absent without one, so folders from before regions still resume
        rec["region"] = {"shape": list(region.shape), "sha256": float32_sha256(region)}
    if population is not None:  # likewise: a resume with another bank is refused
        rec["population"] = {"n": int(len(population.w)), "sha256": float32_sha256(population.w, population.f)}
    return rec


def train_mapper(
    generator: StyleGAN2,
    clip: CLIPModel,
    cfg: MapperTrainConfig,
    exp_dir,
    *,
    latents=None,
    idnet=None,
    resume: bool = False,
    overwrite: bool = False,
    devices: int | None = None,
    progress=None,
    on_chunk: Callable[[int, dict], None] | None = None,
    mask=None,
    box=None,
    population=None,
) -> TrainResult:
    """Train a latent mapper for ``cfg.description``; see the module docstring for the folder.

    The folder is locked for the run (a second writer is refused) and ``train_config.json`` is
    its manifest: a resume with other models or settings is refused by name.

    Args:
      latents: W+ (N, L, D) training latents (e.g. e4e inversions), or None to sample z on the fly.
      idnet: the identity network; required when ``cfg.id_lambda > 0``.
      resume: continue the run in ``exp_dir`` from its last checkpoint (from step 0 when it was
        stopped before its first checkpoint).
      overwrite: clear ``exp_dir`` first (only a mapper training folder or an empty one).
      devices: number of local devices to shard the batch over (default: all).
      on_chunk: host callback ``f(step, metrics)`` after each compiled chunk (e.g. for monitoring).
      mask / box: the region the edit may change (HairCLIP's background loss on the rest, weight
        ``cfg.mask_lambda``): (R, R), a PNG path or a pixel box for every image, or (N, R, R) one
        per row of ``latents``.
      population: the stats folder's population bank, needed when ``cfg.population_scale > 0``
        (beyond upstream, ``editing.contrib``).
    """
    if cfg.id_lambda > 0 and idnet is None:
        raise InputError(
            "id_lambda > 0 needs the identity network (pass an IR-SE50 folder, or set id_lambda 0 "
            "for non-face generators / identity-changing edits)"
        )
    if cfg.population_lambda > 0 and cfg.population_scale == 0:
        raise InputError("population_lambda holds the mapper at the population's offset: set population_scale > 0 too")
    if cfg.population_scale > 0:
        if population is None:
            raise InputError(
                "population_scale > 0 needs the population bank: a stats folder made with `global precompute` "
                "and `population` set (pass `population=stats.population`)"
            )
        check_models(population, generator, clip)
    else:
        population = None
    gcfg = generator.config
    mapper_cfg = cfg.mapper_config(gcfg.num_ws, gcfg.w_dim)
    latents_info = None if latents is None else {"n": int(len(latents)), "sha256": float32_sha256(latents)}
    region = edit_region(gcfg.resolution, mask, box, None if latents is None else len(latents))
    if region is not None and region.ndim == 3 and latents is None:
        raise InputError(
            "one region per latent needs training `latents` (the rows they belong to); for latents "
            "sampled on the fly give one (R, R) region"
        )
    record = _record(cfg, mapper_cfg, generator, clip, idnet, latents_info, region, population)
    with experiment(
        exp_dir,
        record,
        resume,
        overwrite,
        manifest=CONFIG_FILE,
        may_change={f"train.{k}" for k in RESUMABLE_CHANGES},
        what="mapper training",
    ) as exp:
        return _train_locked(
            generator,
            clip,
            cfg,
            mapper_cfg,
            exp,
            latents,
            idnet,
            resume,
            devices,
            progress,
            on_chunk,
            region,
            population,
        )


def _train_locked(
    generator,
    clip,
    cfg,
    mapper_cfg,
    exp_dir: Path,
    latents,
    idnet,
    resume,
    devices,
    progress,
    on_chunk,
    region,
    population,
):
    replicated, batch_sharding = batch_shardings(devices, cfg.batch_size)
    train_w, val_w, train_region, val_region = _split_latents(cfg, latents, generator, region)
    text = np.asarray(clip.encode_text(tokenize([cfg.description])))[0]
    target = None if population is None else population_target(mapper_cfg, population, text, cfg.population_scale)
    keep = keep_features(clip, cfg.keep)
    use_id = cfg.id_lambda > 0
    frozen = Frozen(
        generator.state,
        clip.state,
        idnet.state if use_id else None,
        jnp.asarray(text),
        None if keep is None else jnp.asarray(keep),
        None if train_region is None else jnp.asarray(train_region),
        None if target is None or not cfg.population_lambda else jnp.asarray(target),
    )
    start = init_mapper_tensors(mapper_cfg, cfg.seed)
    if target is not None:
        start = offset_start(mapper_cfg, start, target)
    if population is not None and cfg.population_condition:
        fit = conditioned_targets(mapper_cfg, population, text, cfg.population_scale, cfg.population_condition)
        start = fit_offsets(mapper_cfg, start, *fit, FIT_STEPS, cfg.seed)
    fresh = LatentMapperModel(mapper_cfg, start, {"format": "trained", "description": cfg.description})
    graphdefs = (fresh.graphdef, generator.graphdef, clip.graphdef, idnet.graphdef if use_id else None)
    # Explicit placement in both cases: restored checkpoints come back committed to a device, and
    # matching placement keeps the compiled chunks valid across a resume.
    placement = replicated or jax.sharding.SingleDeviceSharding(jax.devices()[0])

    def put(x):
        return replicate(x, placement)

    frozen = put(frozen)
    train_dev = put(jnp.asarray(train_w)) if train_w is not None else None
    key = jax.random.key(cfg.seed)
    metrics_log, val_log = [], []
    best = []  # read at the first validation: after a resume has truncated val.jsonl

    def validate(state):
        previous = best.pop() if best else _best_val(exp_dir)
        best.append(_validate(exp_dir, graphdefs, cfg, frozen, state, put, val_w, val_log, previous, fresh, val_region))

    def after_chunk(state, m):
        step = int(state.step)
        metrics_log.append(m)
        if val_w is not None and (step % cfg.val_every == 0 or step == cfg.steps):
            validate(state)
        if on_chunk is not None:
            on_chunk(step, m)

    def step_fn(state, n):
        return train_steps(graphdefs, cfg.step_config, n, frozen, train_dev, state, key, batch_sharding)

    state = put(init_state(cfg, fresh.state))
    if not resume and val_w is not None:
        validate(state)
    state = run(
        exp_dir,
        state,
        step_fn,
        cfg.steps,
        resume=resume,
        checkpoint_every=cfg.save_every,
        every=(cfg.log_every, cfg.val_every),
        max_chunk=None,
        on_chunk=after_chunk,
        progress=progress,
        placement=placement,
        logs=("val.jsonl",),
        what="mapper/optimiser",
    )
    final = _mapper_from(fresh, state, cfg)
    if is_primary():
        final.save(exp_dir / "mapper", overwrite=True)
    barrier("mapper-train-saved")
    merged = {k: np.concatenate([m[k] for m in metrics_log]) for k in (metrics_log[0] if metrics_log else {})}
    return TrainResult(final, int(state.step), merged, val_log, exp_dir)


def _mapper_from(template: LatentMapperModel, state: TrainState, cfg: MapperTrainConfig) -> LatentMapperModel:
    tensors = flat_tensors(jax.device_get(state.params))
    return LatentMapperModel(
        template.config,
        tensors,
        {"format": "trained", "description": cfg.description, "step": int(state.step), "train": cfg.to_dict()},
    )


def _best_val(exp_dir: Path) -> float:
    p = exp_dir / "val.jsonl"
    if not p.exists():
        return float("inf")
    vals = [json.loads(l)["loss"] for l in p.read_text().splitlines() if l]
    return min(vals, default=float("inf"))


def _validate(exp_dir, graphdefs, cfg, frozen, state, put, val_w, val_log, best, template, region=None):
    sums, count = {}, 0
    for i in range(0, len(val_w), cfg.val_batch_size):
        w = put(np.asarray(val_w[i : i + cfg.val_batch_size]))
        mask = (
            None
            if region is None
            else put(np.asarray(region if region.ndim == 2 else region[i : i + cfg.val_batch_size]))
        )
        terms = _eval(graphdefs, cfg.step_config, frozen, state.params, w, mask)
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(w)
        count += len(w)
    rec = {"step": int(state.step), **{k: v / count for k, v in sums.items()}}
    val_log.append(rec)
    x, x_hat = _edit_and_render(graphdefs, frozen, state.params, put(np.asarray(val_w[:4])))  # every process
    if not is_primary():
        return min(best, rec["loss"])
    with (exp_dir / "val.jsonl").open("a") as f:
        f.write(json.dumps(rec) + "\n")
    pairs = np.stack([np.asarray(x), np.asarray(x_hat)], axis=1).reshape(-1, *x.shape[1:])
    (exp_dir / "val").mkdir(exist_ok=True)
    save_png(exp_dir / "val" / f"{int(state.step):06d}.png", make_grid(to_uint8(pairs), nrow=2))
    if rec["loss"] < best:
        _mapper_from(template, state, cfg).save(exp_dir / "best_mapper", overwrite=True)
        best = rec["loss"]
    return best
