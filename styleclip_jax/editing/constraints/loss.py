"""Jittable terms for latent optimisation and mapper training, per image (B,).

- ``composed_clip_loss``: Σ_k weight_k · CLIPLoss(x, t_k), one image encoding for every term;
- ``keep_loss``: Σ_k (cos(CLIP(x), keep_k) − cos(CLIP(x₀), keep_k))²: the similarity to each
  keep-text held at its starting value;
- ``outside_loss``: mean squared pixel change outside the region (mask 0), HairCLIP's background
  loss, so that a local edit leaves the rest of the image as it was.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from styleclip_jax.models.clip.loss import loss_from_features


def composed_clip_loss(clip, image_features, text_features, weights=None):
    """``image_features`` (B, E) unit; ``text_features`` (B, E) or (B, K, E); ``weights`` (B, K)."""
    if text_features.ndim == 2:
        return loss_from_features(clip, image_features, text_features)
    per_term = loss_from_features(clip, image_features[:, None, :], text_features)  # (B, K)
    return jnp.sum(per_term * weights, axis=1)


def keep_cosines(image_features, keep):
    """(B, K) cosines of unit image features (B, E) with unit keep-text features (K, E)."""
    return image_features @ keep.T


def keep_loss(image_features, keep, start_cosines):
    """Σ_k (cos now − cos at the start)²: (B,)."""
    return jnp.sum(jnp.square(keep_cosines(image_features, keep) - jax.lax.stop_gradient(start_cosines)), axis=1)


def outside_loss(images, originals, mask):
    """Mean squared change of the pixels outside ``mask`` (B, R, R) (0 = must stay): (B,)."""
    outside = (1.0 - mask)[..., None]
    change = jnp.sum(jnp.square(images - jax.lax.stop_gradient(originals)) * outside, axis=(1, 2, 3))
    return change / jnp.maximum(3.0 * jnp.sum(outside, axis=(1, 2, 3)), 1.0)
