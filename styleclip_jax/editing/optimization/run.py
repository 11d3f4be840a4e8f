"""``optimize()``: latent optimisation for many latents × prompts in one compiled program."""

from __future__ import annotations

import dataclasses
import functools
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.editing.constraints import mask as masks
from styleclip_jax.editing.constraints import prompts as texts
from styleclip_jax.editing.constraints.loss import keep_cosines
from styleclip_jax.editing.global_directions.population import check_models, image_features
from styleclip_jax.editing.optimization.config import OptimizeConfig
from styleclip_jax.editing.optimization.core import (
    Problem,
    initial_params,
    make_optimizer,
    make_step,
    merge_styles,
    run_loop,
    styles_of,
)
from styleclip_jax.errors import InputError
from styleclip_jax.io.files import atomic_write, refuse_nonempty_dir
from styleclip_jax.io.images import make_grid, save_png, to_uint8
from styleclip_jax.models.clip.handle import CLIPModel
from styleclip_jax.models.clip.loss import loss_features
from styleclip_jax.models.clip.tokenizer import tokenize
from styleclip_jax.models.idnet.handle import IDNet
from styleclip_jax.models.latents import z_from_seeds
from styleclip_jax.models.stylegan2.handle import StyleGAN2
from styleclip_jax.validation import check_finite


