"""e4e's ``Encoder4Editing`` (Tov et al. 2021) and pSp's ``GradualStyleEncoder`` in Flax NNX, NHWC.

IR-SE backbone (the identity net's units: the first unit of *every* stage has stride 2) with
taps c1 / c2 / c3 at the ends of stages 2 / 3 / 4; an FPN (p2 = up(c3) + lat1(c2), p1 = up(p2)
+ lat2(c1), bilinear with ``align_corners=True``); one ``GradualStyleBlock`` per W+ row (log2(side)
stride-2 3×3 convs with bias and LeakyReLU 0.01, then an EqualLinear with its 1/√in scale at run
time). Rows 0-2 read c3, rows 3-6 p2, the rest p1.

e4e: row 0 is w0 = style_0(c3) and row i is w0 + style_i(·) (not cumulative); a progressive
``stage`` k adds only deltas 1..k. pSp: row i is style_i(·). ``latent_avg`` (N, D) is added
row-wise when the config says ``start_from_latent_avg``.

ReStyle's ``ProgressiveBackboneEncoder`` / ``BackboneEncoder`` are the same modules with a
6-channel stem and no FPN (``fpn_width`` 0): every style block reads the last 16×16 map. Their
output is a residual (``add_latent_avg=False``); the loop lives in ``editing/inversion/restyle.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.models.e4e.config import EncoderConfig
from styleclip_jax.models.idnet.network import BatchNorm, Conv, PReLU, Unit
from styleclip_jax.models.layers import BiasConv

COARSE, MIDDLE = 3, 7  # upstream's coarse_ind / middle_ind


class StyleBlock(nnx.Module):
    """``GradualStyleBlock``: n stride-2 convs (LeakyReLU 0.01) down to 1×1, then EqualLinear."""

    def __init__(self, cin: int, cout: int, n_convs: int):
        self.convs = nnx.List([BiasConv(cin if i == 0 else cout, cout, 3, 2) for i in range(n_convs)])
        self.linear_weight = nnx.Param(jnp.zeros((cout, cout), jnp.float32))  # (in, out), unscaled
        self.linear_bias = nnx.Param(jnp.zeros((cout,), jnp.float32))

    def pre_linear(self, x):
        for c in self.convs:
            x = jax.nn.leaky_relu(c(x), 0.01)
        return x.reshape(x.shape[0], -1)

    def __call__(self, x):
        h = self.pre_linear(x)
        return h @ (self.linear_weight[...] / np.sqrt(h.shape[-1])) + self.linear_bias[...]


def _align_corners_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) bilinear weights with align_corners=True, float32 positions as torch computes them."""
    m = np.zeros((n_out, n_in), np.float32)
    scale = np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(0)
    for i in range(n_out):
        src = scale * np.float32(i)
        i0 = min(int(np.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        lam = np.float32(src - np.float32(i0))
        m[i, i0] += np.float32(1) - lam
        m[i, i1] += lam
    return m


def upsample_add(top, lat):
    """Bilinear (align_corners=True) resize of ``top`` to ``lat``'s size, plus ``lat`` (NHWC)."""
    ah = jnp.asarray(_align_corners_matrix(top.shape[1], lat.shape[1]))
    aw = jnp.asarray(_align_corners_matrix(top.shape[2], lat.shape[2]))
    return jnp.einsum("ih,bhwc,jw->bijc", ah, top, aw) + lat


class E4EEncoder(nnx.Module):
    def __init__(self, cfg: EncoderConfig):
        self.cfg = cfg
        self.stem_conv = Conv(cfg.input_nc, cfg.units[0][0], 3)
        self.stem_bn = BatchNorm(cfg.units[0][0])
        self.stem_prelu = PReLU(cfg.units[0][0])
        self.units = nnx.List([Unit(i, d, s, r) for (i, d, s), r in zip(cfg.units, cfg.se_reductions)])
        c1, c2, c3 = (cfg.units[t][1] for t in cfg.taps)
        if cfg.fpn_width:
            self.latlayer1 = BiasConv(c2, cfg.fpn_width, 1)
            self.latlayer2 = BiasConv(c1, cfg.fpn_width, 1)
        width = cfg.fpn_width or c3
        self.styles = nnx.List([StyleBlock(width, cfg.style_dim, n) for n in cfg.style_convs])
        self.latent_avg = nnx.Param(jnp.zeros((cfg.num_styles, cfg.style_dim), jnp.float32))

    def features(self, x):
        """x (B, 256, 256, input_nc) in [-1, 1] -> {c1, c2, c3, stage1} (+ p2, p1 with the FPN)."""
        f = {}
        x = self.stem_prelu(self.stem_bn(self.stem_conv(x)))
        taps = dict(zip(self.cfg.taps, ("c1", "c2", "c3")))
        for i, u in enumerate(self.units):
            x = u(x)
            if i in taps:
                f[taps[i]] = x
            if i == self.cfg.stage_ends[0]:
                f["stage1"] = x
        if self.cfg.fpn_width:
            f["p2"] = upsample_add(f["c3"], self.latlayer1(f["c2"]))
            f["p1"] = upsample_add(f["p2"], self.latlayer2(f["c1"]))
        return f

    def style_outputs(self, f):
        """(B, N, D): style_i applied to its features (c3 / p2 / p1; c3 for all without the FPN)."""
        if not self.cfg.fpn_width:
            return jnp.stack([s(f["c3"]) for s in self.styles], axis=1)
        feats = [f["c3"] if i < COARSE else f["p2"] if i < MIDDLE else f["p1"] for i in range(self.cfg.num_styles)]
        return jnp.stack([s(x) for s, x in zip(self.styles, feats)], axis=1)

    def __call__(self, x, stage: int | None = None, add_latent_avg: bool = True):
        """W+ codes (B, N, D). e4e: w0 + delta_i for i <= ``stage`` (default all); pSp: style_i."""
        out = self.style_outputs(self.features(x))
        if self.cfg.kind == "e4e":
            k = self.cfg.num_styles - 1 if stage is None else stage
            on = np.arange(1, self.cfg.num_styles) <= k  # static: deltas 1..k
            w0 = out[:, :1]
            out = jnp.concatenate([w0, w0 + jnp.where(on[None, :, None], out[:, 1:], 0.0)], axis=1)
        if add_latent_avg and self.cfg.start_from_latent_avg:
            out = out + self.latent_avg[...][None]
        return out
