"""``styleclip-jax edit optimize``: Method A from the command line."""

from __future__ import annotations

from pathlib import Path

from styleclip_jax.cli.options import (
    INTERVAL,
    LIKENESS_TAU,
    LR,
    PSI,
    RUN_STEPS,
    STRENGTH,
    VARIANCE_SHARE,
    WEIGHT,
    add_config_options,
    add_latents_key,
    add_photo_source,
    add_population_stats,
    add_region,
    config_from_args,
    population_bank,
    progress_bar,
    region_kwargs,
)
from styleclip_jax.editing.optimization.config import MODES, SPACES, OptimizeConfig
from styleclip_jax.errors import InputError
from styleclip_jax.io.files import refuse_nonempty_dir

OPTIMIZE_OPTIONS = {
    "mode": MODES,
    "space": SPACES,
    "steps": RUN_STEPS,
    "lr": LR,
    "l2_lambda": WEIGHT,
    "id_lambda": WEIGHT,
    "snapshot_every": INTERVAL,
    "keep_lambda": WEIGHT,
    "mask_lambda": WEIGHT,
    "warm_start": WEIGHT,
    "subspace": VARIANCE_SHARE,
    "warm_condition": LIKENESS_TAU,
}


def add_edit(sub):
    p = sub.add_parser("edit", help="text-driven edits")
    esub = p.add_subparsers(dest="method", required=True)
    o = esub.add_parser("optimize", help="latent optimisation (StyleCLIP method A)")
    o.add_argument("--generator", required=True)
    o.add_argument("--clip", required=True)
    o.add_argument("--idnet", default=None, help="identity net folder (needed for --id > 0)")
    o.add_argument("--text", required=True, nargs="+", help="one or more prompts; every latent is paired with each")
    o.add_argument(
        "--compose",
        action="store_true",
        help="the prompts form one composed edit (a weighted sum of their CLIP losses) instead of one edit each",
    )
    o.add_argument(
        "--weights",
        type=STRENGTH,
        nargs="+",
        default=None,
        help="with --compose: one weight per prompt (default 1 each)",
    )
    src = o.add_mutually_exclusive_group()
    src.add_argument("--latents", help=".npz with wplus (B,L,D) or w (B,D)")
    src.add_argument("--seeds", help="e.g. 0-3 (sampled at --truncation toward w_avg)")
    add_photo_source(src, o)
    add_latents_key(o, ("wplus", "w"))
    o.add_argument("--truncation", type=PSI, default=0.7)
    add_config_options(
        o,
        OptimizeConfig,
        OPTIMIZE_OPTIONS,
        flags={"l2_lambda": "--l2", "id_lambda": "--id"},
        helps={
            "l2_lambda": "lambda of the sum-of-squares latent term",
            "id_lambda": "lambda of the ID loss (0.005 in upstream's Colab)",
            "snapshot_every": "keep the latent every k steps (frames, GIF)",
            "keep_lambda": "weight of the --keep term (CLIP similarity to each keep-text held at its start)",
            "mask_lambda": "weight of the pixel change outside --mask / --box",
            "warm_start": "start this far along the population bank's W direction for the prompt (needs --stats)",
            "warm_condition": "take the warm start's direction among the population samples that look like each "
            "start image (softmax of CLIP cosine / this temperature, e.g. 0.03; 0: one direction for all)",
            "subspace": "move only along the principal directions of the population bank's W codes that explain "
            "this share of their variance, e.g. 0.95 (needs --stats; 0: off)",
        },
    )
    add_population_stats(o, "--warm-start or --subspace")
    add_region(o)
    o.add_argument("--rows", default=None, help="W+ rows the edit may move, e.g. 4-7 (default: all, as upstream)")
    o.add_argument("--tie-rows", action="store_true", help="the moved rows share one offset (a W edit of those rows)")
    o.add_argument(
        "--groups",
        nargs="+",
        default=None,
        metavar="ROWS",
        help="W+ row groups each moved by one shared offset, e.g. 0-3 4-7 (a composed geometry + colour "
        "edit); replaces --rows / --tie-rows",
    )
    o.add_argument("--gif", action="store_true", help="write trajectory.gif (needs --snapshot-every)")
    o.add_argument("--out", required=True, help="output folder")
    o.add_argument("--overwrite", action="store_true")
    o.set_defaults(func=run_optimize)