@dataclasses.dataclass
class OptimizeResult:
    """Per pair p (latent index ``latent_index[p]``, prompt ``prompts[prompt_index[p]]``).

    ``start`` / ``final``: W+ (P, L, D), or StyleSpace dict {name: (P, C)} in space 's'.
    ``losses``: {"loss", "clip", "l2"[, "id"]} each (steps, P), value before each update.
    ``snapshots``: list of codes after every ``snapshot_every`` steps (same form as ``final``).
    ``images_before`` / ``images_after``: (P, R, R, 3).
    """

    start: object
    final: object
    losses: dict
    snapshots: list
    images_before: np.ndarray
    images_after: np.ndarray
    latent_index: np.ndarray
    prompt_index: np.ndarray
    prompts: list
    config: OptimizeConfig

    OUTPUTS = ("result.npz", "before_after.png", "trajectory.gif", "frames")

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything ``result.npz`` holds: images, indices, prompts, losses, start and final codes."""
        arrays = {
            "images_before": self.images_before,
            "images_after": self.images_after,
            "latent_index": self.latent_index,
            "prompt_index": self.prompt_index,
            "prompts": np.array(self.prompts),
        }
        arrays.update({f"loss_{k}": v for k, v in self.losses.items()})
        if self.config.space == "w+":
            arrays["wplus"], arrays["wplus_start"] = self.final, self.start
            if self.snapshots:
                arrays["wplus_snapshots"] = np.stack(self.snapshots)
        else:
            arrays.update({f"s/{k}": v for k, v in self.final.items()})
            arrays.update({f"s_start/{k}": v for k, v in self.start.items()})
        return arrays

    def save(self, out, generator: StyleGAN2 | None = None, overwrite: bool = False) -> list[str]:
        """Write ``out/result.npz`` and ``out/before_after.png`` (pairs as rows: before | after) and,
        given the ``generator`` and snapshots, ``frames/`` and ``trajectory.gif``. Returns the names
        written. A previous run's outputs in ``out`` are removed first (with ``overwrite``), so
        frames of two runs never mix; nothing non-finite is written."""
        out = Path(out)
        refuse_nonempty_dir(out, overwrite)
        arrays = self.arrays()
        for k, v in arrays.items():
            check_finite(f"result {k}", v)
        out.mkdir(parents=True, exist_ok=True)
        for name in self.OUTPUTS:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        atomic_write(out / "result.npz", lambda f: np.savez(f, **arrays))
        pairs = np.stack([self.images_before, self.images_after], axis=1).reshape(-1, *self.images_after.shape[1:])
        save_png(out / "before_after.png", make_grid(to_uint8(pairs), nrow=2))
        if generator is None or not self.snapshots:
            return ["result.npz", "before_after.png"]
        self._save_trajectory(generator, out)
        return ["result.npz", "before_after.png", "trajectory.gif"]

    def _save_trajectory(self, gen: StyleGAN2, out: Path) -> None:
        from PIL import Image

        frames = [self.images_before]
        for snap in self.snapshots:
            frames.append(np.asarray(gen.synthesis(snap) if self.config.space == "w+" else gen.synthesis_s(snap)))
        grids = [make_grid(to_uint8(f), nrow=min(len(f), 4)) for f in frames]
        (out / "frames").mkdir(exist_ok=True)
        for k, gimg in enumerate(grids):
            save_png(out / "frames" / f"{k * self.config.snapshot_every:05d}.png", gimg)
        pil = [Image.fromarray(gimg) for gimg in grids]
        pil[0].save(out / "trajectory.gif", save_all=True, append_images=pil[1:], duration=100, loop=0)


def start_latents(gen: StyleGAN2, cfg: OptimizeConfig, latents=None, seeds=None, truncation: float = 0.7):
    """W+ starting points: given latents; seeds at ψ ``truncation`` toward w_avg; or the mean latent."""
    c = gen.config
    if cfg.mode == "free_generation":
        if latents is not None or seeds is not None:
            raise InputError("free_generation starts from the mean latent; do not pass latents or seeds")
        return np.broadcast_to(gen.w_avg, (1, c.num_ws, c.w_dim)).copy()
    if (latents is None) == (seeds is None):
        raise InputError("edit mode needs exactly one of latents (B, L, D) / (B, D) or seeds")
    if latents is not None:
        return gen.as_wplus(latents)
    return np.asarray(gen.mapping(z_from_seeds(seeds, c.z_dim), truncation))


@functools.lru_cache(maxsize=16)
def _step_fn(graphdefs, cfg):
    """The jitted step for (graphdefs, config); cached so repeated calls reuse its compilation."""
    return jax.jit(make_step(graphdefs, cfg, make_optimizer(cfg)))


def _run(graphdefs, cfg, progress, states, params, problem):
    return run_loop(_step_fn(graphdefs, cfg), cfg, states, params, make_optimizer(cfg).init(params), problem, progress)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _synth(g_def, space, g_state, params, start):
    gen = nnx.merge(g_def, g_state)
    return gen.synthesis(styles_of(gen, params, start, space))


@functools.partial(jax.jit, static_argnums=(0,))
def _keep_cosines(c_def, c_state, images, keep):
    return keep_cosines(loss_features(nnx.merge(c_def, c_state), images), keep)


def check_population(generator, clip, cfg: OptimizeConfig, population) -> None:
    """``warm_start`` and ``subspace`` read the population bank of this generator and CLIP."""
    if population is None:
        raise InputError(
            "warm_start and subspace need the population bank: a stats folder made with `global "
            "precompute` and `population` set (pass `population=stats.population`)"
        )
    check_models(population, generator, clip)


def warm_offsets(generator, clip, cfg: OptimizeConfig, population, tf, weights, source=None) -> np.ndarray:
    """(P, L, D) warm-start offset of each prompt: ``cfg.warm_start`` times the population's W
    direction of every term (weighted as composed), on the rows the edit moves. With
    ``cfg.warm_condition``, ``source`` (P, E) holds the unit CLIP features of each prompt's start
    image, and each direction is taken among that image's lookalikes (``Population.likeness``)."""
    check_population(generator, clip, cfg, population)
    num_ws = generator.config.num_ws
    moved = [r for g in cfg.groups for r in g] or list(cfg.rows) or list(range(num_ws))
    unit = tf / np.linalg.norm(tf, axis=-1, keepdims=True)
    look = population.likeness(source, cfg.warm_condition) if cfg.warm_condition else None

    def direction(p, t):
        return population.w_direction(t) if look is None else population.w_direction(t, look=look[p : p + 1])[0]

    d = np.stack([sum(w * direction(p, t) for t, w in zip(unit[p], weights[p])) for p in range(len(tf))])
    out = np.zeros((len(tf), num_ws, d.shape[1]), np.float32)
    out[:, moved] = cfg.warm_start * d[:, None]
    return out


