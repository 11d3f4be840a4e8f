"""One face followed through a clip, and its FFHQ quads smoothed over time (STIT's alignment).

``track_points``: MTCNN on every frame; the first frame with a face picks its largest face, and
each later frame the face nearest to where it was last seen (within ``max_jump`` of its size);
a frame without it is lost (reported, passed through unedited). ``smooth_quads``: each quad as
its centre c and half-axes x, y (``ffhq_quad``), c filtered over time with a Gaussian of
``center_sigma`` frames and x, y with ``xy_sigma`` (STIT's ``crop_faces``; its README runs 1.0 and
3.0), within each run of frames where the face was found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from scipy.ndimage import gaussian_filter1d

from styleclip_jax.faces.align import ffhq_quad

CENTER_SIGMA, XY_SIGMA = 1.0, 3.0


def track_points(frames: Iterable[np.ndarray], detector, max_jump: float = 0.5, progress: Callable | None = None):
    """(points (T, 5, 2) float64, NaN where lost; found (T,) bool) of one face through ``frames``."""
    pts: list[np.ndarray] = []
    last: tuple[np.ndarray, float] | None = None  # (centre, size) of the face where it was last seen
    for t, frame in enumerate(frames):
        faces = detector.detect(frame)
        k = None
        if len(faces) and last is None:
            k = 0  # the largest face of the first frame with one
        elif len(faces) and last is not None:
            centre, side = last
            d = np.hypot(*(faces.boxes.reshape(-1, 2, 2).mean(1) - centre).T)
            j = int(np.argmin(d))
            k = j if d[j] <= max_jump * side else None
        if k is not None:
            box = faces.boxes[k]
            last = (box.reshape(2, 2).mean(0), float(max(box[2] - box[0], box[3] - box[1])))
        pts.append(np.full((5, 2), np.nan) if k is None else np.asarray(faces.points[k], np.float64))
        if progress:
            progress(t + 1, None)
    points = np.stack(pts)
    return points, ~np.isnan(points[:, 0, 0])


def quads_of(points: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(T, 4, 2) FFHQ quads of the found frames (NaN elsewhere)."""
    return np.stack([ffhq_quad(p)[0] if f else np.full((4, 2), np.nan) for p, f in zip(points, found)])


def _runs(found: np.ndarray) -> list[slice]:
    runs, start = [], None
    for t, f in enumerate(list(found) + [False]):
        if f and start is None:
            start = t
        elif not f and start is not None:
            runs.append(slice(start, t))
            start = None
    return runs


def smooth_quads(quads: np.ndarray, found: np.ndarray, center_sigma=CENTER_SIGMA, xy_sigma=XY_SIGMA) -> np.ndarray:
    """Quads (T, 4, 2) smoothed over time (see the module docstring); lost frames stay NaN."""
    out = np.array(quads, np.float64)
    for r in _runs(found):
        q = out[r]
        c, x, y = q.mean(1), (q[:, 3] - q[:, 0]) / 2, (q[:, 1] - q[:, 0]) / 2
        if center_sigma > 0:
            c = gaussian_filter1d(c, center_sigma, axis=0)
        if xy_sigma > 0:
            x, y = gaussian_filter1d(x, xy_sigma, axis=0), gaussian_filter1d(y, xy_sigma, axis=0)
        out[r] = np.stack([c - x - y, c - x + y, c + x + y, c + x - y], axis=1)
    return out


def jitter(quads: np.ndarray, found: np.ndarray) -> float:
    """RMS of the second difference over time of the quad corners (px), over found frames."""
    d2 = [np.diff(quads[r], n=2, axis=0) for r in _runs(found) if r.stop - r.start >= 3]
    return float(np.sqrt(np.mean(np.concatenate(d2) ** 2))) if d2 else 0.0
