"""``styleclip-jax video``: edit one face through a clip (tracked, smoothed, inverted, optionally
PTI-tuned, one edit for every frame, pasted back; frame count, rate, size and sound kept)."""

from __future__ import annotations

from styleclip_jax.cli.options import (
    BETA,
    EDGE,
    FRAMES_PER_CHUNK,
    LR,
    SIGMA,
    STEPS,
    STRENGTH,
    add_iterations_option,
    add_parser_option,
    load_face_parser,
    load_lpips_option,
    progress_bar,
)


def add_video(sub):
    p = sub.add_parser("video", help="edit a face in a video clip (STIT's pipeline; resumable)")
    p.add_argument("input", help="the clip (.mp4, .mov, .mkv, ...)")
    p.add_argument("--out", required=True, help="OUT.mp4 (.mov, .mkv): same frames, rate, size and audio")
    p.add_argument("--method", choices=("global", "mapper", "optimize"), required=True)
    p.add_argument("--generator", required=True)
    p.add_argument("--encoder", required=True, help="e4e / ReStyle encoder folder")
    add_iterations_option(p)
    p.add_argument("--clip", default=None, help="CLIP folder (global, optimize)")
    p.add_argument("--stats", default=None, help="StyleSpace stats folder (global)")
    p.add_argument("--neutral", default=None, help="global: e.g. 'face'")
    p.add_argument("--target", default=None, help="global: e.g. 'smiling face'")
    p.add_argument("--beta", type=BETA, default=0.15, help="global: disentanglement threshold")
    p.add_argument("--mapper", default=None, help="mapper folder (mapper)")
    p.add_argument("--alpha", type=STRENGTH, default=None, help="strength (global default 4.1, mapper 1)")
    p.add_argument("--text", default=None, help="optimize: the prompt (one optimisation on the first edited frame)")
    p.add_argument("--steps", type=STEPS, default=100, help="optimize: steps on the key frame")
    p.add_argument(
        "--align",
        choices=("mtcnn", "none"),
        default="mtcnn",
        help="track and FFHQ-align the face (mtcnn), or take every frame as the generator's crop (none)",
    )
    p.add_argument("--center-sigma", type=SIGMA, default=1.0, help="temporal smoothing of the quad centre (frames)")
    p.add_argument("--xy-sigma", type=SIGMA, default=3.0, help="temporal smoothing of the quad size and angle")
    p.add_argument("--frames", default=None, metavar="A-B", help="edit only frames A..B (0-based; others pass)")
    p.add_argument("--batch-size", type=FRAMES_PER_CHUNK, default=8, help="frames per inversion / edit chunk")
    p.add_argument("--pti", type=STEPS, default=0, metavar="STEPS", help="tune one generator on all frames")
    p.add_argument("--pti-lr", type=LR, default=3e-4)
    p.add_argument("--pti-batch", type=FRAMES_PER_CHUNK, default=4, help="frames per PTI update")
    p.add_argument("--lpips", default=None, help="LPIPS folder (or 'random') for --pti; without it PTI uses L2")
    p.add_argument("--feather", type=EDGE, default=0.1, help="paste-back edge (a share of the crop)")
    add_parser_option(p)
    p.add_argument("--work-dir", default=None, help="per-stage cache (default OUT + '.work')")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its work folder")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run_video)


def _edit(args, gen):
    from styleclip_jax.errors import InputError

    if args.method == "global":
        if not (args.clip and args.stats and args.target):
            raise InputError("--method global needs --clip, --stats and --target (and --neutral)")
        from styleclip_jax.editing.global_directions.config import TextEdit
        from styleclip_jax.editing.global_directions.stats import StyleSpaceStats
        from styleclip_jax.editing.video.edits import global_direction
        from styleclip_jax.models.clip import load_clip, tokenize

        tokenize([args.neutral or "", args.target])  # bad prompts before models load
        stats = StyleSpaceStats.load(args.stats)
        clip = load_clip(args.clip)
        stats.check_generator(gen)
        stats.check_clip(clip)
        alpha = 4.1 if args.alpha is None else args.alpha
        te = TextEdit(args.neutral or "", args.target, alpha, args.beta)
        info = {"method": "global", "neutral": args.neutral, "target": args.target, "alpha": alpha, "beta": args.beta}
        return global_direction(clip, stats, te), info
    if args.method == "mapper":
        if not args.mapper:
            raise InputError("--method mapper needs --mapper")
        from styleclip_jax.editing.video.edits import mapper_edit
        from styleclip_jax.models.mapper.handle import load_mapper

        m = load_mapper(args.mapper)
        m.check_fits(gen, "video")
        alpha = 1.0 if args.alpha is None else args.alpha
        return mapper_edit(m, alpha), {"method": "mapper", "mapper": m.fingerprint(), "alpha": alpha}
    if not (args.clip and args.text):
        raise InputError("--method optimize needs --clip and --text")
    from styleclip_jax.editing import OptimizeConfig
    from styleclip_jax.editing.video.edits import OptimizedOffset
    from styleclip_jax.models.clip import load_clip, tokenize

    tokenize([args.text])
    clip = load_clip(args.clip)
    return OptimizedOffset(clip, args.text, OptimizeConfig(steps=args.steps)), {
        "method": "optimize",
        "text": args.text,
        "steps": args.steps,
        "clip": clip.fingerprint(),
    }


def run_video(args):
    import contextlib

    from styleclip_jax.editing.video.config import VideoSettings, parse_frames
    from styleclip_jax.editing.video.run import edit_video
    from styleclip_jax.io.video import check_video_out
    from styleclip_jax.models.e4e import load_encoder
    from styleclip_jax.models.generators import load_generator

    settings = VideoSettings(
        align=args.align,
        center_sigma=args.center_sigma,
        xy_sigma=args.xy_sigma,
        frames=parse_frames(args.frames),
        batch=args.batch_size,
        pti_steps=args.pti,
        pti_batch=args.pti_batch,
        pti_lr=args.pti_lr,
        feather=args.feather,
        iterations=args.iterations,
    )
    check_video_out(args.out, args.overwrite)
    gen = load_generator(args.generator)
    enc = load_encoder(args.encoder)
    enc.check_fits(gen)
    edit, info = _edit(args, gen)
    parser = load_face_parser(args.parser)
    with contextlib.ExitStack() as stack:
        current: dict = {}

        def progress(stage, done, total):  # one bar per stage, drawn as it starts
            if current.get("stage") != stage:
                unit = "step" if stage == "pti" else "chunk" if stage in ("invert", "edit") else "frame"
                current.update(stage=stage, bar=stack.enter_context(progress_bar(f"video: {stage}", unit)))
            current["bar"](done, total)

        rep = edit_video(
            args.input,
            args.out,
            gen,
            enc,
            edit,
            info,
            settings,
            gen_dir=args.generator,
            parser=parser,
            lpips=load_lpips_option(args.lpips),
            work_dir=args.work_dir,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=progress,
        )
    lost = rep["lost_frames"]
    jit = rep.get("jitter_px")
    print(
        f"edited {rep['edited_frames']} of {rep['frames']} frames at {rep['fps']} fps -> {args.out}"
        + (f"; face lost in {len(lost)} frame(s) (passed through): {lost[:10]}" if lost else "")
        + (f"; quad jitter {jit['raw']:.2f} -> {jit['smoothed']:.2f} px" if jit else "")
        + f"; flicker {rep['flicker']:.2f}"
    )
