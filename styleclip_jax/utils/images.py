"""Image helpers: [-1, 1] float NHWC <-> uint8, grids, PNG writing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def to_uint8(images, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """(…, H, W, C) floats in ``value_range`` -> uint8, clipped and rounded."""
    lo, hi = value_range
    x = (np.asarray(images, np.float32) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def make_grid(images, nrow: int | None = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """(B, H, W, C) uint8 -> one (rows·(H+p)+p, cols·(W+p)+p, C) uint8 grid, ``nrow`` images per row."""
    images = np.asarray(images)
    b, h, w, c = images.shape
    cols = nrow or min(b, 8)
    rows = math.ceil(b / cols)
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, c), pad_value, np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + k * (w + padding)
        grid[y:y + h, x:x + w] = img
    return grid


def before_after_grid(before, after, scale: int = 1) -> np.ndarray:
    """One uint8 grid from [-1, 1] images: a row per sample, columns ``before`` (B, H, W, C) then
    each edit of ``after`` (B, E, H, W, C); ``scale`` > 1 enlarges it (nearest) to be visible."""
    rows = np.concatenate([np.asarray(before)[:, None], np.asarray(after)], axis=1)
    g = make_grid(to_uint8(rows.reshape(-1, *rows.shape[2:])), nrow=rows.shape[1])
    return np.repeat(np.repeat(g, scale, 0), scale, 1) if scale > 1 else g


def save_png(path: str | Path, image_u8: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.asarray(image_u8)).save(str(path))
