"""Ranger (RAdam + Lookahead + gradient centralisation), as StyleCLIP's mapper training uses it.

Faithful to ``mapper/training/ranger.py`` (lessw2020, 20.4.11), as an optax transformation:
- gradient centralisation on every parameter with ndim > 1 (> 3 with ``gc_conv_only``):
  subtract the mean over all axes but the *output* axis, which is the last one in our layouts
  ((in, out) dense, HWIO conv); upstream's torch layout has it first;
- RAdam with upstream's eps placement: ``step_size · m / (sqrt(v) + eps)``, where
  ``step_size`` holds both bias corrections. optax's ``radam`` divides by ``sqrt(v̂) + eps``,
  which differs with Ranger's large eps (1e-5). For the first ~5 steps (N_sma <= 5) it is SGD
  with bias-corrected momentum;
- coupled weight decay (``p -= wd·lr·p`` before the step), off by default as upstream's Coach;
- Lookahead every k steps: ``slow += α(fast − slow); fast = slow`` (``optax.lookahead``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

TABLE_STEPS = 4096


class RAdamState(NamedTuple):
    count: jax.Array
    mu: Any
    nu: Any


class RangerState(NamedTuple):
    """optax's Lookahead state (around the RAdam state) and the slow weights it syncs to."""

    lookahead: optax.LookaheadState
    slow: Any

    @property
    def radam(self) -> RAdamState:
        return self.lookahead.fast_state[-1]

    @property
    def count(self) -> jax.Array:
        return self.radam.count

    @property
    def mu(self):
        return self.radam.mu

    @property
    def nu(self):
        return self.radam.nu


def centralize(g: jax.Array, conv_only: bool = False) -> jax.Array:
    if g.ndim <= (3 if conv_only else 1):
        return g
    return g - jnp.mean(g, axis=tuple(range(g.ndim - 1)), keepdims=True)


def centralize_gradients(conv_only: bool = False) -> optax.GradientTransformation:
    """Gradient centralisation (Yong et al. 2020) as a stateless optax transformation."""
    return optax.stateless(lambda g, params=None: jax.tree.map(lambda x: centralize(x, conv_only), g))


def upstream_radam(
    learning_rate: float,
    b1: float = 0.95,
    b2: float = 0.999,
    eps: float = 1e-5,
    weight_decay: float = 0.0,
    n_sma_threshold: float = 5.0,
) -> optax.GradientTransformation:
    """RAdam with Ranger's eps placement and coupled weight decay: the updates are the whole step
    ``-lr·(wd·p + step_size·direction)`` (see the module docstring)."""
    n_sma_max = 2.0 / (1.0 - b2) - 1.0
    q = [ranger_step_quantities(t, b2, b1, n_sma_threshold) for t in range(1, TABLE_STEPS + 1)]
    table = jnp.asarray(np.array([s for _, s in q], np.float32))
    table_rect = jnp.asarray(np.array([n > n_sma_threshold for n, _ in q]))

    def init(params):
        return RAdamState(
            jnp.zeros((), jnp.int32), jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params)
        )

    def update(grads, state, params):
        if params is None:
            raise ValueError("ranger needs params (weight decay and Lookahead use them)")
        t = (state.count + 1).astype(jnp.float32)
        nu = jax.tree.map(lambda v, g: v * b2 + (1.0 - b2) * g * g, state.nu, grads)
        mu = jax.tree.map(lambda m, g: m * b1 + (1.0 - b1) * g, state.mu, grads)
        # N_sma = 1999 − 2t·b2ᵗ/(1 − b2ᵗ) cancels catastrophically in float32 for small t (at t=6:
        # 1999 − 1993); upstream computes it in Python float64, so we use a float64 table there.
        b2t = b2**t
        n_sma_f32 = n_sma_max - 2.0 * t * b2t / (1.0 - b2t)
        rect = jnp.sqrt(
            jnp.maximum(
                (1.0 - b2t)
                * (n_sma_f32 - 4.0)
                / (n_sma_max - 4.0)
                * (n_sma_f32 - 2.0)
                / n_sma_f32
                * n_sma_max
                / (n_sma_max - 2.0),
                0.0,
            )
        )
        step_f32 = jnp.where(n_sma_f32 > n_sma_threshold, rect, 1.0) / (1.0 - b1**t)
        idx = jnp.minimum(state.count, table.shape[0] - 1)
        in_table = state.count < table.shape[0]
        rectified = jnp.where(in_table, table_rect[idx], n_sma_f32 > n_sma_threshold)
        step_size = jnp.where(in_table, table[idx], step_f32)

        def new_param(p, m, v):
            if weight_decay:
                p = p + (-weight_decay * learning_rate) * p
            direction = jnp.where(rectified, m / (jnp.sqrt(v) + eps), m)
            return p + (-step_size * learning_rate) * direction

        updates = jax.tree.map(lambda p, m, v: new_param(p, m, v) - p, params, mu, nu)
        return updates, RAdamState(state.count + 1, mu, nu)

    return optax.GradientTransformation(init, update)


def ranger(
    learning_rate: float = 0.5,
    b1: float = 0.95,
    b2: float = 0.999,
    eps: float = 1e-5,
    weight_decay: float = 0.0,
    alpha: float = 0.5,
    k: int = 6,
    n_sma_threshold: float = 5.0,
    use_gc: bool = True,
    gc_conv_only: bool = False,
) -> optax.GradientTransformation:
    """Upstream defaults except lr: Coach passes lr 0.5 (``--learning_rate``), which is our default.

    ``optax.lookahead(chain(centralize_gradients, upstream_radam), k, alpha)``, applied to plain
    parameters: the slow weights live in the state, so callers keep one set of parameters.
    """
    parts = ([centralize_gradients(gc_conv_only)] if use_gc else []) + [
        upstream_radam(learning_rate, b1, b2, eps, weight_decay, n_sma_threshold)
    ]
    inner = optax.lookahead(optax.chain(*parts), sync_period=k, slow_step_size=alpha)

    def init(params):
        synced = optax.LookaheadParams.init_synced(params)
        return RangerState(inner.init(synced), jax.tree.map(jnp.asarray, params))

    def update(grads, state, params):
        if params is None:
            raise ValueError("ranger needs params (weight decay and Lookahead use them)")
        updates, la_state = inner.update(grads, state.lookahead, optax.LookaheadParams(params, state.slow))
        return updates.fast, RangerState(la_state, optax.apply_updates(state.slow, updates.slow))

    return optax.GradientTransformation(init, update)


def ranger_step_quantities(t, b2: float = 0.999, b1: float = 0.95, threshold: float = 5.0):
    """(N_sma, step_size) of upstream's RAdam at step t (for checks and logging)."""
    n_sma_max = 2.0 / (1.0 - b2) - 1.0
    b2t = b2**t
    n_sma = n_sma_max - 2.0 * t * b2t / (1.0 - b2t)
    if n_sma > threshold:
        r = ((1 - b2t) * (n_sma - 4) / (n_sma_max - 4) * (n_sma - 2) / n_sma * n_sma_max / (n_sma_max - 2)) ** 0.5
        return n_sma, r / (1 - b1**t)
    return n_sma, 1.0 / (1 - b1**t)
