"""The two image paths StyleCLIP feeds CLIP.

1. Loss path (latent optimisation, mapper training): the raw generator output in [-1, 1] at
   S×S goes through ``Upsample(×7, nearest)`` then ``AvgPool2d(S // 32)`` to 224, with no
   mean/std normalisation. That is exactly ``A · x · Aᵀ`` with a (224, S) matrix A; we apply the
   two small matmuls and never build the 7S × 7S upsample. Differentiable and jittable.
2. Standard CLIP preprocess (global directions): uint8 image -> shorter side 224 (bicubic) ->
   centre crop -> /255 -> mean/std. ``preprocess_pil`` reproduces OpenAI's PIL pipeline bit for
   bit on the host; ``preprocess_jax`` is the in-graph approximation (``jax.image.resize``
   bicubic with antialiasing, no uint8 quantisation after the resize).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from styleclip_jax.errors import InputError

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
CLIP_SIZE = 224


@functools.lru_cache(maxsize=16)
def loss_resize_matrix(size: int, out: int = CLIP_SIZE) -> np.ndarray:
    """(out, size) matrix of Upsample(×7 nearest) followed by AvgPool(size // 32) (for out=224)."""
    if size % 32:
        raise InputError(f"the CLIP loss path needs an image side divisible by 32, got {size}")
    up = out // 32                      # 7 for 224
    k = size // 32                      # pooling kernel
    a = np.zeros((out, size), np.float64)
    for i in range(out):
        for j in range(k * i, k * i + k):
            a[i, j // up] += 1.0 / k
    return a.astype(np.float32)


def loss_images(images: jax.Array, normalize: bool = False) -> jax.Array:
    """NHWC (B, S, S, 3) generator output -> (B, 224, 224, 3) CLIP input, as StyleCLIP's CLIPLoss."""
    if images.ndim != 4 or images.shape[1] != images.shape[2] or images.shape[3] != 3:
        raise InputError(f"images must be square NHWC (B, S, S, 3), got {images.shape}")
    a = jnp.asarray(loss_resize_matrix(images.shape[1]), images.dtype)
    x = jnp.einsum("ih,bhwc,jw->bijc", a, images, a)
    if normalize:
        x = ((x + 1) / 2 - MEAN) / STD
    return x


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
    x = (images - lo) / (hi - lo)                                   # [0, 1]
    b, h, w, c = images.shape
    nh, nw, top, left = _resize_crop_geometry(h, w, size)
    if (nh, nw) != (h, w):
        x = jax.image.resize(x, (b, nh, nw, c), method="bicubic", antialias=True)
    x = x[:, top:top + size, left:left + size]
    return (x - MEAN) / STD


def clip_loss(clip_module, images: jax.Array, text_features: jax.Array, normalize: bool = False) -> jax.Array:
    """StyleCLIP's CLIPLoss per image: 1 − logits/100 = 1 − exp(logit_scale)·cos/100; shape (B,).

    ``text_features`` (B, E) or (E,) are paired with the images row by row.
    """
    from styleclip_jax.models.clip.model import normalize as l2n

    fi = l2n(clip_module.encode_image(loss_images(images, normalize)).astype(jnp.float32))
    cos = jnp.sum(fi * l2n(text_features), axis=-1)
    return 1.0 - jnp.exp(clip_module.logit_scale[...]) * cos / 100.0
