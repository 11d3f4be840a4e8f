"""Image helpers: [-1, 1] float NHWC <-> uint8, grids, PNG writing."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.io.files import atomic_write
from styleclip_jax.validation import check_finite

# Refused before decoding (an 8000 x 8000 photo is fine; a decompression bomb is not).
MAX_IMAGE_PIXELS = 64_000_000


def to_uint8(images, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """(…, H, W, C) floats in ``value_range`` -> uint8, clipped and rounded."""
    lo, hi = value_range
    x = (check_finite("image", np.asarray(images, np.float32)) - lo) * (255.0 / (hi - lo))
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
        grid[y : y + h, x : x + w] = img
    return grid


def before_after_grid(before, after, scale: int = 1) -> np.ndarray:
    """One uint8 grid from [-1, 1] images: a row per sample, columns ``before`` (B, H, W, C) then
    each edit of ``after`` (B, E, H, W, C); ``scale`` > 1 enlarges it (nearest) to be visible."""
    rows = np.concatenate([np.asarray(before)[:, None], np.asarray(after)], axis=1)
    g = make_grid(to_uint8(rows.reshape(-1, *rows.shape[2:])), nrow=rows.shape[1])
    return np.repeat(np.repeat(g, scale, 0), scale, 1) if scale > 1 else g


def save_png(path: str | Path, image_u8: np.ndarray) -> None:
    """Write atomically: an interrupted or failed save never leaves a partial PNG."""
    from PIL import Image

    atomic_write(path, lambda tmp: Image.fromarray(np.asarray(image_u8)).save(str(tmp), format="PNG"))


def read_image(path: str | Path) -> np.ndarray:
    """An image file as uint8 RGB (H, W, 3), the way a person sees it: EXIF rotation applied,
    grayscale / palette / CMYK / RGBA (alpha dropped) converted, 16-bit scaled to 8 bits.
    Anything unreadable, or over ``MAX_IMAGE_PIXELS``, is an InputError naming the file."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p} is a folder, not an image file")
    if not p.is_file():
        raise InputError(f"image {p} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise InputError(
                        f"{p}: {w}x{h} is over the {MAX_IMAGE_PIXELS:,}-pixel limit (a decompression "
                        "bomb, or a photo to downscale first)"
                    )
                im = ImageOps.exif_transpose(im)
                if im.mode.startswith("I;16") or im.mode in ("I", "F"):
                    a = np.asarray(im, np.float64)
                    scale = 255.0 / (65535.0 if a.max() > 255 else 255.0)
                    return np.repeat(np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
                return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(f"{p}: not a readable image ({type(e).__name__})") from None
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"{p}: corrupt or truncated image ({' '.join(str(e).split())[:160]})") from None


def save_edit_grid(path: str | Path, originals, edited) -> None:
    """One row per latent: its original, then each edited version (columns: strengths).
    ``originals`` (B, R, R, 3), ``edited`` (B, A, R, R, 3), both in [-1, 1]."""
    originals, edited = np.asarray(originals), np.asarray(edited)
    grid = np.concatenate([originals[:, None], edited], axis=1)
    save_png(path, make_grid(to_uint8(grid.reshape(-1, *grid.shape[2:])), nrow=grid.shape[1]))
