"""Draws docs/video_strip.png: every other frame of a toy-world clip (top) and the same frames
after `styleclip-jax video` (bottom), with the command that made it.

Run: python docs/make_video_strip.py
The clip is the generator's own frames along a line in W (``toyworld.clips.toy_clip``, seed 6,
16 frames, with a sound track); the edit is "a green object" by a global direction (α 6), with PTI
(40 steps, one generator for all frames) so the reconstruction keeps the clip's shapes.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from styleclip_jax.io.video import read_frames
from styleclip_jax.toyworld.bundle import load_world, weights_dir
from styleclip_jax.toyworld.clips import toy_clip, write_clip

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def main():
    out = Path(__file__).resolve().parent / "video_strip.png"
    w = weights_dir()
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "in.mp4", toy_clip(load_world().generator, 16, seed=6), audio_seconds=0.64)
        cmd = [
            "styleclip-jax", "video", "in.mp4", "--out", "green.mp4", "--align", "none", "--method", "global",
            "--generator", str(w / "generator"), "--encoder", str(w / "encoder"), "--clip", str(w / "clip"),
            "--stats", str(w / "global"), "--neutral", "object", "--target", "a green object", "--alpha", "6",
            "--pti", "40", "--pti-batch", "8", "--lpips", "random",
        ]  # fmt: skip
        exe = str(Path(sys.executable).with_name("styleclip-jax"))
        subprocess.run([exe, *cmd[1:3], "--out", str(Path(tmp) / "green.mp4"), *cmd[5:]], check=True, cwd=tmp)
        a, b = list(read_frames(clip))[::2], list(read_frames(Path(tmp) / "green.mp4"))[::2]
    s, pad = 96, 4
    sheet = Image.new("RGB", (len(a) * (s + pad) + pad, 2 * (s + pad) + pad + 44), "white")
    for i, (x, y) in enumerate(zip(a, b)):
        sheet.paste(Image.fromarray(x).resize((s, s), Image.NEAREST), (pad + i * (s + pad), pad))
        sheet.paste(Image.fromarray(y).resize((s, s), Image.NEAREST), (pad + i * (s + pad), 2 * pad + s))
    d = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(FONT, 11)
    text = " ".join(c if not c.startswith("/") else Path(c).name for c in cmd)
    cut = text.rfind(" ", 0, 140)
    d.text((pad, 2 * (s + pad) + 4), text[:cut], fill="black", font=font)
    d.text((pad, 2 * (s + pad) + 20), text[cut + 1 :], fill="black", font=font)
    sheet.save(out)
    print(f"-> {out}  ({np.asarray(sheet).shape[1]}x{np.asarray(sheet).shape[0]})")


if __name__ == "__main__":
    main()
