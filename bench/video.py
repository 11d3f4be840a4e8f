"""Video pipeline speed per stage (decode, detect + align, invert, edit, paste, encode) at 256 and
1024 px: a clip made from the golden MTCNN face (panned, zoomed, shaken; frames the generator's
size), a random config-f generator of that size and a random full-size e4e encoder, one W+ offset
as the edit (its cost is one synthesis per frame). Frames/s per stage from the job's own report;
the job runs twice and the second run is reported (the first compiles).

Run: python bench/video.py [--sizes 256,1024] [--frames 8] [--golden ../shared/golden]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import jax
import numpy as np
from PIL import Image

from styleclip_jax import GeneratorConfig
from styleclip_jax.editing.inversion.training import encoder_config_for, init_encoder
from styleclip_jax.editing.video.config import VideoSettings
from styleclip_jax.editing.video.edits import offset_edit
from styleclip_jax.editing.video.run import edit_video
from styleclip_jax.models.stylegan2.random_init import random_generator
from styleclip_jax.toyworld.clips import camera_clip, write_clip

REPO = Path(__file__).resolve().parents[1]


def face_canvas(golden: Path, size: int) -> np.ndarray:
    face = Image.fromarray(np.load(golden / "mtcnn_faces.npz")["img_a_ffhq2_256"]).resize((size * 6 // 10,) * 2)
    canvas = Image.new("RGB", (size * 3 // 2, size * 3 // 2), (90, 120, 150))
    canvas.paste(face, (size * 9 // 20, size * 9 // 20))
    return np.asarray(canvas)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,1024")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--golden", default=str(REPO.parent / "shared" / "golden"))
    a = ap.parse_args(argv)
    print(f"video pipeline, {a.frames} frames, {jax.devices()[0].platform}")
    stages = ("decode", "detect_align", "invert", "edit", "paste", "encode")
    print(f"{'size':>5s} " + " ".join(f"{s:>13s}" for s in stages) + "   (frames/s)")
    for size in (int(s) for s in a.sizes.split(",")):
        gen = random_generator(GeneratorConfig.ffhq_config_f(size))
        enc = init_encoder(encoder_config_for(gen), gen)
        delta = np.random.default_rng(0).normal(0, 0.3, (gen.config.num_ws, gen.config.w_dim)).astype(np.float32)
        frames = camera_clip(face_canvas(Path(a.golden), size), a.frames, size, jitter=2.0)
        with tempfile.TemporaryDirectory() as tmp:
            clip = write_clip(Path(tmp) / "in.mp4", frames, audio_seconds=a.frames / 25)
            rep = edit_video(
                clip, Path(tmp) / "out.mp4", gen, enc, offset_edit(delta), {"bench": size}, VideoSettings()
            )
        fps = rep["frames_per_s"]
        print(f"{size:5d} " + " ".join(f"{fps.get(s, float('nan')):13.3f}" for s in stages))
        print(
            f"      lost frames {rep['lost_frames']}, jitter {rep['jitter_px']}, total {sum(rep['seconds'].values()):.1f} s"
        )


if __name__ == "__main__":
    main()
