"""Edit regions: (H, W) or (N, H, W) float masks in [0, 1] at the generator's resolution, where
1 (white) marks pixels the edit may change; and the explicit feathered output blend.

A mask of the wrong size, an empty one (nothing may change), or one with NaN is refused by name:
an edit under such a mask would silently do nothing or everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.io.images import read_image


def check_mask(mask, resolution: int, n: int | None = None, what: str = "mask") -> np.ndarray:
    """A float32 mask (R, R) or (N, R, R) in [0, 1] (``n``: the number of latents a per-latent
    mask must match). Raises on another size, NaN, values outside [0, 1] or an all-zero mask."""
    m = np.asarray(mask, np.float32)
    if m.ndim not in (2, 3) or m.shape[-2:] != (resolution, resolution):
        raise InputError(
            f"{what} has shape {m.shape}; this generator makes {resolution}x{resolution} images, so the "
            f"mask must be ({resolution}, {resolution}) or (N, {resolution}, {resolution})"
        )
    if m.ndim == 3 and n is not None and len(m) != n:
        raise InputError(f"{what} holds {len(m)} per-image masks for {n} latents")
    if not np.all(np.isfinite(m)) or m.min() < 0 or m.max() > 1:
        raise InputError(f"{what} values must be finite and in [0, 1] (1 = may change)")
    empty = m.reshape(-1, resolution * resolution).max(axis=1) == 0
    if np.any(empty):
        which = "" if m.ndim == 2 else f" (image {int(np.argmax(empty))})"
        raise InputError(f"{what} is empty{which}: no pixel may change, so there is nothing to edit")
    return m


def read_mask(path, resolution: int) -> np.ndarray:
    """A mask PNG (any mode; its luminance: white = may change) as (R, R) float32 in [0, 1]."""
    img = read_image(path)  # one-line errors for missing / corrupt files
    gray = img.astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32) / 255.0
    return check_mask(np.clip(gray, 0, 1), resolution, what=f"mask {Path(path).name}")


def box_mask(box: Sequence[float], resolution: int) -> np.ndarray:
    """(R, R) mask that is 1 inside the pixel box ``(x0, y0, x1, y1)`` (x1, y1 exclusive)."""
    if len(box) != 4:
        raise InputError(f"a box is x0,y0,x1,y1 (4 numbers), got {list(box)}")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(np.isfinite([x0, y0, x1, y1])):
        raise InputError(f"box {list(box)} must be finite")
    if not (0 <= x0 < x1 <= resolution and 0 <= y0 < y1 <= resolution):
        raise InputError(
            f"box {list(box)} must satisfy 0 <= x0 < x1 <= {resolution} and 0 <= y0 < y1 <= "
            f"{resolution} (pixels of the {resolution}x{resolution} image)"
        )
    m = np.zeros((resolution, resolution), np.float32)
    m[int(np.floor(y0)) : int(np.ceil(y1)), int(np.floor(x0)) : int(np.ceil(x1))] = 1.0
    return check_mask(m, resolution, what="box")


def region(resolution: int, mask=None, box=None, n: int | None = None, blend: float | None = None) -> np.ndarray | None:
    """The edit region from at most one of a mask (a PNG path or an array) and a box; None: none.
    A ``blend`` radius needs a region to composite through."""
    if mask is not None and box is not None:
        raise InputError("give a `mask` or a `box`, not both")
    if blend is not None and mask is None and box is None:
        raise InputError("`blend` composites through a region: give a `mask` or a `box`")
    if box is not None:
        return box_mask(box, resolution)
    if mask is None:
        return None
    if isinstance(mask, (str, Path)):
        return read_mask(mask, resolution)
    return check_mask(mask, resolution, n)


def named_region(parser, images, names: str, grow: int = 0, if_empty: str = "refuse") -> np.ndarray:
    """(B, R, R) float32: where ``parser`` (a ``FaceParser``, or anything with ``region(images,
    names)``, like the toy world's object finder) sees ``names`` ("hair", "face+hair",
    "background") on ``images`` (B, R, R, 3) in [-1, 1], grown by ``grow`` pixels. Pass it as
    ``mask=`` to any method: the region of the start images. ``if_empty``: "refuse" (an image
    without the region is an error) or "whole" (that image may change everywhere)."""
    m = np.asarray(parser.region(np.asarray(images, np.float32), names), np.float32)
    if if_empty == "whole":
        m[m.reshape(len(m), -1).max(axis=1) == 0] = 1.0
    if grow:
        from scipy.ndimage import binary_dilation

        m = binary_dilation(m > 0.5, np.ones((1, 2 * grow + 1, 2 * grow + 1), bool)).astype(np.float32)
    return check_mask(m, m.shape[-1], len(m), what=f"region {names!r}")


def per_pair(mask: np.ndarray | None, latent_index: np.ndarray) -> np.ndarray | None:
    """A region for each (latent, prompt) pair: (P, R, R) from (R, R) or per-latent (N, R, R)."""
    if mask is None:
        return None
    return (
        np.broadcast_to(mask, (len(latent_index),) + mask.shape[-2:]).copy() if mask.ndim == 2 else mask[latent_index]
    )


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """The mask blurred by a Gaussian of std ``radius`` pixels (0: unchanged), values in [0, 1]."""
    if radius < 0 or not np.isfinite(radius):
        raise InputError(f"the blend's feather radius must be >= 0 pixels, got {radius}")
    if radius == 0:
        return mask
    from scipy.ndimage import gaussian_filter

    sigma = (0,) * (mask.ndim - 2) + (radius, radius)
    return np.clip(gaussian_filter(mask.astype(np.float32), sigma, mode="nearest"), 0, 1)


def blend(original, edited, mask: np.ndarray, radius: float) -> np.ndarray:
    """Output blend ``m·edited + (1 − m)·original`` with the mask feathered by ``radius`` px.
    ``original`` / ``edited`` (..., R, R, 3); ``mask`` (R, R) or with the leading dims of the
    images. The latents are untouched: only the pixels are composited, and only when asked."""
    m = feather(np.asarray(mask, np.float32), radius)[..., None]
    e, o = np.asarray(edited, np.float32), np.asarray(original, np.float32)
    return m * e + (1 - m) * o


def blend_columns(original, edited, mask: np.ndarray, radius: float) -> np.ndarray:
    """``blend`` for a grid: ``original`` (B, R, R, 3), ``edited`` (B, A, R, R, 3) (A strengths or
    edits per latent), ``mask`` (R, R) or one per latent (B, R, R)."""
    return blend(np.asarray(original)[:, None], edited, mask if mask.ndim == 2 else mask[:, None], radius)


def pool(mask: np.ndarray, size: int) -> np.ndarray:
    """Area-average (…, R, R) down to (…, size, size); R must be a multiple of ``size``."""
    r = mask.shape[-1]
    if r % size:
        raise InputError(f"cannot pool a {r}x{r} mask to {size}x{size}")
    k = r // size
    return mask.reshape(mask.shape[:-2] + (size, k, size, k)).mean(axis=(-3, -1))
