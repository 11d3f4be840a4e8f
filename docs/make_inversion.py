"""Draws docs/inversion.png: held-out drawn scenes | e4e | ReStyle | PTI | PTI + an edit.

Run: python docs/make_inversion.py [--seed 3000] [--n 6] [--restyle DIR]
The scenes are drawn by ``world.render`` (never by the generator), seeds held out from tuning;
e4e is the bundled encoder; ReStyle the bundled ReStyle-e4e encoder (5 iterations; ``--restyle
DIR`` for another); PTI tunes one generator on the
shown scenes (``toyworld.inversion.TOY_PTI``); the edit is "a green object" by a global direction
with the toy world's tuned settings, on the tuned generator.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sheet import draw_sheet  # noqa: E402

from styleclip_jax.editing.inversion.restyle import restyle_invert  # noqa: E402
from styleclip_jax.models.e4e import load_encoder  # noqa: E402
from styleclip_jax.toyworld import world  # noqa: E402
from styleclip_jax.toyworld.bundle import load_world  # noqa: E402
from styleclip_jax.toyworld.evaluate import MethodSettings, edit_global  # noqa: E402
from styleclip_jax.toyworld.inversion import encode_scenes, pti_scenes  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=3000)
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--restyle", default=None)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "inversion.png"))
    a = ap.parse_args()
    tw = load_world()
    _, scenes = world.sample_numpy(a.seed, a.n)
    w = encode_scenes(tw, scenes)
    names, cols = ["drawn scene", "e4e"], [scenes, np.asarray(tw.generator.synthesis(w))]
    restyle = load_encoder(a.restyle) if a.restyle else tw.restyle
    if restyle is not None:
        names.append("ReStyle")
        cols.append(restyle_invert(restyle, tw.generator, scenes, 5)[1])
    ((_, tuned),) = pti_scenes(tw, w, scenes, group=a.n)
    names += ["PTI", "PTI + green"]
    cols.append(np.asarray(tuned.generator.synthesis(w)))
    cols.append(edit_global(tuned, w, ["a green object"], MethodSettings().with_population())[:, 0])
    draw_sheet(a.out, names, cols)


if __name__ == "__main__":
    main()
