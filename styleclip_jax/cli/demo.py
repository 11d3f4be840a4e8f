"""``styleclip-jax demo``: all three StyleCLIP methods on the bundled toy world, offline.

The toy world (``styleclip_jax/toyworld``) ships a 32 px StyleGAN2, a small CLIP and an e4e
encoder, all trained here on procedural scenes of one coloured shape, plus attribute readers that
judge the results. The demo edits a few generator samples (or, with ``--start inverted``, scenes
drawn by the world's renderer and inverted by the encoder, as a photo would be) with each method,
writes before/after grids and the latents, and prints what the readers see before and after.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from styleclip_jax.cli.options import progress_bar
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.images import before_after_grid, save_png


def _describe(read, i) -> str:
    from styleclip_jax.toyworld import world

    if read["colour"][i] == -1:
        return "(no object)"
    return (
        " ".join(world.VOCAB[a][read[a][i]] for a in ("size", "colour", "shape", "position"))
        + f" / {world.VOCAB['background'][read['background'][i]]}"
    )


def _grid(path: Path, before, after):
    """Rows: one sample each; columns: before, then each edit; 3x enlarged to be visible."""
    save_png(path, before_after_grid(before, after, scale=3))


def run_demo(args):
    from styleclip_jax.editing.global_directions.config import TextEdit
    from styleclip_jax.editing.global_directions.core import global_edit
    from styleclip_jax.editing.mapper.run import train_mapper
    from styleclip_jax.io.latents import write_npz
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.evaluate import (
        MethodSettings,
        optimize_all,
        start_latents,
    )

    out = Path(args.out)
    refuse_nonempty_dir(out, args.overwrite)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def stamp():
        return f"[{time.perf_counter() - t0:6.1f}s]"

    tw = load_world(args.world)
    gen = tw.generator
    print(
        f"{stamp()} toy world from {tw.path}: {gen.config.resolution}px StyleGAN2 "
        f"({len(gen.config.style_layers)} style layers), CLIP ViT {tw.clip.config.vision_layers}x"
        f"{tw.clip.config.vision_width}, attribute readers"
    )
    ms = MethodSettings()  # the toy world's tuned settings, shared with `evaluate`
    if args.start == "inverted":
        w = _invert_scenes(tw, args, out, stamp)
    else:
        w = start_latents(tw, args.samples, args.seed, ms.truncation)
    before = np.asarray(gen.synthesis(w))
    read0 = tw.reader(before)
    for i in range(len(w)):
        label = f"reconstruction {i}" if args.start == "inverted" else f"sample {i} (seed {args.seed + i})"
        print(f"    {label}: {_describe(read0, i)}")

    # A. latent optimisation toward several prompts
    prompts = list(args.prompts)
    after, w_after = optimize_all(tw, w, prompts, ms)
    _grid(out / "optimize.png", before, after)
    write_npz(out / "optimize.npz", after.reshape(-1, *before.shape[1:]), w_after.reshape(-1, *w.shape[1:]))
    regions = ", ".join(f"{p!r}: {ms.region(p)} rows" for p in prompts)
    print(f"{stamp()} A. latent optimisation ({ms.opt_steps} steps; {regions}) -> optimize.png, optimize.npz")
    _report(tw, after, prompts)

    # C. global directions: one text direction, a grid over strength alpha
    alphas = [0.0, 3.0, 5.0, 8.0]
    target = args.global_target
    ge = global_edit(gen, tw.clip, tw.stats, w, [TextEdit("object", target, beta=ms.global_beta)], alphas=alphas)
    _grid(out / "global.png", before, ge.images)
    write_npz(out / "global.npz", ge.images.reshape(-1, *before.shape[1:]), None, ge.styles())
    print(f"{stamp()} C. global direction 'object' -> {target!r}, alpha {alphas} -> global.png, global.npz")
    _report(tw, ge.images, [f"alpha {a}" for a in alphas])

    # B. a latent mapper trained on the spot for one prompt, then applied
    cfg = ms.mapper_config(
        args.mapper_prompt,
        steps=args.mapper_steps,
        val_size=4,
        val_batch_size=4,
        log_every=50,
        val_every=args.mapper_steps,
        save_every=args.mapper_steps,
    )
    parts = "+".join(cfg.mapper_config(gen.config.num_ws, gen.config.w_dim).parts())
    print(
        f"{stamp()} B. training a {cfg.mapper_kind} mapper ({parts}) for {args.mapper_prompt!r} "
        f"({args.mapper_steps} steps, Adam) ..."
    )
    with progress_bar("mapper") as bar:
        tr = train_mapper(gen, tw.clip, cfg, out / "mapper_run", progress=bar)
    w_hat = np.asarray(tr.mapper.apply(w))
    mapped = np.asarray(gen.synthesis(w_hat))[:, None]
    _grid(out / "mapper.png", before, mapped)
    write_npz(out / "mapper.npz", mapped[:, 0], w_hat)
    print(f"{stamp()} mapper in {out / 'mapper_run' / 'mapper'}; applied -> mapper.png, mapper.npz")
    _report(tw, mapped, [args.mapper_prompt])
    print(f"done in {time.perf_counter() - t0:.1f}s; grids (rows: samples; first column: original) in {out}/")


def _invert_scenes(tw, args, out: Path, stamp):
    """Scenes drawn by ``world.render`` (never by the generator) -> the bundled encoder -> W+."""
    from styleclip_jax.io.latents import write_npz
    from styleclip_jax.toyworld import world
    from styleclip_jax.toyworld.evaluate import encode_scenes

    attrs, scenes = world.sample_numpy(args.seed, args.samples)
    w = encode_scenes(tw, scenes)
    rec = np.asarray(tw.generator.synthesis(w))
    _grid(out / "inversion.png", scenes, rec[:, None])
    write_npz(out / "inversion.npz", rec, w)
    print(
        f"{stamp()} inverted {args.samples} drawn scenes with the bundled encoder -> inversion.png "
        f"(drawn | reconstruction), inversion.npz; edits below start from the reconstructions"
    )
    for i in range(args.samples):
        print(f"    drawn scene {i}: {_describe(attrs, i)}")
    return w


def _report(tw, after, labels):
    for j, label in enumerate(labels):
        read = tw.reader(after[:, j])
        print(f"    {label!s:24s} " + " | ".join(_describe(read, i) for i in range(after.shape[0])))
