"""Draws docs/faces_example.png: photo -> MTCNN + FFHQ alignment -> an edited crop -> pasted back.

Run: python docs/make_faces_example.py [--golden ../shared/golden]
The photo is the golden's ``d_ffhq3_small_on_canvas`` (a StyleGAN render from StyleCLIP's data).
The edit is a stand-in (the crop's hues rotated by a third of a turn), because no photo encoder
exists yet to invert the crop; it shows where and how smoothly an edit lands in the photo.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from styleclip_jax.faces import align_face, paste_back
from styleclip_jax.models.mtcnn import load_face_detector


def hue_shift(rgb: np.ndarray, turn: float) -> np.ndarray:
    hsv = np.asarray(Image.fromarray(rgb).convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(int) + int(turn * 256)) % 256
    return np.asarray(Image.fromarray(hsv, "HSV").convert("RGB"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default=str(Path(__file__).resolve().parents[2] / "shared" / "golden"))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "faces_example.png"))
    a = ap.parse_args()
    photo = np.load(Path(a.golden) / "mtcnn_faces.npz")["img_d_ffhq3_small_on_canvas"]
    faces = load_face_detector().detect(photo)
    al = align_face(photo, faces.points[0], 256)
    edited = hue_shift(al.image, 1 / 3)
    back = paste_back(photo, edited, al.quad)
    marked = Image.fromarray(photo.copy())
    d = ImageDraw.Draw(marked)
    d.line([tuple(p) for p in np.vstack([al.quad, al.quad[:1]])], fill=(255, 64, 64), width=3)
    for x, y in faces.points[0]:
        d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=(64, 255, 64))
    h, view = photo.shape[0] // 2, (300, 0, 640, 320)  # the photo's right part, where the face is
    tiles = [marked.crop(view), Image.fromarray(al.image), Image.fromarray(edited), Image.fromarray(back).crop(view)]
    h = max(t.height for t in tiles)
    labels = ["photo: MTCNN points, FFHQ quad", "aligned crop (256)", "edited crop (stand-in)", "pasted back"]
    canvas = Image.new("RGB", (sum(t.width for t in tiles) + 10 * 5, h + 34), (255, 255, 255))
    x = 10
    draw = ImageDraw.Draw(canvas)
    for t, label in zip(tiles, labels):
        canvas.paste(t, (x, 28))
        draw.text((x, 8), label, fill=(0, 0, 0))
        x += t.width + 10
    canvas.save(a.out)
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()
