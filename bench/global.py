"""Global directions speed (method C): fs3 precompute throughput and edit latency, in one run.

Run: python bench/global.py [--sizes tiny,1024] [--images 2] [--chunk 2] [--image-batch 4]
- "1024": random config-f 1024 generator + random ViT-B/32 CLIP (upstream's setting).
- "tiny": the ada_tiny golden layout (32 px) + the small CLIP layout.
Precompute: one compiled chunk of ``chunk`` channels × ``images`` base images × 2 renders
(render -> uint8 -> PIL-exact bicubic -> CLIP), timed on its second call. The projection for
the full upstream job is 6048 channels × 100 images × 2 renders at the measured renders/s.
Edit: Δt from 2 × 79 templated prompts + boundary + one 1024 render, after a warm-up.
Upstream: "4 h" of preprocessing in the paper's Table 1 (README: "a few hours"; users report up
to a day for custom generators), batch 1 in a Python loop; edits 72 ms.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import jax
import numpy as np

from styleclip_jax import GeneratorConfig
from styleclip_jax.editing.global_directions.core import global_edit
from styleclip_jax.editing.global_directions.relevance import precompute_fs3
from styleclip_jax.editing.global_directions.stats import compute_stats
from styleclip_jax.models.clip import CLIPConfig
from styleclip_jax.models.clip.random_init import random_clip
from styleclip_jax.models.stylegan2.random_init import random_generator

FULL_RENDERS = 6048 * 100 * 2
UPSTREAM_PRECOMPUTE_S = 4 * 3600
UPSTREAM_EDIT_MS = 72.0


def models(size: str):
    if size == "1024":
        return random_generator(GeneratorConfig.ffhq_config_f(1024)), random_clip()
    cfg = GeneratorConfig(
        resolution=32,
        z_dim=64,
        w_dim=64,
        mapping_dims=(64, 64),
        channels=((4, 64), (8, 64), (16, 32), (32, 16)),
        source="random",
    )
    return random_generator(cfg), random_clip(CLIPConfig(512, 224, 32, 128, 2, 2, 77, 49408, 64, 3, 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="tiny,1024")
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=2)
    ap.add_argument("--image-batch", type=int, default=4)
    a = ap.parse_args()
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}; {len(jax.devices())} device(s)")
    print(
        f"{'size':>5} {'renders':>7} {'first s':>8} {'run s':>7} {'renders/s':>9} {'ch/s (K=100)':>12} "
        f"{'full job h':>10} {'vs upstream 4 h':>15} {'edit ms':>8}"
    )
    for size in a.sizes.split(","):
        gen, clip = models(size)
        stats = compute_stats(gen, n=2000, keep=a.images, batch=500)
        layer = next(l.name for l in gen.config.style_layers if not l.is_torgb)
        sub = {layer: list(range(a.chunk))}
        kw = dict(
            num_images=a.images,
            channels_per_chunk=a.chunk,
            image_batch=a.image_batch,
            channel_subset=sub,
            progress=False,
            devices=1,
        )
        with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
            t0 = time.perf_counter()
            precompute_fs3(gen, clip, stats, d1, **kw)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            precompute_fs3(gen, clip, stats, d2, **kw)
            run = time.perf_counter() - t0
        renders = a.chunk * a.images * 2
        rps = renders / run
        full_h = FULL_RENDERS / rps / 3600
        stats.fs3 = np.random.default_rng(0).standard_normal((stats.num_manipulable, 512)).astype(np.float32)
        stats.fs3 /= np.linalg.norm(stats.fs3, axis=1, keepdims=True)
        w = np.asarray(gen.mapping(np.random.RandomState(0).randn(1, gen.config.z_dim).astype(np.float32), 0.7))
        edit = [{"neutral": "face", "target": "smiling face", "beta": 0.05}]
        global_edit(gen, clip, stats, w, edit)
        t0 = time.perf_counter()
        global_edit(gen, clip, stats, w, edit)
        edit_ms = (time.perf_counter() - t0) * 1e3
        ratio = f"{UPSTREAM_PRECOMPUTE_S / (full_h * 3600):.3f}x" if size == "1024" else "-"
        print(
            f"{size:>5} {renders:>7} {first:>8.2f} {run:>7.2f} {rps:>9.2f} {rps / 200:>12.4f} {full_h:>10.1f} "
            f"{ratio:>15} {edit_ms:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
