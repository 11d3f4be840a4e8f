"""From photo files to aligned face crops and back: the host driver behind ``styleclip-jax align``
and ``styleclip-jax paste-back``.

``align_photos`` reads each image (EXIF rotation applied, converted to RGB), finds faces with
MTCNN, aligns the largest (or all) and writes ``<stem>.png`` (more faces: ``<stem>_1.png``, …)
plus ``faces.json``: a list of ``{"image", "faces": [{"box", "prob", "landmarks", "quad",
"crop"}]}``, largest face first. A file with no face is an error naming it; in a folder it is
skipped and reported (``"skipped"``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.faces.align import Alignment, align_face, paste_back
from styleclip_jax.faces.outline import outline_region
from styleclip_jax.io.files import atomic_write
from styleclip_jax.io.images import read_image, save_png
from styleclip_jax.progress import callback

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
FACES_FILE = "faces.json"
# A box reaching this share of its size outside the frame gives unreliable landmarks.
OUTSIDE_WARN = 0.1


def expand_images(paths: Iterable[str | os.PathLike]) -> list[tuple[Path, bool]]:
    """(file, came from a folder) for every path; folders give their image files, sorted."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"{p}: no image files ({', '.join(IMAGE_SUFFIXES)})")
            out += [(f, True) for f in files]
        else:
            out.append((p, False))
    return out


def check_unique_stems(files, outputs: str) -> None:
    """Outputs are named by their input's stem: two inputs of one stem would overwrite each other."""
    stems = [Path(f).stem for f in files]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise InputError(f"several inputs share the name(s) {dup}; their {outputs} would overwrite each other")


def face_record(faces, i: int, alignment, crop_name: str, shape) -> dict:
    box = faces.boxes[i]
    side = max(box[2] - box[0], box[3] - box[1])
    outside = max(-box[0], -box[1], box[2] - shape[1], box[3] - shape[0], 0) / max(side, 1)
    rec = {
        "box": [float(v) for v in box],
        "prob": float(faces.probs[i]),
        "landmarks": faces.points[i].tolist(),
        "quad": alignment.quad.tolist(),
        "crop": crop_name,
    }
    if outside > OUTSIDE_WARN:
        rec["warning"] = (
            f"the face box reaches {outside:.0%} of its size outside the photo; landmarks and alignment are unreliable"
        )
    return rec


def align_photos(
    paths,
    out_dir,
    detector,
    size: int = 256,
    faces: str = "largest",
    dlib_correction: bool = False,
    progress: Callable | None = None,
) -> list[dict]:
    """Align the faces of ``paths`` (files or folders) into ``out_dir``; returns the faces.json list.
    ``progress(done_images, total)`` after each image."""
    if faces not in ("largest", "all"):
        raise InputError(f"faces must be 'largest' or 'all', got {faces!r}")
    out_dir = Path(out_dir)
    items = expand_images(paths)
    check_unique_stems([f for f, _ in items], "crops")
    report, writes = [], []
    report_progress = callback(progress)
    for path, in_folder in items:
        image = read_image(path)
        found = detector.detect(image)
        if not len(found):
            if not in_folder:
                raise InputError(f"{path}: no face found")
            report.append({"image": path.name, "faces": [], "skipped": "no face found"})
            report_progress(len(report), len(items))
            continue
        entry = {"image": path.name, "faces": []}
        for i in range(len(found) if faces == "all" else 1):
            al = align_face(image, found.points[i], size, dlib_correction=dlib_correction)
            name = f"{path.stem}.png" if i == 0 else f"{path.stem}_{i}.png"
            writes.append((out_dir / name, al.image))
            entry["faces"].append(face_record(found, i, al, name, image.shape))
        report.append(entry)
        report_progress(len(report), len(items))
    out_dir.mkdir(parents=True, exist_ok=True)
    for dest, img in writes:
        save_png(dest, img)
    atomic_write(out_dir / FACES_FILE, lambda p: Path(p).write_text(json.dumps(report, indent=2)))
    return report


def paste_back_photo(photo_path, crop_path, faces_json, face: int = 0, feather: float = 0.1, parser=None) -> np.ndarray:
    """The photo with an edited crop pasted back at the quad ``faces.json`` recorded for it. With a
    face ``parser`` the blend goes through the face and hair of the edited and the original crop
    (the aligned crop ``align`` wrote beside faces.json), not the whole square."""
    photo_path, crop_path = Path(photo_path), Path(crop_path)
    try:
        report = json.loads(Path(faces_json).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{faces_json}: not a readable faces.json ({e})") from None
    if not isinstance(report, list):
        raise InputError(f"{faces_json}: not a faces.json (a list of {{image, faces}} records, as `align` writes)")
    entry = next((r for r in report if isinstance(r, dict) and r.get("image") == photo_path.name), None)
    if entry is None or not entry.get("faces"):
        raise InputError(f"{faces_json} has no face for {photo_path.name}")
    if not isinstance(entry["faces"], list):
        raise InputError(f"{faces_json}: 'faces' of {photo_path.name} must be a list of face records")
    if not 0 <= face < len(entry["faces"]):
        n = len(entry["faces"])
        raise InputError(f"{photo_path.name} has {n} aligned face(s) (1-{n}); face {face + 1} does not exist")
    rec = entry["faces"][face]
    quad = _quad_of(rec, f"{faces_json}: face {face + 1} of {photo_path.name}")
    crop = read_image(crop_path)
    if crop.shape[0] != crop.shape[1]:
        raise InputError(f"{crop_path}: an aligned crop is square, got {crop.shape[1]}x{crop.shape[0]}")
    if crop.shape[0] < MIN_CROP:
        raise InputError(
            f"{crop_path}: a {crop.shape[0]}x{crop.shape[0]} crop is too small to paste back (at least {MIN_CROP})"
        )
    region = None
    if parser is not None:
        original = Path(faces_json).parent / str(rec.get("crop", ""))
        if not original.is_file():
            raise InputError(f"a paste-back through the outline needs the original aligned crop {original}")
        region = outline_region(parser, crop, read_image(original))
    return paste_back(read_image(photo_path), crop, quad, feather, region)


MIN_CROP = 16  # px: an aligned face smaller than this carries no face


def _quad_of(rec, what: str) -> np.ndarray:
    """A face record's quad: 4 finite (x, y) corners, or a one-line error naming the record."""
    try:
        quad = np.asarray(rec["quad"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{what}: 'quad' must be 4 [x, y] number pairs") from None
    if quad.shape != (4, 2) or not np.all(np.isfinite(quad)):
        raise InputError(f"{what}: 'quad' must be 4 finite [x, y] pairs, got shape {quad.shape}")
    if np.hypot(*(quad[3] - quad[0])) < 1:
        raise InputError(f"{what}: 'quad' has no area")
    return quad


def align_largest(image: np.ndarray, detector, size: int, name) -> Alignment:
    """The largest face of ``image`` FFHQ-aligned at ``size``; no face is an error naming ``name``."""
    found = detector.detect(image)
    if not len(found):
        raise InputError(f"{name}: no face found")
    return align_face(image, found.points[0], size)
