"""ReStyle's iterative inversion (Alaluf et al. 2021, ``utils/inference_utils.run_on_batch``).

Iteration 0 feeds the encoder (photo, average image) and adds ``latent_avg`` to its residual; each
later iteration feeds (photo, previous reconstruction) and adds the residual to the previous code.
The reconstruction passed back is the generator's image through ``face_pool`` (adaptive average
pooling to the encoder's input size: exact 4× replication from 64 px, a 4×4 mean from 1024). The
average image is the generator at ``latent_avg``, pooled the same way, computed once per call.
A host loop of jitted steps (one compile for every iteration).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.models.idnet.loss import adaptive_pool
from styleclip_jax.validation import check_array

DEFAULT_ITERATIONS = 5  # upstream's n_iters_per_batch


def face_pool(images, size: int):
    """(B, R, R, C) -> (B, size, size, C), as ``torch.nn.AdaptiveAvgPool2d((size, size))``."""
    r = images.shape[1]
    if r == size:
        return images
    if size % r == 0:  # replication: exact, as torch's one-pixel windows
        k = size // r
        return jnp.repeat(jnp.repeat(images, k, 1), k, 2)
    if r % size == 0:
        k = r // size
        return images.reshape(images.shape[0], size, k, size, k, -1).mean(axis=(2, 4))
    return adaptive_pool(images, size)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _average_image(e_def, g_def, e_state, g_state):
    enc, gen = nnx.merge(e_def, e_state), nnx.merge(g_def, g_state)
    img = gen(enc.latent_avg[...][None])[0]
    return face_pool(img, enc.cfg.input_size)[0]


@functools.partial(jax.jit, static_argnums=(0, 1))
def _step(e_def, g_def, e_state, g_state, x, prev, latent):
    """One iteration: (photo, previous pooled image, previous code) -> (residual, code, image)."""
    enc, gen = nnx.merge(e_def, e_state), nnx.merge(g_def, g_state)
    residual = enc(jnp.concatenate([x, prev], axis=-1), add_latent_avg=False)
    codes = residual + latent
    img = gen(codes)[0]
    return residual, codes, img


def average_image(encoder, gen) -> np.ndarray:
    """(S, S, 3): the generator at the encoder's ``latent_avg``, face-pooled to the input size."""
    return np.asarray(_average_image(encoder.graphdef, gen.graphdef, encoder.state, gen.state))


def restyle_step(encoder, gen, x, prev, latent):
    """One teacher-forced iteration on numpy inputs: x and prev (B, S, S, 3), latent (B, N, D).
    Returns (residual, codes, image at the generator's resolution)."""
    return tuple(
        np.asarray(a) for a in _step(encoder.graphdef, gen.graphdef, encoder.state, gen.state, x, prev, latent)
    )


def restyle_invert(encoder, gen, x, iterations: int = DEFAULT_ITERATIONS, progress=None):
    """Iterative W+ of aligned faces ``x`` (B, S, S, 3) in [-1, 1] (S: the encoder's input size).

    Returns (codes (T, B, N, D) of every iteration, the last images (B, R, R, 3)); ``progress(t,
    T)`` after each iteration."""
    c = encoder.config
    if not c.iterative:
        raise InputError(f"iterations need a ReStyle encoder; this is an {c.kind} encoder (one pass)")
    if not 1 <= iterations <= 100:
        raise InputError(f"iterations must be in 1..100, got {iterations}")
    encoder.check_fits(gen)
    x = jnp.asarray(check_array(x, "images", (None, c.input_size, c.input_size, 3)))
    e_def, g_def = encoder.graphdef, gen.graphdef
    avg = _average_image(e_def, g_def, encoder.state, gen.state)
    prev = jnp.broadcast_to(avg, x.shape)
    latent = jnp.broadcast_to(encoder.state["latent_avg"][...], (x.shape[0], c.num_styles, c.style_dim))
    out = []
    for t in range(iterations):
        _, latent, img = _step(e_def, g_def, encoder.state, gen.state, x, prev, latent)
        prev = face_pool(img, c.input_size)
        out.append(np.asarray(latent))
        if progress:
            progress(t + 1, iterations)
    return np.stack(out), np.asarray(img)
