"""e4e's inference preprocessing, numpy + Pillow only: serving through onnxruntime feeds the
exported encoder with it and needs no JAX."""

from __future__ import annotations

import numpy as np
from PIL import Image

from styleclip_jax.errors import InputError


def preprocess(images_u8, size: int = 256) -> np.ndarray:
    """uint8 RGB photos (each (H, W, 3)) -> (B, size, size, 3) float32 in [-1, 1], as e4e's
    ``transform_inference``: PIL bilinear resize (antialiased when shrinking), then (x/255 − 0.5)/0.5.
    numpy + Pillow only, so serving with onnxruntime needs no JAX."""
    out = []
    for a in images_u8:
        a = np.asarray(a)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise InputError(f"photos must be uint8 RGB (H, W, 3), got {a.dtype} {a.shape}")
        if a.shape[:2] != (size, size):
            a = np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.BILINEAR))
        out.append((a.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5))
    return np.stack(out)
