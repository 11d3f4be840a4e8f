"""Photo files -> face-parsing label maps: the host driver behind ``styleclip-jax parse``.

Per image ``<stem>_labels.png`` (class ids as 8-bit grey, at the photo's size), ``<stem>_overlay.png``
(the photo under a colour per class) and, for all images, ``labels.npz`` ({stem: (H, W) uint8})
plus ``classes.json`` (id -> name).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from styleclip_jax.faces.photos import check_unique_stems, expand_images
from styleclip_jax.io.files import atomic_write, refuse_nonempty_dir
from styleclip_jax.io.images import read_image, save_png
from styleclip_jax.progress import callback

# one colour per class id (HSV hues spread with a golden-ratio step; 0 = background stays grey)
_HUES = (np.arange(32) * 0.618034) % 1.0


def palette(n: int) -> np.ndarray:
    """(n, 3) uint8 colours, class 0 (background) grey."""
    h = _HUES[:n, None]
    rgb = np.clip(np.abs((h * 6 + np.array([0.0, 4.0, 2.0])) % 6 - 3) - 1, 0, 1)  # HSV hue, S = V = 1
    out = (40 + 200 * rgb).astype(np.uint8)
    out[0] = 128
    return out


def overlay(photo_u8: np.ndarray, labels: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """The photo (H, W, 3) uint8 under the class colours of ``labels`` (H, W)."""
    colours = palette(int(labels.max()) + 1)[labels]
    return np.round((1 - opacity) * photo_u8 + opacity * colours).astype(np.uint8)


def parse_photos(
    paths, out_dir, parser, overwrite: bool = False, progress: Callable | None = None, batch_size: int = 8
) -> dict:
    """Parse every photo of ``paths`` (files or folders) into ``out_dir``; returns {stem: labels}."""
    items = [f for f, _ in expand_images(paths)]
    check_unique_stems(items, "label maps")
    refuse_nonempty_dir(out_dir, overwrite)
    photos = [read_image(f) for f in items]  # every file is read (and refused) before any work
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = callback(progress)
    labels = {}
    for start in range(0, len(items), batch_size):  # a batch at a time: photos of one size share a call
        chunk = slice(start, start + batch_size)
        for f, photo, lab in zip(items[chunk], photos[chunk], parser.labels_of_photos(photos[chunk], batch_size)):
            save_png(out / f"{f.stem}_labels.png", lab)
            save_png(out / f"{f.stem}_overlay.png", overlay(photo, lab))
            labels[f.stem] = lab
        report(min(start + batch_size, len(items)), len(items))
    atomic_write(out / "labels.npz", lambda p: np.savez(p, **labels))
    names = dict(enumerate(parser.config.class_names))
    atomic_write(out / "classes.json", lambda p: Path(p).write_text(json.dumps(names, indent=1)))
    return labels
