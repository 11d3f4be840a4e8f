"""FFHQ alignment from 5 face points, and pasting an edited crop back into the photo.

The quad and the shrink / crop / pad-and-blur / transform sequence are NVIDIA ffhq-dataset's, as
encoder4editing's ``align_face`` runs them, with dlib's 68 points replaced by MTCNN's eyes and
mouth corners (the FFHQ dataset script's ``recreate_aligned_images``). Pillow and scipy do the
resampling, as upstream: their uint8 truncation is what the golden crops hold. ``Image.LANCZOS`` stands where
upstream named ``ANTIALIAS`` (removed in Pillow 10; the same filter).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

from styleclip_jax.errors import InputError

# An optional correction toward dlib framing, fitted on 20 GAN renders: centre shift
# in the quad's own frame and a scale. Off by default (upstream's formula).
DLIB_SHIFT_X, DLIB_SHIFT_Y, DLIB_SCALE = -0.0038, 0.0118, 1.0254


@dataclasses.dataclass(frozen=True)
class Alignment:
    """One aligned face: ``image`` (S, S, 3) uint8; ``quad`` (4, 2) float64 corners in the input
    photo (top-left, bottom-left, bottom-right, top-right, pixel centres); ``qsize``; and the
    intermediate steps (for checks): the shrink factor, the border, the crop box after clamping
    (applied only if ``cropped``), the padding (l, t, r, b; zeros unless ``padded``) and the quad
    given to the transform, ``quad_final``."""

    image: np.ndarray
    quad: np.ndarray
    qsize: float
    shrink: int
    border: int
    crop_box: tuple[int, int, int, int]
    cropped: bool
    pad: tuple[int, int, int, int]
    padded: bool
    quad_final: np.ndarray


def ffhq_quad(points5, dlib_correction: bool = False) -> tuple[np.ndarray, float]:
    """The FFHQ quad (4, 2) and its size from MTCNN's 5 points (eyes, nose, mouth corners)."""
    p = np.asarray(points5, np.float64).reshape(-1, 2)
    eye_l, eye_r = p[0], p[1]
    mouth_l, mouth_r = (p[3], p[4]) if len(p) == 5 else (p[2], p[3])  # (4, 2): no nose
    eye_avg, eye_to_eye = (eye_l + eye_r) * 0.5, eye_r - eye_l
    mouth_avg = (mouth_l + mouth_r) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    if dlib_correction:
        c = c + DLIB_SHIFT_X * x + DLIB_SHIFT_Y * y
        x, y = x / DLIB_SCALE, y / DLIB_SCALE
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    return quad, float(np.hypot(*x) * 2)


def align_face(
    image: np.ndarray,
    points5,
    output_size: int = 256,
    transform_size: int | None = None,
    enable_padding: bool = True,
    dlib_correction: bool = False,
) -> Alignment:
    """Crop, rotate and scale one face the way FFHQ was made.

    Args:
      image: uint8 RGB (H, W, 3).
      points5: (5, 2) MTCNN points (or (4, 2): eyes, mouth corners).
      output_size: 256 for e4e, 1024 (or the generator's size) otherwise.
      transform_size: the size of the quad transform (default ``output_size``; NVIDIA used 4096
        for 1024, then a LANCZOS resize).
    """
    quad, _ = ffhq_quad(points5, dlib_correction)
    return crop_quad(image, quad, output_size, transform_size, enable_padding)


