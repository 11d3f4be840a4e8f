"""The video job: decode → track → align → invert → (tune) → edit → paste back → encode.

STIT's choices on this library's parts: one face tracked with MTCNN and its FFHQ quads smoothed
over time (``faces.tracking``); every aligned frame inverted by the encoder; with PTI one
generator tuned on all the edited frames together; the same edit for every frame's code; each
edited crop pasted back through the face parser's outline (given one) or the feathered quad.
Frames where the face is lost, and frames outside ``settings.frames``, pass through unedited.

The work folder makes it a long job like the others: locked against a second writer, a manifest
(``video.json``: the clip's sha256, the settings, every model's fingerprint and the edit) that a
``resume`` must match, and per-stage caches written atomically (``track.npz``, ``invert/<chunk>.npy``,
``pti/``, ``edit/<chunk>.npy``), so an interrupted run resumes where it stopped and writes the
same bytes as an uninterrupted one. The output is written last, to a temporary file renamed into
place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from styleclip_jax.editing.inversion.config import PTIConfig
from styleclip_jax.editing.inversion.core import photos_at as crops_at
from styleclip_jax.editing.inversion.photos import encode_crops
from styleclip_jax.editing.inversion.pti import tune
from styleclip_jax.editing.video.config import VideoSettings
from styleclip_jax.editing.video.edits import Edit
from styleclip_jax.errors import InputError
from styleclip_jax.faces.align import crop_quad, paste_back
from styleclip_jax.faces.outline import outline_region
from styleclip_jax.faces.tracking import jitter, quads_of, smooth_quads, track_points
from styleclip_jax.io.files import atomic_write
from styleclip_jax.io.images import to_uint8
from styleclip_jax.io.torch_pickle import file_sha256
from styleclip_jax.io.video import check_video_out, read_video, write_video
from styleclip_jax.models.mtcnn import load_face_detector
from styleclip_jax.training.loop import experiment

MANIFEST = "video.json"


def _cached(path: Path, make: Callable[[], np.ndarray]) -> np.ndarray:
    if path.exists():
        return np.load(path)
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: np.save(p, value))
    return value


def flicker(out_frames, in_frames, idx) -> float:
    """Mean |Δ over consecutive edited frames| of (output − input), in [0, 255] units."""
    d = [np.asarray(out_frames[t], np.float32) - np.asarray(in_frames[t], np.float32) for t in idx]
    return float(np.mean([np.mean(np.abs(b - a)) for a, b in zip(d, d[1:])])) if len(d) > 1 else 0.0


def edit_video(
    in_path,
    out_path,
    gen,
    encoder,
    edit: Edit,
    edit_info: dict,
    settings: VideoSettings = VideoSettings(),
    *,
    gen_dir=None,
    parser=None,
    lpips=None,
    detector=None,
    work_dir=None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> dict:
    """Edit one face through a clip (see the module docstring); returns a JSON-able report."""
    s, timing = settings, {}
    out = check_video_out(out_path, overwrite)
    encoder.check_fits(gen)
    t0 = time.perf_counter()
    info, frames = read_video(in_path)  # decoded once
    lo, hi = s.frames or (0, info.frames - 1)
    if hi >= info.frames:
        raise InputError(f"`frames` {lo}-{hi}: the clip has {info.frames} frames (0-{info.frames - 1})")
    timing["decode"] = time.perf_counter() - t0
    work = Path(work_dir) if work_dir is not None else out.with_name(out.name + ".work")
    record = {
        "what": "video edit",
        "input": file_sha256(Path(in_path)),
        "frames": info.frames,
        "settings": s.to_dict(),
        "generator": gen.fingerprint(),
        "encoder": encoder.fingerprint(),
        "parser": parser.fingerprint() if parser is not None and hasattr(parser, "fingerprint") else None,
        "lpips": lpips.fingerprint() if lpips is not None and s.pti_steps else None,
        "edit": edit_info,
    }
    report: dict = {"frames": info.frames, "fps": str(info.fps), "size": list(info.size), "audio": info.has_audio}
    with experiment(work, record, resume, overwrite, manifest=MANIFEST, what="video edit"):
        size = max(encoder.config.input_size, gen.config.resolution)
        t0 = time.perf_counter()
        if s.align == "mtcnn":
            if detector is None:
                detector = load_face_detector()
            track = work / "track.npz"
            if not track.exists():
                bar = (lambda d, _: progress("detect", d, info.frames)) if progress else None
                points, found = track_points(frames, detector, progress=bar)
                raw = quads_of(points, found)
                atomic_write(track, lambda p: np.savez(p, points=points, found=found, raw=raw))
            t = np.load(track)
            found, raw = t["found"], t["raw"]
            if not found.any():
                raise InputError(f"{in_path}: no face found in any frame")
            quads = smooth_quads(raw, found, s.center_sigma, s.xy_sigma)
            report["jitter_px"] = {"raw": jitter(raw, found), "smoothed": jitter(quads, found)}
        else:
            found, quads = np.ones(info.frames, bool), None
        edited_idx = [t for t in range(lo, hi + 1) if found[t]]
        report["lost_frames"] = [t for t in range(lo, hi + 1) if not found[t]]
        crops = {
            t: (crop_quad(frames[t], quads[t], size).image if quads is not None else frames[t]) for t in edited_idx
        }
        timing["detect_align"] = time.perf_counter() - t0
        chunks = [edited_idx[i : i + s.batch] for i in range(0, len(edited_idx), s.batch)]
        t0 = time.perf_counter()
        codes = []
        for k, ch in enumerate(chunks):
            make = lambda ch=ch: encode_crops(encoder, [crops[t] for t in ch], gen, s.iterations)  # noqa: E731
            codes.append(_cached(work / "invert" / f"{k:06d}.npy", make))
            if progress:
                progress("invert", k + 1, len(chunks))
        timing["invert"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        use = gen
        if s.pti_steps and edited_idx:
            cfg = PTIConfig(
                steps=s.pti_steps,
                lr=s.pti_lr,
                lpips_lambda=1.0 if lpips is not None else 0.0,
                lpips_threshold=0.0,
                batch=s.pti_batch,
            )
            targets = crops_at([crops[t] for t in edited_idx], gen.config.resolution)
            bar = (lambda d, n: progress("pti", d, n)) if progress else None
            again = (work / "pti" / "run.json").exists()
            use, rep = tune(gen, gen_dir, np.concatenate(codes), targets, cfg, work / "pti", lpips, resume=again,
                            progress=bar)  # fmt: skip
            report["pti"] = {k: rep[k] for k in ("steps", "l2_before", "l2_after")}
        timing["pti"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if hasattr(edit, "prepare") and codes:  # e.g. one optimisation on the key frame
            edit.prepare(use, np.concatenate(codes))
        edited: dict[int, np.ndarray] = {}
        for k, (ch, w) in enumerate(zip(chunks, codes)):

            def make(w=w) -> np.ndarray:
                return to_uint8(edit(use, w))

            crops_k = _cached(work / "edit" / f"{k:06d}.npy", make)
            edited.update(zip(ch, crops_k))
            if progress:
                progress("edit", k + 1, len(chunks))
        timing["edit"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        out_frames = []
        for t, frame in enumerate(frames):
            if t not in edited:
                out_frames.append(frame)
            elif quads is None:  # the frame is the crop
                e = edited[t]
                h, w_ = frame.shape[:2]
                out_frames.append(
                    e
                    if e.shape[:2] == (h, w_)
                    else np.asarray(Image.fromarray(e).resize((w_, h), Image.Resampling.LANCZOS))
                )
            else:
                region = outline_region(parser, edited[t], crops[t]) if parser is not None else None
                out_frames.append(paste_back(frame, edited[t], quads[t], s.feather, region))
            if progress:
                progress("paste", t + 1, len(frames))
        timing["paste"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        write_video(out, out_frames, info.fps, audio_from=in_path if info.has_audio else None)
        timing["encode"] = time.perf_counter() - t0
    report.update(
        edited_frames=len(edited_idx),
        flicker=flicker(out_frames, frames, edited_idx),
        seconds=timing,
        frames_per_s={k: (len(edited_idx) or 1) / v for k, v in timing.items() if v > 1e-3},
    )
    return report
