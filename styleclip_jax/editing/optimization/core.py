"""Method A: text-driven latent optimisation (StyleCLIP ``optimization/run_optimization.py``).

Minimise, per (latent, prompt) pair,
    L = CLIPLoss(G(w), t) + λ_L2 · Σ (w − w₀)² + λ_ID · IDLoss(G(w), G(w₀))
        [+ λ_keep · Σ_k (cos(G(w), keep_k) − cos(G(w₀), keep_k))² + λ_mask · MSE outside the region]
with Adam (β 0.9/0.999, eps 1e-8) and upstream's learning-rate ramp (0 at step 0, linear warm-up
over the first 5 %, flat, cosine ramp-down over the last 25 %). W+ mode optimises (B, L, D)
latents; StyleSpace mode optimises the non-toRGB style codes (toRGB codes stay fixed).

Every pair is independent (per-sample losses are summed, Adam is element-wise), so a batch of
pairs gives the same result as separate runs. The loop is a host loop of jitted steps
(``run_loop`` below says why not a ``lax.scan``); snapshots every k steps are taken on the host.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from styleclip_jax.editing.constraints.loss import (
    composed_clip_loss,
    keep_loss,
    outside_loss,
)
from styleclip_jax.editing.optimization.config import OptimizeConfig, lr_schedule
from styleclip_jax.errors import InputError
from styleclip_jax.models.clip.loss import loss_features
from styleclip_jax.models.idnet.loss import id_loss
from styleclip_jax.optim.adam import torch_adam


def make_optimizer(cfg: OptimizeConfig) -> optax.GradientTransformation:
    """torch Adam (β 0.9/0.999, eps 1e-8) with the per-step upstream learning rate."""
    return torch_adam(lr_schedule(cfg), b1=0.9, b2=0.999, eps=1e-8)


class Problem(NamedTuple):
    """Everything fixed during one optimisation (a pytree, so it can be a jit argument)."""

    start: Any  # W+ (B, L, D) or tuple of style codes (B, C_l)
    text_features: Any  # (B, E) one prompt per pair, or (B, K, E) composed prompts
    original: Any  # (B, R, R, 3) G(start), the ID-loss and outside-loss reference
    weights: Any = None  # (B, K) term weights of composed prompts
    keep: Any = None  # (K', E) unit keep-text features
    keep_start: Any = None  # (B, K') their cosines with CLIP(G(start))
    mask: Any = None  # (B, R, R) region per pair (1 = may change)
    basis: Any = None  # (D, K) orthonormal: W+ moves stay in its span (``Population.subspace``)


def merge_styles(style_layers, manipulable, start) -> list:
    """Full StyleSpace list: toRGB codes from ``start``, the others from ``manipulable`` in order."""
    manip = iter(manipulable)
    return [s if l.is_torgb else next(manip) for l, s in zip(style_layers, start)]


def styles_of(gen, params, start, space) -> list:
    """Full StyleSpace list from the optimised parameters (W+, or the non-toRGB codes)."""
    if space == "w+":
        return gen.synthesis.w_to_s(params)
    return merge_styles(gen.cfg.style_layers, params, start)


def initial_params(gen, start, space):
    if space == "w+":
        return start
    return tuple(s for l, s in zip(gen.cfg.style_layers, start) if not l.is_torgb)


def per_sample_losses(gen, clip, idnet, cfg: OptimizeConfig, params, problem: Problem) -> dict:
    """Loss terms per pair (B,), and the images. ``params``: W+ or the non-toRGB style codes."""
    img = gen.synthesis(styles_of(gen, params, problem.start, cfg.space))
    features = loss_features(clip, img)
    c = composed_clip_loss(clip, features, problem.text_features, problem.weights)
    init = initial_params(gen, problem.start, cfg.space)
    l2 = sum(
        jnp.sum(jnp.square(p - p0), axis=tuple(range(1, p.ndim)))
        for p, p0 in zip(jax.tree.leaves(params), jax.tree.leaves(init))
    )
    out = {"clip": c, "l2": l2, "image": img}
    total = c
    if cfg.mode == "edit":
        total = total + cfg.l2_lambda * l2
        if cfg.id_lambda > 0:
            if idnet is None:
                raise InputError("id_lambda > 0 needs an identity network")
            ids = jax.vmap(lambda a, b: id_loss(idnet, a[None], b[None]))(img, problem.original)
            out["id"] = ids
            total = total + cfg.id_lambda * ids
        if problem.keep is not None:
            out["keep"] = keep_loss(features, problem.keep, problem.keep_start)
            total = total + cfg.keep_lambda * out["keep"]
        if problem.mask is not None:
            out["outside"] = outside_loss(img, problem.original, problem.mask)
            total = total + cfg.mask_lambda * out["outside"]
    out["loss"] = total
    return out


def group_matrix(groups, num_ws: int):
    """(L, L) matrix averaging gradients within each group of rows (zero rows outside every group)."""
    a = np.zeros((num_ws, num_ws), np.float32)
    for g in groups:
        a[np.ix_(g, g)] = 1.0 / len(g)
    return a


def restrict_rows(grads: jax.Array, cfg: OptimizeConfig) -> jax.Array:
    """W+ gradients (B, L, D) as ``cfg.rows`` / ``cfg.tie_rows`` allow: zero on frozen rows (Adam
    then leaves them exactly where they started); with ``tie_rows`` every moved row gets the mean
    of the moved rows' gradients, so Adam (element-wise) gives them one shared offset."""
    if cfg.groups:
        return jnp.einsum("ij,bjd->bid", jnp.asarray(group_matrix(cfg.groups, grads.shape[1]), grads.dtype), grads)
    if not (cfg.rows or cfg.tie_rows):
        return grads
    num_ws = grads.shape[1]
    mask = jnp.ones((num_ws,), grads.dtype)
    if cfg.rows:
        mask = jnp.zeros_like(mask).at[jnp.asarray(cfg.rows)].set(1.0)
    mask = mask[None, :, None]
    grads = grads * mask
    if cfg.tie_rows:
        grads = mask * jnp.sum(grads, axis=1, keepdims=True) / jnp.sum(mask)
    return grads


