"""ArcFace IR-SE50 (TreB1eN / pSp ``Backbone(112, 50, 'ir_se')``) in Flax NNX, eval mode.

Stem: conv3x3 -> BN -> PReLU. Body: bottleneck_IR_SE units, res = BN -> conv3x3 -> PReLU ->
conv3x3(stride) -> BN -> SE, shortcut = subsample (in == depth) or conv1x1(stride) + BN.
Head: BN2d -> flatten in **C, H, W** order -> Linear -> BN1d -> L2 normalise (no epsilon).
Images NHWC, 112×112, in [-1, 1]. Submodule names are ours (``stem.conv``, ``units.3.res_conv2``);
the converter maps upstream's numbered keys onto them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from styleclip_jax.config_utils import known_fields

BN_EPS = 1e-5


@dataclasses.dataclass(frozen=True)
class IDNetConfig:
    """units: (in_channels, depth, stride) per bottleneck unit; se_reduction; embed_dim."""

    units: tuple[tuple[int, int, int], ...]
    stem_channels: int
    embed_dim: int
    se_reduction: int = 16
    input_size: int = 112

    @property
    def out_grid(self) -> int:
        g = self.input_size
        for _, _, s in self.units:
            g //= s
        return g

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["units"] = [list(u) for u in self.units]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IDNetConfig:
        d = known_fields(cls, d, "ID-net")
        d["units"] = tuple(tuple(int(x) for x in u) for u in d["units"])
        return cls(**d)

    @classmethod
    def ir_se50(cls, widths=(64, 128, 256, 512), embed_dim: int = 512) -> IDNetConfig:
        units, cin = [], widths[0]
        for depth, n in zip(widths, (3, 4, 14, 3)):
            units.append((cin, depth, 2))
            units += [(depth, depth, 1)] * (n - 1)
            cin = depth
        return cls(units=tuple(units), stem_channels=widths[0], embed_dim=embed_dim)


class BatchNorm(nnx.Module):
    def __init__(self, c: int):
        self.weight = nnx.Param(jnp.ones((c,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((c,), jnp.float32))
        self.running_mean = nnx.BatchStat(jnp.zeros((c,), jnp.float32))
        self.running_var = nnx.BatchStat(jnp.ones((c,), jnp.float32))

    def __call__(self, x):
        scale = self.weight[...] * jax.lax.rsqrt(self.running_var[...] + BN_EPS)
        return (x - self.running_mean[...]) * scale + self.bias[...]


class PReLU(nnx.Module):
    def __init__(self, c: int):
        self.weight = nnx.Param(jnp.full((c,), 0.25, jnp.float32))

    def __call__(self, x):
        return jnp.where(x >= 0, x, x * self.weight[...])


def _conv(x, w, stride: int, pad: int):
    return jax.lax.conv_general_dilated(
        x, w, (stride, stride), [(pad, pad)] * 2, dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


class Conv(nnx.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int = 1):
        self.weight = nnx.Param(jnp.zeros((k, k, cin, cout), jnp.float32))
        self.stride, self.pad = stride, k // 2

    def __call__(self, x):
        return _conv(x, self.weight[...], self.stride, self.pad)


class SE(nnx.Module):
    def __init__(self, c: int, reduction: int):
        self.fc1 = Conv(c, c // reduction, 1)
        self.fc2 = Conv(c // reduction, c, 1)

    def __call__(self, x):
        s = jnp.mean(x, axis=(1, 2), keepdims=True)
        return x * jax.nn.sigmoid(self.fc2(jax.nn.relu(self.fc1(s))))


class Unit(nnx.Module):
    def __init__(self, cin: int, depth: int, stride: int, reduction: int):
        self.stride = stride
        self.conv_shortcut = cin != depth
        if self.conv_shortcut:
            self.shortcut_conv = Conv(cin, depth, 1, stride)
            self.shortcut_bn = BatchNorm(depth)
        self.res_bn1 = BatchNorm(cin)
        self.res_conv1 = Conv(cin, depth, 3)
        self.res_prelu = PReLU(depth)
        self.res_conv2 = Conv(depth, depth, 3, stride)
        self.res_bn2 = BatchNorm(depth)
        self.res_se = SE(depth, reduction)

    def __call__(self, x):
        if self.conv_shortcut:
            sc = self.shortcut_bn(self.shortcut_conv(x))
        else:
            sc = x[:, :: self.stride, :: self.stride]  # MaxPool2d(1, stride)
        r = self.res_se(self.res_bn2(self.res_conv2(self.res_prelu(self.res_conv1(self.res_bn1(x))))))
        return r + sc


class IRSE(nnx.Module):
    def __init__(self, cfg: IDNetConfig):
        self.cfg = cfg
        self.stem_conv = Conv(3, cfg.stem_channels, 3)
        self.stem_bn = BatchNorm(cfg.stem_channels)
        self.stem_prelu = PReLU(cfg.stem_channels)
        self.units = nnx.List([Unit(i, d, s, cfg.se_reduction) for i, d, s in cfg.units])
        c = cfg.units[-1][1]
        self.head_bn2d = BatchNorm(c)
        self.head_linear_kernel = nnx.Param(jnp.zeros((c * cfg.out_grid**2, cfg.embed_dim), jnp.float32))
        self.head_linear_bias = nnx.Param(jnp.zeros((cfg.embed_dim,), jnp.float32))
        self.head_bn1d = BatchNorm(cfg.embed_dim)

    def __call__(self, x, return_intermediates: bool = False):
        """x (B, 112, 112, 3) in [-1, 1] -> L2-normalised (B, embed_dim) [, dict of intermediates]."""
        inter = {}
        x = self.stem_prelu(self.stem_bn(self.stem_conv(x)))
        inter["input_layer"] = x
        for i, u in enumerate(self.units):
            x = u(x)
            inter[f"unit{i}"] = x
        x = self.head_bn2d(x)
        x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)  # upstream flattens NCHW
        pre = self.head_bn1d(x @ self.head_linear_kernel[...] + self.head_linear_bias[...])
        inter["prenorm"] = pre
        emb = pre / jnp.linalg.norm(pre, axis=-1, keepdims=True)
        return (emb, inter) if return_intermediates else emb
