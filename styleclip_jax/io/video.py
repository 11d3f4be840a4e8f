"""Video files in and out with PyAV (FFmpeg in its wheel: no system FFmpeg needed).

``read_video`` decodes a clip once into RGB uint8 frames and what it holds (a video stream,
frames, a frame rate, sound), refusing what it cannot read; ``probe`` only counts; ``write_video``
encodes frames at the input's frame rate and size and copies the input's audio stream packet for packet (no re-encode), to a temporary
file renamed into place, so nothing half-written is ever left at the output. Encoding is
single-threaded, with explicit timestamps and without x264's macroblock tree, and deterministic:
the same frames give the same bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.io.files import atomic_write, check_output_path

OUT_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}  # what write_video makes, by suffix


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """``frames`` (counted by decoding), ``fps`` (the stream's average rate), ``size`` (W, H),
    ``has_audio``."""

    path: Path
    frames: int
    fps: Fraction
    size: tuple[int, int]
    has_audio: bool


def _av():
    try:
        import av  # lazy: an optional dependency (`pip install styleclip-jax[video]`)
    except ImportError:
        raise InputError("video needs PyAV: pip install 'styleclip-jax[video]' (or `pip install av`)") from None
    return av


def _open(path):
    av = _av()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such video file")
    try:
        return av.open(str(p))
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise InputError(f"{p}: not a readable video ({str(e).splitlines()[0][:120]})") from None


def _stream(c, path):
    """(the video stream, its rate, (W, H), whether there is sound) of an open container."""
    if not c.streams.video:
        raise InputError(f"{path}: no video stream (an audio-only file?)")
    vs = c.streams.video[0]
    rate = vs.average_rate or vs.guessed_rate
    if not rate or rate <= 0:
        raise InputError(f"{path}: the video has no frame rate")
    return vs, Fraction(rate), (vs.codec_context.width, vs.codec_context.height), bool(c.streams.audio)


def read_video(path, keep: bool = True) -> tuple[VideoInfo, list]:
    """(what the clip holds, its RGB uint8 frames (H, W, 3)), every frame decoded once (container
    frame counts can lie); ``keep=False`` only counts them (the list then holds None)."""
    av = _av()
    with _open(path) as c:
        vs, fps, size, audio = _stream(c, path)
        frames: list = []
        try:
            for frame in c.decode(vs):
                frames.append(frame.to_ndarray(format="rgb24") if keep else None)
        except av.error.FFmpegError as e:
            raise InputError(
                f"{path}: corrupt or truncated video at frame {len(frames)} ({str(e).splitlines()[0][:80]})"
            ) from None
    if not frames:
        raise InputError(f"{path}: the video has no frames")
    return VideoInfo(Path(path), len(frames), fps, size, audio), frames


def probe(path) -> VideoInfo:
    """What a clip holds (``read_video`` without keeping the frames)."""
    return read_video(path, keep=False)[0]


def read_frames(path) -> list[np.ndarray]:
    """The clip's RGB uint8 frames (H, W, 3), in display order for the codecs written here."""
    return read_video(path)[1]


def write_video(out, frames: Iterable[np.ndarray], fps: Fraction, audio_from=None, crf: int = 18) -> Path:
    """Encode RGB uint8 frames (all one size) as H.264 at ``fps`` into ``out`` (.mp4 / .mov / .mkv),
    with ``audio_from``'s audio stream copied in; atomic."""
    av = _av()
    out = Path(out)
    if out.suffix.lower() not in OUT_FORMATS:
        raise InputError(f"the output video must end with one of {tuple(OUT_FORMATS)}, got {out.name!r}")

    def write(tmp):
        with av.open(str(tmp), "w", format=OUT_FORMATS[out.suffix.lower()]) as o:
            vs = None
            src = av.open(str(audio_from)) if audio_from is not None else None
            try:
                a_in = src.streams.audio[0] if src is not None and src.streams.audio else None
                a_out = o.add_stream_from_template(a_in) if a_in is not None else None
                n = 0
                for img in frames:
                    img = np.ascontiguousarray(img, np.uint8)
                    if vs is None:
                        h, w = img.shape[:2]
                        vs = o.add_stream("libx264", rate=fps)
                        vs.width, vs.height = w, h
                        vs.pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
                        # mbtree off: x264's macroblock-tree lookahead read uninitialised memory on small
                        # frames (a 32 px clip encoded to other bytes 1 time in 12); without it, every time
                        vs.options = {"crf": str(crf), "preset": "medium", "x264-params": "mbtree=0"}
                        vs.codec_context.thread_count = 1  # deterministic bytes
                        vs.codec_context.time_base = Fraction(1) / fps
                    frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                    frame.pts = n  # explicit timestamps: x264's rate control reads them
                    frame.time_base = vs.codec_context.time_base
                    for packet in vs.encode(frame):
                        o.mux(packet)
                    n += 1
                if vs is None:
                    raise InputError("no frames to write")
                for packet in vs.encode():
                    o.mux(packet)
                if a_out is not None:
                    for packet in src.demux(a_in):
                        if packet.dts is None:
                            continue
                        packet.stream = a_out
                        o.mux(packet)
            finally:
                if src is not None:
                    src.close()

    atomic_write(out, write)
    return out


def check_video_out(path, overwrite: bool) -> Path:
    """The output video's path, checked before any work."""
    return check_output_path(path, overwrite, suffixes=tuple(OUT_FORMATS))
