"""CLIP's loss path in StyleCLIP (latent optimisation, mapper training): the CLIP loss itself.

The raw generator output in [-1, 1] at S×S goes through ``Upsample(×7, nearest)`` then
``AvgPool2d(S // 32)`` to 224, with no mean/std normalisation. That is exactly ``A · x · Aᵀ``
with a (224, S) matrix A; we apply the two small matmuls and never build the 7S × 7S upsample.
Differentiable and jittable. The standard CLIP preprocess (global directions) is in
``preprocess.py``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.models.clip.network import normalize as l2n
from styleclip_jax.models.clip.preprocess import CLIP_SIZE, MEAN, STD


@functools.lru_cache(maxsize=16)
def loss_resize_matrix(size: int, out: int = CLIP_SIZE) -> np.ndarray:
    """(out, size) matrix of Upsample(×7 nearest) followed by AvgPool(size // 32) (for out=224)."""
    if size % 32:
        raise InputError(f"the CLIP loss path needs an image side divisible by 32, got {size}")
    up = out // 32  # 7 for 224
    k = size // 32  # pooling kernel
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


def loss_features(clip_module, images: jax.Array, normalize: bool = False) -> jax.Array:
    """Unit CLIP image features (B, E) of generator images (B, S, S, 3) through the loss path."""
    return l2n(clip_module.encode_image(loss_images(images, normalize)).astype(jnp.float32))


def loss_from_features(clip_module, image_features: jax.Array, text_features: jax.Array) -> jax.Array:
    """CLIPLoss from unit image features (B, E) and text features (B, E) or (E,): (B,)."""
    cos = jnp.sum(image_features * l2n(text_features), axis=-1)
    return 1.0 - jnp.exp(clip_module.logit_scale[...]) * cos / 100.0


def clip_loss(clip_module, images: jax.Array, text_features: jax.Array, normalize: bool = False) -> jax.Array:
    """StyleCLIP's CLIPLoss per image: 1 − logits/100 = 1 − exp(logit_scale)·cos/100; shape (B,).

    ``text_features`` (B, E) or (E,) are paired with the images row by row.
    """
    return loss_from_features(clip_module, loss_features(clip_module, images, normalize), text_features)
