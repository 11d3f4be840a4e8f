"""Draws docs/population.png: "a green object" on held-out toy-world samples by global directions
(StyleCLIP's fs3 relevance, then the population estimator) and by latent optimisation (plain, the
warm start alone, warm start + optimisation). Run: python docs/make_population.py"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from sheet import draw_sheet

COLUMNS = ["original", "global, fs3", "global, population", "optimise (A)", "A: warm start", "A: warm + 60 steps"]


def main(out=Path(__file__).with_name("population.png"), seeds=(1000, 1001, 1003, 1004, 1007)):
    from styleclip_jax.editing import TextEdit, global_edit, optimize
    from styleclip_jax.models.latents import z_from_seeds
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.evaluate import MethodSettings

    tw = load_world()
    s, p = MethodSettings(), MethodSettings().with_population()
    w = np.asarray(tw.generator.mapping(z_from_seeds(seeds, tw.generator.config.z_dim), s.truncation))
    prompt, layers = "a green object", tw.generator.config.style_layers

    def glob(m):
        return global_edit(
            tw.generator,
            tw.clip,
            tw.stats,
            w,
            [
                TextEdit(
                    "object",
                    "green object",
                    m.global_alpha,
                    m.global_beta,
                    m.global_layers(prompt, layers),
                    source=m.global_source,
                )
            ],
        ).images[:, 0]

    cfg = p.optimize_config(prompt, tw.generator.config.num_ws)

    def opt(c):
        return optimize(
            tw.generator,
            tw.clip,
            prompt,
            w,
            config=c,
            population=tw.stats.population,
        ).images_after

    cols = [
        np.asarray(tw.generator.synthesis(w)),
        glob(s),
        glob(p),
        opt(s.optimize_config(prompt, tw.generator.config.num_ws)),
        opt(dataclasses.replace(cfg, steps=1, lr=0.0)),
        opt(cfg),
    ]
    draw_sheet(out, COLUMNS, cols)


if __name__ == "__main__":
    main()