def make_step(graphdefs, cfg: OptimizeConfig, tx):
    """One optimisation step as a pure function of (states, params, opt_state, problem)."""
    g_def, c_def, i_def = graphdefs

    def step(states, params, opt_state, problem):
        g_state, c_state, i_state = states
        gen, clip = nnx.merge(g_def, g_state), nnx.merge(c_def, c_state)
        idnet = nnx.merge(i_def, i_state) if i_def is not None else None

        def total(p):
            terms = per_sample_losses(gen, clip, idnet, cfg, p, problem)
            return jnp.sum(terms["loss"]), terms

        (_, terms), grads = jax.value_and_grad(total, has_aux=True)(params)
        grads = restrict_rows(grads, cfg)
        updates, opt_state = tx.update(grads, opt_state, params)
        if problem.basis is not None:  # projected Adam: every step stays among the codes' directions
            updates = (updates @ problem.basis) @ problem.basis.T
        params = optax.apply_updates(params, updates)
        metrics = {k: v for k, v in terms.items() if k != "image"}
        return params, opt_state, metrics

    return step


def run_loop(step, cfg: OptimizeConfig, states, params, opt_state, problem, progress=None):
    """All ``cfg.steps`` steps, each one call of the jitted ``step``, driven from the host.

    Not a ``lax.scan``: XLA-CPU ran the same step 2.7x (256 px) to 3.7x (1024 px) slower inside a
    while loop than as a jitted call of its own (bench/RESULTS.md, "Method A"); dispatch costs
    well under a millisecond a step. Nothing leaves the device until the end.

    Returns (final params, final opt state, per-step metrics (steps, B), snapshots (n, ...) of
    the params after every ``snapshot_every`` steps, or None when 0).
    """
    k = cfg.snapshot_every
    metrics, snaps = [], []
    for i in range(cfg.steps):
        params, opt_state, m = step(states, params, opt_state, problem)
        metrics.append(m)
        if k and (i + 1) % k == 0:
            snaps.append(params)
        if progress is not None:
            jax.block_until_ready(m)  # wait for the step, so a progress bar tells the truth
            progress(i + 1, cfg.steps)
    metrics = jax.tree.map(lambda *xs: jnp.stack(xs), *metrics)
    snaps = jax.tree.map(lambda *xs: jnp.stack(xs), *snaps) if snaps else None
    return params, opt_state, metrics, snaps
