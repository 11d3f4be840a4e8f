"""Frozen configuration of a StyleGAN3 generator (alias-free, configs T and R) and its geometry.

Everything upstream derives from ``init_kwargs`` (sampling rates, cutoffs, sizes, channels, up /
down factors, FIR taps, paddings) is derived here by the same closed formulas, in float64
(NVIDIA stylegan3, ``training/networks_stylegan3.py``: ``SynthesisNetwork.__init__``). The filters are designed with scipy and rounded to float32, which
reproduces the stored buffers exactly; the converter checks that they do.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from styleclip_jax.config_utils import known_fields
from styleclip_jax.errors import ConfigError
from styleclip_jax.models.stylegan2.config import StyleLayer, StyleLayout

# Hyper-parameters upstream hard-codes (or defaults that no released model changes); a snapshot
# with other values is refused by the converter.
NUM_LAYERS = 14
NUM_CRITICAL = 2
FIRST_CUTOFF = 2.0
FIRST_STOPBAND = 2**2.1
LAST_STOPBAND_REL = 2**0.3
MARGIN_SIZE = 10
OUTPUT_SCALE = 0.25
FILTER_SIZE = 6
LRELU_UPSAMPLING = 2
INPUT_STYLE = "input"


@dataclasses.dataclass(frozen=True)
class LayerGeometry:
    """One synthesis layer's geometry (upstream ``SynthesisLayer`` attributes)."""

    name: str
    index: int
    is_torgb: bool
    is_critically_sampled: bool
    use_fp16: bool
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_sampling_rate: float
    out_sampling_rate: float
    tmp_sampling_rate: float
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    conv_kernel: int
    up_factor: int
    down_factor: int
    up_taps: int
    down_taps: int
    down_radial: bool
    padding: tuple[int, int, int, int]  # x0, x1, y0, y1 (negative crops)


