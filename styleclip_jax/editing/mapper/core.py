"""Method B training: a latent mapper learned with optax, data-parallel, resumable.

Objective (upstream ``mapper/training/coach.py``), per batch of W+ latents w:
    ŵ = w + 0.1·M(w);  x̂ = G(ŵ), x = G(w)   (stored noise, truncation 1)
    L = λ_clip · mean_b(1 − cos(CLIP(x̂), CLIP(t))) + λ_L2 · MSE(ŵ, w) + λ_ID · IDLoss(x̂, x)
        [+ λ_keep · keep-text term + λ_mask · pixel change outside the region (``constraints/loss.py``)]
with Ranger (lr 0.5) or Adam. Upstream defaults: λ = (1, 0.8, 0.1), batch 2, 50 000 steps.

How it runs:
- steps are grouped into chunks that end at the next log / validation / checkpoint boundary;
  each step is one call of a jitted step (a ``lax.scan`` over them ran 2.7-3.7x slower on XLA-CPU);
- the batch at step t is a pure function of (seed, t): either rows of a latents file (an
  epoch-wise permutation keyed by the epoch, upstream's shuffle + drop_last) or fresh z sampled
  through the mapping network. A resumed run therefore sees exactly the batches an
  uninterrupted run sees, and its trajectory is identical;
- data parallel: the caller may pass a ``NamedSharding`` for the batch (all local devices, or
  all hosts after ``jax.distributed.initialize``); parameters, optimiser state and the frozen
  networks are replicated and XLA inserts the gradient all-reduce. Model code holds no sharding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from styleclip_jax.editing.constraints.loss import keep_cosines, keep_loss, outside_loss
from styleclip_jax.editing.mapper.config import MapperTrainConfig, StepConfig
from styleclip_jax.models.clip.loss import loss_features, loss_from_features
from styleclip_jax.models.handle import expected_shapes_of
from styleclip_jax.models.idnet.loss import id_loss
from styleclip_jax.models.mapper.handle import LatentMapperModel
from styleclip_jax.models.mapper.network import RESIDUAL_SCALE, LatentMapper, MapperConfig
from styleclip_jax.optim.ranger import ranger


def init_mapper_tensors(cfg: MapperConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Upstream's EqualLinear init: raw weight N(0,1)/lr_mul, bias 0 (our (in, out) layout)."""
    rng = np.random.default_rng(seed)
    shapes = expected_shapes_of(nnx.eval_shape(lambda: LatentMapper(cfg)))
    return {
        k: (rng.standard_normal(s, dtype=np.float32) / np.float32(cfg.lr_mul))
        if k.endswith("weight")
        else np.zeros(s, np.float32)
        for k, s in sorted(shapes.items())
    }


def offset_start(cfg: MapperConfig, tensors: dict[str, np.ndarray], target: np.ndarray) -> dict[str, np.ndarray]:
    """``tensors`` with each MLP's last bias set so that 0.1·M(w) starts near ``target`` (L, D) on
    average (the mean over a level's rows, which share one MLP): the population's initial offset
    (contrib). The last layer is lrelu·√2, so a negative output needs a 5x larger pre-activation."""
    out = dict(tensors)
    for name, (a, b) in cfg.moving_parts().items():
        want = target[a:b].mean(axis=0) / np.float32(RESIDUAL_SCALE) / np.float32(np.sqrt(2.0))
        pre = np.where(want >= 0, want, want / np.float32(0.2))
        out[f"{name}.layers.{cfg.n_layers - 1}.bias"] = (pre / np.float32(cfg.lr_mul)).astype(np.float32)
    return out


