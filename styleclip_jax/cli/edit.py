"""``styleclip-jax edit optimize``: Method A from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from styleclip_jax.errors import InputError
from styleclip_jax.latents_io import check_finite
from styleclip_jax.model_dir import atomic_write, refuse_nonempty_dir
from styleclip_jax.utils.images import make_grid, save_png, to_uint8
from styleclip_jax.cli.options import COUNT, LR, NONNEG, PSI, WEIGHT, add_latents_key, add_photo_source


OUTPUTS = ("result.npz", "before_after.png", "trajectory.gif", "frames")


def add_edit(sub):
    p = sub.add_parser("edit", help="text-driven edits")
    esub = p.add_subparsers(dest="method", required=True)
    o = esub.add_parser("optimize", help="latent optimisation (StyleCLIP method A)")
    o.add_argument("--generator", required=True)
    o.add_argument("--clip", required=True)
    o.add_argument("--idnet", default=None, help="identity net folder (needed for --id > 0)")
    o.add_argument("--text", required=True, nargs="+", help="one or more prompts; every latent is paired with each")
    src = o.add_mutually_exclusive_group()
    src.add_argument("--latents", help=".npz with wplus (B,L,D) or w (B,D)")
    src.add_argument("--seeds", help="e.g. 0-3 (sampled at --truncation toward w_avg)")
    add_photo_source(src, o)
    add_latents_key(o, ("wplus", "w"))
    o.add_argument("--truncation", type=PSI, default=0.7)
    o.add_argument("--mode", choices=("edit", "free_generation"), default="edit")
    o.add_argument("--space", choices=("w+", "s"), default="w+")
    o.add_argument("--steps", type=COUNT, default=300)
    o.add_argument("--lr", type=LR, default=0.1)
    o.add_argument("--l2", type=WEIGHT, default=0.008, help="lambda of the sum-of-squares latent term")
    o.add_argument("--id", type=WEIGHT, default=0.0, help="lambda of the ID loss (0.005 in upstream's Colab)")
    o.add_argument("--rows", default=None, help="W+ rows the edit may move, e.g. 4-7 (default: all, as upstream)")
    o.add_argument("--tie-rows", action="store_true", help="the moved rows share one offset (a W edit of those rows)")
    o.add_argument("--snapshot-every", type=NONNEG, default=0, help="keep the latent every k steps (frames, GIF)")
    o.add_argument("--gif", action="store_true", help="write trajectory.gif (needs --snapshot-every)")
    o.add_argument("--out", required=True, help="output folder")
    o.add_argument("--overwrite", action="store_true")
    o.set_defaults(func=run_optimize)


def run_optimize(args):
    from styleclip_jax.editing import OptimizeConfig, optimize
    from styleclip_jax.latents_io import invert_for, parse_seeds, read_latents
    from styleclip_jax.cli.options import check_paste_back, paste_back_if_asked
    from styleclip_jax.models.clip import load_clip, tokenize
    from styleclip_jax.models.idnet import load_idnet
    from styleclip_jax.models.stylegan2 import load_generator

    out = Path(args.out)
    refuse_nonempty_dir(out, args.overwrite)
    if args.gif and not args.snapshot_every:
        raise InputError("--gif needs --snapshot-every k")
    check_paste_back(args)
    if args.mode == "free_generation" and (args.latents or args.seeds or args.images):
        raise InputError("--mode free_generation starts from the mean latent; it takes no --latents, --seeds or "
                         "--images")
    cfg = OptimizeConfig(steps=args.steps, lr=args.lr, l2_lambda=args.l2, id_lambda=args.id, space=args.space,
                         mode=args.mode, snapshot_every=args.snapshot_every,
                         rows=tuple(parse_seeds(args.rows, "--rows")) if args.rows else (), tie_rows=args.tie_rows)
    tokenize(args.text)                       # a bad prompt is refused before any model loads
    gen = load_generator(args.generator)
    clip = load_clip(args.clip)
    idnet = load_idnet(args.idnet) if args.idnet else None
    latents = seeds = inv = None
    if args.mode == "edit":
        if args.images:
            inv = invert_for(gen, args.images, args.encoder, args.align)
            latents = inv.wplus
        elif args.latents:
            _, latents = read_latents(args.latents, gen, accept=("wplus", "w"), key=args.latents_key)
        elif args.seeds:
            seeds = parse_seeds(args.seeds)
        else:
            raise InputError("edit mode needs --latents, --seeds or --images")
    n_pairs = (len(latents) if latents is not None else len(seeds) if seeds else 1) * len(args.text)
    with tqdm(total=cfg.steps, desc=f"optimize {n_pairs} pair(s)", unit="step") as bar:
        res = optimize(gen, clip, args.text, latents, seeds=seeds, idnet=idnet, config=cfg,
                       truncation=args.truncation, progress=lambda i: bar.update(1))
    out.mkdir(parents=True, exist_ok=True)
    _remove_old_outputs(out)
    arrays = {"images_before": res.images_before, "images_after": res.images_after,
              "latent_index": res.latent_index, "prompt_index": res.prompt_index, "prompts": np.array(res.prompts)}
    arrays.update({f"loss_{k}": v for k, v in res.losses.items()})
    if cfg.space == "w+":
        arrays["wplus"], arrays["wplus_start"] = res.final, res.start
        if res.snapshots:
            arrays["wplus_snapshots"] = np.stack(res.snapshots)
    else:
        arrays.update({f"s/{k}": v for k, v in res.final.items()})
        arrays.update({f"s_start/{k}": v for k, v in res.start.items()})
    for k, v in arrays.items():
        check_finite(f"result {k}", v)
    atomic_write(out / "result.npz", lambda p: np.savez(p, **arrays))
    pairs = np.stack([res.images_before, res.images_after], axis=1).reshape(-1, *res.images_after.shape[1:])
    save_png(out / "before_after.png", make_grid(to_uint8(pairs), nrow=2))
    if args.gif:
        _write_trajectory(gen, res, cfg, out)
    note = paste_back_if_asked(args, inv, res.images_after.reshape(-1, len(args.text), *res.images_after.shape[1:]))
    final = res.losses["clip"][-1]
    print(f"optimised {n_pairs} pair(s) for {cfg.steps} steps: CLIP loss {res.losses['clip'][0].mean():.4f} -> "
          f"{final.mean():.4f}; wrote {out}/result.npz, before_after.png" + (", trajectory.gif" if args.gif else "") + note)


def _remove_old_outputs(out: Path) -> None:
    """With --overwrite, a previous run's files must not mix with this one's (its frames above all)."""
    import shutil

    for name in OUTPUTS:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def _write_trajectory(gen, res, cfg, out: Path):
    from PIL import Image

    frames = [res.images_before]
    for snap in res.snapshots:
        frames.append(np.asarray(gen.synthesis(snap) if cfg.space == "w+" else gen.synthesis_s(snap)))
    grids = [make_grid(to_uint8(f), nrow=min(len(f), 4)) for f in frames]
    (out / "frames").mkdir(exist_ok=True)
    for k, gimg in enumerate(grids):
        save_png(out / "frames" / f"{k * cfg.snapshot_every:05d}.png", gimg)
    pil = [Image.fromarray(gimg) for gimg in grids]
    pil[0].save(out / "trajectory.gif", save_all=True, append_images=pil[1:], duration=100, loop=0)
