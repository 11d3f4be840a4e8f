"""Layers shared by several networks (NHWC, HWIO kernels, torch's layouts after conversion)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class BiasConv(nnx.Module):
    """``torch.nn.Conv2d`` with a bias: k×k, ``stride``, symmetric zero padding ``pad`` (default
    k // 2, "same" for odd k at stride 1)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None):
        self.weight = nnx.Param(jnp.zeros((k, k, cin, cout), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((cout,), jnp.float32))
        self.stride, self.pad = stride, k // 2 if pad is None else pad

    def __call__(self, x):
        y = jax.lax.conv_general_dilated(
            x,
            self.weight[...],
            (self.stride,) * 2,
            [(self.pad, self.pad)] * 2,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        return y + self.bias[...]
