"""Draws docs/fresh_edits.png: "a blue object" on toy-world samples from the fresh range drawn after
issue #39's start-conditioned settings were frozen (seeds 486072065-), by the three methods with
StyleCLIP's own settings, with this project's settings before the conditioning (one population
direction for every image) and now (``MethodSettings.with_population``: each direction taken among
the start image's lookalikes). Run: python docs/make_fresh_edits.py"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from sheet import draw_sheet

COLUMNS = [
    "original",
    "global, fs3",
    "global, before",
    "global, now",
    "mapper, upstream",
    "mapper, before",
    "mapper, now",
    "optimise, upstream",
    "optimise, before",
    "optimise, now",
]
PROMPT = "a blue object"


def main(out=Path(__file__).with_name("fresh_edits.png"), first=486072065, rows=6):
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.evaluate import MethodSettings, edit_global, edit_mapper, edit_optimize, start_latents

    tw = load_world()
    w = start_latents(tw, 4 * rows, first, 1.0)
    before = np.asarray(tw.generator.synthesis(w))
    keep = np.flatnonzero(tw.reader(before)["colour"] != 3)[:rows]  # samples that are not blue already
    w, before = w[keep], before[keep]
    upstream, now = MethodSettings(), MethodSettings().with_population()
    earlier = dataclasses.replace(  # the frozen settings before the conditioning (fresh range 1117002374-)
        now,
        global_condition=0.0,
        opt_warm_start=1.5,
        opt_warm_condition=0.0,
        mapper_population_scale=2.0,
        mapper_population_condition=0.0,
        mapper_lr=0.05,
    )
    cols = [before]
    for edit in (edit_global, edit_mapper, edit_optimize):
        cols += [edit(tw, w, [PROMPT], s)[:, 0] for s in (upstream, earlier, now)]
    draw_sheet(out, COLUMNS, cols)


if __name__ == "__main__":
    main()