def run_optimize(args):
    from styleclip_jax.cli.options import check_paste_back, paste_back_if_asked, photo_source, tune_if_asked
    from styleclip_jax.editing import optimize
    from styleclip_jax.editing.constraints.prompts import keep_alternatives
    from styleclip_jax.editing.optimization.run import start_latents
    from styleclip_jax.io.latents import read_latents
    from styleclip_jax.models.clip import load_clip, tokenize
    from styleclip_jax.models.generators import load_generator
    from styleclip_jax.models.idnet import load_idnet
    from styleclip_jax.validation import parse_seeds

    out = Path(args.out)
    refuse_nonempty_dir(out, args.overwrite)
    if args.gif and not args.snapshot_every:
        raise InputError("--gif needs --snapshot-every k")
    check_paste_back(args)
    if args.mode == "free_generation" and (args.latents or args.seeds or args.images):
        raise InputError(
            "--mode free_generation starts from the mean latent; it takes no --latents, --seeds or --images"
        )
    cfg = config_from_args(
        OptimizeConfig,
        args,
        OPTIMIZE_OPTIONS,
        rows=tuple(parse_seeds(args.rows, "rows")) if args.rows else (),
        tie_rows=args.tie_rows,
        groups=tuple(tuple(parse_seeds(g, "groups")) for g in args.groups or ()),
    )
    if args.weights is not None and (not args.compose or len(args.weights) != len(args.text)):
        raise InputError("--weights takes one weight per --text prompt, with --compose")
    if bool(cfg.warm_start or cfg.subspace) != bool(args.stats):
        raise InputError("--warm-start / --subspace and --stats go together (they read the stats' population bank)")
    tokenize(args.text + keep_alternatives(args.keep))  # bad prompts refused before models load
    prompts = [list(zip(args.text, args.weights or [1.0] * len(args.text)))] if args.compose else args.text
    gen = load_generator(args.generator)
    clip = load_clip(args.clip)
    idnet = load_idnet(args.idnet) if args.idnet else None
    population = population_bank(args.stats) if args.stats else None
    latents = seeds = inv = None
    pti_note = ""
    if not args.images:
        tune_if_asked(args, gen, None, out)  # PTI flags without photos are refused
    if args.mode == "edit":
        if args.images:
            inv, gen, pti_note = photo_source(args, gen, args.out)
            latents = inv.wplus
        elif args.latents:
            _, latents = read_latents(args.latents, gen, accept=("wplus", "w"), key=args.latents_key)
        elif args.seeds:
            seeds = parse_seeds(args.seeds)
        else:
            raise InputError("edit mode needs --latents, --seeds or --images")
    region_w = None
    if args.region:  # the named region is parsed on the start images
        region_w = latents if latents is not None else start_latents(gen, cfg, seeds=seeds, truncation=args.truncation)
    n_pairs = (len(latents) if latents is not None else len(seeds) if seeds else 1) * len(prompts)
    with progress_bar(f"optimize {n_pairs} pair(s)") as bar:
        res = optimize(
            gen,
            clip,
            prompts,
            latents,
            seeds=seeds,
            idnet=idnet,
            config=cfg,
            truncation=args.truncation,
            progress=bar,
            population=population,
            **region_kwargs(args, gen, region_w),
        )
    written = res.save(out, gen if args.gif else None, overwrite=args.overwrite)
    note = paste_back_if_asked(args, inv, res.images_after.reshape(-1, len(prompts), *res.images_after.shape[1:]))
    final = res.losses["clip"][-1]
    print(
        f"optimised {n_pairs} pair(s) for {cfg.steps} steps: CLIP loss {res.losses['clip'][0].mean():.4f} -> "
        f"{final.mean():.4f}; wrote {out}/: {', '.join(written)}" + pti_note + note
    )
