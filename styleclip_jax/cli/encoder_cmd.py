"""``styleclip-jax encoder train``: an e4e encoder for any generator folder (resumable)."""

from __future__ import annotations

from styleclip_jax.cli.options import (
    COUNT,
    ENCODER_SIDE,
    LR,
    NONNEG,
    PSI,
    SEED,
    WEIGHT,
    add_config_options,
    add_multiprocess,
    config_from_args,
    integer,
    load_lpips_option,
    progress_bar,
    start_multiprocess,
)

ENCODER_TRAIN_OPTIONS = {
    "steps": NONNEG,
    "batch_size": COUNT,
    "lr": LR,
    "pixel_lambda": WEIGHT,
    "id_lambda": WEIGHT,
    "delta_lambda": WEIGHT,
    "latent_lambda": WEIGHT,
    "lpips_lambda": WEIGHT,
    "progressive_start": NONNEG,
    "progressive_every": NONNEG,
    "truncation": PSI,
    "seed": SEED,
    "iterations": integer(1, 20),  # EncoderTrainConfig's bound
}


def add_encoder(sub):
    p = sub.add_parser("encoder", help="photo encoders (e4e, ReStyle)")
    esub = p.add_subparsers(dest="action", required=True)
    t = esub.add_parser("train", help="train an e4e encoder on a generator's samples (resumable; see README)")
    t.add_argument("--generator", required=True)
    t.add_argument("--out", required=True, help="experiment folder (run.json, checkpoints/, metrics.jsonl, encoder/)")
    t.add_argument("--idnet", default=None, help="IR-SE50 folder (needed when --id-lambda > 0; faces)")
    t.add_argument("--lpips", default=None, help="LPIPS folder, or 'random' (needed when --lpips-lambda > 0)")
    from styleclip_jax.editing.inversion.config import EncoderTrainConfig

    add_config_options(
        t,
        EncoderTrainConfig,
        ENCODER_TRAIN_OPTIONS,
        helps={
            "id_lambda": "e4e uses 0.5 for faces (with --idnet)",
            "delta_lambda": "e4e's delta_norm_lambda",
            "latent_lambda": "MSE to the sample's known W+ (synthetic data only; not in e4e)",
            "lpips_lambda": "e4e uses 0.8 (with --lpips)",
            "progressive_every": "steps between delta rows (0: all at once)",
            "iterations": "with --restyle: refinement passes per batch (upstream's n_iters_per_batch)",
        },
    )
    t.add_argument(
        "--restyle",
        action="store_true",
        help="train a ReStyle-e4e encoder (6-channel input: the photo and the current reconstruction; iterative)",
    )
    t.add_argument("--widths", default="64,128,256,512", help="IR-SE stage widths (4 numbers)")
    t.add_argument("--units", default="3,4,14,3", help="IR-SE units per stage (4 numbers)")
    t.add_argument(
        "--input-size", type=ENCODER_SIDE, default=None, help="encoder input side (default min(256, resolution))"
    )
    t.add_argument("--checkpoint-every", type=COUNT, default=250)
    add_multiprocess(t, "devices to shard the batch over (default all, of every process)")
    t.add_argument("--resume", action="store_true")
    t.add_argument("--overwrite", action="store_true")
    t.set_defaults(func=run_train)


def _four(text: str, flag: str) -> tuple[int, ...]:
    from styleclip_jax.errors import InputError

    try:
        v = tuple(int(x) for x in text.split(","))
    except ValueError:
        v = ()
    if len(v) != 4 or min(v) < 1:
        raise InputError(f"{flag} takes 4 whole numbers >= 1, e.g. 64,128,256,512; got {text!r}")
    return v


def run_train(args):
    from styleclip_jax.editing.inversion.training import (
        EncoderTrainConfig,
        encoder_config_for,
        train_encoder,
    )
    from styleclip_jax.models.generators import load_generator
    from styleclip_jax.models.idnet import load_idnet

    start_multiprocess(args)
    cfg = config_from_args(EncoderTrainConfig, args, ENCODER_TRAIN_OPTIONS)
    widths, units = _four(args.widths, "--widths"), _four(args.units, "--units")
    gen = load_generator(args.generator)
    idnet = load_idnet(args.idnet) if args.idnet else None
    enc_cfg = encoder_config_for(gen, widths, units, args.input_size, restyle=args.restyle)
    args.on_interrupt = "the last finished step is checkpointed; continue with the same command plus --resume"
    with progress_bar("encoder") as bar:
        train_encoder(
            gen,
            cfg,
            args.out,
            enc_cfg,
            idnet=idnet,
            lpips=load_lpips_option(args.lpips),
            resume=args.resume,
            overwrite=args.overwrite,
            checkpoint_every=args.checkpoint_every,
            devices=args.devices,
            progress=bar,
        )
    print(f"encoder -> {args.out}/encoder (use with `invert --encoder` or `--images --encoder`)")
