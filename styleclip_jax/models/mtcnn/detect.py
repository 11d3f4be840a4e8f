"""MTCNN's detection pipeline on the host (numpy float32), as facenet-pytorch 2.6.0 runs it.

The box bookkeeping is data-dependent and sequential, and its ``floor`` / ``trunc`` calls flip in
float64 (1.6 % of cell edges), so it stays in numpy float32 with float32 constants; only the
three nets run in JAX. The steps (facenet-pytorch's ``detect_face``):

1. pyramid: scales 12/min_face · 0.709^k while min(h, w)·scale >= 12; each level is the image
   area-resized to (int(h·s + 1), int(w·s + 1)) (torch's adaptive average pooling);
2. P-Net cells with face prob >= t0 -> boxes ⌊(2c + 1)/s⌋ .. ⌊(2c + 12)/s⌋ (1-based, inclusive);
   NMS 0.5 per scale, 0.7 over all; regression with widths x2 − x1; made square;
3. R-Net on 24² crops (clipped to the image, not padded) -> prob > t1, NMS 0.7, regression with
   widths x2 − x1 + 1, square;
4. O-Net on 48² crops -> prob > t2; landmarks decoded from the box before its regression; final
   "Min" NMS 0.7 (areas +1, overlap over the smaller box); faces sorted largest first.
"""

from __future__ import annotations

import dataclasses

import numpy as np

F32 = np.float32


@dataclasses.dataclass(frozen=True)
class Faces:
    """Detections in one image, largest face first. Coordinates are 0-based pixels.

    boxes (N, 4) float32 (x1, y1, x2, y2); probs (N,) float32; points (N, 5, 2) float32: left eye,
    right eye, nose, left mouth corner, right mouth corner (image left / right).
    """

    boxes: np.ndarray
    probs: np.ndarray
    points: np.ndarray

    def __len__(self) -> int:
        return len(self.probs)


def pyramid_scales(h: int, w: int, min_face_size: int = 20, factor: float = 0.709) -> list[float]:
    scale = 12.0 / min_face_size
    minl = min(h, w) * scale
    scales = []
    while minl >= 12:
        scales.append(scale)
        scale *= factor
        minl *= factor
    return scales


def integral_image(img: np.ndarray) -> np.ndarray:
    """(H+1, W+1, C) float64 prefix sums; exact for integer-valued pixels (sums < 2^53)."""
    s = np.zeros((img.shape[0] + 1, img.shape[1] + 1, img.shape[2]), np.float64)
    s[1:, 1:] = np.cumsum(np.cumsum(img, axis=0, dtype=np.float64), axis=1)
    return s


def _windows(n: int, n_out: int):
    """Adaptive average pooling: output i averages inputs ⌊i·n/n_out⌋ .. ⌈(i+1)·n/n_out⌉ − 1 (windows
    may overlap; the same rule upsamples)."""
    i = np.arange(n_out)
    return (i * n) // n_out, -((-(i + 1) * n) // n_out)


def area_from_integral(s: np.ndarray, out_h: int, out_w: int, region=None) -> np.ndarray:
    """torch ``interpolate(mode='area')`` to (out_h, out_w) of the image (or of its rows y0:y1,
    columns x0:x1, ``region``) whose ``integral_image`` is ``s``; float32."""
    y0, y1, x0, x1 = region if region is not None else (0, s.shape[0] - 1, 0, s.shape[1] - 1)
    (ylo, yhi), (xlo, xhi) = _windows(y1 - y0, out_h), _windows(x1 - x0, out_w)
    ylo, yhi, xlo, xhi = ylo + y0, yhi + y0, xlo + x0, xhi + x0
    box = s[np.ix_(yhi, xhi)] - s[np.ix_(ylo, xhi)] - s[np.ix_(yhi, xlo)] + s[np.ix_(ylo, xlo)]
    return (box / ((yhi - ylo)[:, None, None] * (xhi - xlo)[None, :, None])).astype(F32)


