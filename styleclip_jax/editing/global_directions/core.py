"""Method C: global directions in StyleSpace (StyleCLIP ``GetBoundary`` / ``SplitS`` / ``MSCode``).

Given unit relevance rows fs3 (one per manipulable channel) and a text direction Δt:
1. r = fs3 · Δt; channels with |r| < β are dropped (β: disentanglement threshold);
2. r /= max|r| (the strongest channel moves by exactly 1);
3. Δs = σ ⊙ r per manipulable layer, zeros on toRGB layers (and outside ``layers`` if given);
4. s' = s + α · Δs for each strength α.
Several edits compose additively: s' = s + Σ_i α_i Δs_i, each with its own β. A prompt pair
that moves no channel at β is an error (upstream divides by zero and renders NaN).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from styleclip_jax.editing.constraints import mask as masks
from styleclip_jax.editing.global_directions.config import TextEdit
from styleclip_jax.editing.global_directions.constrain import (
    constrained_relevance,
    keep_text_directions,
    local_channels,
)
from styleclip_jax.editing.global_directions.population import check_models, image_features
from styleclip_jax.editing.global_directions.stats import StyleSpaceStats, population_of, relevance
from styleclip_jax.editing.global_directions.text import text_direction as compute
from styleclip_jax.errors import InputError
from styleclip_jax.io.files import atomic_write
from styleclip_jax.io.images import save_edit_grid
from styleclip_jax.io.latents import write_npz

AUTO_BETAS = tuple(round(0.10 + 0.01 * i, 2) for i in range(20))  # 0.10 … 0.29, as upstream's GUI


@dataclasses.dataclass(frozen=True)
class Direction:
    """A StyleSpace edit direction: ``delta`` (C_total,) and how many channels it moves."""

    delta: np.ndarray
    beta: float
    num_channels: int  # channels with |r| >= β (upstream's num_c)
    channels_touched: int  # of those, inside the allowed layers


def split_manipulable(
    stats: StyleSpaceStats, r: np.ndarray, with_std: bool = True, layers: Sequence[str] | None = None
) -> np.ndarray:
    """Manipulable-channel vector, or a full one (C_total,) (population relevance) -> flat
    (C_total,): σ-scaled, zeros on excluded layers and, for a manipulable-channel vector, on toRGB."""
    if layers is not None:
        unknown = sorted(set(layers) - set(stats.names))
        if unknown:
            raise InputError(f"unknown StyleSpace layers {unknown}; known: {list(stats.names)}")
    full = r.shape == (int(sum(stats.widths)),)
    out = np.zeros(int(sum(stats.widths)), np.float32)
    o, k = stats.offsets, 0
    for i, (name, w, m) in enumerate(zip(stats.names, stats.widths, stats.manipulable)):
        if not (m or full):
            continue
        piece = r[o[i] : o[i + 1]] if full else r[k : k + w]
        k += w
        if layers is not None and name not in layers:
            continue
        out[o[i] : o[i + 1]] = piece * stats.std[o[i] : o[i + 1]] if with_std else piece
    return out


def direction(
    stats: StyleSpaceStats, dt: np.ndarray, beta: float = 0.15, layers: Sequence[str] | None = None
) -> Direction:
    """``GetBoundary`` + ``SplitS(if_std=True)``: Δs (C_total,) for Δt at threshold β."""
    return direction_from_relevance(stats, relevance(stats, dt), beta, layers)


def direction_from_relevance(
    stats: StyleSpaceStats,
    relevance_: np.ndarray,
    beta: float = 0.15,
    layers: Sequence[str] | None = None,
    where: str = "",
) -> Direction:
    """Δs (C_total,) from a relevance vector (manipulable channels,) at threshold β."""
    if not np.isfinite(beta) or beta < 0:
        raise InputError(f"beta must be a finite number >= 0, got {beta}")
    r = np.where(np.abs(relevance_) < np.float32(beta), np.float32(0), relevance_)
    num = int(np.count_nonzero(r))
    if num == 0:
        best = float(np.abs(relevance_).max())
        raise InputError(
            f"no StyleSpace channel{where} has relevance >= beta={beta} for this prompt pair (the largest "
            f"is {best:.4f}); lower `beta` or use `auto_beta`"
        )
    r = r / np.abs(r).max()
    delta = split_manipulable(stats, r, True, layers)
    touched = num if layers is None else int(np.count_nonzero(split_manipulable(stats, r, False, layers)))
    if touched == 0:
        raise InputError(f"the {num} channels above beta={beta} all lie outside layers {list(layers)}")
    return Direction(delta, float(beta), num, touched)


def auto_beta(stats: StyleSpaceStats, dt: np.ndarray, min_channels: int = 20) -> float:
    """Largest β in 0.10…0.29 that still moves more than ``min_channels`` channels (upstream GUI;
    100 for non-face generators there). Where even 0.10 moves no more than that, upstream falls
    back to 0.10, which can move a handful of channels or none at all (small or unusual models);
    we instead take the β that keeps the ``min_channels`` most relevant channels."""
    return auto_beta_of(relevance(stats, dt), min_channels)


def auto_beta_of(relevance_: np.ndarray, min_channels: int = 20) -> float:
    """``auto_beta`` of a relevance vector (manipulable channels,)."""
    r = np.abs(relevance_)
    for b in sorted(AUTO_BETAS, reverse=True):
        if int(np.count_nonzero(r >= np.float32(b))) > min_channels:
            return b
    k = min(min_channels, int(np.count_nonzero(r)))
    if k == 0:
        raise InputError("the text direction is orthogonal to every channel's relevance; no edit is possible")
    return float(np.sort(r)[::-1][k - 1])


def apply_directions(codes: np.ndarray, directions: Sequence[tuple[Direction, float]]) -> np.ndarray:
    """Flat codes (B, C_total) + [(direction, α), …] -> edited codes (B, C_total)."""
    codes = np.asarray(codes, np.float32)
    out = codes.copy()
    for d, a in directions:
        if not np.isfinite(a):
            raise InputError(f"alpha must be finite, got {a}")
        out = out + np.float32(a) * d.delta
    return out


def edit_codes(codes: np.ndarray, d: Direction, alphas: Sequence[float]) -> np.ndarray:
    """``MSCode``: flat codes (B, C_total) -> (B, A, C_total) for every α."""
    return np.stack([apply_directions(codes, [(d, a)]) for a in alphas], axis=1)


@dataclasses.dataclass
class GlobalEdit:
    """Result of ``global_edit``: edited codes (B, A, C_total), images (B, A, R, R, 3), the directions."""

    codes: np.ndarray
    images: np.ndarray
    alphas: list
    directions: list  # [(Direction, alpha)] per edit
    stats: StyleSpaceStats
    edits: list = dataclasses.field(default_factory=list)  # the TextEdits
    per_latent: list | None = None  # with per-latent regions: [(Direction, alpha)] of each latent

    def styles(self) -> dict[str, np.ndarray]:
        """Edited codes as {layer name: (B·A, C_l)} (the ``s/<layer>`` arrays of our .npz files)."""
        return self.stats.split(self.codes.reshape(-1, self.codes.shape[-1]))

    def summary(self) -> list[dict]:
        """Per edit: prompts, the β used, α, channels moved (and of those, inside the chosen layers)."""
        rows = [
            {
                "neutral": e.neutral,
                "target": e.target,
                "beta": d.beta,
                "alpha": al,
                "channels": d.num_channels,
                "channels_touched": d.channels_touched,
                "keep": list(e.keep),
                "keep_mode": e.keep_mode,
                "source": e.source,
            }
            for e, (d, al) in zip(self.edits, self.directions)
        ]
        if self.per_latent is not None:  # per-latent regions: channels of each latent
            for k, row in enumerate(rows):
                row["channels_per_latent"] = [dirs[k][0].num_channels for dirs in self.per_latent]
        return rows

    def save(self, out, originals=None) -> Path:
        """``.png``: a grid, one row per latent (its original first, given ``originals`` (B, R, R, 3),
        then one column per α); ``.npz``: images, the ``s/<layer>`` codes, α and latent index per
        row, with the summary beside it in ``<out>.json``."""
        out = Path(out)
        b, a = self.codes.shape[:2]
        if out.suffix == ".png":
            save_edit_grid(out, originals, self.images)
            return out
        write_npz(
            out,
            self.images.reshape(-1, *self.images.shape[2:]),
            None,
            self.styles(),
            alpha=np.tile(np.asarray([np.nan if x is None else x for x in self.alphas], np.float32), b),
            latent_index=np.repeat(np.arange(b), a),
        )
        atomic_write(str(out) + ".json", lambda p: Path(p).write_text(json.dumps(self.summary(), indent=2)))
        return out


def global_edit(
    gen,
    clip,
    stats: StyleSpaceStats,
    wplus,
    edits: Sequence[TextEdit | dict],
    alphas: Sequence[float] | None = None,
    batch_size: int = 8,
    *,
    mask=None,
    box=None,
    threshold: float = 0.5,
    blend: float | None = None,
) -> GlobalEdit:
    """Edit W+ latents (B, L, D) along one or more text directions.

    ``edits``: ``TextEdit``s (or dicts with their fields). With ``alphas`` (one edit only) every
    strength in the list is rendered (a grid over α); otherwise the edits are composed, each at
    its own ``alpha``, giving A = 1.

    ``mask`` / ``box``: the region the edit may change ((R, R), per-latent (B, R, R), a PNG path,
    or a pixel box): only channels with at least ``threshold`` of their effect inside it move
    (``constrain.local_channels``; per-latent regions give per-latent directions). ``blend``:
    also composite the images into the originals through the region, feathered by that many px.
    """
    stats.check_generator(gen)
    stats.check_clip(clip)
    if not edits:
        raise InputError("global_edit needs at least one {neutral, target} edit")
    if alphas is not None and len(edits) != 1:
        raise InputError("a grid over alphas takes exactly one edit; to compose, give each edit its own alpha")
    edits = [TextEdit.of(e) for e in edits]
    check_population(stats, gen, clip, edits)
    w = gen.as_wplus(wplus)
    region = masks.region(gen.config.resolution, mask, box, len(w), blend)
    regions = [None] if region is None else [region] if region.ndim == 2 else list(region)
    per_latent = [
        directions_of(stats, edits, rel, r, threshold) for rel, r in _relevances(gen, clip, stats, edits, w, regions)
    ]
    codes = stats.flatten(gen.w_to_s(w))
    # one set of directions for every latent, or (per-latent regions, conditioned edits) one per latent
    rows = (
        [(codes, per_latent[0])]
        if len(per_latent) == 1
        else [(codes[i : i + 1], dirs) for i, dirs in enumerate(per_latent)]
    )
    if alphas is not None:
        edited = np.concatenate([edit_codes(c, dirs[0][0], alphas) for c, dirs in rows])
        alphas = [float(a) for a in alphas]
    else:
        edited = np.concatenate([apply_directions(c, dirs) for c, dirs in rows])[:, None]
        alphas = [None]
    flat = edited.reshape(-1, edited.shape[-1])
    images = np.concatenate(
        [np.asarray(gen.synthesis_s(stats.split(flat[i : i + batch_size]))) for i in range(0, len(flat), batch_size)]
    )
    images = images.reshape(edited.shape[:2] + images.shape[1:])
    if blend is not None:
        images = masks.blend_columns(np.asarray(gen.synthesis(w)), images, region, blend)
    return GlobalEdit(
        edited, images, alphas, per_latent[0], stats, edits, per_latent=per_latent if len(per_latent) > 1 else None
    )


def _relevances(gen, clip, stats, edits, w, regions):
    """[(relevances of every edit, region)], one pair for all latents, or one per latent when a
    region is per latent or an edit is conditioned on its start image (``TextEdit.condition``).
    Texts are encoded once per edit, however many latents."""
    texts = [_texts(clip, e) for e in edits]
    looks = {}  # condition τ_s -> (B, N) likeness of each start image to the bank's samples

    def relevances(i=None):  # latent i's (or, conditioned on none, every latent's) relevances
        return [
            constrained_relevance(
                stats, dt, keep, e.keep_mode, e.source, looks[e.condition][i] if e.condition else None
            )
            for e, (dt, keep) in zip(edits, texts)
        ]

    if not any(e.condition for e in edits):
        rel = relevances()
        return [(rel, r) for r in regions]
    source = image_features(gen, clip, w)  # (B, E): each start image as CLIP sees it
    looks.update({e.condition: population_of(stats).likeness(source, e.condition) for e in edits if e.condition})
    return [(relevances(i), regions[min(i, len(regions) - 1)]) for i in range(len(w))]


def check_population(stats, gen, clip, edits: Sequence[TextEdit]) -> None:
    """Edits from the population estimator need its bank to belong to ``gen`` and ``clip``."""
    if stats.population is not None and any(e.source == "population" for e in edits):
        check_models(stats.population, gen, clip)


def edit_relevance(clip, stats, e: TextEdit, text_direction=None, look=None) -> np.ndarray:
    """The edit's relevance vector (manipulable channels,) after its keep-texts
    (``constrain.constrained_relevance``). ``text_direction(neutral, target)`` -> unit Δt may be
    given to reuse cached directions (the interactive session); ``look`` (N,): the start image's
    likeness to the bank's samples, for an edit with ``condition`` (``Population.likeness``)."""
    if e.condition and look is None:
        raise InputError("a conditioned edit (condition > 0) needs its start image: edit through global_edit")
    dt, keep = _texts(clip, e, text_direction)
    return constrained_relevance(stats, dt, keep, e.keep_mode, e.source, look)


