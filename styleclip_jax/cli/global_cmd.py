"""``styleclip-jax global precompute | import | edit``: Method C from the command line."""

from __future__ import annotations

import numpy as np

from styleclip_jax.cli.options import (
    BATCH,
    BETA,
    CHUNK,
    FRACTION,
    IMAGES,
    LAYER_ROW,
    LIKENESS_TAU,
    N_STATS,
    PSI,
    SAMPLES,
    STRENGTH,
    add_latents_key,
    add_multiprocess,
    add_photo_source,
    add_region,
    progress_bar,
    start_multiprocess,
)
from styleclip_jax.editing.global_directions.config import KEEP_MODES, SOURCES, TextEdit
from styleclip_jax.errors import InputError
from styleclip_jax.io.files import refuse_nonempty_dir


def add_global(sub):
    p = sub.add_parser("global", help="global directions in StyleSpace (StyleCLIP method C)")
    gsub = p.add_subparsers(dest="action", required=True)
    pre = gsub.add_parser("precompute", help="StyleSpace mean/std and channel relevance fs3 (resumable, sharded)")
    pre.add_argument("--generator", required=True)
    pre.add_argument("--clip", required=True)
    pre.add_argument("--out", required=True, help="stats folder (stats.json, stats.npz, fs3_parts/, fs3.npy)")
    pre.add_argument("--resume", action="store_true", help="finish an interrupted precompute in --out")
    pre.add_argument(
        "--overwrite",
        action="store_true",
        help="clear --out first (a failed or unwanted run; only a stats folder is cleared)",
    )
    pre.add_argument("--n-stats", type=N_STATS, default=100_000, help="codes sampled for mean/std (upstream 100000)")
    pre.add_argument("--truncation", type=PSI, default=0.7)
    pre.add_argument("--truncation-cutoff", type=LAYER_ROW, default=8, help="W+ rows truncated (torch global_torch: 8)")
    pre.add_argument("--images", type=IMAGES, default=100, help="base images per channel (upstream 100)")
    pre.add_argument("--chunk", type=CHUNK, default=16, help="channels per compiled chunk / part file")
    pre.add_argument("--image-batch", type=BATCH, default=8, help="renders per block (memory bound)")
    add_multiprocess(pre, "this process's devices to split each block of renders over (default all)")
    pre.add_argument("--layers", nargs="+", default=None, help="only these StyleSpace layers (partial table)")
    pre.add_argument(
        "--population",
        type=SAMPLES,
        default=0,
        help="also sample this many images for the population estimator (`edit --source population`) and "
        "the optimisation warm start (population.npz; 0: none)",
    )
    pre.set_defaults(func=run_precompute)

    imp = gsub.add_parser("import", help="use upstream fs3.npy (+ S_mean_std pickle) with a generator")
    imp.add_argument("--generator", required=True)
    imp.add_argument("--fs3", required=True, help="upstream fs3.npy (5376 or 6048 rows, fp16 or fp32)")
    imp.add_argument(
        "--s-mean-std",
        default=None,
        help="upstream S_mean_std pickle (read without running code); default: sample mean/std here",
    )
    imp.add_argument("--n-stats", type=N_STATS, default=100_000)
    imp.add_argument("--out", required=True)
    imp.add_argument("--overwrite", action="store_true")
    imp.set_defaults(func=run_import)

    ed = gsub.add_parser("edit", help="edit latents along a text direction (neutral -> target)")
    ed.add_argument("--generator", required=True)
    ed.add_argument("--clip", required=True)
    ed.add_argument("--stats", required=True, help="stats folder from `global precompute` or `global import`")
    ed.add_argument("--neutral", required=True, help="e.g. 'face'")
    ed.add_argument("--target", required=True, help="e.g. 'smiling face'")
    strength = ed.add_mutually_exclusive_group()
    strength.add_argument("--alpha", type=STRENGTH, default=TextEdit.alpha, help="strength (upstream's default)")
    strength.add_argument("--alphas", default=None, help="comma list for a grid over strength, e.g. -5,0,5")
    beta = ed.add_mutually_exclusive_group()
    beta.add_argument("--beta", type=BETA, default=TextEdit.beta, help="disentanglement threshold (upstream's)")
    beta.add_argument("--auto-beta", action="store_true", help="largest beta moving more than 20 channels")
    ed.add_argument("--layers", nargs="+", default=None, help="restrict the edit to these StyleSpace layers")
    ed.add_argument(
        "--also",
        nargs=4,
        action="append",
        default=[],
        metavar=("NEUTRAL", "TARGET", "ALPHA", "BETA"),
        help="compose another edit (repeatable); BETA may be 'auto'",
    )
    add_region(ed)
    ed.add_argument(
        "--keep-mode",
        choices=KEEP_MODES,
        default=TextEdit.keep_mode,
        help="how --keep constrains the edit: drop channels more relevant to a keep-text than to the edit, "
        "or project the text direction / the channel relevance",
    )
    ed.add_argument(
        "--source",
        choices=SOURCES,
        default=TextEdit.source,
        help="channel relevance from fs3 (StyleCLIP) or from CLIP-labelled samples (population.npz; "
        "moves toRGB layers too, beta is a share of the strongest channel)",
    )
    ed.add_argument(
        "--condition",
        type=LIKENESS_TAU,
        default=TextEdit.condition,
        help="with --source population: one direction per latent, taken among the samples that look like "
        "its image (softmax of CLIP cosine / this temperature, e.g. 0.05; 0: one direction for all)",
    )
    ed.add_argument(
        "--region-threshold",
        type=FRACTION,
        default=0.5,
        help="with --mask / --box: the share of a channel's effect that must lie inside the region",
    )
    src = ed.add_mutually_exclusive_group(required=True)
    src.add_argument("--latents", help=".npz with wplus (B,L,D) or w (B,D)")
    src.add_argument("--seeds")
    add_photo_source(src, ed)
    ed.add_argument("--truncation", type=PSI, default=0.7, help="for --seeds")
    add_latents_key(ed, ("wplus", "w"))
    ed.add_argument("--out", required=True, help=".png grid (rows: latents; cols: original + alphas) or .npz")
    ed.add_argument("--overwrite", action="store_true")
    ed.set_defaults(func=run_edit)


