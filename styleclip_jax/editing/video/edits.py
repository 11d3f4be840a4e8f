"""One edit for every frame: each maps a chunk of W+ codes (B, N, D) and the generator (the base,
or the PTI-tuned one) to edited images (B, R, R, 3) in [-1, 1]. Built once per clip, so every frame
gets the same direction, mapper or offset (STIT: a per-frame edit would flicker)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from styleclip_jax.editing.global_directions.core import global_edit
from styleclip_jax.editing.mapper.apply import apply_mapper
from styleclip_jax.editing.optimization.run import optimize

Edit = Callable[[object, np.ndarray], np.ndarray]


def global_direction(clip, stats, text_edit) -> Edit:
    """A global direction (method C) at the ``TextEdit``'s strength; its direction is computed on
    the first chunk and reused (the stats hold for a PTI-tuned generator through its lineage)."""

    def edit(gen, w):
        return np.asarray(global_edit(gen, clip, stats, w, [text_edit]).images[:, 0])

    return edit


def mapper_edit(mapper, alpha: float) -> Edit:
    def edit(gen, w):
        return np.asarray(apply_mapper(gen, mapper, w, [alpha]).images[:, 0])

    return edit


def offset_edit(delta: np.ndarray) -> Edit:
    """A W+ offset (N, D) added to every frame's code: how one optimisation (method A, on a key
    frame) edits a whole clip."""

    def edit(gen, w):
        return np.asarray(gen.synthesis(np.asarray(w) + delta[None]))

    return edit


class OptimizedOffset:
    """Method A for a clip: ``prepare(gen, codes)`` optimises the first edited frame's code toward
    ``text`` once (deterministic, so a resumed run finds the same offset), then every frame's code
    moves by that offset."""

    def __init__(self, clip, text: str, config):
        self.clip, self.text, self.config, self.delta = clip, text, config, None

    def prepare(self, gen, codes: np.ndarray) -> None:
        key = np.asarray(codes[0])
        res = optimize(gen, self.clip, [self.text], latents=key[None], config=self.config)
        self.delta = np.asarray(res.final)[0] - key

    def __call__(self, gen, w):
        if self.delta is None:
            raise RuntimeError("OptimizedOffset.prepare must run before the edit")
        return offset_edit(self.delta)(gen, w)
