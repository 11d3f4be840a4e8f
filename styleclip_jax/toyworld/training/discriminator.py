"""A small StyleGAN2-style residual discriminator (equalised lr, minibatch-std epilogue), NNX.

Only used to train the toy-world generator; never shipped. Downsampling is a 2x2 average pool
(the FIR blur buys little at 32 px and costs time on CPU).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from styleclip_jax.models.stylegan2 import ops


class EqConv(nnx.Module):
    """Equalised-lr conv, NHWC/HWIO: weights ~ N(0, 1), scaled by 1/sqrt(fan_in) at run time."""

    def __init__(self, cin: int, cout: int, k: int, rngs: nnx.Rngs, bias: bool = True):
        self.weight = nnx.Param(jax.random.normal(rngs.params(), (k, k, cin, cout)))
        self.bias = nnx.Param(jnp.zeros((cout,))) if bias else None

    def __call__(self, x, act: bool = True):
        w = self.weight[...]
        y = ops.conv2d(x, w * (1.0 / math.sqrt(w.shape[0] * w.shape[1] * w.shape[2])), padding=w.shape[0] // 2)
        b = None if self.bias is None else self.bias[...]
        if act:
            return ops.lrelu_gain(y, b)
        return y if b is None else y + b


class EqDense(nnx.Module):
    def __init__(self, din: int, dout: int, rngs: nnx.Rngs):
        self.weight = nnx.Param(jax.random.normal(rngs.params(), (din, dout)))
        self.bias = nnx.Param(jnp.zeros((dout,)))

    def __call__(self, x, act: bool = True):
        y = x @ (self.weight[...] / math.sqrt(self.weight.shape[0]))
        return ops.lrelu_gain(y, self.bias[...]) if act else y + self.bias[...]


def _down(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


class DBlock(nnx.Module):
    def __init__(self, cin: int, cout: int, rngs: nnx.Rngs):
        self.conv0 = EqConv(cin, cin, 3, rngs)
        self.conv1 = EqConv(cin, cout, 3, rngs)
        self.skip = EqConv(cin, cout, 1, rngs, bias=False)

    def __call__(self, x):
        y = self.skip(_down(x), act=False)
        x = self.conv1(_down(self.conv0(x)))
        return (x + y) * (1.0 / math.sqrt(2.0))


class Discriminator(nnx.Module):
    """(B, R, R, 3) images in [-1, 1] -> (B,) real/fake logits. ``channels``: {res: width}."""

    def __init__(self, resolution: int, channels: dict[int, int], rngs: nnx.Rngs, mbstd_group: int = 4):
        self.resolution = resolution
        self.mbstd_group = mbstd_group
        self.from_rgb = EqConv(3, channels[resolution], 1, rngs)
        res = resolution
        blocks = []
        while res > 4:
            blocks.append(DBlock(channels[res], channels[res // 2], rngs))
            res //= 2
        self.blocks = nnx.List(blocks)
        c4 = channels[4]
        self.conv = EqConv(c4 + 1, c4, 3, rngs)
        self.fc = EqDense(c4 * 16, c4, rngs)
        self.out = EqDense(c4, 1, rngs)

    def __call__(self, img):
        x = self.from_rgb(img)
        for blk in self.blocks:
            x = blk(x)
        b, h, w, c = x.shape
        g = min(self.mbstd_group, b)
        y = x.reshape(g, -1, h, w, c)
        y = jnp.sqrt(jnp.var(y, axis=0) + 1e-8).mean(axis=(1, 2, 3))  # (B/g,)
        y = jnp.tile(y, g)[:, None, None, None] * jnp.ones((b, h, w, 1))
        x = self.conv(jnp.concatenate([x, y], axis=-1))
        return self.out(self.fc(x.reshape(b, -1)), act=False)[:, 0]
