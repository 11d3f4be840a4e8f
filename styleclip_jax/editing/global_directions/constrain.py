"""Keep-texts and regions for global directions: which channels an edit may move.

Keep (``TextEdit.keep``): a keep-text "large object" is the direction from the edit's neutral
text to it; "small object|large object" (alternatives: one attribute's values) is the axis
between them. Removed from the edit three ways, chosen by ``TextEdit.keep_mode``:
- ``"text"``: InterFaceGAN's conditional manipulation in CLIP space: the text direction Δt loses
  its component along every keep direction Δt_k = e(keep_k) − e(neutral) (Gram–Schmidt), then
  the relevance is r = fs3 · Δt⊥;
- ``"relevance"``: the relevance vector r = fs3 · Δt loses its component along every
  keep relevance r_k = fs3 · Δt_k, so channel by channel the edit no longer moves what the
  keep-texts respond to, in the proportions they respond;
- ``"drop"`` (default): a channel at least as relevant to some keep axis as to the edit
  (|r_k| >= |r|) is not moved at all; the others move as without keep-texts.
Measured on the toy world (colour edits, keep = every other attribute, tuning seeds), "drop" kept
the most edits both successful and preserved; both projections remove most of the colour
relevance too, because in a small CLIP the attribute axes are far from orthogonal (README).
A direction that lies within the keep directions has nothing left to move: an error, never a
silent no-op.

Regions (``global_edit(mask=...)``): a channel may move when the share of its effect map
(``effects.npy`` from ``global precompute``) that falls inside the region is at least
``threshold`` (StyleSpace's localized channels, Wu et al. 2021).
"""

from __future__ import annotations

import functools

import numpy as np

from styleclip_jax.editing.constraints.mask import pool
from styleclip_jax.editing.constraints.prompts import alternatives, keep_alternatives
from styleclip_jax.editing.global_directions.config import KEEP_MODES
from styleclip_jax.editing.global_directions.stats import relevance as relevance_of
from styleclip_jax.editing.global_directions.text import class_embedding, text_direction
from styleclip_jax.errors import InputError

# A direction keeps less than this share of its norm after projection: it lies in the keep span.
RESIDUAL_MIN = 1e-3


def _orthonormal(vectors: np.ndarray) -> np.ndarray:
    """Orthonormal basis (k, d) of the span of ``vectors`` (n, d), dependent ones dropped."""
    basis = []
    for v in np.asarray(vectors, np.float64):
        for b in basis:
            v = v - (v @ b) * b
        norm = np.linalg.norm(v)
        if norm > 1e-6:
            basis.append(v / norm)
    return np.asarray(basis).reshape(len(basis), np.shape(vectors)[-1])


def project_out(v: np.ndarray, keep: np.ndarray, what: str = "edit direction") -> np.ndarray:
    """``v`` (d,) minus its component in the span of ``keep`` (n, d). Raises when (almost)
    nothing is left: the edit is what the keep-texts describe."""
    v = np.asarray(v, np.float64)
    q = _orthonormal(keep)
    rest = v - q.T @ (q @ v) if len(q) else v
    if np.linalg.norm(rest) < RESIDUAL_MIN * max(np.linalg.norm(v), 1e-12):
        raise InputError(
            f"the {what} lies within the keep-texts' directions: keeping them leaves nothing to edit "
            "(drop a keep-text that names the edit itself)"
        )
    return rest.astype(np.float32)


def keep_text_directions(clip, neutral: str, keep) -> np.ndarray:
    """Unit CLIP directions (K, E) of the keep-texts. A plain keep-text gives the direction from
    the edit's neutral text to it; alternatives "A|B|C" (the values of one attribute) give the
    directions between them (each one's embedding minus their mean): the attribute's own axis,
    without the "some adjective" component every text-minus-neutral direction shares."""
    keep_alternatives(keep)  # bounded: each alternative is a CLIP pass
    out = []
    for k in keep:
        alts = alternatives(k)
        if len(alts) == 1:
            out.append(text_direction(clip, neutral, k)[0])
            continue
        e = np.stack([class_embedding(clip, a) for a in alts])
        d = e - e.mean(axis=0)
        norms = np.linalg.norm(d, axis=1, keepdims=True)
        out.extend(d[norms[:, 0] > 1e-6] / norms[norms[:, 0] > 1e-6])
    return np.stack(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def constrained_relevance(
    stats, dt: np.ndarray, keep_dirs: np.ndarray | None, mode: str, source: str = "fs3", look=None
) -> np.ndarray:
    """The relevance r (manipulable channels,) of Δt after the keep constraint of ``mode``, each
    relevance estimated as ``source`` says ("fs3" or "population"; ``look`` (N,): conditioned on
    one start image, ``Population.likeness``)."""
    relevance = functools.partial(relevance_of, source=source, look=look)
    if mode not in KEEP_MODES:
        raise InputError(f"keep_mode must be one of {KEEP_MODES}, got {mode!r}")
    if keep_dirs is None or not keep_dirs.size:
        return relevance(stats, dt)
    if mode == "text":
        rest = project_out(dt, keep_dirs)
        return relevance(stats, rest / np.linalg.norm(rest))
    r = relevance(stats, dt)
    rk = np.stack([relevance(stats, k) for k in keep_dirs])
    if mode == "relevance":
        return project_out(r, rk, "edit's channel relevance")
    dropped = np.max(np.abs(rk), axis=0) >= np.abs(r)
    out = np.where(dropped, np.float32(0), r)
    if not np.any(out):
        raise InputError("every channel the edit moves is relevant to a keep-text (drop mode): nothing left to edit")
    return out


def local_channels(stats, region: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Bool (manipulable channels,): channels with at least ``threshold`` of their effect inside
    ``region`` (R, R). Channels beyond the fs3 rows, or with no measured effect, are excluded."""
    if stats.effects is None:
        raise InputError(
            "these stats have no effect maps (effects.npy), which a region needs; run `styleclip-jax "
            "global precompute` (resuming it adds them to an existing stats folder)"
        )
    if not 0 < threshold <= 1:
        raise InputError(f"the region threshold must be in (0, 1], got {threshold}")
    m = pool(np.asarray(region, np.float32), stats.effects.shape[-1])
    total = stats.effects.sum(axis=(1, 2))
    inside = np.einsum("chw,hw->c", stats.effects, m)
    share = np.where(total > 0, inside / np.maximum(total, 1e-30), 0.0)
    out = np.zeros(stats.num_manipulable, bool)
    out[: len(share)] = share >= threshold
    return out
