"""e4e encoder throughput at full size (IR-SE50, FPN, 18 style blocks of 512): photos/s at batch 1
and 8. Random weights (speed does not depend on values); "first s" includes compilation.

Run: python bench/encoder.py [--batches 1,8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from styleclip_jax.model_dir import expected_shapes_of
from styleclip_jax.models.e4e import Encoder, EncoderConfig


def full_size_config() -> EncoderConfig:
    units, cin = [], 64
    for depth, n in zip((64, 128, 256, 512), (3, 4, 14, 3)):
        units += [(cin, depth, 2)] + [(depth, depth, 1)] * (n - 1)
        cin = depth
    return EncoderConfig(units=tuple(units), se_reductions=(16,) * len(units), taps=(6, 20, 23), fpn_width=512,
                         style_dim=512, style_convs=(4,) * 3 + (5,) * 4 + (6,) * 11)


def random_encoder(cfg: EncoderConfig) -> Encoder:
    rng = np.random.default_rng(0)
    tensors = {}
    for k, shape in expected_shapes_of(Encoder.abstract(cfg)).items():
        v = rng.standard_normal(shape).astype(np.float32) * (0.02 if len(shape) > 1 else 0.1)
        tensors[k] = np.abs(v) + 1 if k.endswith("running_var") else v
    return Encoder(cfg, tensors, {"format": "random"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    dev = jax.devices()[0]
    enc = random_encoder(full_size_config())
    n = sum(int(np.prod(v.shape)) for v in enc.tensors().values())
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}; e4e full size, {n / 1e6:.1f} M values")
    print(f"{'batch':>5} {'first s':>8} {'best s':>8} {'photos/s':>9}")
    for b in map(int, a.batches.split(",")):
        x = np.random.default_rng(1).uniform(-1, 1, (b, 256, 256, 3)).astype(np.float32)
        t0 = time.perf_counter()
        enc.encode(x)
        first, best = time.perf_counter() - t0, float("inf")
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            enc.encode(x)
            best = min(best, time.perf_counter() - t0)
        print(f"{b:>5} {first:>8.2f} {best:>8.3f} {b / best:>9.2f}")


if __name__ == "__main__":
    main()
