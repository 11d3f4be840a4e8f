"""Adam in torch's operation order, for latent optimisation (method A and the refinement of
inversions). Latent optimisation is chaotic, so upstream parity needs torch's rounding; the
trainers (mapper, e4e, toy world) use ``optax.adam`` itself.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class TorchAdamState(NamedTuple):
    count: jax.Array
    mu: Any
    nu: Any


def torch_adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """Adam in torch's operation order, as an optax transformation.

    Mathematically ``optax.adam``; numerically it follows ``torch.optim.Adam`` (lerp for the first
    moment, ``sqrt(v) / sqrt(bc2) + eps``, ``lr / bc1`` applied last). Latent optimisation is
    chaotic on some generators: optax's rounding (7e-7 per step on the golden run vs 1.2e-7
    here) was amplified to 2e-4 within 5 steps. ``learning_rate(count)`` is called with the
    0-based step.
    """

    def init(params):
        z = jax.tree.map(jnp.zeros_like, params)
        return TorchAdamState(jnp.zeros((), jnp.int32), z, jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        del params
        mu = jax.tree.map(lambda m, g: m + (1.0 - b1) * (g - m), state.mu, grads)
        nu = jax.tree.map(lambda v, g: v * b2 + (1.0 - b2) * g * g, state.nu, grads)
        t = (state.count + 1).astype(jnp.float32)
        step_size = learning_rate(state.count) / (1.0 - b1**t)
        bc2_sqrt = jnp.sqrt(1.0 - b2**t)
        updates = jax.tree.map(lambda m, v: -step_size * (m / (jnp.sqrt(v) / bc2_sqrt + eps)), mu, nu)
        return updates, TorchAdamState(state.count + 1, mu, nu)

    return optax.GradientTransformation(init, update)
