"""MTCNN's three nets (Zhang et al. 2016, as ported by facenet-pytorch 2.6.0) in Flax NNX, NHWC.

Every conv is stride 1, VALID, with bias; PReLU has one slope per channel; max-pools use
``ceil_mode`` (the last window may be partial). Inputs are RGB ``(x − 127.5) / 128``. The dense
layers read the trunk in **width, height, channel** order: facenet-pytorch transposed the
weights instead of the images, and flattening NHWC in H-W order changes R-Net's face
probability by up to 0.94.

    P-Net (any H, W >= 12): conv3 10, pool 2/2, conv3 16, conv3 32 -> prob map (2), box reg (4)
    R-Net (24 x 24):        conv3 28, pool 3/2, conv3 48, pool 3/2, conv2 64, dense 128
                            -> prob (2), reg (4)
    O-Net (48 x 48):        conv3 32, pool 3/2, conv3 64, pool 3/2, conv3 64, pool 2/2, conv2 128,
                            dense 256 -> prob (2), reg (4), landmarks (10: x0..x4, y0..y4)
Index 1 of each probability pair is "face".
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx


class Conv(nnx.Module):
    def __init__(self, cin: int, cout: int, k: int):
        self.kernel = nnx.Param(jnp.zeros((k, k, cin, cout), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((cout,), jnp.float32))

    def __call__(self, x):
        y = jax.lax.conv_general_dilated(
            x, self.kernel[...], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return y + self.bias[...]


class Dense(nnx.Module):
    def __init__(self, cin: int, cout: int):
        self.kernel = nnx.Param(jnp.zeros((cin, cout), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((cout,), jnp.float32))

    def __call__(self, x):
        return x @ self.kernel[...] + self.bias[...]


class PReLU(nnx.Module):
    def __init__(self, c: int):
        self.slope = nnx.Param(jnp.zeros((c,), jnp.float32))

    def __call__(self, x):
        return jnp.maximum(x, 0) + self.slope[...] * jnp.minimum(x, 0)


def max_pool_ceil(x, k: int, s: int):
    """torch ``MaxPool2d(k, s, ceil_mode=True)`` on NHWC: a partial last window takes the max of
    what exists (padding with -inf on the right / bottom)."""
    pads = []
    for n in x.shape[1:3]:
        out = math.ceil((n - k) / s) + 1
        pads.append((0, max((out - 1) * s + k - n, 0)))
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, k, k, 1), (1, s, s, 1), [(0, 0), *pads, (0, 0)])


def flatten_whc(x):
    """(N, H, W, C) -> (N, W·H·C) in width, height, channel order (see the module docstring)."""
    return jnp.transpose(x, (0, 2, 1, 3)).reshape(x.shape[0], -1)


class PNet(nnx.Module):
    def __init__(self):
        self.conv1, self.prelu1 = Conv(3, 10, 3), PReLU(10)
        self.conv2, self.prelu2 = Conv(10, 16, 3), PReLU(16)
        self.conv3, self.prelu3 = Conv(16, 32, 3), PReLU(32)
        self.conv4_1, self.conv4_2 = Conv(32, 2, 1), Conv(32, 4, 1)

    def __call__(self, x):
        """(N, H, W, 3) -> (reg (N, H', W', 4), prob (N, H', W', 2))."""
        x = max_pool_ceil(self.prelu1(self.conv1(x)), 2, 2)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), jax.nn.softmax(self.conv4_1(x), axis=-1)


class RNet(nnx.Module):
    def __init__(self):
        self.conv1, self.prelu1 = Conv(3, 28, 3), PReLU(28)
        self.conv2, self.prelu2 = Conv(28, 48, 3), PReLU(48)
        self.conv3, self.prelu3 = Conv(48, 64, 2), PReLU(64)
        self.dense4, self.prelu4 = Dense(576, 128), PReLU(128)
        self.dense5_1, self.dense5_2 = Dense(128, 2), Dense(128, 4)

    def trunk(self, x):
        x = max_pool_ceil(self.prelu1(self.conv1(x)), 3, 2)
        x = max_pool_ceil(self.prelu2(self.conv2(x)), 3, 2)
        return self.prelu3(self.conv3(x))

    def __call__(self, x):
        """(N, 24, 24, 3) -> (reg (N, 4), prob (N, 2))."""
        h = self.prelu4(self.dense4(flatten_whc(self.trunk(x))))
        return self.dense5_2(h), jax.nn.softmax(self.dense5_1(h), axis=-1)


class ONet(nnx.Module):
    def __init__(self):
        self.conv1, self.prelu1 = Conv(3, 32, 3), PReLU(32)
        self.conv2, self.prelu2 = Conv(32, 64, 3), PReLU(64)
        self.conv3, self.prelu3 = Conv(64, 64, 3), PReLU(64)
        self.conv4, self.prelu4 = Conv(64, 128, 2), PReLU(128)
        self.dense5, self.prelu5 = Dense(1152, 256), PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = Dense(256, 2), Dense(256, 4), Dense(256, 10)

    def trunk(self, x):
        x = max_pool_ceil(self.prelu1(self.conv1(x)), 3, 2)
        x = max_pool_ceil(self.prelu2(self.conv2(x)), 3, 2)
        x = max_pool_ceil(self.prelu3(self.conv3(x)), 2, 2)
        return self.prelu4(self.conv4(x))

    def __call__(self, x):
        """(N, 48, 48, 3) -> (reg (N, 4), landmarks (N, 10), prob (N, 2))."""
        h = self.prelu5(self.dense5(flatten_whc(self.trunk(x))))
        return self.dense6_2(h), self.dense6_3(h), jax.nn.softmax(self.dense6_1(h), axis=-1)


class MTCNNNets(nnx.Module):
    """The three nets together (one weights file): ``pnet``, ``rnet``, ``onet``."""

    def __init__(self):
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
