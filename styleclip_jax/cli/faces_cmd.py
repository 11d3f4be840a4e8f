"""``styleclip-jax align`` (photos -> FFHQ-aligned face crops) and ``styleclip-jax paste-back``."""

from __future__ import annotations

from pathlib import Path

from styleclip_jax.cli.options import CROP_SIDE, EDGE, FACE, load_face_parser, progress_bar


def add_faces(sub):
    a = sub.add_parser("align", help="find faces (bundled MTCNN) and crop them the way FFHQ was made")
    a.add_argument("images", nargs="+", help="image files or folders (EXIF rotation is applied)")
    a.add_argument("--out", required=True, help="folder for <stem>.png crops and faces.json")
    a.add_argument(
        "--size", type=CROP_SIDE, default=256, help="crop size: 256 for e4e, 1024 / the generator's otherwise"
    )
    a.add_argument("--faces", choices=("largest", "all"), default="largest")
    a.add_argument(
        "--dlib-correction",
        action="store_true",
        help="shift/scale the quad toward dlib's framing (fitted on 20 faces; off = upstream's formula)",
    )
    a.add_argument("--detector", default=None, help="an MTCNN folder (default: the bundled weights)")
    a.add_argument("--overwrite", action="store_true")
    a.set_defaults(func=run_align)

    p = sub.add_parser("paste-back", help="put an edited aligned crop back into its photo (feathered)")
    p.add_argument("--photo", required=True, help="the original photo")
    p.add_argument("--crop", required=True, help="the (edited) aligned crop")
    p.add_argument("--faces", required=True, help="faces.json written by `align`")
    p.add_argument("--face", type=FACE, default=1, help="which face of the photo (1 = largest)")
    p.add_argument(
        "--feather",
        type=EDGE,
        default=0.1,
        help="blend width at the crop's edges, as a share of the crop",
    )
    p.add_argument(
        "--parser",
        default=None,
        help="face-parser folder: blend through the face and hair of the edited and the original crop "
        "(the crop `align` wrote beside faces.json), not the whole square",
    )
    p.add_argument("--out", required=True, help=".png")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run_paste_back)

    r = sub.add_parser("parse", help="face-parsing label maps (BiSeNet, 19 classes) of photos")
    r.add_argument("images", nargs="+", help="image files or folders")
    r.add_argument("--parser", required=True, help="face-parser folder (see `convert parser`)")
    r.add_argument("--out", required=True, help="folder for <stem>_labels.png, <stem>_overlay.png, labels.npz")
    r.add_argument("--overwrite", action="store_true")
    r.set_defaults(func=run_parse)


def run_parse(args):
    from styleclip_jax.faces.parsing import parse_photos
    from styleclip_jax.faces.photos import expand_images
    from styleclip_jax.io.files import refuse_nonempty_dir
    from styleclip_jax.models.parser.handle import load_parser

    refuse_nonempty_dir(args.out, args.overwrite)
    n = len(expand_images(args.images))
    parser = load_parser(args.parser)
    with progress_bar("parse", "image") as bar:
        labels = parse_photos(args.images, args.out, parser, args.overwrite, progress=bar if n > 1 else None)
    print(f"parsed {len(labels)} image(s) -> {args.out} (labels.npz, <stem>_labels.png, <stem>_overlay.png)")


def run_align(args):

    from styleclip_jax.faces import align_photos
    from styleclip_jax.faces.photos import expand_images
    from styleclip_jax.io.files import refuse_nonempty_dir
    from styleclip_jax.models.mtcnn import load_face_detector

    refuse_nonempty_dir(args.out, args.overwrite)
    n = len(expand_images(args.images))
    det = load_face_detector(args.detector)
    with progress_bar("align", "image") as bar:
        report = align_photos(
            args.images, args.out, det, args.size, args.faces, args.dlib_correction, progress=bar if n > 1 else None
        )
    crops = sum(len(r["faces"]) for r in report)
    skipped = [r["image"] for r in report if r.get("skipped")]
    for r in report:
        for f in r["faces"]:
            if "warning" in f:
                print(f"warning: {r['image']}: {f['warning']}")
    print(
        f"aligned {crops} face(s) from {len(report)} image(s) -> {args.out}"
        + (f"; no face in {', '.join(skipped)}" if skipped else "")
    )


def run_paste_back(args):
    from styleclip_jax.faces import paste_back_photo
    from styleclip_jax.io.files import check_output_path
    from styleclip_jax.io.images import save_png

    out = check_output_path(args.out, args.overwrite, suffixes=(".png",))
    parser = load_face_parser(args.parser)
    save_png(out, paste_back_photo(args.photo, args.crop, args.faces, args.face - 1, args.feather, parser))
    print(f"pasted {Path(args.crop).name} into {Path(args.photo).name} -> {out}")
