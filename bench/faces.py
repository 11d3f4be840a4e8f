"""Face detection + FFHQ alignment throughput on a 1024² photo (bundled MTCNN weights, CPU/GPU).

Run: python bench/faces.py [--golden ../shared/golden] [--repeats 3]
The photo is the golden's real face image ``b_ffhq5_crop800x874`` scaled to 1024² (LANCZOS).
"first s" includes compilation (one P-Net program per pyramid level, R-/O-Net per padded batch).
Also splits one detection into the nets and the host bookkeeping (pyramid resizes, NMS, crops).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np
from PIL import Image

from styleclip_jax.faces import align_face
from styleclip_jax.models.mtcnn import load_face_detector
from styleclip_jax.utils.timing import time_calls


class Timed:
    """Wraps the detector's nets to add up the time spent in them."""

    def __init__(self, det):
        self.det, self.seconds = det, 0.0

    def __getattr__(self, name):
        fn = getattr(self.det, name)

        def run(x):
            t0 = time.perf_counter()
            out = fn(x)
            self.seconds += time.perf_counter() - t0
            return out

        return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", default=str(Path(__file__).resolve().parents[2] / "shared" / "golden"))
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    g = np.load(Path(a.golden) / "mtcnn_faces.npz")
    photo = np.asarray(Image.fromarray(g["img_b_ffhq5_crop800x874"]).resize((1024, 1024), Image.LANCZOS))
    det = load_face_detector()
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}; photo 1024x1024, 1 face")
    faces = det.detect(photo)
    print(f"{'what':>22} {'first s':>8} {'best s':>8} {'per s':>8}")
    rows = [
        ("detect", lambda: det.detect(photo)),
        ("align 256", lambda: align_face(photo, faces.points[0], 256)),
        ("align 1024", lambda: align_face(photo, faces.points[0], 1024)),
        ("detect + align 256", lambda: align_face(photo, det.detect(photo).points[0], 256)),
    ]
    for what, fn in rows:
        first, best = time_calls(fn, a.repeats)
        print(f"{what:>22} {first:>8.3f} {best:>8.3f} {1 / best:>8.2f}")
    timed = Timed(det)
    from styleclip_jax.models.mtcnn.detect import detect_faces

    t0 = time.perf_counter()
    detect_faces(photo, timed)
    total = time.perf_counter() - t0
    print(
        f"one detection: {total:.3f} s, of which nets {timed.seconds:.3f} s, host bookkeeping "
        f"{total - timed.seconds:.3f} s"
    )


if __name__ == "__main__":
    main()
