"""``apply_mapper()``: a trained mapper's edit of W+ latents at one or more strengths, rendered."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from styleclip_jax.editing.constraints import mask as masks
from styleclip_jax.errors import InputError
from styleclip_jax.io.images import save_edit_grid
from styleclip_jax.io.latents import write_npz


@dataclasses.dataclass
class MapperEdit:
    """Edited latents ``wplus`` (B, A, L, D) and ``images`` (B, A, R, R, 3) at strengths ``alphas``."""

    wplus: np.ndarray
    images: np.ndarray
    alphas: list

    def save(self, out, originals=None) -> Path:
        """``.png``: a grid, one row per latent (its original first, given ``originals`` (B, R, R, 3),
        then one column per α); ``.npz``: images, W+ and α per row (our latents contract)."""
        out = Path(out)
        b, a = self.images.shape[:2]
        if out.suffix == ".png":
            save_edit_grid(out, originals, self.images)
        else:
            write_npz(
                out,
                self.images.reshape(-1, *self.images.shape[2:]),
                self.wplus.reshape(-1, *self.wplus.shape[2:]),
                alpha=np.tile(np.asarray(self.alphas, np.float32), b),
            )
        return out


def apply_mapper(
    generator,
    mapper,
    wplus,
    alphas: Sequence[float] = (1.0,),
    batch_size: int = 8,
    *,
    also: Sequence[tuple] = (),
    mask=None,
    box=None,
    blend: float | None = None,
) -> MapperEdit:
    """ŵ = w + α·0.1·M(w) for each α in ``alphas``, rendered in batches of ``batch_size``.
    ``wplus`` (B, L, D); the mapper must fit the generator's W+.

    ``also``: more ``(mapper, α)`` edits composed into every column: ŵ += α_j·0.1·M_j(w) (each
    mapper sees the original w, as it was trained). ``blend``: composite the images into the
    originals through the region (``mask`` (R, R) / (B, R, R) / PNG path, or ``box``), feathered
    by that many pixels; the latents are not blended.
    """
    w = np.asarray(wplus, np.float32)
    region = masks.region(generator.config.resolution, mask, box, len(w))
    if (blend is None) != (region is None):
        raise InputError("apply_mapper uses a region only to blend: give `blend` together with a `mask` or `box`")
    mapper.check_fits(generator, "apply_mapper")
    offset = np.zeros_like(w)
    for m, a in also:
        m.check_fits(generator, "apply_mapper")
        offset = offset + (np.asarray(m.apply(w, float(a))) - w)
    edited = np.stack([np.asarray(mapper.apply(w, a)) + offset for a in alphas], axis=1)  # (B, A, L, D)
    flat = edited.reshape(-1, *w.shape[1:])
    imgs = np.concatenate(
        [np.asarray(generator.synthesis(flat[i : i + batch_size])) for i in range(0, len(flat), batch_size)]
    )
    imgs = imgs.reshape(edited.shape[:2] + imgs.shape[1:])
    if blend is not None:
        imgs = masks.blend_columns(np.asarray(generator.synthesis(w)), imgs, region, blend)
    return MapperEdit(edited, imgs, [float(a) for a in alphas])
