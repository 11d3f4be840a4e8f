"""Generator throughput: images/s at 256 and 1024 px, batch 1 and 8, on the default JAX device.

Run: python bench/generator.py [--resolutions 256,1024] [--batches 1,8] [--repeats 3]
                               [--models sg2,sg3t,sg3r]
Random weights (speed does not depend on the values): StyleGAN2 config-f, StyleGAN3-T and -R at
train.py's channel settings. Times exclude compilation, which is reported separately. Prints a
table and the batch-8 / batch-1 throughput ratio measured side by side in this run.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from styleclip_jax import GeneratorConfig


def make(model: str, res: int):
    if model == "sg2":
        from styleclip_jax.models.stylegan2.random_init import random_generator

        return random_generator(GeneratorConfig.ffhq_config_f(res), seed=0)
    from styleclip_jax.models.stylegan3.config import SG3Config
    from styleclip_jax.models.stylegan3.random_init import random_generator

    cfg = {"sg3t": SG3Config.t_config, "sg3r": SG3Config.r_config}[model](res)
    return random_generator(cfg, seed=0, calibrate=1)


def bench(model: str, res: int, batches, repeats: int):
    g = make(model, res)
    rows = []
    for b in batches:
        w = np.asarray(g.mapping(np.random.RandomState(0).randn(b, 512).astype(np.float32), 0.7))
        t0 = time.perf_counter()
        g.synthesis(w).block_until_ready()
        compile_s = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            g.synthesis(w).block_until_ready()
            times.append(time.perf_counter() - t0)
        best = min(times)
        rows.append((model, res, b, compile_s, best, b / best))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolutions", default="256,1024")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="sg2", help="comma list of sg2, sg3t, sg3r")
    a = ap.parse_args()
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), {jax.device_count()} device(s), jax {jax.__version__}")
    print(f"{'model':>5} {'res':>5} {'batch':>5} {'first call s':>12} {'best s':>8} {'images/s':>9}")
    for model in a.models.split(","):
        for res in map(int, a.resolutions.split(",")):
            rows = bench(model, res, [int(b) for b in a.batches.split(",")], a.repeats)
            for m, r, b, c, t, ips in rows:
                print(f"{m:>5} {r:>5} {b:>5} {c:>12.2f} {t:>8.3f} {ips:>9.2f}", flush=True)
            if len(rows) > 1:
                print(
                    f"      {model} batch {rows[-1][2]} / batch {rows[0][2]} throughput ratio at {res}px: "
                    f"{rows[-1][5] / rows[0][5]:.2f}x"
                )


if __name__ == "__main__":
    main()
