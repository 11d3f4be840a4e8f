"""Inversion speed at full size: PTI (config-f 1024 generator + AlexNet LPIPS at real widths, one
photo, Adam on every synthesis weight) in steps/s and seconds per photo at upstream's 350 steps;
ReStyle (IR-SE50 6-channel encoder + the 1024 generator) in photos/s per iteration, batch 1 and 4.
Random weights (speed does not depend on values); "first s" includes compilation.

Run: python bench/inversion.py [--size 1024] [--repeats 2] [--skip-pti]
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from styleclip_jax import GeneratorConfig
from styleclip_jax.editing.inversion.config import PTIConfig
from styleclip_jax.editing.inversion.pti import stepper
from styleclip_jax.editing.inversion.restyle import restyle_step
from styleclip_jax.editing.inversion.training import encoder_config_for, init_encoder
from styleclip_jax.models.lpips import random_lpips
from styleclip_jax.models.stylegan2.random_init import random_generator
from styleclip_jax.utils.timing import time_calls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--skip-pti", action="store_true")
    args = ap.parse_args(argv)
    cfg = GeneratorConfig.ffhq_config_f(args.size) if args.size >= 256 else GeneratorConfig.rosinality(args.size, 64, 2)
    gen = random_generator(cfg)
    rng = np.random.default_rng(0)
    w = np.asarray(gen.mapping(rng.standard_normal((4, cfg.z_dim)).astype(np.float32), 0.7))
    print(f"inversion at {args.size}px, {jax.devices()[0].platform}")
    print(f"{'what':34s} {'batch':>5s} {'first s':>8s} {'best s':>8s} {'per s':>9s}")
    if not args.skip_pti:
        lp = random_lpips("alex", 0)
        target = np.asarray(gen.synthesis(w[1:2]))
        state, update, _, _ = stepper(gen, lp, PTIConfig(), early_stop=True)
        box = [state]

        def step():
            box[0], m = update(box[0], w[:1], target, 0)
            return m["loss"]

        first, best = time_calls(step, args.repeats)
        print(f"{'PTI step (fwd + bwd + Adam)':34s} {1:5d} {first:8.2f} {best:8.3f} {1 / best:9.3f}")
        print(f"PTI: {350 * best:.0f} s per photo at upstream's 350 steps (without its LPIPS early stop)")
    enc = init_encoder(encoder_config_for(gen, restyle=True), gen)
    for b in (1, 4):
        x = rng.uniform(-1, 1, (b, 256, 256, 3)).astype(np.float32)
        lat = np.repeat(np.asarray(enc.tensors()["latent_avg"])[None], b, 0)
        first, best = time_calls(lambda: restyle_step(enc, gen, x, x, lat)[1], args.repeats)
        print(f"{'ReStyle iteration (encode + decode)':34s} {b:5d} {first:8.2f} {best:8.3f} {b / best:9.3f}")
    print(f"ReStyle: {5 * best / 4:.2f} s per photo at upstream's 5 iterations (batch 4)")


if __name__ == "__main__":
    main()