def area_resize(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """(H, W, C) -> (out_h, out_w, C) float32, torch ``interpolate(mode='area')``."""
    return area_from_integral(integral_image(img), out_h, out_w)


def normalise(x: np.ndarray) -> np.ndarray:
    return ((x - F32(127.5)) * F32(0.0078125)).astype(F32)


def nms_union(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """torchvision ``nms``: stable descending score order, areas without +1, drop IoU > threshold;
    kept indices in score order."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1) * (y2 - y1)
    removed = np.zeros(len(scores), bool)
    keep = []
    for a, i in enumerate(order):
        if removed[i]:
            continue
        keep.append(i)
        rest = order[a + 1 :]
        w = np.maximum(F32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(F32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        iou = inter / (area[i] + area[rest] - inter)
        removed[rest[iou > F32(threshold)]] = True
    return np.asarray(keep, np.int64)


def nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """facenet-pytorch's numpy NMS, method 'Min': areas with +1, overlap = intersection over the
    smaller area, repeatedly keep the best remaining (numpy's default argsort, last) and drop
    overlaps > threshold."""
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    keep = []
    while order.size:
        i, rest = order[-1], order[:-1]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        overlap = (w * h) / np.minimum(area[i], area[rest])
        order = rest[overlap <= threshold]
    return np.asarray(keep, np.int64)


def cell_boxes(reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """P-Net maps (H', W', 4), (H', W') -> (K, 9) float32 rows x1, y1, x2, y2, score, reg0..3 for
    cells with prob >= threshold, in row-major order."""
    rows, cols = np.nonzero(prob >= F32(threshold))
    s = F32(scale)
    c, r = cols.astype(F32), rows.astype(F32)
    q = [np.floor((F32(2) * v + F32(1)) / s) for v in (c, r)] + [np.floor((F32(2) * v + F32(12)) / s) for v in (c, r)]
    return np.column_stack(q + [prob[rows, cols], reg[rows, cols]]).astype(F32)


def square(b: np.ndarray) -> np.ndarray:
    """``rerec``: make boxes square around their centre (side = the longer one)."""
    b = b.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] = b[:, 0] + w * F32(0.5) - side * F32(0.5)
    b[:, 1] = b[:, 1] + h * F32(0.5) - side * F32(0.5)
    b[:, 2], b[:, 3] = b[:, 0] + side, b[:, 1] + side
    return b


def regress(b: np.ndarray, reg: np.ndarray, plus_one: bool) -> np.ndarray:
    """Box regression: x1 += dx1·w etc., with w = x2 − x1 (+1 in stages 2 and 3)."""
    b = b.copy()
    one = F32(1) if plus_one else F32(0)
    w, h = b[:, 2] - b[:, 0] + one, b[:, 3] - b[:, 1] + one
    b[:, 0], b[:, 1] = b[:, 0] + reg[:, 0] * w, b[:, 1] + reg[:, 1] * h
    b[:, 2], b[:, 3] = b[:, 2] + reg[:, 2] * w, b[:, 3] + reg[:, 3] * h
    return b


def crop_coords(b: np.ndarray, h: int, w: int) -> np.ndarray:
    """``pad``: (K, 4) int (y, ey, x, ex), truncated toward zero and clamped; the crop is rows
    y−1 .. ey−1 and columns x−1 .. ex−1 (clipped at the frame, never zero-padded)."""
    t = np.trunc(b[:, :4]).astype(np.int32)
    x, y = np.maximum(t[:, 0], 1), np.maximum(t[:, 1], 1)
    ex, ey = np.minimum(t[:, 2], w), np.minimum(t[:, 3], h)
    return np.stack([y, ey, x, ex], axis=1).astype(np.int64)


def crops(img: np.ndarray, yeyxex: np.ndarray, size: int) -> np.ndarray:
    """Area-resized, normalised (K, size, size, 3) float32 net inputs from ``crop_coords``;
    ``img`` is the image (H, W, 3) or its ``integral_image`` (H+1, W+1, 3)."""
    s = img if img.dtype == np.float64 else integral_image(img)
    out = [area_from_integral(s, size, size, (y - 1, ey, x - 1, ex)) for y, ey, x, ex in yeyxex]
    return normalise(np.stack(out)) if out else np.zeros((0, size, size, 3), F32)


def detect_faces(
    img: np.ndarray,
    nets,
    min_face_size: int = 20,
    thresholds=(0.6, 0.7, 0.7),
    factor: float = 0.709,
    trace: dict | None = None,
) -> Faces:
    """Run the pipeline on one uint8 RGB image (H, W, 3). ``nets`` has ``pnet(x)``, ``rnet(x)``,
    ``onet(x)`` on NHWC float32 batches returning numpy. ``trace`` (a dict) collects internals."""
    h, w = img.shape[:2]
    whole = integral_image(img)  # once, for every pyramid level and every crop
    t = trace if trace is not None else {}
    cands, per_scale = [], []
    for s in pyramid_scales(h, w, min_face_size, factor):
        level = normalise(area_from_integral(whole, int(h * s + 1), int(w * s + 1)))
        reg, prob = nets.pnet(level[None])
        boxes = cell_boxes(reg[0], prob[0, :, :, 1], s, thresholds[0])
        cands.append(boxes)
        per_scale.append(boxes[nms_union(boxes[:, :4], boxes[:, 4], 0.5)])
    t["scales"], t["stage1_candidates"] = pyramid_scales(h, w, min_face_size, factor), cands
    boxes = np.concatenate(per_scale) if per_scale else np.zeros((0, 9), F32)
    boxes = boxes[nms_union(boxes[:, :4], boxes[:, 4], 0.7)]
    boxes = (
        np.column_stack([square(regress(boxes[:, :4], boxes[:, 5:9], plus_one=False)), boxes[:, 4]])
        if len(boxes)
        else np.zeros((0, 5), F32)
    )
    t["stage1_boxes"] = boxes
    # stage 2
    yx = crop_coords(boxes, h, w)
    t["stage1_pad"] = yx
    if len(boxes):
        reg, prob = nets.rnet(crops(whole, yx, 24))
        ok = prob[:, 1] > F32(thresholds[1])
        boxes, reg = np.column_stack([boxes[ok, :4], prob[ok, 1]]), reg[ok]
        keep = nms_union(boxes[:, :4], boxes[:, 4], 0.7)
        t["stage2_keep"] = keep
        boxes, reg = boxes[keep], reg[keep]
        boxes = np.column_stack([square(regress(boxes[:, :4], reg, plus_one=True)), boxes[:, 4]])
    t["stage2_boxes"] = boxes
    # stage 3
    yx = crop_coords(boxes, h, w)
    t["stage2_pad"] = yx
    points = np.zeros((0, 5, 2), F32)
    if len(boxes):
        reg, marks, prob = nets.onet(crops(whole, yx, 48))
        ok = prob[:, 1] > F32(thresholds[2])
        boxes, reg, marks = np.column_stack([boxes[ok, :4], prob[ok, 1]]), reg[ok], marks[ok]
        bw, bh = boxes[:, 2] - boxes[:, 0] + F32(1), boxes[:, 3] - boxes[:, 1] + F32(1)
        px = bw[:, None] * marks[:, :5] + boxes[:, 0:1] - F32(1)
        py = bh[:, None] * marks[:, 5:] + boxes[:, 1:2] - F32(1)
        points = np.stack([px, py], axis=-1).astype(F32)
        boxes = np.column_stack([regress(boxes[:, :4], reg, plus_one=True), boxes[:, 4]])
        t["stage3_boxes_prenms"] = boxes
        keep = nms_min(boxes[:, :4], boxes[:, 4], 0.7)
        t["stage3_keep"] = keep
        boxes, points = boxes[keep], points[keep]
    if not len(boxes):
        return Faces(np.zeros((0, 4), F32), np.zeros((0,), F32), np.zeros((0, 5, 2), F32))
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.argsort(area)[::-1]
    return Faces(boxes[order, :4].astype(F32), boxes[order, 4].astype(F32), points[order])
