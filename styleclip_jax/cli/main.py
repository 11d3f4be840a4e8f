"""``styleclip-jax`` command line: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import os
import re
import sys

from PIL import Image

from styleclip_jax.cli.options import (
    ANGLE,
    BATCH,
    EVERY,
    HEADS,
    IMAGES,
    LAYER_ROW,
    LIKENESS_TAU,
    LR,
    NROW,
    PSI,
    RUN_STEPS,
    SAMPLES,
    SEED,
    SHIFT,
    STRENGTH,
    WEIGHT,
    Parser,
    add_config_options,
    add_latents_key,
    add_multiprocess,
    add_photo_source,
    add_population_stats,
    add_region,
    config_from_args,
    population_bank,
    progress_bar,
    region_kwargs,
    start_multiprocess,
)
from styleclip_jax.editing.mapper.config import MapperTrainConfig
from styleclip_jax.errors import InputError, StyleClipError


def _add_convert(sub):
    p = sub.add_parser("convert", help="convert upstream PyTorch checkpoints (torch-free, code-free)")
    csub = p.add_subparsers(dest="what", required=True)
    g = csub.add_parser(
        "generator", help="rosinality .pt, StyleCLIP mapper .pt (decoder.*), NVIDIA stylegan2-ada or StyleGAN3 .pkl"
    )
    g.add_argument("input", help="checkpoint file")
    g.add_argument("out_dir", help="output folder (config.json + model.safetensors)")
    g.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    g.add_argument(
        "--allow-modified-source",
        action="store_true",
        help="convert a StyleGAN3 snapshot whose embedded network code is not NVIDIA's (a fork)",
    )
    g.set_defaults(func=_run_convert_generator)
    c = csub.add_parser("clip", help="OpenAI CLIP .pt (TorchScript or state dict) or a Hugging Face CLIP folder")
    c.add_argument("input", help="checkpoint file or HF folder (config.json + model.safetensors / pytorch_model.bin)")
    c.add_argument("out_dir")
    c.add_argument("--vision-heads", type=HEADS, default=None, help="override width // 64 (OpenAI files only)")
    c.add_argument("--text-heads", type=HEADS, default=None, help="override width // 64 (OpenAI files only)")
    c.add_argument("--overwrite", action="store_true")
    c.set_defaults(func=_run_convert_clip)
    i = csub.add_parser("idnet", help="ArcFace IR-SE50 model_ir_se50.pth")
    i.add_argument("input")
    i.add_argument("out_dir")
    i.add_argument("--overwrite", action="store_true")
    i.set_defaults(func=_run_convert_idnet)
    pa = csub.add_parser("parser", help="face-parsing.PyTorch's BiSeNet 79999_iter.pth (legacy or zip format)")
    pa.add_argument("input")
    pa.add_argument("out_dir")
    pa.add_argument("--overwrite", action="store_true")
    pa.set_defaults(func=_run_convert_parser)
    lp = csub.add_parser("lpips", help="LPIPS: a torchvision AlexNet / VGG16 state dict + the lpips package's heads")
    lp.add_argument("--backbone", required=True, help="e.g. alexnet-owt-7be5be79.pth (features.* are read)")
    lp.add_argument("--heads", required=True, help="the lpips package's weights/v0.1/alex.pth (or vgg.pth)")
    lp.add_argument("out_dir")
    lp.add_argument("--overwrite", action="store_true")
    lp.set_defaults(func=_run_convert_lpips)
    m = csub.add_parser("mapper", help="StyleCLIP mapper .pt (optionally also its decoder.* generator)")
    m.add_argument("input")
    m.add_argument("out_dir")
    m.add_argument("--generator-out", default=None, help="also convert the embedded decoder.* generator here")
    m.add_argument("--overwrite", action="store_true")
    m.set_defaults(func=_run_convert_mapper)
    e = csub.add_parser("encoder", help="e4e (or pSp) encoder .pt, optionally also its decoder.* generator")
    e.add_argument("input", help="e.g. e4e_ffhq_encode.pt")
    e.add_argument("out_dir")
    e.add_argument("--generator-out", default=None, help="also convert the embedded decoder.* generator here")
    e.add_argument("--overwrite", action="store_true")
    e.set_defaults(func=_run_convert_encoder)
    f = csub.add_parser("mtcnn", help="facenet-pytorch's MTCNN weights (its wheel, or a folder with pnet/rnet/onet.pt)")
    f.add_argument("input", help="facenet_pytorch-2.6.0-py3-none-any.whl or its data/ folder")
    f.add_argument("out_dir")
    f.add_argument("--overwrite", action="store_true")
    f.set_defaults(func=_run_convert_mtcnn)


def _run_convert_encoder(args):
    from convert_weights.e4e import convert_encoder

    enc, gen = convert_encoder(args.input, args.out_dir, args.generator_out, overwrite=args.overwrite)
    c = enc.config
    print(
        f"converted {c.name} encoder: {len(c.units)} IR-SE units, W+ ({c.num_styles}, {c.style_dim}) -> {args.out_dir}"
        + (f"; generator -> {args.generator_out}" if gen is not None else "")
    )


def _run_convert_lpips(args):
    from convert_weights.lpips import convert_lpips

    net = convert_lpips(args.backbone, args.heads, args.out_dir, overwrite=args.overwrite)
    print(f"converted LPIPS ({net.config.net}, heads {net.config.tap_widths}) -> {args.out_dir}")


def _run_convert_mtcnn(args):
    from convert_weights.mtcnn import convert_mtcnn

    convert_mtcnn(args.input, args.out_dir, overwrite=args.overwrite)
    print(f"converted MTCNN (P-, R-, O-Net) -> {args.out_dir}")


def _run_convert_generator(args):
    from convert_weights.stylegan2 import convert_generator

    gen = convert_generator(
        args.input, args.out_dir, overwrite=args.overwrite, allow_modified_source=args.allow_modified_source
    )
    c = gen.config
    print(
        f"converted {c.source} generator: {c.resolution}px, w_dim {c.w_dim}, {c.num_ws} W+ rows, "
        f"{len(c.style_layers)} style layers ({c.num_style_channels} channels) -> {args.out_dir}"
    )


def _run_convert_clip(args):
    from convert_weights.clip import convert_clip

    m = convert_clip(
        args.input, args.out_dir, overwrite=args.overwrite, vision_heads=args.vision_heads, text_heads=args.text_heads
    )
    c = m.config
    print(
        f"converted CLIP ({m.source['format']}): ViT {c.vision_layers}x{c.vision_width} patch {c.patch_size} "
        f"@{c.image_size}px, text {c.text_layers}x{c.text_width}, embed {c.embed_dim} -> {args.out_dir}"
    )


def _run_convert_idnet(args):
    from convert_weights.idnet import convert_idnet

    n = convert_idnet(args.input, args.out_dir, overwrite=args.overwrite)
    print(
        f"converted IR-SE identity net: {len(n.config.units)} units, {n.config.embed_dim}-d embedding -> {args.out_dir}"
    )


def _run_convert_parser(args):
    from convert_weights.parser import convert_parser

    p = convert_parser(args.input, args.out_dir, overwrite=args.overwrite)
    print(f"converted face parser: ResNet-18 widths {p.config.resnet}, {p.config.n_classes} classes -> {args.out_dir}")


def _run_convert_mapper(args):
    from convert_weights.mapper import convert_mapper

    m, g = convert_mapper(args.input, args.out_dir, generator_out=args.generator_out, overwrite=args.overwrite)
    c = m.config
    print(
        f"converted {c.kind} mapper ({'+'.join(c.parts())}; {m.source.get('description', '')!r}) -> {args.out_dir}"
        + (f"; generator -> {args.generator_out}" if g is not None else "")
    )


MAPPER_TRAIN_OPTIONS = {
    "steps": RUN_STEPS,
    "batch_size": BATCH,
    "optimizer": ("ranger", "adam"),
    "lr": LR,
    "clip_lambda": WEIGHT,
    "l2_lambda": WEIGHT,
    "id_lambda": WEIGHT,
    "mapper_kind": ("levels", "single"),
    "truncation": PSI,
    "val_size": SAMPLES,
    "val_batch_size": BATCH,
    "log_every": EVERY,
    "val_every": EVERY,
    "save_every": EVERY,
    "seed": SEED,
    "keep_lambda": WEIGHT,
    "mask_lambda": WEIGHT,
    "population_scale": WEIGHT,
    "population_lambda": WEIGHT,
    "population_condition": LIKENESS_TAU,
}


def _add_mapper(sub):
    p = sub.add_parser("mapper", help="latent mappers (StyleCLIP method B)")
    msub = p.add_subparsers(dest="action", required=True)
    a = msub.add_parser("apply", help="apply a mapper with strength alpha: w + alpha * 0.1 * M(w)")
    a.add_argument("--mapper", required=True)
    a.add_argument("--generator", required=True)
    src = a.add_mutually_exclusive_group(required=True)
    src.add_argument("--latents", help=".npz with wplus (B,L,D) or w (B,D)")
    src.add_argument("--seeds")
    add_photo_source(src, a)
    add_latents_key(a, ("wplus", "w"))
    a.add_argument("--truncation", type=PSI, default=1.0, help="for --seeds (upstream mappers use 1)")
    a.add_argument("--alpha", type=STRENGTH, nargs="+", default=[1.0], help="one or more strengths (grid columns)")
    a.add_argument(
        "--also",
        nargs=2,
        action="append",
        default=[],
        metavar=("MAPPER", "ALPHA"),
        help="compose another mapper's edit at its own strength into every column (repeatable)",
    )
    add_region(a, keep=False)
    a.add_argument("--batch-size", type=BATCH, default=8)
    a.add_argument("--out", required=True, help=".png grid (input | alphas…) or .npz (images, wplus)")
    a.add_argument("--overwrite", action="store_true")
    a.set_defaults(func=_run_mapper_apply)
    t = msub.add_parser("train", help="train a mapper for one prompt (Ranger or Adam; resumable; data-parallel)")
    t.add_argument("--generator", required=True)
    t.add_argument("--clip", required=True)
    t.add_argument("--idnet", default=None, help="IR-SE50 folder (needed when --id-lambda > 0)")
    t.add_argument("--description", required=True, help="the target prompt, e.g. 'purple hair'")
    t.add_argument(
        "--latents",
        default=None,
        help=".npz with wplus (N,L,D) or w (N,D) (e.g. e4e inversions); default: sample z on the fly at --truncation",
    )
    add_latents_key(t, ("wplus", "w"))
    t.add_argument("--out", required=True, help="experiment folder (checkpoints, logs, val grids, mapper/)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="clear --out first (a failed or unwanted run; only a mapper training folder is cleared)",
    )
    add_config_options(
        t,
        MapperTrainConfig,
        MAPPER_TRAIN_OPTIONS,
        flags={"mapper_kind": "--mapper-type"},
        helps={
            "id_lambda": "0.1 upstream (needs --idnet); 0 for identity-changing edits or non-face generators",
            "truncation": "for latents sampled on the fly",
            "keep_lambda": "weight of the --keep term",
            "mask_lambda": "weight of the pixel change outside --mask / --box",
            "population_scale": "start the mapper's offset this far along the population bank's W direction for "
            "the description (beyond upstream; needs --stats)",
            "population_lambda": "hold the mean offset there with this weight (with --population-scale)",
            "population_condition": "first fit the mapper so that each population sample's offset is the direction "
            "taken among its lookalikes (softmax of CLIP cosine / this temperature, e.g. 0.03; with "
            "--population-scale; 0: off)",
        },
    )
    add_population_stats(t, "--population-scale")
    add_region(t, blend=False)
    for lvl in ("coarse", "medium", "fine"):
        t.add_argument(f"--no-{lvl}", action="store_true", help=f"no {lvl} mapper (its delta is zero)")
    add_multiprocess(t, "devices to shard the batch over (default all, of every process)")
    t.set_defaults(func=_run_mapper_train)


def _run_mapper_train(args):
    from styleclip_jax.editing.mapper.run import train_mapper
    from styleclip_jax.models.clip import load_clip
    from styleclip_jax.models.generators import load_generator
    from styleclip_jax.models.idnet import load_idnet
    from styleclip_jax.models.latents import wplus_from_source

    start_multiprocess(args)
    cfg = config_from_args(
        MapperTrainConfig,
        args,
        MAPPER_TRAIN_OPTIONS,
        description=args.description,
        coarse=not args.no_coarse,
        medium=not args.no_medium,
        fine=not args.no_fine,
        keep=tuple(args.keep),
    )
    if bool(cfg.population_scale) != bool(args.stats):
        raise InputError(
            "--population-scale and --stats go together (the mapper starts from the stats' population bank)"
        )
    gen, clip = load_generator(args.generator), load_clip(args.clip)
    idnet = load_idnet(args.idnet) if args.idnet else None
    population = population_bank(args.stats) if args.stats else None
    latents = (
        wplus_from_source(gen, latents=args.latents, what="mapper training", key=args.latents_key)
        if args.latents
        else None
    )
    args.on_interrupt = "the last completed chunk is checkpointed; continue with the same command plus --resume"
    with progress_bar(f"mapper {args.description[:30]!r}") as bar:
        r = train_mapper(
            gen,
            clip,
            cfg,
            args.out,
            latents=latents,
            idnet=idnet,
            resume=args.resume,
            overwrite=args.overwrite,
            devices=args.devices,
            progress=bar,
            population=population,
            **{k: v for k, v in region_kwargs(args, gen, latents).items() if k in ("mask", "box")},
        )
    last = r.val[-1] if r.val else None
    print(
        f"trained mapper {args.description!r} to step {r.step} -> {args.out}/mapper"
        + (f" (val loss {last['loss']:.4f}, CLIP {last['clip']:.4f})" if last else "")
    )


def _run_mapper_apply(args):
    import argparse

    import numpy as np

    from styleclip_jax.cli.options import (
        paste_back_if_asked,
        region_kwargs,
        source_latents,
    )
    from styleclip_jax.editing.mapper.apply import apply_mapper
    from styleclip_jax.errors import InputError
    from styleclip_jax.io.files import check_output_path
    from styleclip_jax.models.generators import load_generator
    from styleclip_jax.models.mapper.handle import load_mapper

    out = check_output_path(args.out, args.overwrite)
    also = []
    for path, a in args.also:
        try:
            also.append((path, STRENGTH(a)))
        except argparse.ArgumentTypeError as e:
            raise InputError(f"--also {path!r} {a!r}: {e}") from None
    mapper, gen = load_mapper(args.mapper), load_generator(args.generator)
    mapper.check_fits(gen, "mapper apply")
    also = [(load_mapper(path), a) for path, a in also]
    w, inv, gen, pti_note = source_latents(args, gen, "mapper apply", args.truncation)
    res = apply_mapper(gen, mapper, w, args.alpha, args.batch_size, also=also, **region_kwargs(args, gen, w))
    res.save(out, np.asarray(gen.synthesis(w)) if out.suffix == ".png" else None)
    note = paste_back_if_asked(args, inv, res.images)
    print(f"applied mapper to {len(w)} latent(s) at alpha {args.alpha} -> {out}{pti_note}{note}")


def _add_embed(sub):
    p = sub.add_parser("embed", help="CLIP embeddings of prompts or images (for checks from outside)")
    p.add_argument("--clip", required=True, help="CLIP folder (see `convert clip`)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", nargs="+", help="one or more prompts")
    src.add_argument("--image", nargs="+", help="image files (standard CLIP preprocess, PIL-exact)")
    p.add_argument("--truncate", action="store_true", help="cut prompts longer than 77 tokens")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    p.add_argument("--out", required=True, help=".npz with tokens/text_features or image_features (unnormalised)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_run_embed)


def _run_embed(args):
    import numpy as np

    from styleclip_jax.io.files import atomic_write, check_output_path
    from styleclip_jax.models.clip import load_clip, preprocess_pil, tokenize
    from styleclip_jax.validation import check_finite

    out = check_output_path(args.out, args.overwrite, suffixes=(".npz",))
    model = load_clip(args.clip, dtype=args.dtype)
    if args.text:
        tokens = tokenize(args.text, truncate=args.truncate)
        feats = check_finite("text features", np.asarray(model.encode_text(tokens)))
        atomic_write(out, lambda p: np.savez(p, tokens=tokens, text_features=feats))
        print(f"embedded {len(tokens)} prompt(s) -> {out}")
        return
    from styleclip_jax.io.images import read_image

    arrays = [read_image(f) for f in args.image]
    x = np.concatenate([preprocess_pil(a, model.config.image_size) for a in arrays])
    feats = check_finite("image features", np.asarray(model.encode_image(x)))
    atomic_write(out, lambda p: np.savez(p, image_features=feats))
    print(f"embedded {len(arrays)} image(s) -> {out}")


def _add_generate(sub):
    p = sub.add_parser("generate", help="generate images from seeds or a latents file")
    p.add_argument("--generator", required=True, help="generator folder (see `convert generator`)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--seeds", help="e.g. 0-7 or 1,5,9 (z = RandomState(seed).randn(z_dim))")
    src.add_argument("--latents", help=".npz with wplus (B,L,D), w (B,D), z (B,Z) or s/<layer> codes")
    add_photo_source(src, p)
    p.add_argument("--truncation", type=PSI, default=1.0, help="psi toward w_avg (applies to z / seeds)")
    p.add_argument("--truncation-cutoff", type=LAYER_ROW, default=None, help="truncate only the first N W+ rows")
    add_latents_key(p)
    p.add_argument("--noise", choices=("const", "random", "none"), default="const")
    p.add_argument("--noise-seed", type=SEED, default=0, help="seed for --noise random")
    p.add_argument("--batch-size", type=BATCH, default=8)
    p.add_argument("--nrow", type=NROW, default=None, help="images per grid row (png)")
    p.add_argument(
        "--translate",
        type=SHIFT,
        default=None,
        help="StyleGAN3 only: move the image by x,y (image widths), as gen_images.py --translate",
    )
    p.add_argument("--rotate", type=ANGLE, default=None, help="StyleGAN3 only: rotate the image by this many degrees")
    p.add_argument("--out", required=True, help=".png grid or .npz (images, wplus, s/<layer>)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_run_generate)


def _run_generate(args):
    from styleclip_jax.cli.generate import run_generate

    run_generate(args)


def _add_demo(sub):
    p = sub.add_parser("demo", help="offline demo of all three methods on the bundled toy world (no downloads)")
    p.add_argument("--out", default="demo_out", help="output folder")
    p.add_argument("--world", default=None, help="toy-world folder (default: the bundled one)")
    p.add_argument("--samples", type=IMAGES, default=4)
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument(
        "--start",
        choices=("samples", "inverted"),
        default="samples",
        help="edit generator samples, or scenes drawn by the world's renderer and inverted by the "
        "bundled encoder (the photo workflow: image -> encoder -> edit)",
    )
    p.add_argument(
        "--prompts",
        nargs="+",
        default=["a blue object", "a green object", "a large object"],
        help="latent-optimisation prompts (colour-only prompts move the colour rows, see MethodSettings)",
    )
    p.add_argument("--global-target", default="green object", help="global-direction target (neutral: 'object')")
    p.add_argument("--mapper-prompt", default="a yellow object")
    p.add_argument("--mapper-steps", type=RUN_STEPS, default=300)
    p.add_argument(
        "--faithful",
        action="store_true",
        help="StyleCLIP's own estimators (fs3, a cold start) instead of the toy world's best measured "
        "settings (the population estimator and warm start, beyond upstream)",
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_run_demo)


def _run_demo(args):
    from styleclip_jax.cli.demo import run_demo

    run_demo(args)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="styleclip-jax", description="StyleCLIP in JAX/Flax")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_convert(sub)
    _add_generate(sub)
    _add_embed(sub)
    from styleclip_jax.cli.edit import add_edit

    add_edit(sub)
    _add_mapper(sub)
    from styleclip_jax.cli.global_cmd import add_global

    add_global(sub)
    from styleclip_jax.cli.export_cmd import add_export

    add_export(sub)
    from styleclip_jax.cli.faces_cmd import add_faces

    add_faces(sub)
    from styleclip_jax.cli.invert_cmd import add_invert

    add_invert(sub)
    from styleclip_jax.cli.encoder_cmd import add_encoder

    add_encoder(sub)
    from styleclip_jax.cli.video_cmd import add_video

    add_video(sub)
    from styleclip_jax.cli.ui_cmd import add_ui

    add_ui(sub)
    from styleclip_jax.cli.toy_cmd import add_toy

    add_toy(sub)
    _add_demo(sub)
    return parser


def main(argv=None) -> int:
    """Run one command. Every error a user can cause is one line on stderr and exit code 2;
    Ctrl-C exits 130 (resumable jobs have saved what they finished)."""
    quiet_third_party()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print(
            "styleclip-jax: interrupted" + (f"; {args.on_interrupt}" if getattr(args, "on_interrupt", None) else ""),
            file=sys.stderr,
        )
        return 130
    except (StyleClipError, OSError, Image.DecompressionBombError, MemoryError) as e:
        print(f"styleclip-jax: error: {one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug, not the user's doing: still one line
        if os.environ.get("STYLECLIP_JAX_DEBUG"):
            raise
        print(
            f"styleclip-jax: internal error ({type(e).__name__}: {one_line(e)}); rerun with "
            "STYLECLIP_JAX_DEBUG=1 for the traceback and report it",
            file=sys.stderr,
        )
        return 1
    return 0


def one_line(e: BaseException) -> str:
    """An exception as one line: OSErrors with their file name, newlines folded, and the library's
    option names (`latents_key`, `overwrite=True`) written as the flags that set them."""
    if isinstance(e, OSError) and not isinstance(e, StyleClipError) and e.strerror:
        text = f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    else:
        text = str(e) or type(e).__name__
    return " ".join(as_flags(text).split())


def as_flags(text: str) -> str:
    """`name` or `name=True` in a library message -> --name (the library never names CLI flags)."""
    return re.sub(r"`([a-z][a-z0-9_]*)(?:=True)?`", lambda m: "--" + m.group(1).replace("_", "-"), text)


def quiet_third_party() -> None:
    """Keep the export libraries' internal chatter (onnx_ir's warnings) off our users' terminal."""
    import logging

    for name in ("onnx_ir", "jax2onnx", "onnxscript"):
        logging.getLogger(name).setLevel(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