def _texts(clip, e: TextEdit, text_direction=None):
    """(unit Δt (E,), keep-text directions (K, E) or None) of an edit."""
    dt = text_direction(e.neutral, e.target) if text_direction else compute(clip, e.neutral, e.target)[0]
    return dt, keep_text_directions(clip, e.neutral, e.keep) if e.keep else None


def directions_of(stats, edits, relevances, region=None, threshold: float = 0.5) -> list:
    """[(Direction, α)] of every edit (``TextEdit``s with their ``relevances``), β resolved
    ("auto" included), restricted to the channels acting inside ``region`` (R, R) when given."""
    where = ""
    if region is not None:
        inside = local_channels(stats, region, threshold)
        full = split_manipulable(stats, inside.astype(np.float32), with_std=False) > 0  # toRGB: never inside
        relevances = [np.where(inside if len(r) == len(inside) else full, r, np.float32(0)) for r in relevances]
        where = f" acting inside the region (threshold {threshold}; {int(inside.sum())} channels do)"
    dirs = []
    for e, r in zip(edits, relevances):
        if not np.any(r):
            raise InputError(f"no StyleSpace channel{where} is relevant to {e.neutral!r} -> {e.target!r}")
        beta = auto_beta_of(r) if e.beta == "auto" else float(e.beta)
        dirs.append((direction_from_relevance(stats, r, beta, e.layers, where), float(e.alpha)))
    return dirs
