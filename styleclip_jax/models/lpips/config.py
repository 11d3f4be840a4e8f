"""LPIPS's frozen config: the trunk (``alex`` or ``vgg``) and its conv widths, read off the
torchvision ``features.*`` shapes by the converter. The layer geometry (kernels, strides, pools,
taps) is torchvision's and fixed per trunk; only the widths vary (the goldens' tiny VGG)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from styleclip_jax.config_utils import int_tuples, known_fields
from styleclip_jax.errors import ConfigError

# torchvision ``features`` layouts: ("conv", index, kernel, stride, pad) | ("pool", kernel, stride) | ("tap",)
# AlexNet: taps relu1..relu5 = features.1, 4, 7, 9, 11; VGG16 (cfg "D"): relu1_2 .. relu5_3.
_ALEX = (
    ("conv", 0, 11, 4, 2), ("tap",),
    ("pool", 3, 2), ("conv", 3, 5, 1, 2), ("tap",),
    ("pool", 3, 2), ("conv", 6, 3, 1, 1), ("tap",),
    ("conv", 8, 3, 1, 1), ("tap",),
    ("conv", 10, 3, 1, 1), ("tap",),
)  # fmt: skip


def _vgg() -> tuple:
    ops: list[tuple] = []
    i = 0
    for stage, n in enumerate((2, 2, 3, 3, 3)):
        if stage:
            ops.append(("pool", 2, 2))
            i += 1
        for _ in range(n):
            ops.append(("conv", i, 3, 1, 1))
            i += 2  # conv, relu
        ops.append(("tap",))
    return tuple(ops)


LAYOUTS = {"alex": _ALEX, "vgg": _vgg()}
NETS = tuple(LAYOUTS)
# the ScalingLayer constants, float32 of upstream's decimal literals
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


def conv_indices(net: str) -> tuple[int, ...]:
    return tuple(op[1] for op in LAYOUTS[net] if op[0] == "conv")


@dataclasses.dataclass(frozen=True)
class LpipsConfig:
    """net: 'alex' or 'vgg'; widths: each conv's output channels in ``features`` order (5 for
    AlexNet, 13 for VGG16); the heads' widths are those of the convs before the five taps."""

    net: str
    widths: tuple[int, ...]

    def __post_init__(self):
        if self.net not in LAYOUTS:
            raise ConfigError(f"LPIPS trunk must be one of {NETS}, got {self.net!r}")
        if len(self.widths) != len(conv_indices(self.net)) or min(self.widths) < 1:
            raise ConfigError(
                f"LPIPS {self.net}: {len(conv_indices(self.net))} positive conv widths needed, got {self.widths}"
            )

    @property
    def tap_widths(self) -> tuple[int, ...]:
        """Channels at each of the five taps (the heads' widths)."""
        out, k = [], -1
        for op in LAYOUTS[self.net]:
            if op[0] == "conv":
                k += 1
            elif op[0] == "tap":
                out.append(self.widths[k])
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LpipsConfig:
        d = known_fields(cls, d, "LPIPS")
        d["widths"] = int_tuples(d["widths"])
        return cls(**d)
