"""Refining an encoder's inversion: a few steps of latent optimisation of the W+ code toward the
photo (``invert --refine N``), so the reconstruction keeps details the encoder missed.

Loss per photo: mean squared pixel error between G(w) and the photo (resized to the generator's
resolution), plus λ_ID · the identity loss when an ID net is given, plus λ_LPIPS · LPIPS when an
LPIPS net is given. Adam (torch's order, the
method-A optimiser) at a constant learning rate; the whole loop is one ``lax.scan``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.models.idnet.loss import id_loss
from styleclip_jax.optim.adam import torch_adam
from styleclip_jax.validation import check_array


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4, 5, 6))
def _refine(g_def, i_def, l_def, steps: int, lr: float, id_lambda: float, lpips_lambda: float, g_state, i_state,
            l_state, w0, target):  # fmt: skip
    gen = nnx.merge(g_def, g_state)
    idnet = nnx.merge(i_def, i_state) if i_def is not None else None
    lpips = nnx.merge(l_def, l_state) if l_def is not None else None
    tx = torch_adam(optax.constant_schedule(lr))

    def loss_fn(w):
        img = gen.synthesis(gen.synthesis.w_to_s(w))
        per = jnp.mean((img - target) ** 2, axis=(1, 2, 3))
        if idnet is not None:
            per = per + id_lambda * id_loss(idnet, img, target)
        if lpips is not None:
            per = per + lpips_lambda * lpips(img, target)
        return jnp.sum(per), per

    def step(carry, _):
        w, opt = carry
        (_, per), g = jax.value_and_grad(loss_fn, has_aux=True)(w)
        upd, opt = tx.update(g, opt, w)
        return (optax.apply_updates(w, upd), opt), per

    (w, _), losses = jax.lax.scan(step, (w0, tx.init(w0)), None, length=steps)
    return w, losses


def refine_inversion(
    gen,
    wplus,
    photos,
    steps: int = 100,
    lr: float = 0.01,
    id_lambda: float = 0.0,
    idnet=None,
    lpips=None,
    lpips_lambda: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Refined W+ (B, L, D) and the losses (steps, B) before each update.

    Args:
      wplus: the encoder's W+ (B, L, D).
      photos: the photos the codes came from, (B, R, R, 3) in [-1, 1] at the generator's resolution.
    """
    c = gen.config
    w = check_array(wplus, "wplus", (None, c.num_ws, c.w_dim))
    target = check_array(photos, "photos", (len(w), c.resolution, c.resolution, 3))
    if steps < 1 or not (0 < lr <= 10) or id_lambda < 0 or lpips_lambda < 0:
        raise InputError(
            "refine needs steps >= 1, 0 < lr <= 10, id_lambda >= 0 and lpips_lambda >= 0 "
            f"(got {steps}, {lr}, {id_lambda}, {lpips_lambda})"
        )
    if id_lambda > 0 and idnet is None:
        raise InputError("id_lambda > 0 needs an identity network (an IR-SE50 folder)")
    use_id, use_lp = id_lambda > 0, lpips is not None and lpips_lambda > 0
    out, losses = _refine(
        gen.graphdef,
        idnet.graphdef if use_id else None,
        lpips.graphdef if use_lp else None,
        int(steps),
        float(lr),
        float(id_lambda),
        float(lpips_lambda),
        gen.state,
        idnet.state if use_id else None,
        lpips.state if use_lp else None,
        jnp.asarray(w),
        jnp.asarray(target),
    )
    return np.asarray(out), np.asarray(losses)


def photos_at(crops_u8, resolution: int) -> np.ndarray:
    """uint8 crops -> (B, R, R, 3) float32 in [-1, 1] at the generator's resolution (PIL LANCZOS)."""
    from PIL import Image

    out = [np.asarray(Image.fromarray(c).resize((resolution, resolution), Image.LANCZOS)) for c in crops_u8]
    return np.stack(out).astype(np.float32) / np.float32(127.5) - np.float32(1)
