"""Draws docs/local_edits.png: one toy-world edit ("a green object") by latent optimisation, plain,
with keep-texts, inside the object's region, and composed with a size edit; and by global
directions, plain and inside the region with the blend. Run: python docs/make_local_edits.py"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sheet import draw_sheet

COLUMNS = [
    "original",
    "edit (A)",
    "A + keep",
    "A + object region",
    "A: green + large",
    "global (C)",
    "C + region + blend",
]


def main(out=Path(__file__).with_name("local_edits.png"), seeds=(1000, 1001, 1003, 1004)):
    from styleclip_jax.editing import TextEdit, global_edit, optimize
    from styleclip_jax.models.latents import z_from_seeds
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.evaluate import MethodSettings, keep_texts
    from styleclip_jax.toyworld.readers import object_mask

    tw = load_world()
    s = MethodSettings()
    w = np.asarray(tw.generator.mapping(z_from_seeds(seeds, tw.generator.config.z_dim), s.truncation))
    before = np.asarray(tw.generator.synthesis(w))
    region = object_mask(before)
    cfg = s.optimize_config("a green object", tw.generator.config.num_ws)

    def run(prompt, c=cfg, **kw):
        return optimize(tw.generator, tw.clip, prompt, w, config=c, **kw).images_after

    cols = [
        before,
        run("a green object"),
        run("a green object", keep=keep_texts(["colour"])),
        run("a green object", mask=region),
        run([[("a green object", 1.0), ("a large object", 1.0)]], c=s.optimize_config("a green large object", 8)),
    ]
    layers = s.global_layers("a green object", tw.generator.config.style_layers)  # the colour rows' layers
    edit = [TextEdit("object", "green object", s.global_alpha, s.global_beta, layers)]
    cols.append(global_edit(tw.generator, tw.clip, tw.stats, w, edit).images[:, 0])
    cols.append(
        global_edit(
            tw.generator, tw.clip, tw.stats, w, edit, mask=region, threshold=s.region_threshold, blend=1.0
        ).images[:, 0]
    )
    draw_sheet(out, COLUMNS, cols)


if __name__ == "__main__":
    main()