def crop_quad(
    image: np.ndarray,
    quad,
    output_size: int = 256,
    transform_size: int | None = None,
    enable_padding: bool = True,
) -> Alignment:
    """FFHQ's crop of a given quad (4, 2) (e.g. one smoothed over a clip's frames, as STIT's
    ``crop_image``): the shrink / crop / pad-and-blur / transform steps of ``align_face``."""
    from scipy.ndimage import gaussian_filter

    transform_size = transform_size or output_size
    quad = np.asarray(quad, np.float64)
    qsize = float(np.hypot(*(quad[3] - quad[0])))
    q = quad.copy()
    img = Image.fromarray(np.asarray(image, np.uint8), "RGB")
    # shrink
    shrink = int(np.floor(qsize / output_size * 0.5))
    size = qsize
    if shrink > 1:
        rsize = (int(np.rint(float(img.size[0]) / shrink)), int(np.rint(float(img.size[1]) / shrink)))
        img = img.resize(rsize, Image.LANCZOS)
        q /= shrink
        size /= shrink
    # crop
    border = max(int(np.rint(size * 0.1)), 3)
    box = (
        int(np.floor(min(q[:, 0]))),
        int(np.floor(min(q[:, 1]))),
        int(np.ceil(max(q[:, 0]))),
        int(np.ceil(max(q[:, 1]))),
    )
    box = (
        max(box[0] - border, 0),
        max(box[1] - border, 0),
        min(box[2] + border, img.size[0]),
        min(box[3] + border, img.size[1]),
    )
    cropped = box[2] - box[0] < img.size[0] or box[3] - box[1] < img.size[1]
    if cropped:
        img = img.crop(box)
        q -= box[0:2]
    # pad (mirror, blur toward the edge, fill with the median)
    pad = (
        int(np.floor(min(q[:, 0]))),
        int(np.floor(min(q[:, 1]))),
        int(np.ceil(max(q[:, 0]))),
        int(np.ceil(max(q[:, 1]))),
    )
    pad = (
        max(-pad[0] + border, 0),
        max(-pad[1] + border, 0),
        max(pad[2] - img.size[0] + border, 0),
        max(pad[3] - img.size[1] + border, 0),
    )
    padded = enable_padding and max(pad) > border - 4
    if padded:
        pad = tuple(int(v) for v in np.maximum(pad, int(np.rint(size * 0.3))))
        a = np.pad(np.float32(img), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
        h, w, _ = a.shape
        yy, xx, _ = np.ogrid[:h, :w, :1]
        mask = np.maximum(
            1.0 - np.minimum(np.float32(xx) / pad[0], np.float32(w - 1 - xx) / pad[2]),
            1.0 - np.minimum(np.float32(yy) / pad[1], np.float32(h - 1 - yy) / pad[3]),
        )
        blur = size * 0.02
        a += (gaussian_filter(a, [blur, blur, 0]) - a) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        a += (np.median(a, axis=(0, 1)) - a) * np.clip(mask, 0.0, 1.0)
        img = Image.fromarray(np.uint8(np.clip(np.rint(a), 0, 255)), "RGB")
        q += pad[:2]
    else:
        pad = (0, 0, 0, 0)
    out = img.transform((transform_size, transform_size), Image.QUAD, (q + 0.5).flatten(), Image.BILINEAR)
    if output_size < transform_size:
        out = out.resize((output_size, output_size), Image.LANCZOS)
    return Alignment(np.asarray(out), quad, qsize, shrink, border, box, cropped, pad, padded, q)


def paste_back(
    photo: np.ndarray, crop: np.ndarray, quad: np.ndarray, feather: float = 0.1, region: np.ndarray | None = None
) -> np.ndarray:
    """Put an aligned (edited) crop (S, S, 3) back where ``quad`` came from in ``photo`` (H, W, 3),
    blended with a feathered mask: 1 inside, falling to 0 over ``feather`` of the crop at its
    edges, so the seam is invisible. The FFHQ quad is a rotated square, so the inverse is affine.
    ``region`` (S, S) in [0, 1] (e.g. the face and hair the parser sees, feathered) multiplies the
    mask: where it is 0 the photo's pixels stay exactly as they were."""
    photo = np.asarray(photo, np.uint8)
    crop = np.asarray(crop, np.uint8)
    s = crop.shape[0]
    q = np.asarray(quad, np.float64) + 0.5  # continuous coordinates, as the transform used
    a = np.column_stack([(q[3] - q[0]) / s, (q[1] - q[0]) / s])  # crop (X, Y) -> photo, minus q[0]
    inv = np.linalg.inv(a)
    coeffs = (*inv[0], -inv[0] @ q[0], *inv[1], -inv[1] @ q[0])
    size = (photo.shape[1], photo.shape[0])
    warped = np.asarray(Image.fromarray(crop).transform(size, Image.AFFINE, coeffs, Image.BICUBIC), np.float32)
    ramp = np.clip(np.minimum(np.arange(s) + 0.5, s - np.arange(s) - 0.5) / max(feather * s, 1e-6), 0, 1)
    weight = np.outer(ramp, ramp)
    if region is not None:
        region = np.asarray(region, np.float32)
        if region.shape != (s, s) or not np.all(np.isfinite(region)):
            raise InputError(f"the paste-back region must be finite ({s}, {s}) like the crop, got {region.shape}")
        weight = weight * np.clip(region, 0, 1)
    mask = Image.fromarray(np.uint8(np.rint(weight * 255)), "L")
    alpha = np.asarray(mask.transform(size, Image.AFFINE, coeffs, Image.BILINEAR), np.float32)[..., None] / 255
    return np.uint8(np.clip(np.rint(photo * (1 - alpha) + warped * alpha), 0, 255))
