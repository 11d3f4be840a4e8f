"""``styleclip-jax export mapper | generator | global`` and ``styleclip-jax run-onnx``.

``run-onnx`` needs only numpy and onnxruntime (no JAX), so it works on a serving machine that
installed the package without its JAX extras in use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from styleclip_jax.cli.options import (
    BATCH,
    LAYER_ROW,
    OPSET,
    PSI,
    STRENGTH,
    add_latents_key,
)
from styleclip_jax.errors import InputError


def add_export(sub):
    p = sub.add_parser(
        "export", help="export an edit path to ONNX (weights baked in, dynamic batch), or a generator to PyTorch"
    )
    esub = p.add_subparsers(dest="what", required=True)
    m = esub.add_parser("mapper", help="mapper + generator: (wplus, alpha) -> image")
    m.add_argument("--mapper", required=True)
    m.add_argument("--generator", required=True)
    g = esub.add_parser("generator", help="generator: wplus -> image, or (z, psi) -> image")
    g.add_argument("--generator", required=True)
    g.add_argument("--from", dest="source", choices=("wplus", "z"), default="wplus")
    g.add_argument(
        "--truncation-cutoff", type=LAYER_ROW, default=None, help="with --from z: truncate only the first N rows"
    )
    gl = esub.add_parser("global", help="StyleSpace edit: (wplus, direction, alpha) -> image")
    gl.add_argument("--generator", required=True)
    en = esub.add_parser("encoder", help="e4e encoder: aligned photo (256²) -> W+")
    en.add_argument("--encoder", required=True)
    pe = esub.add_parser("photo-edit", help="photo -> e4e -> mapper -> generator: (photo, alpha) -> edited image")
    pe.add_argument("--encoder", required=True)
    pe.add_argument("--mapper", required=True)
    pe.add_argument("--generator", required=True)
    for q in (m, g, gl, en, pe):
        q.add_argument("--out", required=True, help="model.onnx (weights over 100 MB go to model.onnx.data)")
        q.add_argument("--opset", type=OPSET, default=21)
        q.add_argument("--overwrite", action="store_true")
        q.set_defaults(func=run_export)

    t = esub.add_parser(
        "torch", help="a generator folder (a PTI-tuned one too) as a rosinality checkpoint for PyTorch tools"
    )
    t.add_argument("generator", help="generator folder (rosinality architecture)")
    t.add_argument("out", help="OUT.pt: {'g_ema', 'latent_avg'}, torch.load(weights_only=True) reads it")
    t.add_argument("--overwrite", action="store_true")
    t.set_defaults(func=run_export_torch)

    r = sub.add_parser("run-onnx", help="run an exported model with onnxruntime (no JAX needed)")
    r.add_argument("--model", required=True)
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--latents", help=".npz with wplus (B,L,D) or w (B,D) (or z (B,Z) for generator_z models)")
    src.add_argument("--seeds", help="for generator_z models: z = RandomState(seed).randn(z_dim)")
    src.add_argument("--images", nargs="+", help="for encoder / photo-edit models: aligned face photos (or folders)")
    add_latents_key(r, ("wplus", "w", "z"))
    r.add_argument("--alpha", type=STRENGTH, default=None, help="strength (mapper and global models; default 1)")
    r.add_argument("--psi", type=PSI, default=None, help="truncation (generator_z models; default 1)")
    r.add_argument("--direction", default=None, help=".npy StyleSpace direction (global models)")
    r.add_argument("--batch-size", type=BATCH, default=8)
    r.add_argument("--cpu", action="store_true", help="use the CPU provider even when a GPU is available")
    r.add_argument("--out", required=True, help=".npz (images (B,H,W,3) float32) or .png grid")
    r.add_argument("--overwrite", action="store_true")
    r.set_defaults(func=run_onnx)


def run_export(args):
    from styleclip_jax.export import onnx_export as ox
    from styleclip_jax.models.generators import load_generator

    kw = dict(opset=args.opset, overwrite=args.overwrite)
    if args.what == "encoder":
        from styleclip_jax.models.e4e import load_encoder

        path = ox.export_encoder(load_encoder(args.encoder), args.out, **kw)
        print(f"exported encoder -> {path}")
        return
    gen = load_generator(args.generator)
    if args.what == "photo-edit":
        from styleclip_jax.models.e4e import load_encoder
        from styleclip_jax.models.mapper.handle import load_mapper

        path = ox.export_photo_edit(load_encoder(args.encoder), load_mapper(args.mapper), gen, args.out, **kw)
    elif args.what == "mapper":
        from styleclip_jax.models.mapper.handle import load_mapper

        path = ox.export_mapper(load_mapper(args.mapper), gen, args.out, **kw)
    elif args.what == "generator":
        path = ox.export_generator(gen, args.out, args.source, args.truncation_cutoff, **kw)
    else:
        path = ox.export_global(gen, args.out, **kw)
    side = Path(str(path) + ".data")
    print(f"exported {args.what} -> {path}" + (f" (+ {side.name})" if side.exists() else ""))


def run_onnx(args):
    from styleclip_jax.export.runtime import OnnxEditor
    from styleclip_jax.io.files import check_output_path
    from styleclip_jax.io.latents import write_npz
    from styleclip_jax.models.latents import z_from_seeds
    from styleclip_jax.validation import parse_seeds

    out = check_output_path(args.out, args.overwrite)
    ed = OnnxEditor(args.model, providers=["CPUExecutionProvider"] if args.cpu else None)
    spec = {s["name"]: s["shape"] for s in ed.inputs}
    takes = {"--alpha": "alpha" in spec, "--psi": "psi" in spec, "--direction": "direction" in spec}
    given = {
        "--alpha": args.alpha is not None,
        "--psi": args.psi is not None,
        "--direction": args.direction is not None,
    }
    unused = [flag for flag in takes if given[flag] and not takes[flag]]
    if unused:
        raise InputError(f"{ed.kind} models do not take {', '.join(unused)} (inputs: {', '.join(spec)})")
    feeds = {}
    if "photo" in spec:
        if not args.images:
            raise InputError(f"{ed.kind} models take photos: give --images")
        from styleclip_jax.faces.photos import expand_images
        from styleclip_jax.io.images import read_image
        from styleclip_jax.models.e4e.transform import preprocess

        files = [f for f, _ in expand_images(args.images)]
        feeds["photo"] = preprocess([read_image(f) for f in files], spec["photo"][1])
        if "alpha" in spec:
            feeds["alpha"] = 1.0 if args.alpha is None else args.alpha
    elif args.images:
        raise InputError(f"{ed.kind} models take latents, not --images")
    elif "z" in spec:
        if args.seeds:
            feeds["z"] = z_from_seeds(parse_seeds(args.seeds), spec["z"][1])
        else:
            feeds["z"] = _onnx_latents(args, ("z",))
        feeds["psi"] = 1.0 if args.psi is None else args.psi
    else:
        if args.seeds:
            raise InputError(
                f"{ed.kind} models take W+ latents (--latents); --seeds needs a generator exported --from z"
            )
        kind, w = _onnx_latents(args, ("wplus", "w"), with_kind=True)
        feeds["wplus"] = np.repeat(w[:, None], spec["wplus"][1], axis=1) if kind == "w" else w
        if "alpha" in spec:
            feeds["alpha"] = 1.0 if args.alpha is None else args.alpha
        if "direction" in spec:
            if not args.direction:
                raise InputError(
                    "global models need --direction (a .npy StyleSpace direction, e.g. from "
                    "`styleclip_jax.editing.direction(...).delta`)"
                )
            try:
                feeds["direction"] = np.load(args.direction, allow_pickle=False)
            except (ValueError, OSError, EOFError) as e:
                raise InputError(
                    f"{args.direction}: not a readable .npy array ({' '.join(str(e).split())[:200]})"
                ) from None
    if ed.output_name == "wplus" and out.suffix != ".npz":
        raise InputError("encoder models output latents: write a .npz")  # before the work
    images = ed.run(batch_size=args.batch_size, **feeds)
    if ed.output_name == "wplus":
        from styleclip_jax.io.files import atomic_write
        from styleclip_jax.validation import check_finite

        check_finite("wplus", images)
        atomic_write(out, lambda p: np.savez(p, wplus=images, files=np.array([f.name for f in files])))
        print(f"ran {ed.kind} model on {len(images)} photo(s) with {ed.providers[0]} -> {out}")
        return
    if out.suffix == ".npz":
        write_npz(out, images, feeds.get("wplus"))
    else:
        from styleclip_jax.io.images import make_grid, save_png, to_uint8

        save_png(out, make_grid(to_uint8(images)))
    print(f"ran {ed.kind} model on {len(images)} input(s) with {ed.providers[0]} -> {out}")


def _onnx_latents(args, accept, with_kind: bool = False):
    """The array of --latents this graph takes (``io.latents.read_latents_unchecked``)."""
    from styleclip_jax.io.latents import read_latents_unchecked

    kind, a = read_latents_unchecked(args.latents, accept, args.latents_key)
    return (kind, a) if with_kind else a


def run_export_torch(args):
    from convert_weights.stylegan2 import export_rosinality
    from styleclip_jax.models.generators import load_generator

    gen = load_generator(args.generator)
    out = export_rosinality(gen, args.out, args.overwrite)
    c = gen.config
    print(
        f"wrote a rosinality checkpoint ({c.resolution}px, style_dim {c.w_dim}, n_mlp {len(c.mapping_dims)}) -> {out}"
    )
