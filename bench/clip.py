"""CLIP ViT-B/32 throughput: image and text embeddings per second, batch 1 and 8.

Run: python bench/clip.py [--batches 1,8] [--repeats 3] [--dtype float32|bfloat16]
Random weights (speed does not depend on values); first-call time includes compilation.
Also times the StyleCLIP loss image path (1024 px -> 224 separable resize) at batch 8.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from styleclip_jax.models.clip import loss_images, tokenize
from styleclip_jax.models.clip.random_init import random_clip
from styleclip_jax.utils.timing import time_calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtype", default="float32")
    a = ap.parse_args()
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}, CLIP ViT-B/32 {a.dtype}")
    m = random_clip(dtype=a.dtype)
    print(f"{'what':>6} {'batch':>5} {'first s':>8} {'best s':>8} {'per s':>8}")
    for b in map(int, a.batches.split(",")):
        imgs = np.random.default_rng(1).standard_normal((b, 224, 224, 3)).astype(np.float32)
        toks = tokenize(["a photo of a smiling face with purple hair"] * b)
        for what, fn in (("image", lambda: m.encode_image(imgs)), ("text", lambda: m.encode_text(toks))):
            first, best = time_calls(fn, a.repeats)
            print(f"{what:>6} {b:>5} {first:>8.3f} {best:>8.4f} {b / best:>8.1f}")
    x = jnp.asarray(np.random.default_rng(2).standard_normal((8, 1024, 1024, 3)).astype(np.float32))
    f = jax.jit(loss_images)
    first, best = time_calls(lambda: f(x), a.repeats)
    print(f"loss-path resize 1024->224, batch 8: {best * 1000:.1f} ms")


if __name__ == "__main__":
    main()
