"""StyleCLIP latent mappers (``mapper/latent_mappers.py``) in Flax NNX.

``MLP`` = PixelNorm over **axis 1** + 4 × EqualLinear(d→d, lr_mul 0.01) with leaky-ReLU·√2 on
every layer, the last included. Axis 1 is upstream's quirk (issue #82): on a W+ slice
(B, n_layers, 512) it normalises across the *layer* axis; on a StyleSpace code (B, C) it is
the usual per-vector norm. Weights are raw equalised-lr values, as upstream stores them, so
upstream's lr 0.5 transfers.

Kinds:
- ``levels``: coarse (W+ rows 0–3), medium (4–7), fine (8–end) MLPs; any can be off (zeros).
- ``single``: one MLP over all rows.
- ``stylespace``: one MLP per non-toRGB StyleSpace layer; toRGB deltas are zero.

Edit rule (upstream hard-codes 0.1 outside the module): ŵ = w + α · 0.1 · M(w).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from styleclip_jax.config_utils import known_fields
from styleclip_jax.errors import ConfigError
from styleclip_jax.models.stylegan2.network import FullyConnected
from styleclip_jax.models.stylegan2.ops import normalize_2nd_moment

KINDS = ("levels", "single", "stylespace")
RESIDUAL_SCALE = 0.1
LEVELS = ("coarse", "medium", "fine")


@dataclasses.dataclass(frozen=True)
class MapperConfig:
    """kind; latent_dim (W+ width); num_ws; which levels are on; StyleSpace layer widths."""

    kind: str = "levels"
    latent_dim: int = 512
    num_ws: int = 18
    coarse: bool = True
    medium: bool = True
    fine: bool = True
    style_widths: tuple[int, ...] = ()
    n_layers: int = 4
    lr_mul: float = 0.01

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"mapper kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "levels":
            if not (self.coarse or self.medium or self.fine):
                raise ConfigError("a levels mapper needs at least one of coarse / medium / fine")
            # small generators (32 px: 8 rows) have no fine rows, and below 64 px' 10 rows fewer medium ones
            empty = [n for n, (a, b) in self.level_rows().items() if getattr(self, n) and b <= a]
            if empty:
                raise ConfigError(
                    f"a levels mapper on {self.num_ws} W+ rows has no rows for level(s) {empty} "
                    f"(coarse 0-3, medium 4-7, fine 8+): turn them off"
                )
        if self.kind == "stylespace" and not self.style_widths:
            raise ConfigError("a stylespace mapper needs style_widths (the non-toRGB layer widths)")

    def parts(self) -> list[str]:
        """What the mapper is made of, for messages: the levels that are on, else its kind."""
        return [n for n in LEVELS if getattr(self, n)] if self.kind == "levels" else [self.kind]

    def level_rows(self) -> dict[str, tuple[int, int]]:
        """Upstream's split of W+ rows, cut at ``num_ws`` (a level past it is empty)."""
        n = self.num_ws
        return {"coarse": (0, min(4, n)), "medium": (min(4, n), min(8, n)), "fine": (min(8, n), n)}

    def moving_parts(self) -> dict[str, tuple[int, int]]:
        """{MLP name: (first row, end row)} of a W+ mapper's MLPs that move rows: a single mapper's
        one MLP over every row, or the levels that are on."""
        if self.kind == "single":
            return {"single": (0, self.num_ws)}
        return {n: ab for n, ab in self.level_rows().items() if getattr(self, n)}

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["style_widths"] = list(self.style_widths)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MapperConfig:
        d = known_fields(cls, d, "mapper")
        d["style_widths"] = tuple(int(x) for x in d.get("style_widths", ()))
        return cls(**d)


class MLP(nnx.Module):
    """PixelNorm over axis 1, then ``n`` activated equalised-lr layers on the last axis."""

    def __init__(self, dim: int, n_layers: int = 4, lr_mul: float = 0.01):
        self.layers = nnx.List([FullyConnected(dim, dim, lr_mul=lr_mul, activation=True) for _ in range(n_layers)])

    def __call__(self, x: jax.Array) -> jax.Array:
        x = normalize_2nd_moment(x, axis=1)
        for layer in self.layers:
            x = layer(x)
        return x


class LatentMapper(nnx.Module):
    """M(w): W+ (B, L, D) -> delta (B, L, D); or StyleSpace list -> list of deltas."""

    def __init__(self, cfg: MapperConfig):
        self.cfg = cfg
        if cfg.kind == "levels":
            for name in LEVELS:
                if getattr(cfg, name):
                    setattr(self, name, MLP(cfg.latent_dim, cfg.n_layers, cfg.lr_mul))
        elif cfg.kind == "single":
            self.single = MLP(cfg.latent_dim, cfg.n_layers, cfg.lr_mul)
        else:
            self.per_layer = nnx.List([MLP(c, cfg.n_layers, cfg.lr_mul) for c in cfg.style_widths])

    def __call__(self, w):
        cfg = self.cfg
        if cfg.kind == "single":
            return self.single(w)
        if cfg.kind == "stylespace":
            return [m(s) for m, s in zip(self.per_layer, w)]
        parts = []
        for name, (a, b) in cfg.level_rows().items():
            x = w[:, a:b]
            parts.append(getattr(self, name)(x) if getattr(cfg, name) else jnp.zeros_like(x))
        return jnp.concatenate(parts, axis=1)

    def edit(self, w, alpha=1.0):
        """ŵ = w + α · 0.1 · M(w); ``alpha`` scalar or (B,). For stylespace, ``w`` is the list of
        non-toRGB codes."""
        delta = self(w)
        if self.cfg.kind == "stylespace":
            return [s + _per_sample(alpha, s) * RESIDUAL_SCALE * d for s, d in zip(w, delta)]
        return w + _per_sample(alpha, w) * RESIDUAL_SCALE * delta


def _per_sample(alpha, x):
    a = jnp.asarray(alpha, x.dtype)
    return a.reshape(a.shape + (1,) * (x.ndim - a.ndim)) if a.ndim else a
