"""Pillow's uint8 bicubic resize, reproduced bit for bit as jittable integer matmuls.

Global directions feed CLIP through OpenAI's PIL preprocess (uint8 image -> bicubic resize ->
centre crop -> /255 -> mean/std). To batch that on an accelerator inside the precompute, we
redo what Pillow's ``ImagingResample`` does for 8-bit images:
- per output pixel, bicubic (a = −0.5) weights over the input pixels whose centres lie within
  ``2 · max(scale, 1)``, normalised to sum 1 (``precompute_coeffs``);
- weights turned into fixed point with 22 fraction bits, rounded half away from zero
  (``normalize_coeffs_8bpc``);
- each pass computes ``clip8((2^21 + Σ pixel·weight) >> 22)``: horizontal first, into a uint8
  intermediate, then vertical.
Square generator outputs resized to 224×224 need no crop, so the whole preprocess is two int32
matmuls, a shift and the usual normalisation.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from styleclip_jax.models.clip.preprocess import MEAN, STD

PRECISION_BITS = 32 - 8 - 2


def _bicubic(x: float, a: float = -0.5) -> float:
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


@functools.lru_cache(maxsize=32)
def pil_bicubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) int32 fixed-point weights of Pillow's bicubic resize along one axis."""
    scale = n_in / n_out
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    m = np.zeros((n_out, n_in), np.int64)
    for xx in range(n_out):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in)
        w = np.array([_bicubic((x - center + 0.5) / filterscale) for x in range(xmin, xmax)])
        total = w.sum()
        if total != 0.0:
            w = w / total
        fixed = [math.trunc(k * (1 << PRECISION_BITS) + (-0.5 if k < 0 else 0.5)) for k in w]
        m[xx, xmin:xmax] = fixed
    return m.astype(np.int32)


def _pass(x: jax.Array, m: np.ndarray, axis_spec: str) -> jax.Array:
    acc = jnp.einsum(axis_spec, jnp.asarray(m), x, preferred_element_type=jnp.int32)
    acc = acc + (1 << (PRECISION_BITS - 1))
    return jnp.clip(jnp.right_shift(acc, PRECISION_BITS), 0, 255)


def resize_uint8(images: jax.Array, size: int) -> jax.Array:
    """NHWC uint8-valued (any int dtype) square images -> (B, size, size, C) int32 in [0, 255],
    identical to ``PIL.Image.resize((size, size), BICUBIC)``."""
    b, h, w, c = images.shape
    x = images.astype(jnp.int32)
    if w != size:  # horizontal pass first
        x = _pass(x, pil_bicubic_matrix(w, size), "ow,bhwc->bhoc")
    if h != size:
        x = _pass(x, pil_bicubic_matrix(h, size), "oh,bhwc->bowc")
    return x


def to_uint8_truncate(images: jax.Array) -> jax.Array:
    """[-1, 1] floats -> int32 codes as StyleCLIP's ``GenerateImg``: (x+1)·127.5, clamp, truncate."""
    return jnp.clip((images + 1.0) * 127.5, 0.0, 255.0).astype(jnp.int32)


def preprocess_generated(images: jax.Array, size: int = 224) -> jax.Array:
    """Square generator output NHWC in [-1, 1] -> CLIP input (B, size, size, 3), exactly as
    upstream's global-directions path (uint8 cast, PIL bicubic, /255, mean/std) does it."""
    if images.ndim != 4 or images.shape[1] != images.shape[2]:
        raise ValueError(f"preprocess_generated needs square NHWC images, got {images.shape}")
    x = resize_uint8(to_uint8_truncate(images), size).astype(jnp.float32) / jnp.float32(255.0)
    return (x - MEAN) / STD
