"""Frozen configuration of a StyleGAN2 generator (rosinality or NVIDIA stylegan2-ada layout).

Everything the network needs is here, so a config plus a flat weight dict fully describes a
generator. Converters infer it from checkpoint shapes; nothing is guessed at run time.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from styleclip_jax.config_utils import known_fields
from styleclip_jax.errors import ConfigError

SOURCES = ("rosinality", "stylegan2-ada", "random", "trained")


@dataclasses.dataclass(frozen=True)
class StyleLayer:
    """One StyleSpace layer: the output of a modulation ("affine") dense layer.

    Attributes:
      name: StyleCLIP global_torch name, e.g. ``conv1_resolution_4`` or ``toRGB_resolution_8``.
      width: number of channels C of this style vector (the modulated conv's input channels).
      w_index: which W+ row feeds it.
      is_torgb: True for toRGB layers (never manipulated by global directions).
      resolution: output resolution of the block that owns the layer.
      module: path of the owning module inside our parameter tree, e.g. ``synthesis.b8.conv0``.
    """

    name: str
    width: int
    w_index: int
    is_torgb: bool
    resolution: int
    module: str


class StyleLayout:
    """Names and channel count of a config's ``style_layers`` (StyleGAN2 and StyleGAN3 configs)."""

    @property
    def style_names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.style_layers)

    @property
    def num_style_channels(self) -> int:
        return sum(layer.width for layer in self.style_layers)


@dataclasses.dataclass(frozen=True)
class GeneratorConfig(StyleLayout):
    """Shape and numerics of a StyleGAN2 generator (skip architecture, config-e/f family).

    Attributes:
      resolution: output side length, a power of two >= 4.
      z_dim: latent z width.
      w_dim: intermediate latent w width (the style_dim).
      mapping_dims: output width of each mapping layer; the last equals ``w_dim``.
      channels: ``((4, c4), (8, c8), ...)`` feature channels per resolution, up to ``resolution``.
      mapping_lr_mul: equalised-lr multiplier of the mapping MLP (0.01 in both upstreams).
      blur_kernel: 1-D FIR taps; the 2-D filter is their outer product, normalised to sum 1.
      conv_clamp: NVIDIA's activation clamp (None disables it; rosinality has none).
      demod_weight_gain: rosinality folds 1/sqrt(fan_in) into the weight *before* demodulating,
        NVIDIA does not. The two differ only in how the 1e-8 epsilon compares to the sum of
        squares, but we keep each faithful.
      img_channels: output image channels.
      source: which upstream layout the weights came from.
    """

    resolution: int
    z_dim: int
    w_dim: int
    mapping_dims: tuple[int, ...]
    channels: tuple[tuple[int, int], ...]
    mapping_lr_mul: float = 0.01
    blur_kernel: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)
    conv_clamp: float | None = None
    demod_weight_gain: bool = True
    img_channels: int = 3
    source: str = "random"

    def __post_init__(self):
        log2 = math.log2(self.resolution)
        if self.resolution < 4 or log2 != int(log2):
            raise ConfigError(f"resolution must be a power of two >= 4, got {self.resolution}")
        resolutions = tuple(r for r, _ in self.channels)
        expected = tuple(2**i for i in range(2, int(log2) + 1))
        if resolutions != expected:
            raise ConfigError(f"channels must list resolutions {expected}, got {resolutions}")
        if not self.mapping_dims or self.mapping_dims[-1] != self.w_dim:
            raise ConfigError(f"mapping_dims {self.mapping_dims} must end with w_dim={self.w_dim}")
        if self.source not in SOURCES:
            raise ConfigError(f"source must be one of {SOURCES}, got {self.source!r}")
        if len(self.blur_kernel) < 2:
            raise ConfigError("blur_kernel needs at least two taps")

    # --- derived quantities -------------------------------------------------------------
    @property
    def log2_resolution(self) -> int:
        return int(math.log2(self.resolution))

    @property
    def num_ws(self) -> int:
        """Number of W+ rows: 2·log2(resolution) − 2 (18 at 1024)."""
        return 2 * self.log2_resolution - 2

    @property
    def block_resolutions(self) -> tuple[int, ...]:
        return tuple(r for r, _ in self.channels)

    def channels_at(self, res: int) -> int:
        return dict(self.channels)[res]

    @property
    def style_layers(self) -> tuple[StyleLayer, ...]:
        """All StyleSpace layers in synthesis order (26 at 1024: 17 convs + 9 toRGB)."""
        layers = []
        for i, res in enumerate(self.block_resolutions):
            block = f"synthesis.b{res}"
            if res == 4:
                c = self.channels_at(4)
                layers.append(StyleLayer("conv1_resolution_4", c, 0, False, 4, f"{block}.conv1"))
                layers.append(StyleLayer("toRGB_resolution_4", c, 1, True, 4, f"{block}.torgb"))
                continue
            c_in, c_out = self.channels_at(res // 2), self.channels_at(res)
            w0 = 2 * i - 1
            layers.append(StyleLayer(f"conv0_resolution_{res}", c_in, w0, False, res, f"{block}.conv0"))
            layers.append(StyleLayer(f"conv1_resolution_{res}", c_out, w0 + 1, False, res, f"{block}.conv1"))
            layers.append(StyleLayer(f"toRGB_resolution_{res}", c_out, w0 + 2, True, res, f"{block}.torgb"))
        return tuple(layers)

    # --- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["mapping_dims"] = list(self.mapping_dims)
        d["channels"] = {str(r): c for r, c in self.channels}
        d["blur_kernel"] = list(self.blur_kernel)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GeneratorConfig:
        d = known_fields(cls, d, "generator")
        d["mapping_dims"] = tuple(int(x) for x in d["mapping_dims"])
        chans = d["channels"]
        if isinstance(chans, Mapping):
            chans = sorted((int(r), int(c)) for r, c in chans.items())
        d["channels"] = tuple((int(r), int(c)) for r, c in chans)
        if "blur_kernel" in d:
            d["blur_kernel"] = tuple(float(x) for x in d["blur_kernel"])
        return cls(**d)

    # --- named variants ----------------------------------------------------------------
    @classmethod
    def rosinality(
        cls,
        size: int,
        style_dim: int = 512,
        n_mlp: int = 8,
        channel_multiplier: int = 2,
        channels: Mapping[int, int] | None = None,
        **kw,
    ) -> GeneratorConfig:
        """rosinality ``Generator(size, style_dim, n_mlp, channel_multiplier)``'s layout."""
        if channels is None:
            cm = channel_multiplier
            table = {
                4: 512,
                8: 512,
                16: 512,
                32: 512,
                64: 256 * cm,
                128: 128 * cm,
                256: 64 * cm,
                512: 32 * cm,
                1024: 16 * cm,
            }
            channels = {r: c for r, c in table.items() if r <= size}
        return cls(
            resolution=size,
            z_dim=style_dim,
            w_dim=style_dim,
            mapping_dims=(style_dim,) * n_mlp,
            channels=tuple(sorted(channels.items())),
            source=kw.pop("source", "rosinality"),
            demod_weight_gain=True,
            **kw,
        )

    @classmethod
    def ffhq_config_f(cls, resolution: int = 1024) -> GeneratorConfig:
        """The 1024 px FFHQ config-f layout (30 M params): 18 W+ rows, 26 style layers."""
        return cls.rosinality(resolution, source="random")
