"""``styleclip-jax toy ...`` (train the toy world's models) and ``styleclip-jax evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

from styleclip_jax.cli.options import (
    EVERY,
    FEATHER,
    IMAGES,
    LAYER_ROW,
    PROB,
    RUN_STEPS,
    SAMPLES,
    SEED,
    STEPS,
    WEIGHT,
    progress_bar,
)
from styleclip_jax.errors import InputError


def add_toy(sub):
    p = sub.add_parser(
        "toy", help="train the bundled toy world's models (GAN, CLIP, shape reader); global stats: `global precompute`"
    )
    tsub = p.add_subparsers(dest="what", required=True)
    g = _trainer(
        tsub,
        "train-generator",
        "train the 32 px StyleGAN2 as a scene decoder + mapping (the bundled one; resumable)",
        3000,
        250,
        _run_train_generator,
    )
    g.add_argument("--mix-prob", type=PROB, default=0.0, help="chance per attribute of a blended training scene")
    g.add_argument("--w-noise", type=WEIGHT, default=0.0, help="std of the noise on each W+ row fed to the decoder")
    g.add_argument(
        "--overshoot-prob",
        type=PROB,
        default=0.0,
        help="chance per attribute that a scene's code is pushed past its value (the decoder learns to saturate)",
    )
    g.add_argument("--overshoot", type=WEIGHT, default=1.0, help="how far past, at most (units of a value offset)")
    g.add_argument(
        "--style-mix-prob",
        type=PROB,
        default=0.0,
        help="chance per scene that the W+ rows from --style-split on carry a second scene's colours",
    )
    g.add_argument(
        "--style-split", type=LAYER_ROW, default=4, help="first W+ row that carries colour and background when mixing"
    )
    _trainer(
        tsub,
        "train-gan",
        "train the 32 px StyleGAN2 adversarially (+ reconstruction; resumable)",
        4000,
        250,
        _run_train_gan,
    )
    c = _trainer(
        tsub, "train-clip", "train the small CLIP on scene/caption pairs (resumable)", 1500, 200, _run_train_clip
    )
    c.add_argument("--mix-prob", type=PROB, default=0.0, help="chance per attribute of a blended scene (soft targets)")
    r = tsub.add_parser("train-reader", help="train the shape classifier used as a judge")
    r.add_argument("out_dir")
    r.add_argument("--steps", type=RUN_STEPS, default=600)
    r.add_argument("--overwrite", action="store_true")
    r.set_defaults(func=_run_train_reader)

    e = sub.add_parser("evaluate", help="edit success / preservation / CLIP gain / time, judged by attribute readers")
    e.add_argument("--method", default="all", help="optimize, mapper, global or all (comma-separated list)")
    e.add_argument("--attribute", default="colour", help="colour, shape, size, position, background (comma list)")
    e.add_argument("--n", type=IMAGES, default=16, help="start samples (each edited toward every other value)")
    seeds = e.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seed",
        type=SEED,
        default=None,
        help="first seed of the start samples (default 1000; tuning used seeds 0-15; a range consulted "
        "while settings were chosen is named in the output)",
    )
    seeds.add_argument(
        "--fresh",
        action="store_true",
        help="draw a start seed never used before (from a space of 2e9, avoiding every consulted range in "
        "toyworld/seed_ranges.py), print it and record it in the JSON",
    )
    e.add_argument("--world", default=None, help="toy-world folder (default: the bundled one)")
    e.add_argument(
        "--samples", type=SAMPLES, default=256, help="also report sample recognisability on this many (0: skip)"
    )
    e.add_argument(
        "--start",
        choices=("samples", "inverted"),
        default="samples",
        help="edit generator samples, or scenes drawn by world.render and inverted by the bundled encoder",
    )
    e.add_argument(
        "--inversion",
        type=SAMPLES,
        default=256,
        help="also report inversion fidelity of the bundled encoder on this many drawn scenes (0: skip)",
    )
    e.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="TEXT",
        help="keep-texts for every edit (repeatable), or 'auto': each other attribute's values",
    )
    e.add_argument(
        "--region",
        "--mask",
        dest="mask",
        choices=("object", "background"),
        default=None,
        help="local edits: a named region of each start image (the toy world's parser: its object, or the rest)",
    )
    e.add_argument(
        "--blend",
        type=FEATHER,
        default=None,
        metavar="PX",
        help="with --mask: also composite each result into its start image, feathered by PX pixels",
    )
    e.add_argument(
        "--compose",
        default=None,
        metavar="ATTRIBUTE",
        help="also edit this attribute in the same call (a composed prompt; success needs both)",
    )
    e.add_argument(
        "--population",
        action="store_true",
        help="global directions from the population estimator, latent optimisation warm-started along it "
        "and kept to its W subspace, mappers started there (MethodSettings.with_population: the tuned "
        "settings; needs the world's population.npz)",
    )
    e.add_argument(
        "--pti",
        type=STEPS,
        nargs="?",
        const=200,
        default=None,
        metavar="STEPS",
        help="pivotal tuning (default 200 steps, one generator per 16 scenes): with --start inverted every "
        "edit runs on the tuned generator, and the inversion report adds a PTI row",
    )
    e.add_argument("--out", default=None, help="write the results as JSON here")
    e.add_argument("--grid", default=None, help="write a before/after PNG per method here (folder)")
    e.add_argument("--overwrite", action="store_true")
    e.set_defaults(func=_run_evaluate)


def _trainer(tsub, name, help_text, steps, every, func):
    p = tsub.add_parser(name, help=help_text)
    p.add_argument("exp_dir", help="experiment folder (run.json, checkpoints/, metrics.jsonl, the model)")
    p.add_argument(
        "--steps", type=STEPS, default=steps, help="total steps (a resume may raise it; 0 writes the config only)"
    )
    p.add_argument("--checkpoint-every", type=EVERY, default=every)
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in exp_dir")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=func)
    return p


def _run_train_generator(args):
    from styleclip_jax.toyworld.training.decoder import DecoderConfig, train_decoder

    try:
        cfg = DecoderConfig(
            mix_prob=args.mix_prob,
            w_noise=args.w_noise,
            overshoot_prob=args.overshoot_prob,
            overshoot=args.overshoot,
            style_mix_prob=args.style_mix_prob,
            style_split=args.style_split,
        )
    except ValueError as e:
        raise InputError(str(e)) from None
    with progress_bar("toy generator") as bar:
        train_decoder(
            args.exp_dir,
            cfg,
            args.steps,
            resume=args.resume,
            overwrite=args.overwrite,
            checkpoint_every=args.checkpoint_every,
            progress=bar,
        )
    print(f"generator -> {Path(args.exp_dir) / 'generator'}")


def _run_train_gan(args):
    from styleclip_jax.toyworld.training.gan import GanConfig, train_gan

    with progress_bar("toy GAN") as bar:
        train_gan(
            args.exp_dir,
            GanConfig(),
            args.steps,
            resume=args.resume,
            overwrite=args.overwrite,
            checkpoint_every=args.checkpoint_every,
            progress=bar,
        )
    print(f"EMA generator -> {Path(args.exp_dir) / 'generator'}")


def _run_train_clip(args):
    from styleclip_jax.toyworld.training.clip import ClipTrainConfig, train_clip

    with progress_bar("toy CLIP") as bar:
        train_clip(
            args.exp_dir,
            ClipTrainConfig(mix_prob=args.mix_prob),
            args.steps,
            resume=args.resume,
            overwrite=args.overwrite,
            checkpoint_every=args.checkpoint_every,
            progress=bar,
        )
    print(f"CLIP -> {Path(args.exp_dir) / 'clip'}")


def _run_train_reader(args):
    from styleclip_jax.io.files import refuse_nonempty_dir
    from styleclip_jax.toyworld.readers import train_shape_reader

    refuse_nonempty_dir(args.out_dir, args.overwrite)
    with progress_bar("shape reader") as bar:
        model, acc = train_shape_reader(args.steps, progress=bar)
    model.source["held_out_accuracy"] = acc
    model.save(args.out_dir, overwrite=True)
    print(f"shape reader: held-out accuracy {acc:.4f} -> {args.out_dir}")


def _split(text: str, allowed, what: str) -> list[str]:
    items = list(allowed) if text == "all" else [t.strip() for t in text.split(",") if t.strip()]
    bad = sorted(set(items) - set(allowed))
    if bad or not items:
        raise InputError(f"--{what}: unknown {bad or text!r}; choose from {', '.join(allowed)} or all")
    return items


def _run_evaluate(args):

    from styleclip_jax.io.files import check_output_path
    from styleclip_jax.io.images import before_after_grid, save_png
    from styleclip_jax.toyworld import world
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.evaluate import (
        METHODS,
        MethodSettings,
        evaluate,
        format_table,
        sample_report,
    )

    methods = _split(args.method, METHODS, "method")
    attrs = _split(args.attribute, world.ATTRIBUTES, "attribute")
    if args.n < 1:
        raise InputError("--n must be >= 1")
    if "auto" in args.keep and len(args.keep) > 1:
        raise InputError("--keep auto picks every other attribute's values; give it alone or give texts")
    keep = "auto" if args.keep == ["auto"] else args.keep
    if args.out:
        check_output_path(args.out, args.overwrite, (".json",))
    grid_dir = Path(args.grid) if args.grid else None
    if grid_dir:
        grid_dir.mkdir(parents=True, exist_ok=True)
    tw = load_world(args.world)
    pti = None
    if args.pti is not None:
        import dataclasses

        from styleclip_jax.toyworld.inversion import TOY_PTI

        if args.start != "inverted" and not args.inversion:
            raise InputError("--pti tunes on drawn scenes: use it with --start inverted or --inversion N")
        pti = dataclasses.replace(TOY_PTI, steps=args.pti)
    settings = MethodSettings().with_population() if args.population else MethodSettings()
    if args.population and (tw.stats is None or tw.stats.population is None):
        raise InputError(f"--population needs {tw.path}/global/population.npz (`global precompute --population N`)")
    from styleclip_jax.toyworld.seed_ranges import draw_fresh, status

    first = draw_fresh(args.n) if args.fresh else (1000 if args.seed is None else args.seed)
    used = status(first, args.n)
    seeds = {"first": first, "last": first + args.n - 1, "fresh": bool(args.fresh), "consulted_before": used}
    report = {"world": str(tw.path), "seeds": seeds, "results": []}
    print(
        f"start seeds {first}-{first + args.n - 1}: "
        + ("drawn fresh now, never consulted" if not used else "consulted before (" + "; ".join(used) + ")")
    )
    if args.samples:
        s = sample_report(tw, args.samples)
        s.pop("images")
        report["samples"] = s
        print(
            f"samples: {s['readable']:.1%} readable; reader vs CLIP's top caption agree on "
            + ", ".join(f"{a} {v:.1%}" for a, v in s["agreement"].items())
            + f"; all five {s['agreement_all']:.1%}"
        )
    if args.inversion and tw.encoder is not None:
        from styleclip_jax.toyworld.inversion import inversion_report

        inv = inversion_report(tw, args.inversion, pti=pti)
        for k in ("wplus", "images", "reconstructions", "pti_reconstructions"):
            inv.pop(k, None)
        report["inversion"] = inv
        for name, r in (("e4e", inv), ("ReStyle", inv.get("restyle")), ("e4e + PTI", inv.get("pti"))):
            if r is not None:
                print(
                    f"inversion, {name} (drawn scenes -> encoder -> generator -> readers, n={inv['n']}): "
                    + ", ".join(f"{a} {v:.1%}" for a, v in r["per_attribute"].items())
                    + f"; all five {r['all_five']:.1%}; pixel MSE {r['pixel_mse']:.4f}"
                    + (f", LPIPS (random-trunk stand-in) {r['lpips_stand_in']:.5f}" if "lpips_stand_in" in r else "")
                )
    for m in methods:
        for a in attrs:
            r = evaluate(
                tw,
                m,
                a,
                n=args.n,
                seed=first,
                start=args.start,
                keep=keep,
                mask=args.mask,
                compose=args.compose,
                blend=args.blend,
                settings=settings,
                pti=pti if args.start == "inverted" else None,
            )
            imgs = r.pop("images")
            report["results"].append(r)
            if grid_dir:
                save_png(grid_dir / f"{m}_{r['attribute']}.png", before_after_grid(imgs["before"], imgs["after"]))
    print(format_table(report["results"]))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(f"-> {args.out}")
