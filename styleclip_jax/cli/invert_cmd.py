"""``styleclip-jax invert``: photos -> W+ latents with the e4e encoder (optionally aligned first)."""

from __future__ import annotations

from styleclip_jax.cli.options import (
    BATCH,
    LR,
    STEPS,
    WEIGHT,
    add_iterations_option,
    add_pti_options,
    load_lpips_option,
    progress_bar,
    tune_if_asked,
)


def add_invert(sub):
    p = sub.add_parser("invert", help="photos -> W+ latents with an e4e encoder (StyleCLIP's real-photo path)")
    p.add_argument("--encoder", required=True, help="e4e / pSp / ReStyle encoder folder (see `convert encoder`)")
    p.add_argument(
        "--images", nargs="+", required=True, help="image files or folders (aligned 256² faces, or use --align)"
    )
    p.add_argument("--align", action="store_true", help="find and FFHQ-align the largest face of each photo first")
    p.add_argument(
        "--generator", default=None, help="also decode the latents (the reconstruction); a ReStyle encoder needs it"
    )
    add_iterations_option(p)
    p.add_argument(
        "--refine",
        type=STEPS,
        default=0,
        metavar="N",
        help="then N steps of latent optimisation toward each photo (pixel L2, + LPIPS with --lpips; needs "
        "--generator)",
    )
    p.add_argument("--refine-lr", type=LR, default=0.01)
    p.add_argument("--idnet", default=None, help="IR-SE50 folder: adds the ID loss to --refine (face generators)")
    p.add_argument("--id-lambda", type=WEIGHT, default=0.1, help="weight of the ID loss in --refine (with --idnet)")
    add_pti_options(p)
    p.add_argument("--batch-size", type=BATCH, default=8)
    p.add_argument(
        "--out",
        required=True,
        help=".npz (wplus, files[, images]) or .png (photo | reconstruction grid; needs --generator)",
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run_invert)


def run_invert(args):
    import numpy as np

    from styleclip_jax.editing.inversion.photos import invert_photos
    from styleclip_jax.errors import InputError
    from styleclip_jax.faces.photos import expand_images
    from styleclip_jax.io.files import check_output_path
    from styleclip_jax.io.images import make_grid, save_png, to_uint8
    from styleclip_jax.io.latents import write_npz
    from styleclip_jax.models.e4e import load_encoder

    out = check_output_path(args.out, args.overwrite)
    if out.suffix == ".png" and not args.generator:
        raise InputError("a .png output shows the reconstruction: give --generator (or write .npz)")
    if (args.refine or args.pti) and not args.generator:
        raise InputError("--refine and --pti work on the reconstruction: give --generator")
    enc = load_encoder(args.encoder)
    gen = None
    if args.generator:
        from styleclip_jax.models.generators import load_generator

        gen = load_generator(args.generator)
        enc.check_fits(gen)
    n = len(expand_images(args.images))
    with progress_bar("invert", "image") as bar:
        inv = invert_photos(
            args.images, enc, args.align, args.batch_size, bar if n > 1 else None, gen=gen, iterations=args.iterations
        )
    w, files, photos = inv.wplus, inv.files, inv.crops
    note = ""
    if args.refine:
        from styleclip_jax.editing.inversion.core import photos_at, refine_inversion
        from styleclip_jax.models.idnet import load_idnet

        idnet = load_idnet(args.idnet) if args.idnet else None
        target = photos_at(photos, gen.config.resolution)
        w, losses = refine_inversion(
            gen,
            w,
            target,
            args.refine,
            args.refine_lr,
            args.id_lambda if idnet is not None else 0.0,
            idnet,
            lpips=load_lpips_option(args.lpips),
        )
        note = f"; refined {args.refine} steps, loss {losses[0].mean():.4f} -> {losses[-1].mean():.4f}"
    if args.pti:
        import dataclasses

        gen, pti_note = tune_if_asked(args, gen, dataclasses.replace(inv, wplus=w), out)
        note += pti_note
    names = np.array([f.name for f in files])
    images = None
    if gen is not None:
        images = np.concatenate(
            [np.asarray(gen.synthesis(w[i : i + args.batch_size])) for i in range(0, len(w), args.batch_size)]
        )
    if out.suffix == ".png":
        from PIL import Image

        r = images.shape[1]
        src = np.stack([np.asarray(Image.fromarray(p).resize((r, r), Image.LANCZOS)) for p in photos])
        save_png(out, make_grid(np.stack([src, to_uint8(images)], 1).reshape(-1, r, r, 3), nrow=2))
    elif images is not None:
        write_npz(out, images, w, files=names)
    else:
        from styleclip_jax.io.files import atomic_write
        from styleclip_jax.validation import check_finite

        check_finite("wplus", w)
        atomic_write(out, lambda p: np.savez(p, wplus=w, files=names))
    print(f"inverted {len(w)} photo(s) to W+ {w.shape[1:]} -> {out}{note}")
