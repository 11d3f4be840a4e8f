"""``styleclip-jax encoder train``: an e4e encoder for any generator folder (resumable)."""

from __future__ import annotations

from styleclip_jax.cli.options import (
    BATCH,
    ENCODER_SIDE,
    EVERY,
    INTERVAL,
    LR,
    PSI,
    SEED,
    STEPS,
    WEIGHT,
    Several,
    add_config_options,
    add_multiprocess,
    config_from_args,
    integer,
    load_lpips_option,
    progress_bar,
    start_multiprocess,
)

WIDTHS = Several(integer(1, 4096, "an IR-SE stage's channels (IR-SE 50: at most 512)"), 4, "a,b,c,d")
UNITS = Several(integer(1, 256, "IR-SE units in one stage (IR-SE 50: at most 14)"), 4, "a,b,c,d")
ENCODER_TRAIN_OPTIONS = {
    "steps": STEPS,
    "batch_size": BATCH,
    "lr": LR,
    "pixel_lambda": WEIGHT,
    "id_lambda": WEIGHT,
    "delta_lambda": WEIGHT,
    "latent_lambda": WEIGHT,
    "lpips_lambda": WEIGHT,
    "progressive_start": INTERVAL,
    "progressive_every": INTERVAL,
    "truncation": PSI,
    "seed": SEED,
    "iterations": integer(1, 20, "ReStyle passes per training batch (EncoderTrainConfig's bound)"),
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
    t.add_argument("--widths", type=WIDTHS, default=(64, 128, 256, 512), help="IR-SE stage widths (4 numbers)")
    t.add_argument("--units", type=UNITS, default=(3, 4, 14, 3), help="IR-SE units per stage (4 numbers)")
    t.add_argument(
        "--input-size", type=ENCODER_SIDE, default=None, help="encoder input side (default min(256, resolution))"
    )
    t.add_argument("--checkpoint-every", type=EVERY, default=250)
    add_multiprocess(t, "devices to shard the batch over (default all, of every process)")
    t.add_argument("--resume", action="store_true")
    t.add_argument("--overwrite", action="store_true")
    t.set_defaults(func=run_train)


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
    widths, units = args.widths, args.units
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
