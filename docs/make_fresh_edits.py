"""Draws docs/fresh_edits.png: "a blue object" on toy-world samples from the fresh range drawn after
issue #39's settings were frozen (seeds 1117002374-), by the three methods with StyleCLIP's own
settings and with this project's (``MethodSettings.with_population``), latent optimisation also
as it was before its subspace (warm start 1.25, lr 0.05). Run: python docs/make_fresh_edits.py"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from sheet import draw_sheet

COLUMNS = [
    "original",
    "global, fs3",
    "global, now",
    "mapper, upstream",
    "mapper, now",
    "optimise, upstream",
    "optimise, before",
    "optimise, now",
]
PROMPT = "a blue object"


def main(out=Path(__file__).with_name("fresh_edits.png"), first=1117002374, rows=6):
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.evaluate import MethodSettings, edit_global, edit_mapper, edit_optimize, start_latents

    tw = load_world()
    w = start_latents(tw, 4 * rows, first, 1.0)
    before = np.asarray(tw.generator.synthesis(w))
    keep = np.flatnonzero(tw.reader(before)["colour"] != 3)[:rows]  # samples that are not blue already
    w, before = w[keep], before[keep]
    upstream, now = MethodSettings(), MethodSettings().with_population()
    earlier = dataclasses.replace(now, opt_warm_start=1.25, opt_lr=0.05, opt_subspace=0.0)
    cols = [before]
    for edit, settings in (
        (edit_global, (upstream, now)),
        (edit_mapper, (upstream, now)),
        (edit_optimize, (upstream, earlier, now)),
    ):
        cols += [edit(tw, w, [PROMPT], s)[:, 0] for s in settings]
    draw_sheet(out, COLUMNS, cols)


if __name__ == "__main__":
    main()
