"""``styleclip-jax demo``: an offline run of the generator paths on random weights.

Until the bundled toy-world models exist (issue 8), no trained weights ship with the package,
so the demo builds a seeded *random-weight* config-f generator. Its images are abstract
textures, not faces: the demo shows the machinery (save/load in our format, truncation, style
mixing, StyleSpace channel edits), not edit quality.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..model_dir import refuse_nonempty_dir
from ..latents_io import write_npz, z_from_seeds
from ..models.stylegan2 import GeneratorConfig, load_generator
from ..models.stylegan2.random_init import random_generator
from ..utils.images import make_grid, save_png, to_uint8 as _to_uint8

BANNER = ("NOTE: this demo uses a RANDOM-WEIGHT StyleGAN2 (no downloads, no trained weights bundled yet);\n"
          "      images are abstract textures. Convert real checkpoints with `styleclip-jax convert generator`.")


def to_uint8(images):
    """Random weights overshoot [-1, 1]; show each grid in its own robust range instead."""
    lo, hi = np.percentile(images, [1, 99])
    return _to_uint8(images, (float(lo), float(hi) if hi > lo else float(lo) + 1.0))


def run_demo(args):
    out = Path(args.out)
    refuse_nonempty_dir(out, args.overwrite)
    if args.resolution < 8 or args.resolution > 1024:
        raise InputError("--resolution must be a power of two in [8, 1024]")
    out.mkdir(parents=True, exist_ok=True)
    print(BANNER)
    t0 = time.perf_counter()
    cfg = GeneratorConfig.ffhq_config_f(args.resolution)
    random_generator(cfg, seed=0).save(out / "generator", overwrite=True)
    gen = load_generator(out / "generator")
    print(f"[{time.perf_counter() - t0:5.1f}s] random config-f generator, {cfg.resolution}px, "
          f"{len(cfg.style_layers)} style layers, saved + reloaded from {out / 'generator'}")

    # 1. samples at psi 0.7 and psi 1
    z = z_from_seeds(range(8), cfg.z_dim)
    runs = {psi: gen.generate(gen.mapping(z, psi)) for psi in (1.0, 0.7, 0.0)}
    save_png(out / "samples_psi.png", make_grid(to_uint8(np.concatenate([np.asarray(r[0]) for r in runs.values()])), nrow=8))
    img, extra = runs[0.7]
    write_npz(out / "samples.npz", np.asarray(img), np.asarray(extra["wplus"]),
              {k: np.asarray(v) for k, v in extra["s"].items()})
    print(f"[{time.perf_counter() - t0:5.1f}s] samples at psi 1 / 0.7 / 0 -> samples_psi.png, samples.npz")

    # 2. style mixing: coarse rows from A, the rest from B
    wa, wb = np.asarray(gen.mapping(z[:4], 0.7)), np.asarray(gen.mapping(z[4:8], 0.7))
    mixed = [wa, wb]
    for cut in (2, 4, 8):
        m = wb.copy()
        m[:, :cut] = wa[:, :cut]
        mixed.append(m)
    imgs = [np.asarray(gen.synthesis(m)) for m in mixed]
    grid = np.stack(imgs, axis=1).reshape(-1, *imgs[0].shape[1:])
    save_png(out / "style_mixing.png", make_grid(to_uint8(grid), nrow=len(mixed)))
    print(f"[{time.perf_counter() - t0:5.1f}s] style mixing (A | B | A rows<2,<4,<8 over B) -> style_mixing.png")

    # 3. StyleSpace: move one channel of a coarse conv layer by multiples of its std
    stats = gen.w_to_s(gen.mapping(z_from_seeds(range(100, 356), cfg.z_dim), 0.7))
    layer = cfg.style_layers[3].name
    ch = int(np.argmax(np.std(np.asarray(stats[layer]), axis=0)))
    sigma = float(np.std(np.asarray(stats[layer])[:, ch]))
    base = {k: np.asarray(v) for k, v in gen.w_to_s(gen.mapping(z[:4], 0.7)).items()}
    alphas = (-10, -5, 0, 5, 10)
    frames = []
    for a in alphas:
        s = {k: v.copy() for k, v in base.items()}
        s[layer][:, ch] += a * sigma
        frames.append(np.asarray(gen.synthesis_s(s)))
    grid = np.stack(frames, axis=1).reshape(-1, *frames[0].shape[1:])
    save_png(out / "stylespace_channel.png", make_grid(to_uint8(grid), nrow=len(alphas)))
    print(f"[{time.perf_counter() - t0:5.1f}s] StyleSpace {layer} channel {ch} at alpha {alphas} x sigma "
          f"-> stylespace_channel.png")
    print(f"done in {time.perf_counter() - t0:.1f}s; outputs in {out}/")
