"""The toy world's inversions: procedural scenes (drawn by ``world.render``, never by the
generator) through the bundled encoder, and optionally pivotal tuning (PTI) of the generator on
them, with the fidelity report that compares the two (all five attributes read back).

PTI here tunes one generator per ``group`` of scenes (upstream's several-photos mode, batched) with
a seeded random AlexNet LPIPS stand-in (no ImageNet trunk exists in the toy world; its values are
not LPIPS's). ``TOY_PTI``'s learning rate (1e-3 rather than upstream's 3e-4) and 200 steps were
chosen on the tuning scenes 0-15 only.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from styleclip_jax.editing.inversion.config import PTIConfig
from styleclip_jax.editing.inversion.pti import tune
from styleclip_jax.editing.inversion.restyle import DEFAULT_ITERATIONS, restyle_invert
from styleclip_jax.errors import InputError
from styleclip_jax.models.lpips.handle import STAND_IN, open_lpips
from styleclip_jax.toyworld import world

TOY_PTI = PTIConfig(steps=200, lr=1e-3, lpips_threshold=0.0, batch=16)


def encode_scenes(tw, images: np.ndarray) -> np.ndarray:
    """W+ (N, L, D) of images (N, 32, 32, 3) in [-1, 1] by the bundled encoder, 64 at a time."""
    if tw.encoder is None:
        raise InputError(f"{tw.path} has no encoder/ to invert with")
    return np.concatenate([tw.encoder.encode(images[i : i + 64]) for i in range(0, len(images), 64)])


def inverted_latents(tw, n: int, seed: int) -> np.ndarray:
    """W+ of ``n`` scenes drawn by ``world.render`` (seed ``seed``), inverted by the bundled encoder."""
    return encode_scenes(tw, world.sample_numpy(seed, n)[1])


def pti_scenes(tw, wplus, images, cfg: PTIConfig = TOY_PTI, group: int = 16, work_dir=None, progress=None) -> list:
    """[(slice, tuned ToyWorld)]: one generator tuned per ``group`` consecutive scenes around their
    codes ``wplus`` toward ``images``; the tuned world keeps the base as ``base_generator``."""
    if group < 1:
        raise InputError(f"group must be >= 1, got {group}")
    out = []
    lpips = open_lpips(STAND_IN)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(work_dir or tmp)
        for k, i in enumerate(range(0, len(wplus), group)):
            sl = slice(i, i + group)
            tuned, _ = tune(
                tw.generator,
                tw.path / "generator",
                wplus[sl],
                images[sl],
                dataclasses.replace(cfg, batch=min(cfg.batch, group)),
                base / f"pti_{k}",
                lpips,
                overwrite=True,
            )
            out.append((sl, dataclasses.replace(tw, generator=tuned, base_generator=tw.generator)))
            if progress:
                progress(min(i + group, len(wplus)), len(wplus))
    return out


def _render(gen, w) -> np.ndarray:
    return np.concatenate([np.asarray(gen.synthesis(w[i : i + 64])) for i in range(0, len(w), 64)])


def _row(tw, rec, imgs, attrs, lpips) -> dict:
    """How reconstructions ``rec`` of the scenes ``imgs`` read back: per attribute and all five,
    pixel MSE and the stand-in LPIPS."""
    got = tw.reader(rec)
    same = np.stack([got[a] == attrs[a] for a in world.ATTRIBUTES])
    return {
        "per_attribute": {a: float(m.mean()) for a, m in zip(world.ATTRIBUTES, same)},
        "all_five": float(np.all(same, axis=0).mean()),
        "pixel_mse": float(np.mean((rec - imgs) ** 2)),
        "lpips_stand_in": float(np.mean(lpips.distance(rec, imgs))),
    }


def inversion_report(tw, n: int = 256, seed: int = 3000, pti: PTIConfig | None = None, group: int = 16) -> dict:
    """Inversion fidelity: procedural scenes -> the bundled encoder -> the generator -> the readers.
    Per attribute and for all five, how often the reconstruction reads back as the source scene;
    with ``pti``, the same for the PTI-tuned generators (one per ``group`` scenes), side by side,
    with pixel MSE and the stand-in LPIPS before and after; the bundled ReStyle encoder (5
    iterations) likewise when the world has one."""
    attrs, imgs = world.sample_numpy(seed, n)
    lp = open_lpips(STAND_IN)
    w = encode_scenes(tw, imgs)
    rec = _render(tw.generator, w)
    report = {
        "n": n,
        "seed": seed,
        **_row(tw, rec, imgs, attrs, lp),
        "wplus": w,
        "images": imgs,
        "reconstructions": rec,
    }
    if tw.restyle is not None:
        codes, _ = restyle_invert(tw.restyle, tw.generator, imgs, DEFAULT_ITERATIONS)
        report["restyle"] = {
            "iterations": DEFAULT_ITERATIONS,
            **_row(tw, _render(tw.generator, codes[-1]), imgs, attrs, lp),
        }
    if pti is not None:
        parts = pti_scenes(tw, w, imgs, pti, group)
        tuned_rec = np.concatenate([_render(t.generator, w[sl]) for sl, t in parts])
        report["pti"] = {"settings": pti.to_dict(), "group": group, **_row(tw, tuned_rec, imgs, attrs, lp)}
        report["pti_reconstructions"] = tuned_rec
    return report