def fit_offsets(
    cfg: MapperConfig, tensors: dict[str, np.ndarray], w: np.ndarray, target: np.ndarray, steps: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """``tensors`` after ``steps`` Adam steps (batch 64, lr 0.5) of regression so that
    ŵ − w = 0.1·M(w) ≈ ``target`` (N, L, D) on the W+ latents ``w`` (N, L, D): the conditioned
    population start (contrib). Only the MLPs run, no generator or CLIP: thousands of steps take
    seconds, where the CLIP loop moves a bias-started mapper little in a few hundred."""
    model = LatentMapperModel(cfg, tensors)
    tx = optax.adam(FIT_LR)

    @jax.jit
    def step(params, opt_state, w_all, target_all, rows):  # the data as arguments, not baked-in constants
        wb, tb = w_all[rows], target_all[rows]

        def loss(p):
            return jnp.mean(jnp.square(nnx.merge(model.graphdef, p).edit(wb) - wb - tb))

        grads = jax.grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    params, opt_state = model.state, tx.init(model.state)
    w_all, target_all = jnp.asarray(w, jnp.float32), jnp.asarray(target, jnp.float32)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        params, opt_state = step(params, opt_state, w_all, target_all, rng.integers(0, len(w), FIT_BATCH))
    model.state = params
    return model.tensors()


FIT_STEPS, FIT_LR, FIT_BATCH = 2000, 0.5, 64


def make_optimizer(cfg: MapperTrainConfig | StepConfig) -> optax.GradientTransformation:
    if cfg.optimizer == "ranger":
        return ranger(learning_rate=cfg.lr)
    return optax.adam(cfg.lr)  # β 0.9/0.999, eps 1e-8 (torch's defaults)


def mapper_loss_terms(
    mapper: LatentMapper,
    w: jax.Array,
    *,
    clip_term: Callable,
    synth: Callable | None = None,
    id_term: Callable | None = None,
    clip_lambda: float = 1.0,
    l2_lambda: float = 0.8,
    id_lambda: float = 0.0,
    extra_terms: Callable | None = None,
) -> dict:
    """Coach.calc_loss for W+ (B, L, D): returns {"loss", "clip", "l2"[, "id", ...]} (scalars) and "w_hat".

    ``synth`` maps ŵ to x̂ (identity when None, as in the golden surrogate); ``clip_term(x̂)`` is the
    per-sample CLIP loss (B,), or (that, image features) to share them with ``extra_terms``;
    ``id_term(x̂, w)`` the batch ID loss; ``extra_terms(x̂, w, features)`` -> {name: (λ, (B,) term)}
    (keep-texts, the region).
    """
    w_hat = mapper.edit(w)
    x_hat = w_hat if synth is None else synth(w_hat)
    clip_out = clip_term(x_hat)
    per_image, features = clip_out if isinstance(clip_out, tuple) else (clip_out, None)
    terms = {"clip": jnp.mean(per_image), "l2": jnp.mean(jnp.square(w_hat - w))}
    loss = clip_lambda * terms["clip"] + l2_lambda * terms["l2"]
    if id_lambda > 0:
        terms["id"] = id_term(x_hat, w)
        loss = loss + id_lambda * terms["id"]
    for name, (lam, value) in (extra_terms(x_hat, w, features) if extra_terms is not None else {}).items():
        terms[name] = jnp.mean(value)
        loss = loss + lam * terms[name]
    terms["loss"], terms["w_hat"] = loss, w_hat
    return terms


class TrainState(NamedTuple):
    step: jax.Array  # int32 (), steps done
    params: Any  # mapper nnx.State
    opt_state: Any


class Frozen(NamedTuple):
    """The networks that do not train (a pytree of states; graphdefs travel as static args)."""

    generator: Any
    clip: Any
    idnet: Any
    text_features: jax.Array  # (E,)
    keep: Any = None  # (K, E) unit keep-text features
    mask: Any = None  # (R, R) region, or (N, R, R) one per row of the training latents
    target: Any = None  # (L, D) the population's offset for the mean of ŵ − w (contrib), or None


def batch_rows(step, cfg: StepConfig, n: int, key):
    """Rows of an (n, ...) training set that batch ``step`` takes: an epoch-wise permutation."""
    b = cfg.batch_size
    per_epoch = n // b  # drop_last, as upstream's DataLoader
    epoch, i = step // per_epoch, step % per_epoch
    perm = jax.random.permutation(jax.random.fold_in(key, epoch), n)
    return jax.lax.dynamic_slice_in_dim(perm, i * b, b)


def batch_at(step, cfg: StepConfig, train_latents, gen, key):
    """The batch of step ``step`` (traced int): W+ (B, L, D), a pure function of (seed, step)."""
    if train_latents is not None:
        return train_latents[batch_rows(step, cfg, train_latents.shape[0], key)]
    z = jax.random.normal(jax.random.fold_in(key, step), (cfg.batch_size, gen.cfg.z_dim))
    return gen.map_to_wplus(z, cfg.truncation)


def _losses(graphdefs, cfg: StepConfig, frozen: Frozen, params, w, mask=None):
    """Loss terms of the batch ``w``; ``mask`` (B, R, R) or (R, R): the region, with ``frozen.mask``."""
    m_def, g_def, c_def, i_def = graphdefs
    gen, clip = nnx.merge(g_def, frozen.generator), nnx.merge(c_def, frozen.clip)

    def synth(wp):
        return gen.synthesis(gen.synthesis.w_to_s(wp))

    id_term = None
    if cfg.id_lambda > 0:
        idnet = nnx.merge(i_def, frozen.idnet)

        def id_term(x_hat, w0):
            return id_loss(idnet, x_hat, jax.lax.stop_gradient(synth(w0)))

    def clip_term(x):
        features = loss_features(clip, x)
        return loss_from_features(clip, features, frozen.text_features), features

    def extra_terms(x_hat, w0, features):
        if frozen.keep is None and mask is None:
            return {}
        x0 = jax.lax.stop_gradient(synth(w0))
        out = {}
        if frozen.keep is not None:
            start = keep_cosines(loss_features(clip, x0), frozen.keep)
            out["keep"] = (cfg.keep_lambda, keep_loss(features, frozen.keep, start))
        if mask is not None:
            region = jnp.broadcast_to(mask, x0.shape[:3])
            out["outside"] = (cfg.mask_lambda, outside_loss(x_hat, x0, region))
        return out

    terms = mapper_loss_terms(
        nnx.merge(m_def, params),
        w,
        synth=synth,
        clip_term=clip_term,
        id_term=id_term,
        clip_lambda=cfg.clip_lambda,
        l2_lambda=cfg.l2_lambda,
        id_lambda=cfg.id_lambda,
        extra_terms=extra_terms,
    )
    if frozen.target is not None:  # the mean offset over the batch, not each sample's: CLIP still adapts each
        mean_offset = jnp.mean(terms["w_hat"] - w, axis=0)
        terms["population"] = jnp.mean(jnp.square(mean_offset - frozen.target))
        terms["loss"] = terms["loss"] + cfg.population_lambda * terms["population"]
    return terms


def train_step(graphdefs, cfg: StepConfig, frozen: Frozen, train_latents, state: TrainState, key, batch_sharding=None):
    """One training step (pure); returns (state, metrics {name: scalar}).

    ``key`` (``jax.random.key(seed)``) fixes the data order: batch t depends on (key, t) only.
    """
    tx = make_optimizer(cfg)
    mask = frozen.mask
    if train_latents is not None:
        rows = batch_rows(state.step, cfg, train_latents.shape[0], key)
        w = train_latents[rows]
        if mask is not None and mask.ndim == 3:  # one region per training latent
            mask = mask[rows]
    else:
        w = batch_at(state.step, cfg, None, nnx.merge(graphdefs[1], frozen.generator), key)
    if batch_sharding is not None:
        w = jax.lax.with_sharding_constraint(w, batch_sharding)

    def total(p):
        terms = _losses(graphdefs, cfg, frozen, p, w, mask)
        return terms["loss"], terms

    (_, terms), grads = jax.value_and_grad(total, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {k: v for k, v in terms.items() if k != "w_hat"}
    return TrainState(state.step + 1, params, opt_state), metrics


_train_step = jax.jit(train_step, static_argnums=(0, 1, 6))


def train_steps(
    graphdefs, cfg: StepConfig, n: int, frozen: Frozen, train_latents, state: TrainState, key, batch_sharding=None
):
    """``n`` jitted steps from the host; returns (state, per-step metrics {name: (n,)}).

    Not one ``lax.scan``: XLA-CPU runs the generator's backward pass 2.7-3.7x slower inside a
    while loop than as a call of its own (bench/RESULTS.md), and a step's dispatch is < 1 ms.
    """
    metrics = []
    for _ in range(n):
        state, m = _train_step(graphdefs, cfg, frozen, train_latents, state, key, batch_sharding)
        metrics.append(m)
    return state, jax.tree.map(lambda *xs: jnp.stack(xs), *metrics)


def eval_losses(graphdefs, cfg: StepConfig, frozen: Frozen, params, w, mask=None):
    """Validation loss terms (scalars, batch means) on W+ (B, L, D) (``mask``: their regions)."""
    terms = _losses(graphdefs, cfg, frozen, params, w, mask)
    return {k: v for k, v in terms.items() if k != "w_hat"}


def init_state(cfg: MapperTrainConfig | StepConfig, mapper_state) -> TrainState:
    return TrainState(jnp.zeros((), jnp.int32), mapper_state, make_optimizer(cfg).init(mapper_state))


__all__ = [
    "Frozen",
    "MapperTrainConfig",
    "StepConfig",
    "TrainState",
    "batch_at",
    "eval_losses",
    "init_mapper_tensors",
    "init_state",
    "make_optimizer",
    "mapper_loss_terms",
    "train_step",
    "train_steps",
]
