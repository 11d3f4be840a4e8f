"""The photo encoder's frozen config, inferred from checkpoint shapes by the converter."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from styleclip_jax.config_utils import int_tuples, known_fields
from styleclip_jax.errors import ConfigError

KINDS = ("e4e", "psp")


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """units: (in, depth, stride) per IR-SE unit; se_reductions per unit; taps: the unit indices
    of c1 / c2 / c3 (ends of stages 2-4); fpn_width (0: no FPN, every style reads the last map, as
    ReStyle's backbone encoders); style_dim; style_convs: stride-2 convs per W+ row (4 / 5 / 6 for
    coarse / middle / fine); kind 'e4e' (w0 + deltas) or 'psp'; input_nc 3, or 6 for ReStyle's
    iterative encoders (the photo and the current reconstruction)."""

    units: tuple[tuple[int, int, int], ...]
    se_reductions: tuple[int, ...]
    taps: tuple[int, int, int]
    fpn_width: int
    style_dim: int
    style_convs: tuple[int, ...]
    kind: str = "e4e"
    start_from_latent_avg: bool = True
    input_size: int = 256
    input_nc: int = 3

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"encoder kind must be one of {KINDS}, got {self.kind!r}")
        if len(self.se_reductions) != len(self.units) or len(self.taps) != 3:
            raise ConfigError("encoder config: one SE reduction per unit and three FPN taps are needed")
        if self.input_nc not in (3, 6):
            raise ConfigError(f"encoder input_nc must be 3 (e4e / pSp) or 6 (ReStyle), got {self.input_nc}")

    @property
    def num_styles(self) -> int:
        return len(self.style_convs)

    @property
    def iterative(self) -> bool:
        """ReStyle: fed (photo, reconstruction), it predicts a residual over the previous code."""
        return self.input_nc == 6

    @property
    def name(self) -> str:
        return f"restyle-{self.kind}" if self.iterative else self.kind

    @property
    def stage_ends(self) -> tuple[int, ...]:
        starts = [i for i, (cin, d, s) in enumerate(self.units) if s == 2]
        return tuple(s - 1 for s in starts[1:]) + (len(self.units) - 1,)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EncoderConfig:
        d = known_fields(cls, d, "encoder")
        for k in ("units", "se_reductions", "taps", "style_convs"):
            d[k] = int_tuples(d[k])
        return cls(**d)
