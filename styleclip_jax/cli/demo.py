"""``styleclip-jax demo``: all three StyleCLIP methods on the bundled toy world, offline.

The toy world (``styleclip_jax/toyworld``) ships a 32 px StyleGAN2, a small CLIP and an e4e
encoder, all trained here on procedural scenes of one coloured shape, plus attribute readers that
judge the results. The demo edits a few generator samples (or, with ``--start inverted``, scenes
drawn by the world's renderer and inverted by the encoder, as a photo would be) with each method,
writes before/after grids and the latents, and prints what the readers see before and after, with
a verdict per edit: on how many samples the readers see the value the prompt names.

Settings: by default the toy world's best measured settings (``MethodSettings.with_population``:
the population estimator for global directions, the warm start and the W subspace for latent
optimisation, the population start for the mapper, each conditioned on the start image, all beyond
upstream, see ``styleclip_jax.editing.contrib``); ``--faithful`` runs StyleCLIP's own estimators (fs3, a cold
start) with the same rows and strengths, for comparison.
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


def _targets(prompt: str) -> dict[str, int]:
    """{attribute: value index} of the toy-world words a prompt names ("a green object" -> colour 2)."""
    from styleclip_jax.toyworld import world

    text = " " + " ".join(prompt.lower().split()) + " "
    return {a: i for a, values in world.VOCAB.items() for i, v in enumerate(values) if f" {v} " in text}


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
    stamp = lambda: f"[{time.perf_counter() - t0:6.1f}s]"  # noqa: E731
    tw = load_world(args.world)
    gen = tw.generator
    print(
        f"{stamp()} toy world from {tw.path}: {gen.config.resolution}px StyleGAN2 "
        f"({len(gen.config.style_layers)} style layers), CLIP ViT {tw.clip.config.vision_layers}x"
        f"{tw.clip.config.vision_width}, attribute readers"
    )
    if args.faithful:
        ms = MethodSettings()
        print(f"{stamp()} settings: StyleCLIP's own estimators (fs3 relevance, optimisation from a cold start)")
    else:
        ms = MethodSettings().with_population()
        print(
            f"{stamp()} settings: the toy world's best measured (global directions from the population "
            f"estimator at alpha {ms.global_alpha:g}, optimisation warm-started {ms.opt_warm_start:g} along it "
            f"and kept to the {ms.opt_subspace:.0%} subspace of its W codes, each direction taken among the "
            "samples that look like the start image; all beyond upstream, see "
            "styleclip_jax.editing.contrib); --faithful for StyleCLIP's own"
        )
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
    _report(tw, after, prompts, prompts)

    # C. global directions: one text direction, a grid over strength alpha
    a = ms.global_alpha
    alphas = [0.0, a / 2, a, 1.5 * a]
    target = args.global_target
    edit = TextEdit(
        "object", target, a, ms.global_beta, ms.global_layers(target, gen.config.style_layers), source=ms.global_source
    )
    ge = global_edit(gen, tw.clip, tw.stats, w, [edit], alphas=alphas)
    _grid(out / "global.png", before, ge.images)
    write_npz(out / "global.npz", ge.images.reshape(-1, *before.shape[1:]), None, ge.styles())
    print(
        f"{stamp()} C. global direction 'object' -> {target!r} ({ms.global_source}), alpha {alphas} "
        "-> global.png, global.npz"
    )
    _report(tw, ge.images, [f"alpha {x:g}" for x in alphas], [target if x else "" for x in alphas])

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
        f"({args.mapper_steps} steps, Adam"
        + (
            f"; its offset starts at {cfg.population_scale:g}x the population's W direction"
            + (" (fitted per start image first)" if cfg.population_condition else "")
            if cfg.population_scale
            else ""
        )
        + ") ..."
    )
    with progress_bar("mapper") as bar:
        tr = train_mapper(gen, tw.clip, cfg, out / "mapper_run", progress=bar, population=tw.stats.population)
    w_hat = np.asarray(tr.mapper.apply(w))
    mapped = np.asarray(gen.synthesis(w_hat))[:, None]
    _grid(out / "mapper.png", before, mapped)
    write_npz(out / "mapper.npz", mapped[:, 0], w_hat)
    print(f"{stamp()} mapper in {out / 'mapper_run' / 'mapper'}; applied -> mapper.png, mapper.npz")
    _report(tw, mapped, [args.mapper_prompt], [args.mapper_prompt])
    print(f"done in {time.perf_counter() - t0:.1f}s; grids (rows: samples; first column: original) in {out}/")


def _invert_scenes(tw, args, out: Path, stamp):
    """Scenes drawn by ``world.render`` (never by the generator) -> the bundled encoder -> W+."""
    from styleclip_jax.io.latents import write_npz
    from styleclip_jax.toyworld import world
    from styleclip_jax.toyworld.inversion import encode_scenes

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


def _report(tw, after, labels, prompts):
    """What the readers see after each edit (columns of ``after``), and for a prompt that names a
    value, on how many samples they see it."""
    for j, (label, prompt) in enumerate(zip(labels, prompts)):
        read = tw.reader(after[:, j])
        print(f"    {label!s:24s} " + " | ".join(_describe(read, i) for i in range(after.shape[0])))
        targets = _targets(prompt)
        if targets:
            hit = np.all([np.asarray(read[a]) == v for a, v in targets.items()], axis=0)
            print(f"    {'':24s} reached {prompt!r} on {int(hit.sum())} of {len(hit)} samples")