def optimize(
    generator: StyleGAN2,
    clip: CLIPModel,
    prompts,
    latents=None,
    *,
    seeds=None,
    idnet: IDNet | None = None,
    config: OptimizeConfig = OptimizeConfig(),
    truncation: float = 0.7,
    progress: Callable[[int, int], None] | None = None,
    keep: Sequence[str] = (),
    mask=None,
    box=None,
    blend: float | None = None,
    population=None,
) -> OptimizeResult:
    """Optimise every latent toward every prompt (pairs in latent-major order).

    Args:
      latents: W+ (N, L, D) or W (N, D) starting points (edit mode), or None with ``seeds``.
      prompts: one prompt or a list; each is paired with every latent. A prompt may be composed:
        a list of ``(text, weight)`` terms whose CLIP losses are summed with those weights.
      idnet: needed when ``config.id_lambda > 0``.
      progress: ``f(done_steps, total_steps)`` after each step (``styleclip_jax.progress``).
      keep: keep-texts; each one's CLIP similarity is held at its start (``config.keep_lambda``).
      mask / box: the region the edit may change: (R, R) or per-latent (N, R, R) in [0, 1], a
        mask PNG path, or a pixel box (x0, y0, x1, y1); the change outside costs
        ``config.mask_lambda`` · MSE.
      blend: also composite the final images into the originals through the region, feathered by
        this many pixels (``images_after`` are then blended; the latents are not).
      population: the ``Population`` bank (``stats.population`` of a `global precompute --population`
        folder) that ``config.warm_start`` > 0 starts along and ``config.subspace`` > 0 keeps to.
    """
    cfg = config
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    if not prompts:
        raise InputError("optimize needs at least one prompt")
    keep = [keep] if isinstance(keep, str) else list(keep or ())
    # raises on empty / too-long prompts before anything runs
    tokenize([t for p in prompts for t, _ in texts.terms_of(p)] + texts.keep_alternatives(keep))
    if cfg.mode == "edit" and cfg.id_lambda > 0 and idnet is None:
        raise InputError("id_lambda > 0 needs an identity network (an IR-SE50 folder)")
    top = max([r for g in cfg.groups for r in g] + list(cfg.rows), default=-1)
    if top >= generator.config.num_ws:
        raise InputError(
            f"rows {top} named in `rows` / `groups`: this generator has W+ rows 0-{generator.config.num_ws - 1}"
        )
    if cfg.mode == "free_generation" and (keep or mask is not None or box is not None):
        raise InputError("keep-texts and regions hold parts of a start image; free_generation has none")
    w0 = start_latents(generator, cfg, latents, seeds, truncation)
    n, p = len(w0), len(prompts)
    region = masks.region(generator.config.resolution, mask, box, n, blend)
    li, pi = np.repeat(np.arange(n), p), np.tile(np.arange(p), n)
    w_pairs = w0[li]
    tf, weights = texts.encode(clip, prompts)
    if cfg.subspace:
        check_population(generator, clip, cfg, population)
    offsets = None
    if cfg.warm_start and cfg.warm_condition:  # one offset per pair: conditioned on its start image
        source = image_features(generator, clip, generator.as_wplus(w0))[li]
        offsets = warm_offsets(generator, clip, cfg, population, tf[pi], weights[pi], source)
    elif cfg.warm_start:
        offsets = warm_offsets(generator, clip, cfg, population, tf, weights)[pi]
    composed = tf.shape[1] > 1 or np.any(weights != 1)
    tf, weights = (tf[pi], weights[pi]) if composed else (tf[pi, 0], None)
    g_state = generator.state
    if cfg.space == "w+":
        start = jnp.asarray(w_pairs)
    else:
        start = tuple(generator.w_to_s(w_pairs).values())
    params0 = initial_params(generator.module(), start, cfg.space)
    original = _synth(generator.graphdef, cfg.space, g_state, params0, start)
    use_id = cfg.mode == "edit" and cfg.id_lambda > 0
    graphdefs = (generator.graphdef, clip.graphdef, idnet.graphdef if use_id else None)
    states = (g_state, clip.state, idnet.state if use_id else None)
    keep_f = texts.keep_features(clip, keep)
    problem = Problem(
        start=start,
        text_features=jnp.asarray(tf),
        original=original,
        weights=None if weights is None else jnp.asarray(weights),
        keep=None if keep_f is None else jnp.asarray(keep_f),
        keep_start=None if keep_f is None else _keep_cosines(clip.graphdef, clip.state, original, keep_f),
        mask=None if region is None else jnp.asarray(masks.per_pair(region, li)),
        basis=jnp.asarray(population.subspace(cfg.subspace)) if cfg.subspace else None,
    )
    params = params0 if offsets is None else params0 + jnp.asarray(offsets)
    final, _, metrics, snaps = _run(graphdefs, cfg, progress, states, params, problem)
    after = _synth(generator.graphdef, cfg.space, g_state, final, start)
    if blend is not None:
        after = masks.blend(original, after, masks.per_pair(region, li), blend)

    def as_codes(params):
        if cfg.space == "w+":
            return np.asarray(params)
        layers = generator.config.style_layers
        return {l.name: np.asarray(s) for l, s in zip(layers, merge_styles(layers, params, start))}

    snapshots = []
    if snaps is not None:
        for k in range(len(jax.tree.leaves(snaps)[0])):
            snapshots.append(as_codes(jax.tree.map(lambda x: x[k], snaps)))
    return OptimizeResult(
        start=as_codes(params0),
        final=as_codes(final),
        losses={k: np.asarray(v) for k, v in metrics.items()},
        snapshots=snapshots,
        images_before=np.asarray(original),
        images_after=np.asarray(after),
        latent_index=li,
        prompt_index=pi,
        prompts=[texts.label(q) for q in prompts],
        config=cfg,
    )
