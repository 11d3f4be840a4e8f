"""Test clips made here (no downloads): the toy world's own frames along a path in W, and a photo
moved along a smooth synthetic camera path with per-frame jitter, each with an optional sine-wave
audio track. The video tests, `bench/video.py` and the docs picture use them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from styleclip_jax.io.images import to_uint8
from styleclip_jax.io.video import write_video


def toy_clip(gen, n: int = 12, seed: int = 0, truncation: float = 0.7) -> np.ndarray:
    """(n, R, R, 3) uint8: the generator's frames along a straight line between two samples' W."""
    z = np.random.default_rng(seed).standard_normal((2, gen.config.z_dim)).astype(np.float32)
    w = np.asarray(gen.mapping(z, truncation))
    t = np.linspace(0.0, 1.0, n)[:, None, None]
    return to_uint8(np.asarray(gen.synthesis(w[:1] * (1 - t) + w[1:] * t)))


def camera_clip(photo: np.ndarray, n: int = 10, size: int = 256, jitter: float = 2.0, seed: int = 0) -> np.ndarray:
    """(n, size, size, 3) uint8: a window of ``photo`` panning and zooming smoothly, plus N(0,
    ``jitter``) px of independent shake per frame (what per-frame detection adds)."""
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    img = Image.fromarray(photo)
    out = []
    for i in range(n):
        t = i / max(n - 1, 1)
        side = min(h, w) * (0.80 - 0.06 * t)
        cx = w / 2 + (t - 0.5) * 0.08 * w + rng.normal(0, jitter)
        cy = h / 2 + (t - 0.5) * 0.04 * h + rng.normal(0, jitter)
        box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        out.append(np.asarray(img.transform((size, size), Image.Transform.EXTENT, box, Image.Resampling.BILINEAR)))
    return np.stack(out)


def write_clip(path, frames, fps: Fraction = Fraction(25), audio_seconds: float | None = None) -> Path:
    """Write frames as H.264 with, when ``audio_seconds`` is given, a 440 Hz AAC track of that length."""
    path = Path(path)
    if audio_seconds is None:
        return write_video(path, frames, fps)
    import av  # lazy: optional dependency (video extra)

    tmp = path.with_name(path.stem + ".sound.mp4")
    with av.open(str(tmp), "w") as o:
        a = o.add_stream("aac", rate=16000)
        a.layout = "mono"
        t = np.arange(int(16000 * audio_seconds)) / 16000
        f = av.AudioFrame.from_ndarray(
            (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp", layout="mono"
        )
        f.sample_rate = 16000
        for p in a.encode(f):
            o.mux(p)
        for p in a.encode():
            o.mux(p)
    try:
        return write_video(path, frames, fps, audio_from=tmp)
    finally:
        tmp.unlink()
