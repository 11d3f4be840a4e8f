"""StyleCLIP's identity loss (``criteria/id_loss.py``) around the IR-SE50 net.

extract: if H != 256, adaptive-average-pool to 256; crop rows 35:223, cols 32:220 (188²);
adaptive-average-pool to 112 (overlapping 2-3 px windows, *not* a plain resize); embed.
loss = mean_b(1 − <f(x̂), stop_gradient(f(x))>).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

CROP = (35, 223, 32, 220)


@functools.lru_cache(maxsize=16)
def adaptive_pool_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix of torch AdaptiveAvgPool1d: window [floor(i·n/m), ceil((i+1)·n/m))."""
    p = np.zeros((n_out, n_in), np.float64)
    for i in range(n_out):
        a, b = (i * n_in) // n_out, math.ceil((i + 1) * n_in / n_out)
        p[i, a:b] = 1.0 / (b - a)
    return p.astype(np.float32)


def adaptive_pool(x: jax.Array, size: int) -> jax.Array:
    """NHWC adaptive average pool to (size, size), as two small matmuls."""
    ph = jnp.asarray(adaptive_pool_matrix(x.shape[1], size), x.dtype)
    pw = jnp.asarray(adaptive_pool_matrix(x.shape[2], size), x.dtype)
    return jnp.einsum("ih,bhwc,jw->bijc", ph, x, pw)


def face_input(x: jax.Array) -> jax.Array:
    """Generator output NHWC (B, S, S, 3) -> the 112×112 crop IDLoss feeds the net."""
    if x.shape[1] != 256:
        x = adaptive_pool(x, 256)
    r0, r1, c0, c1 = CROP
    return adaptive_pool(x[:, r0:r1, c0:c1], 112)


def id_loss(net, x_hat: jax.Array, x: jax.Array) -> jax.Array:
    """Mean over the batch of 1 − cos(f(x̂), f(x)), with the reference f(x) detached."""
    ref = jax.lax.stop_gradient(net(face_input(x)))
    return jnp.mean(1.0 - jnp.sum(net(face_input(x_hat)) * ref, axis=-1))
