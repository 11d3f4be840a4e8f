"""bf16 error budget and speed against float32, measured in one run.

Run: python bench/bf16.py [--res 256] [--images 8] [--fs3-images 8] [--skip-fs3]

- Images: PSNR (dB, on the [-1, 1] range as 2.0 peak) of bf16 synthesis against float32 for
  ``--images`` W+ samples: a random config-f generator at ``--res`` and the bundled toy world.
- Global directions (toy world, its trained CLIP): fs3 recomputed with ``--fs3-images`` base codes
  in float32 and with generator + CLIP in bf16; cosine of matching rows, and the agreement
  (Jaccard) of the channels a text direction selects, |fs3·Δt| >= β, for β 0.10 / 0.15 / 0.20 over
  every colour / size / shape direction of the toy world.
- Speed: synthesis images/s in both dtypes (on CPU, XLA emulates much of bf16: expect no gain;
  on GPU/TPU bf16 is the fast path, see bench/gpu_suite.py).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import jax
import numpy as np

from styleclip_jax import GeneratorConfig
from styleclip_jax.models.clip import CLIPModel
from styleclip_jax.models.stylegan2 import StyleGAN2
from styleclip_jax.models.stylegan2.random_init import random_generator


def psnr(a, b) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(4.0 / mse)


def as_dtype(gen: StyleGAN2, dtype: str) -> StyleGAN2:
    return StyleGAN2(gen.config, gen.tensors(), gen.source, dtype=dtype)


def image_rows(name: str, gen: StyleGAN2, n: int):
    w = np.asarray(gen.mapping(np.random.default_rng(0).standard_normal((n, gen.config.z_dim)).astype(np.float32), 0.7))
    g16 = as_dtype(gen, "bfloat16")
    out = {}
    for label, g in (("float32", gen), ("bfloat16", g16)):
        img = np.asarray(g.synthesis(w))  # warm-up / compile
        t0 = time.perf_counter()
        jax.block_until_ready(g.synthesis(w))
        out[label] = (img, n / (time.perf_counter() - t0))
    p = [psnr(a, b) for a, b in zip(out["float32"][0], out["bfloat16"][0])]
    print(
        f"{name:22s} PSNR bf16 vs fp32: mean {np.mean(p):.1f} dB, min {np.min(p):.1f} dB over {n}; "
        f"images/s fp32 {out['float32'][1]:.2f}, bf16 {out['bfloat16'][1]:.2f}"
    )
    return {
        "what": name,
        "psnr_mean": float(np.mean(p)),
        "psnr_min": float(np.min(p)),
        "fp32_images_per_s": out["float32"][1],
        "bf16_images_per_s": out["bfloat16"][1],
    }


def fs3_rows(k: int):
    from styleclip_jax.editing.global_directions.relevance import precompute_fs3
    from styleclip_jax.editing.global_directions.text import text_direction
    from styleclip_jax.toyworld import world
    from styleclip_jax.toyworld.bundle import load_world

    tw = load_world()
    clip16 = CLIPModel(tw.clip.config, tw.clip.tensors(), tw.clip.source, dtype="bfloat16")
    tables = {}
    for label, g, c in (("float32", tw.generator, tw.clip), ("bfloat16", as_dtype(tw.generator, "bfloat16"), clip16)):
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            tables[label] = precompute_fs3(g, c, tw.stats, d, num_images=k, progress=False)
        print(f"fs3 {label}: {len(tables[label])} rows x K={k} in {time.perf_counter() - t0:.1f} s")
    a, b = tables["float32"], tables["bfloat16"]
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    dirs = [
        text_direction(tw.clip, "object", f"{v} object")[0]
        for attr in ("colour", "size", "shape")
        for v in world.VOCAB[attr]
    ]
    agree = {}
    for beta in (0.10, 0.15, 0.20):
        jac = []
        for dt in dirs:
            sa, sb = np.abs(a @ dt) >= beta, np.abs(b @ dt) >= beta
            union = np.sum(sa | sb)
            jac.append(1.0 if union == 0 else np.sum(sa & sb) / union)
        agree[beta] = float(np.mean(jac))
    print(
        f"fs3 rows bf16 vs fp32: cosine median {np.median(cos):.4f}, 5th percentile {np.percentile(cos, 5):.4f}, "
        f"min {cos.min():.4f}"
    )
    print(
        "channel selection agreement (Jaccard, mean over "
        + f"{len(dirs)} directions): "
        + ", ".join(f"β {b:.2f}: {v:.3f}" for b, v in agree.items())
    )
    return {
        "rows": int(len(a)),
        "k": k,
        "cos_median": float(np.median(cos)),
        "cos_p5": float(np.percentile(cos, 5)),
        "cos_min": float(cos.min()),
        "selection_jaccard": {str(b): v for b, v in agree.items()},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--fs3-images", type=int, default=8)
    ap.add_argument("--skip-fs3", action="store_true")
    a = ap.parse_args()
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}")
    image_rows(f"random config-f {a.res}", random_generator(GeneratorConfig.ffhq_config_f(a.res)), a.images)
    from styleclip_jax.toyworld.bundle import load_world

    image_rows("toy world (32 px)", load_world(with_stats=False).generator, max(a.images, 64))
    if not a.skip_fs3:
        fs3_rows(a.fs3_images)


if __name__ == "__main__":
    main()
