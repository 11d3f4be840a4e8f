"""``styleclip-jax`` command line: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import sys

from ..errors import StyleClipError


def _add_convert(sub):
    p = sub.add_parser("convert", help="convert upstream PyTorch checkpoints (torch-free, code-free)")
    csub = p.add_subparsers(dest="what", required=True)
    g = csub.add_parser("generator", help="rosinality .pt, StyleCLIP mapper .pt (decoder.*) or NVIDIA stylegan2-ada .pkl")
    g.add_argument("input", help="checkpoint file")
    g.add_argument("out_dir", help="output folder (config.json + model.safetensors)")
    g.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    g.set_defaults(func=_run_convert_generator)


def _run_convert_generator(args):
    from convert_weights.stylegan2 import convert_generator

    gen = convert_generator(args.input, args.out_dir, overwrite=args.overwrite)
    c = gen.config
    print(f"converted {c.source} generator: {c.resolution}px, w_dim {c.w_dim}, {c.num_ws} W+ rows, "
          f"{len(c.style_layers)} style layers ({c.num_style_channels} channels) -> {args.out_dir}")


def _add_generate(sub):
    p = sub.add_parser("generate", help="generate images from seeds or a latents file")
    p.add_argument("--generator", required=True, help="generator folder (see `convert generator`)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--seeds", help="e.g. 0-7 or 1,5,9 (z = RandomState(seed).randn(z_dim))")
    src.add_argument("--latents", help=".npz with wplus (B,L,D), w (B,D), z (B,Z) or s/<layer> codes")
    p.add_argument("--truncation", type=float, default=1.0, help="psi toward w_avg (applies to z / seeds)")
    p.add_argument("--truncation-cutoff", type=int, default=None, help="truncate only the first N W+ rows")
    p.add_argument("--noise", choices=("const", "random", "none"), default="const")
    p.add_argument("--noise-seed", type=int, default=0, help="seed for --noise random")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--nrow", type=int, default=None, help="images per grid row (png)")
    p.add_argument("--out", required=True, help=".png grid or .npz (images, wplus, s/<layer>)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_run_generate)


def _run_generate(args):
    from .generate import run_generate

    run_generate(args)


def _add_demo(sub):
    p = sub.add_parser("demo", help="offline demo (no downloads)")
    p.add_argument("--out", default="demo_out", help="output folder")
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_run_demo)


def _run_demo(args):
    from .demo import run_demo

    run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="styleclip-jax", description="StyleCLIP in JAX/Flax")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_convert(sub)
    _add_generate(sub)
    _add_demo(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (StyleClipError, FileExistsError, FileNotFoundError) as e:
        print(f"styleclip-jax: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
