"""e4e's inference preprocessing, numpy + Pillow only: serving through onnxruntime feeds the
exported encoder with it and needs no JAX."""

from __future__ import annotations

import numpy as np

from styleclip_jax.models.photo_input import photos_at


def preprocess(images_u8, size: int = 256) -> np.ndarray:
    """uint8 RGB photos (each (H, W, 3)) -> (B, size, size, 3) float32 in [-1, 1], as e4e's
    ``transform_inference``: PIL bilinear resize (antialiased when shrinking), then (x/255 − 0.5)/0.5.
    numpy + Pillow only, so serving with onnxruntime needs no JAX."""
    return (photos_at(images_u8, size) - np.float32(0.5)) / np.float32(0.5)
