"""``styleclip-jax generate``."""

from __future__ import annotations

import jax
import numpy as np
from tqdm import tqdm

from styleclip_jax.cli.options import check_paste_back, paste_back_if_asked, photo_source, tune_if_asked
from styleclip_jax.errors import InputError
from styleclip_jax.io.files import check_output_path
from styleclip_jax.io.images import make_grid, save_png, to_uint8
from styleclip_jax.io.latents import read_latents, write_npz
from styleclip_jax.models.generators import load_generator
from styleclip_jax.models.latents import z_from_seeds
from styleclip_jax.validation import parse_seeds


def run_generate(args):
    if args.batch_size < 1:
        raise InputError("--batch-size must be >= 1")
    out = check_output_path(args.out, args.overwrite)
    check_paste_back(args)
    gen = load_generator(args.generator)
    if args.translate is not None or args.rotate is not None:
        gen = gen.with_transform(args.translate or (0.0, 0.0), args.rotate or 0.0)
    cfg = gen.config
    pti_note = ""
    if args.images is None:
        tune_if_asked(args, gen, None, out)  # PTI flags without photos are refused
    if args.seeds is not None:
        kind, lat = "z", z_from_seeds(parse_seeds(args.seeds), cfg.z_dim)
    elif args.images is not None:
        inv, gen, pti_note = photo_source(args, gen, args.out)
        kind, lat = "wplus", inv.wplus
    else:
        kind, lat = read_latents(args.latents, gen, key=args.latents_key)
    n = len(next(iter(lat.values()))) if kind == "s" else len(lat)
    key = jax.random.key(args.noise_seed) if args.noise == "random" else None
    images, wplus, styles = [], [], {name: [] for name in cfg.style_names}
    starts = range(0, n, args.batch_size)
    for i, start in enumerate(tqdm(starts, desc="generate", unit="batch", disable=len(starts) < 2)):
        sl = slice(start, start + args.batch_size)
        k = None if key is None else jax.random.fold_in(key, i)
        if kind == "s":
            batch_s = {name: v[sl] for name, v in lat.items()}
            images.append(np.asarray(gen.synthesis_s(batch_s, noise_mode=args.noise, key=k)))
            for name, v in batch_s.items():
                styles[name].append(v)
            continue
        w = gen.mapping(lat[sl], args.truncation, args.truncation_cutoff) if kind == "z" else lat[sl]
        img, extra = gen.generate(w, noise_mode=args.noise, key=k)
        images.append(np.asarray(img))
        wplus.append(np.asarray(extra["wplus"]))
        for name, v in extra["s"].items():
            styles[name].append(np.asarray(v))
    images = np.concatenate(images)
    note = paste_back_if_asked(args, inv, images[:, None]) if args.images is not None else ""
    if out.suffix.lower() == ".png":
        save_png(out, make_grid(to_uint8(images), nrow=args.nrow))
    else:
        write_npz(
            out,
            images,
            np.concatenate(wplus) if wplus else None,
            {name: np.concatenate(v) for name, v in styles.items()},
        )
    print(f"wrote {n} image(s) at {cfg.resolution}px -> {out}{pti_note}{note}")
