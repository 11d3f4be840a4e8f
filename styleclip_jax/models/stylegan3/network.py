"""Flax NNX StyleGAN3 generator (T and R): mapping, Fourier-feature input, alias-free layers.

Module and variable names follow NVIDIA's (``synthesis.L3_36_512.affine``), so a snapshot converts
by transposes alone. Weights are stored raw (equalised learning rate applied at run time).
Activations are NHWC, conv kernels HWIO, dense kernels (in, out). The FIR filters are static
constants designed from the config (``filters.py``; equal to the stored buffers, which the
converter checks), applied as shift-and-add slices (XLA-CPU runs depthwise convolutions slowly).

StyleSpace (our convention = the golden's = NVIDIA's affine outputs):
``input`` is the raw 4-wide affine output before normalising its rotation part, every layer's
code is its raw affine output, and toRGB's is stored *before* its 1/sqrt(C_in) weight gain.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

from styleclip_jax.models.stylegan2 import ops
from styleclip_jax.models.stylegan2.network import Buffer, FullyConnected, WPlusMapping
from styleclip_jax.models.stylegan3 import fir
from styleclip_jax.models.stylegan3.config import OUTPUT_SCALE, LayerGeometry, SG3Config
from styleclip_jax.models.stylegan3.filters import layer_filters

SQRT2 = math.sqrt(2.0)


# ---- filtered leaky ReLU: bias -> up FIR -> lrelu, gain, clamp -> down FIR ----------------------
def filtered_lrelu(
    x: jax.Array,
    bias: jax.Array,
    *,
    g: LayerGeometry,
    up_filter,
    down_filter,
    gain: float,
    slope: float,
    clamp: float | None,
) -> jax.Array:
    """Upstream ``filtered_lrelu`` (reference order) on NHWC ``x``; returns (B, out, out, C).
    Filters are true convolutions (flipped here), the up filter with gain ``up`` per axis."""
    x = x + bias.astype(x.dtype)
    x0, x1, y0, y1 = g.padding
    up, down = g.up_factor, g.down_factor
    if up_filter is None:  # (toRGB: no resampling, only the pad)
        x = fir.pad_axis(fir.pad_axis(x, 2, x0, x1), 1, y0, y1)
    else:  # W first, then H (upfirdn2d's order)
        f = tuple(v * up for v in up_filter[::-1])
        x = fir.fir_up(fir.fir_up(x, f, up, (x0, x1), axis=2), f, up, (y0, y1), axis=1)
    x = jnp.where(x >= 0, x, x * slope) * gain
    if clamp is not None:
        x = jnp.clip(x, -clamp, clamp)
    if down_filter is None:
        return x[:, ::down, ::down]
    if isinstance(down_filter[0], tuple):
        return fir.fir_radial(x, tuple(tuple(row[::-1]) for row in down_filter[::-1]), down)
    f = tuple(down_filter[::-1])
    return fir.fir_down(fir.fir_down(x, f, down, axis=2), f, down, axis=1)


# ---- modules ------------------------------------------------------------------------------------
class MappingNetwork(nnx.Module):
    """z (B, z_dim) -> w (B, w_dim): normalise z, then ``mapping_layers`` lrelu FCs (lr_mul 0.01)."""

    def __init__(self, cfg: SG3Config):
        self.num_layers = cfg.mapping_layers
        dims = (cfg.z_dim,) + (cfg.w_dim,) * cfg.mapping_layers
        for i in range(self.num_layers):
            setattr(self, f"fc{i}", FullyConnected(dims[i], dims[i + 1], lr_mul=cfg.mapping_lr_mul, activation=True))

    def __call__(self, z: jax.Array) -> jax.Array:
        x = ops.normalize_2nd_moment(z)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class SynthesisInput(nnx.Module):
    """Fourier features at the first layer's rate, rotated / translated by ``affine(w0)`` and by
    the stored user ``transform`` (the inverse of the image transform, as ``gen_images.py``)."""

    def __init__(self, cfg: SG3Config):
        c = cfg.input_channels
        self.channels, self.size = c, cfg.input_size
        self.sampling_rate, self.bandwidth = cfg.input_sampling_rate, cfg.input_bandwidth
        self.weight = nnx.Param(jnp.zeros((c, c), jnp.float32))
        self.affine = FullyConnected(cfg.w_dim, 4)
        self.transform = Buffer(jnp.eye(3, dtype=jnp.float32))
        self.freqs = Buffer(jnp.zeros((c, 2), jnp.float32))
        self.phases = Buffer(jnp.zeros((c,), jnp.float32))

    def features(self, t: jax.Array) -> jax.Array:
        """Raw 4-wide style code ``t`` (B, 4) -> (B, size, size, C) features."""
        t = t / jnp.linalg.norm(t[:, :2], axis=1, keepdims=True)
        c, s, tx, ty = t[:, 0], t[:, 1], t[:, 2], t[:, 3]
        zeros, ones = jnp.zeros_like(c), jnp.ones_like(c)
        m_r = jnp.stack(
            [jnp.stack([c, -s, zeros], -1), jnp.stack([s, c, zeros], -1), jnp.stack([zeros, zeros, ones], -1)], 1
        )
        m_t = jnp.stack(
            [jnp.stack([ones, zeros, -tx], -1), jnp.stack([zeros, ones, -ty], -1), jnp.stack([zeros, zeros, ones], -1)],
            1,
        )
        m = m_r @ m_t @ self.transform[...][None]
        freqs, phases = self.freqs[...], self.phases[...]
        phases = phases[None] + (freqs[None] @ m[:, :2, 2:])[..., 0]  # (B, C)
        freqs = freqs[None] @ m[:, :2, :2]  # (B, C, 2)
        amp = jnp.clip(
            1 - (jnp.linalg.norm(freqs, axis=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth), 0, 1
        )
        grid = (jnp.arange(self.size, dtype=jnp.float32) + 0.5 - self.size / 2) / self.sampling_rate
        gx = grid[None, None, :, None] * freqs[:, None, None, :, 0]  # (B, 1, W, C)
        gy = grid[None, :, None, None] * freqs[:, None, None, :, 1]  # (B, H, 1, C)
        x = jnp.sin((gx + gy + phases[:, None, None, :]) * (2 * np.pi)) * amp[:, None, None, :]
        return x @ (self.weight[...] / math.sqrt(self.channels)).T


class SynthesisLayer(nnx.Module):
    """Modulated conv (full padding k−1, input gain 1/sqrt(magnitude_ema)) -> filtered lrelu."""

    def __init__(self, cfg: SG3Config, g: LayerGeometry):
        self.geometry = g
        k = g.conv_kernel
        self.affine = FullyConnected(cfg.w_dim, g.in_channels, bias_init=1.0)
        self.weight = nnx.Param(jnp.zeros((k, k, g.in_channels, g.out_channels), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((g.out_channels,), jnp.float32))
        self.magnitude_ema = Buffer(jnp.ones((), jnp.float32))
        self.clamp = cfg.conv_clamp
        # static taps (python floats): part of the graph definition, constants in the program
        up, down = layer_filters(g)
        self.up_filter = None if up is None else tuple(float(v) for v in up)
        self.down_filter = (
            None
            if down is None
            else (
                tuple(tuple(float(v) for v in row) for row in down) if down.ndim == 2 else tuple(float(v) for v in down)
            )
        )

    def __call__(self, x: jax.Array, s: jax.Array) -> jax.Array:
        """x (B, in, in, C_in), raw style code s (B, C_in) -> (B, out, out, C_out)."""
        g = self.geometry
        w = self.weight[...]
        k = g.conv_kernel
        input_gain = lax.rsqrt(self.magnitude_ema[...])
        if g.is_torgb:
            s = s * (1.0 / math.sqrt(g.in_channels * k * k))
            y = ops.conv2d(x * s[:, None, None, :], w, padding=k - 1) * input_gain
        else:
            # upstream's fp16-range pre-normalisation (cancels in the demodulation up to its 1e-8)
            w = w * lax.rsqrt(jnp.mean(jnp.square(w), axis=(0, 1, 2), keepdims=True))
            s = s * lax.rsqrt(jnp.mean(jnp.square(s)))
            d = lax.rsqrt(jnp.square(s) @ ops.tap_square_sum(w) + 1e-8)  # (B, O)
            y = ops.conv2d(x * s[:, None, None, :], w, padding=k - 1) * (d * input_gain)[:, None, None, :]
        act = functools.partial(
            filtered_lrelu,
            g=g,
            up_filter=self.up_filter,
            down_filter=self.down_filter,
            gain=1.0 if g.is_torgb else SQRT2,
            slope=1.0 if g.is_torgb else 0.2,
            clamp=self.clamp,
        )
        # Rematerialised in the backward pass: at 1024 px a layer's up-sampled activations are
        # ~1.5 GB each, and keeping every layer's for the gradient exceeded 23 GB.
        return jax.checkpoint(act)(y, self.bias[...])


class SynthesisNetwork(nnx.Module):
    def __init__(self, cfg: SG3Config):
        self.cfg = cfg
        self.input = SynthesisInput(cfg)
        self.layer_names = cfg.layer_names
        for g in cfg.layers:
            setattr(self, g.name, SynthesisLayer(cfg, g))

    def layer(self, module_path: str):
        """The module at a ``synthesis.L3_36_512``-style path (``StyleLayer.module``)."""
        obj = self
        for part in module_path.split(".")[1:]:
            obj = getattr(obj, part)
        return obj

    def w_to_s(self, wplus: jax.Array) -> list[jax.Array]:
        """W+ (B, 16, w_dim) -> StyleSpace list [(B, 4), (B, C_L0), …, (B, C_L14)] of raw affine outputs."""
        return [self.layer(l.module).affine(wplus[:, l.w_index]) for l in self.cfg.style_layers]

    def __call__(
        self, styles: Sequence[jax.Array], *, noise_mode: str = "const", key=None, fold_batch1: bool = False
    ) -> jax.Array:
        """StyleSpace list -> float32 image (B, R, R, 3). StyleGAN3 has no noise: ``noise_mode``,
        ``key`` and ``fold_batch1`` are accepted (the StyleGAN2 signature) and ignored."""
        del noise_mode, key, fold_batch1
        b, k = styles[0].shape[0], items_per_pass(self.cfg.resolution)
        if not isinstance(b, int) or b <= k:  # a symbolic batch (ONNX export) runs at once
            return self._synthesize(styles)
        # A batch runs k images at a time (lax.map over chunks): each layer's up-sampled activations
        # are ~0.4 GB per 1024² image, so the whole batch at once needed 3.3 GB more per image
        # (SG3-R, batch 8: 27 GB); per chunk the peak stops growing with the batch. (Not lax.map's
        # batch_size: it vmaps a one-image program; chunks here run the batched program itself.)
        n = b // k
        chunks = [s[: n * k].reshape(n, k, *s.shape[1:]) for s in styles]
        out = lax.map(self._synthesize, chunks)
        out = out.reshape(n * k, *out.shape[2:])
        if b % k:
            out = jnp.concatenate([out, self._synthesize([s[n * k :] for s in styles])])
        return out

    def _synthesize(self, styles: Sequence[jax.Array]) -> jax.Array:
        x = self.input.features(styles[0])
        for name, s in zip(self.layer_names, styles[1:]):
            x = getattr(self, name)(x, s)
        return x * OUTPUT_SCALE


def items_per_pass(resolution: int) -> int:
    """Images one synthesis pass holds at once: 2 at 1024², 8 at 512², 32 at 256² (a batch above
    it runs in chunks of this many)."""
    return max(1, 2 * (1024 // resolution) ** 2)


class Generator(WPlusMapping, nnx.Module):
    """StyleGAN3 generator: ``mapping`` (z -> w), ``synthesis`` (S -> image), ``w_avg`` buffer."""

    def __init__(self, cfg: SG3Config):
        self.cfg = cfg
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)
        self.w_avg = Buffer(jnp.zeros((cfg.w_dim,), jnp.float32))

    def __call__(self, wplus: jax.Array, *, noise_mode: str = "const", key=None, fold_batch1: bool = False):
        """W+ (B, 16, D) -> (image (B, R, R, 3), {"wplus", "s"}) with s a list of raw codes."""
        styles = self.synthesis.w_to_s(wplus)
        return self.synthesis(styles), {"wplus": wplus, "s": styles}
