"""uint8 photos at a network's input size, as the PyTorch originals make them: a check, then PIL's
bilinear resize (antialiased when shrinking). numpy + Pillow only (the ONNX runtime uses it)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from styleclip_jax.errors import InputError

MIN_SIDE = 16  # px: a smaller photo holds no face for any network here


def photos_at(photos_u8, size: int) -> np.ndarray:
    """uint8 RGB photos (each (H, W, 3)) -> (B, size, size, 3) float32 in [0, 1] (÷255 in float32)."""
    out = []
    for a in photos_u8:
        a = np.asarray(a)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise InputError(f"photos must be uint8 RGB (H, W, 3), got {a.dtype} {a.shape}")
        if min(a.shape[:2]) < MIN_SIDE:
            raise InputError(f"a {a.shape[1]}x{a.shape[0]} photo is too small (each side at least {MIN_SIDE} px)")
        if a.shape[:2] != (size, size):
            a = np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.BILINEAR))
        out.append(a.astype(np.float32) / np.float32(255))
    if not out:
        raise InputError("no photos given")
    return np.stack(out)
