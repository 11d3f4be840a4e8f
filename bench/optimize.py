"""Latent optimisation speed (method A): optimisation steps per second, measured in one run.

Run: python bench/optimize.py [--sizes tiny,1024] [--batches 1,8] [--steps 4]
- "1024": random config-f 1024 generator + random ViT-B/32 CLIP (the upstream setting), W+.
- "tiny": the 64 px generator layout of the golden files + a small random CLIP.
Each measurement compiles the whole ``steps``-step scan once, then times a second call.
Upstream reference: 0.5 s/step at 1024, batch 1, on a Colab GPU (2021; spec §1), i.e. 2 steps/s.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from styleclip_jax import GeneratorConfig
from styleclip_jax.editing import OptimizeConfig, optimize
from styleclip_jax.models.clip import CLIPConfig
from styleclip_jax.models.clip.random_init import random_clip
from styleclip_jax.models.stylegan2.random_init import random_generator

UPSTREAM_STEPS_PER_S = 2.0


def models(size: str):
    if size == "1024":
        return random_generator(GeneratorConfig.ffhq_config_f(1024)), random_clip()
    gen = random_generator(GeneratorConfig.rosinality(64, 64, 2, channels={4: 64, 8: 64, 16: 32, 32: 32, 64: 16}))
    return gen, random_clip(CLIPConfig(512, 224, 32, 128, 2, 2, 77, 49408, 64, 3, 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="tiny,1024")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}")
    print(
        f"{'size':>5} {'batch':>5} {'first s':>8} {'run s':>8} {'steps/s':>8} {'pair-steps/s':>12} {'vs upstream':>11}"
    )
    cfg = OptimizeConfig(steps=a.steps)
    for size in a.sizes.split(","):
        gen, clip = models(size)
        for b in map(int, a.batches.split(",")):
            lat = np.asarray(gen.mapping(np.random.RandomState(0).randn(b, gen.config.z_dim).astype(np.float32), 0.7))
            t0 = time.perf_counter()
            optimize(gen, clip, "a person with purple hair", lat, config=cfg)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            optimize(gen, clip, "a person with purple hair", lat, config=cfg)
            run = time.perf_counter() - t0
            sps = a.steps / run
            ratio = f"{sps * b / UPSTREAM_STEPS_PER_S:.2f}x" if size == "1024" else "-"
            print(f"{size:>5} {b:>5} {first:>8.2f} {run:>8.2f} {sps:>8.2f} {sps * b:>12.2f} {ratio:>11}")


if __name__ == "__main__":
    main()
