"""Standard CLIP preprocess (global directions; the loss path is in ``loss.py``).

uint8 image -> shorter side 224 (bicubic) -> centre crop -> /255 -> mean/std. ``preprocess_pil``
reproduces OpenAI's PIL pipeline bit for bit on the host; ``preprocess_jax`` is the in-graph
approximation (``jax.image.resize`` bicubic with antialiasing, no uint8 quantisation after the
resize).
"""

from __future__ import annotations

import jax
import numpy as np

from styleclip_jax.errors import InputError

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
CLIP_SIZE = 224


def to_uint8_like_upstream(images) -> np.ndarray:
    """[-1, 1] float -> uint8 as StyleCLIP's global_torch ``GenerateImg``: (x+1)·127.5, clamp, truncate."""
    return np.clip((np.asarray(images, np.float32) + 1.0) * 127.5, 0, 255).astype(np.uint8)


def _resize_crop_geometry(h: int, w: int, size: int):
    short, long = (h, w) if h <= w else (w, h)
    new_long = int(size * long / short)
    nh, nw = (size, new_long) if h <= w else (new_long, size)
    top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
    return nh, nw, top, left


def preprocess_pil(images_u8, size: int = CLIP_SIZE) -> np.ndarray:
    """uint8 HWC image(s) -> (B, size, size, 3) float32, identical to OpenAI's ``preprocess`` (PIL)."""
    from PIL import Image

    arr = [np.asarray(images_u8)] if np.asarray(images_u8).ndim == 3 else list(images_u8)
    out = []
    for a in arr:
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise InputError(f"preprocess_pil needs uint8 (H, W, 3) images, got {a.dtype} {a.shape}")
        im = Image.fromarray(a)
        nh, nw, top, left = _resize_crop_geometry(a.shape[0], a.shape[1], size)
        if (nh, nw) != a.shape[:2]:
            im = im.resize((nw, nh), Image.BICUBIC)
        im = im.crop((left, top, left + size, top + size)).convert("RGB")
        x = np.asarray(im, np.float32) / np.float32(255.0)
        out.append((x - MEAN) / STD)
    return np.stack(out).astype(np.float32)


def preprocess_jax(images: jax.Array, size: int = CLIP_SIZE, value_range=(-1.0, 1.0)) -> jax.Array:
    """In-graph standard preprocess of NHWC floats in ``value_range`` (jittable, differentiable)."""
    lo, hi = value_range
    x = (images - lo) / (hi - lo)  # [0, 1]
    b, h, w, c = images.shape
    nh, nw, top, left = _resize_crop_geometry(h, w, size)
    if (nh, nw) != (h, w):
        x = jax.image.resize(x, (b, nh, nw, c), method="bicubic", antialias=True)
    x = x[:, top : top + size, left : left + size]
    return (x - MEAN) / STD
