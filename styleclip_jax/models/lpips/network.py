"""LPIPS in Flax NNX, NHWC: the torchvision trunk's ``features`` (conv + ReLU, floor-mode max-pools
without padding), the five taps unit-normalised over channels (eps added to the norm), the squared
difference weighted per channel by the linear heads (1×1, no bias), each layer's spatial mean, and
the sum over layers: upstream's ``LPIPS(net, version='0.1')`` in eval mode."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.models.layers import BiasConv
from styleclip_jax.models.lpips.config import LAYOUTS, SCALE, SHIFT, LpipsConfig


def max_pool(x, k: int, s: int):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, k, k, 1), (1, s, s, 1), "VALID")


def unit_normalize(f):
    """upstream's ``normalize_tensor``: f / (sqrt(Σ_c f²) + 1e-10)."""
    return f / (jnp.sqrt(jnp.sum(f * f, axis=-1, keepdims=True)) + 1e-10)


class LpipsNet(nnx.Module):
    def __init__(self, cfg: LpipsConfig):
        self.cfg = cfg
        convs, cin, k = [], 3, 0
        for op in LAYOUTS[cfg.net]:
            if op[0] == "conv":
                convs.append(BiasConv(cin, cfg.widths[k], op[2], op[3], op[4]))
                cin, k = cfg.widths[k], k + 1
        self.convs = nnx.List(convs)
        self.heads = nnx.List([nnx.Param(jnp.zeros((c,), jnp.float32)) for c in cfg.tap_widths])

    def taps(self, x):
        """x (B, H, W, 3) in [-1, 1] -> the five ReLU taps (after the ScalingLayer)."""
        x = (x - np.asarray(SHIFT, np.float32)) / np.asarray(SCALE, np.float32)
        out, k = [], 0
        for op in LAYOUTS[self.cfg.net]:
            if op[0] == "conv":
                x, k = jax.nn.relu(self.convs[k](x)), k + 1
            elif op[0] == "pool":
                x = max_pool(x, op[1], op[2])
            else:
                out.append(x)
        return out

    def layer_maps(self, x0, x1, heads: bool = True):
        """Five (B, h_k, w_k) maps: the head-weighted (or, ``heads=False``, summed) squared
        difference of the unit-normalised taps of x0 and x1 (both (B, H, W, 3) in [-1, 1])."""
        # two trunk passes, not one of the pair stacked: a loss that differentiates only x0 (PTI's
        # target is a constant) then takes no input gradient through x1's trunk (0.5 s of 1.1 at 1024²)
        maps = []
        for t0, t1, head in zip(self.taps(x0), self.taps(x1), self.heads):
            d = (unit_normalize(t0) - unit_normalize(t1)) ** 2
            maps.append(d @ head[...] if heads else jnp.sum(d, axis=-1))
        return maps

    def __call__(self, x0, x1):
        """Distance per pair, (B,)."""
        return sum(jnp.mean(m, axis=(1, 2)) for m in self.layer_maps(x0, x1))