@dataclasses.dataclass(frozen=True)
class SG3Config(StyleLayout):
    """Shape and numerics of a StyleGAN3 generator.

    Attributes:
      resolution: output side (``img_resolution``).
      z_dim, w_dim: latent widths.
      mapping_layers: FC layers of the mapping network (SG3 default 2).
      channel_base, channel_max: channel formula inputs (R's are doubled by ``train.py``).
      conv_kernel: 3 for T, 1 for R.
      use_radial_filters: R's jinc down filters in the non-critical layers.
      conv_clamp: activation clamp (256; None for ``--fp32`` trainings).
      num_fp16_res: metadata only (fp16 acts on CUDA only upstream; we compute float32).
      mapping_lr_mul: equalised-lr multiplier of the mapping FCs (0.01).
    """

    resolution: int
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 2
    channel_base: int = 32768
    channel_max: int = 512
    conv_kernel: int = 3
    use_radial_filters: bool = False
    conv_clamp: float | None = 256.0
    num_fp16_res: int = 4
    img_channels: int = 3
    mapping_lr_mul: float = 0.01
    source: str = "random"

    def __post_init__(self):
        if self.resolution < 16 or math.log2(self.resolution) != int(math.log2(self.resolution)):
            raise ConfigError(f"resolution must be a power of two >= 16, got {self.resolution}")
        if self.conv_kernel not in (1, 3):
            raise ConfigError(f"conv_kernel must be 1 (R) or 3 (T), got {self.conv_kernel}")
        for name in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max", "img_channels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

    # ---- derived geometry --------------------------------------------------------------------
    @property
    def num_ws(self) -> int:
        return NUM_LAYERS + 2

    @property
    def kind(self) -> str:
        return "R" if self.use_radial_filters else "T"

    @functools.cached_property
    def _rates(self):
        n = NUM_LAYERS
        last_cutoff = self.resolution / 2
        last_stopband = last_cutoff * LAST_STOPBAND_REL
        e = np.minimum(np.arange(n + 1) / (n - NUM_CRITICAL), 1.0)
        cutoffs = FIRST_CUTOFF * (last_cutoff / FIRST_CUTOFF) ** e
        stopbands = FIRST_STOPBAND * (last_stopband / FIRST_STOPBAND) ** e
        rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, self.resolution))))
        half_widths = np.maximum(stopbands, rates / 2) - cutoffs
        sizes = rates + MARGIN_SIZE * 2
        sizes[-2:] = self.resolution
        channels = np.rint(np.minimum((self.channel_base / 2) / cutoffs, self.channel_max))
        channels[-1] = self.img_channels
        return cutoffs, rates, half_widths, sizes.astype(int), channels.astype(int)

    @property
    def input_channels(self) -> int:
        return int(self._rates[4][0])

    @property
    def input_size(self) -> int:
        return int(self._rates[3][0])

    @property
    def input_sampling_rate(self) -> float:
        return float(self._rates[1][0])

    @property
    def input_bandwidth(self) -> float:
        return float(self._rates[0][0])

    @functools.cached_property
    def layers(self) -> tuple[LayerGeometry, ...]:
        cutoffs, rates, half_widths, sizes, channels = self._rates
        out = []
        for i in range(NUM_LAYERS + 1):
            prev = max(i - 1, 0)
            torgb = i == NUM_LAYERS
            critical = i >= NUM_LAYERS - NUM_CRITICAL
            tmp = max(rates[prev], rates[i]) * (1 if torgb else LRELU_UPSAMPLING)
            up = int(np.rint(tmp / rates[prev]))
            down = int(np.rint(tmp / rates[i]))
            up_taps = FILTER_SIZE * up if up > 1 and not torgb else 1
            down_taps = FILTER_SIZE * down if down > 1 and not torgb else 1
            k = 1 if torgb else self.conv_kernel
            total = (sizes[i] - 1) * down + 1 - (sizes[prev] + k - 1) * up + up_taps + down_taps - 2
            lo = (total + up) // 2
            pad = int(lo), int(total - lo)
            out.append(
                LayerGeometry(
                    name=f"L{i}_{sizes[i]}_{channels[i]}",
                    index=i,
                    is_torgb=torgb,
                    is_critically_sampled=critical,
                    use_fp16=bool(rates[i] * 2**self.num_fp16_res > self.resolution),
                    in_channels=int(channels[prev]),
                    out_channels=int(channels[i]),
                    in_size=int(sizes[prev]),
                    out_size=int(sizes[i]),
                    in_sampling_rate=float(rates[prev]),
                    out_sampling_rate=float(rates[i]),
                    tmp_sampling_rate=float(tmp),
                    in_cutoff=float(cutoffs[prev]),
                    out_cutoff=float(cutoffs[i]),
                    in_half_width=float(half_widths[prev]),
                    out_half_width=float(half_widths[i]),
                    conv_kernel=k,
                    up_factor=up,
                    down_factor=down,
                    up_taps=up_taps,
                    down_taps=down_taps,
                    down_radial=bool(self.use_radial_filters and not critical),
                    padding=(*pad, *pad),
                )
            )
        return tuple(out)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.layers)

    @property
    def style_layers(self) -> tuple[StyleLayer, ...]:
        """StyleSpace: ``input`` (4 wide, w index 0: rotation / translation, never a semantic
        channel) and one code per layer (its input channels, w index 1..15; the last is toRGB).
        ``is_torgb`` marks the codes global directions never manipulate (``input`` and toRGB)."""
        first = StyleLayer(INPUT_STYLE, 4, 0, True, self.input_size, "synthesis.input")
        return (first,) + tuple(
            StyleLayer(g.name, g.in_channels, g.index + 1, g.is_torgb, g.out_size, f"synthesis.{g.name}")
            for g in self.layers
        )

    # ---- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SG3Config:
        return cls(**known_fields(cls, d, "StyleGAN3 config"))

    @classmethod
    def t_config(cls, resolution: int = 1024, **kw) -> SG3Config:
        """``--cfg=stylegan3-t`` as ``train.py`` builds it (channel_base 32768, channel_max 512)."""
        return cls(resolution=resolution, **kw)

    @classmethod
    def r_config(cls, resolution: int = 1024, **kw) -> SG3Config:
        """``--cfg=stylegan3-r``: conv_kernel 1, radial filters, channel base / max doubled."""
        kw = {"channel_base": 65536, "channel_max": 1024, **kw}
        return cls(resolution=resolution, conv_kernel=1, use_radial_filters=True, **kw)