def _load_pair(args, with_clip=True):
    from styleclip_jax.models.clip import load_clip
    from styleclip_jax.models.generators import load_generator

    return load_generator(args.generator), (load_clip(args.clip) if with_clip else None)


def run_precompute(args):
    from styleclip_jax.editing.global_directions.run import check_settings, precompute
    from styleclip_jax.errors import InputError

    if args.population == 1:  # refused before the fs3 pass, not after it
        raise InputError("--population needs at least 2 samples (0: none)")
    start_multiprocess(args)
    gen, clip = _load_pair(args)
    check_settings(gen, args.n_stats, args.images, args.layers)
    args.on_interrupt = "finished chunks are kept in fs3_parts/; continue with the same command plus --resume"
    with progress_bar("fs3 channels", "ch") as bar:
        stats = precompute(
            gen,
            clip,
            args.out,
            n_stats=args.n_stats,
            truncation=args.truncation,
            truncation_cutoff=args.truncation_cutoff,
            num_images=args.images,
            channels_per_chunk=args.chunk,
            image_batch=args.image_batch,
            devices=args.devices,
            layers=args.layers,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=bar,
        )
    print(f"fs3: {stats.fs3.shape[0]} channel rows -> {args.out}")
    from styleclip_jax.parallel.distributed import is_primary

    if args.population and is_primary():  # one process samples the bank (it is small next to fs3)
        from styleclip_jax.editing.global_directions.population import (
            precompute_population,
        )

        args.on_interrupt = "finished parts are kept in population_parts/; continue with the same command plus --resume"
        with progress_bar("population", "img") as bar:
            pop = precompute_population(
                gen, clip, stats, args.out, n=args.population, batch=args.image_batch, progress=bar
            )
        print(f"population: {len(pop.u)} CLIP-labelled samples -> {args.out}")


def run_import(args):
    from styleclip_jax.editing.global_directions.stats import import_upstream

    refuse_nonempty_dir(args.out, args.overwrite)
    gen, _ = _load_pair(args, with_clip=False)
    stats = import_upstream(gen, args.fs3, args.s_mean_std, n=args.n_stats)
    stats.save(args.out)
    print(f"imported fs3 ({stats.fs3.shape[0]} rows of {stats.num_manipulable} channels) -> {args.out}")


def _alphas(args):
    """``--alphas`` as a list of strengths (None without it), each in STRENGTH's range."""
    import argparse

    if args.alphas is None:
        return None
    if args.also:
        raise InputError("--alphas renders a grid for one edit; compose edits with --alpha and --also")
    try:
        alphas = [STRENGTH(a) for a in args.alphas.split(",") if a.strip()]
    except argparse.ArgumentTypeError as e:
        raise InputError(f"--alphas: {e}") from None
    if not alphas:
        raise InputError(f"--alphas must be a comma list of numbers, e.g. -5,0,5; got {args.alphas!r}")
    return alphas


def _edits(args) -> list:
    """The first edit from --neutral/--target/--alpha/--beta, then one per --also."""
    import argparse

    keep = dict(keep=tuple(args.keep), keep_mode=args.keep_mode, source=args.source, condition=args.condition)
    edits = [
        TextEdit(args.neutral, args.target, args.alpha, "auto" if args.auto_beta else args.beta, args.layers, **keep)
    ]
    for neutral, target, alpha, beta in args.also:
        try:
            edits.append(TextEdit(neutral, target, STRENGTH(alpha), beta if beta == "auto" else BETA(beta), **keep))
        except argparse.ArgumentTypeError as e:
            raise InputError(f"--also {neutral!r} {target!r} {alpha!r} {beta!r}: {e} (BETA may be 'auto')") from None
    return edits


def run_edit(args):
    from styleclip_jax.cli.options import paste_back_if_asked, region_kwargs, source_latents
    from styleclip_jax.editing.global_directions.core import global_edit
    from styleclip_jax.editing.global_directions.stats import StyleSpaceStats
    from styleclip_jax.io.files import check_output_path

    out = check_output_path(args.out, args.overwrite, sidecars=(".json",) if args.out.endswith(".npz") else ())
    alphas, edits = _alphas(args), _edits(args)
    gen, clip = _load_pair(args)
    stats = StyleSpaceStats.load(args.stats)
    w, inv, gen, pti_note = source_latents(args, gen, "global edit", args.truncation)
    region = region_kwargs(args, gen, w)
    res = global_edit(
        gen,
        clip,
        stats,
        w,
        edits,
        alphas,
        mask=region["mask"],
        box=region["box"],
        threshold=args.region_threshold,
        blend=args.blend,
    )
    b, a = res.codes.shape[:2]
    res.save(out, np.asarray(gen.synthesis(w)) if out.suffix == ".png" else None)
    summary = res.summary()
    for s in summary:
        print(
            f"{s['neutral']!r} -> {s['target']!r}: beta {s['beta']:.2f} moves {s['channels']} channel(s)"
            + (f" (per latent: {s['channels_per_latent']})" if "channels_per_latent" in s else "")
            + (f" ({s['channels_touched']} in the chosen layers)" if args.layers and s is summary[0] else "")
        )
    print(f"edited {b} latent(s) x {a} strength(s) -> {out}{pti_note}" + paste_back_if_asked(args, inv, res.images))
