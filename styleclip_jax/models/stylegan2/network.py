"""Flax NNX StyleGAN2 generator (mapping + skip-architecture synthesis, W / W+ / StyleSpace S).

Module and variable names follow NVIDIA stylegan2-ada (``mapping.fc0``, ``synthesis.b8.conv0.affine``),
so an ADA checkpoint converts by transposes alone and rosinality's by a rename table. Weights are
stored raw (equalised learning rate: gains are applied at run time), exactly as upstream stores
them, so optimiser settings transfer.

Layouts: activations NHWC; conv kernels HWIO; dense kernels (in, out). The model holds no
sharding and no randomness; random noise comes from an explicit key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.models.stylegan2 import ops
from styleclip_jax.models.stylegan2.config import GeneratorConfig

NOISE_MODES = ("const", "random", "none")


class Buffer(nnx.Variable):
    """Non-trainable state stored in checkpoints (noise constants, w_avg)."""


class FullyConnected(nnx.Module):
    """Equalised-lr dense layer: ``x @ (W·lr_mul/sqrt(in)) + b·lr_mul``, then optional lrelu·√2."""

    def __init__(
        self, in_dim: int, out_dim: int, *, lr_mul: float = 1.0, activation: bool = False, bias_init: float = 0.0
    ):
        self.weight = nnx.Param(jnp.zeros((in_dim, out_dim), jnp.float32))
        self.bias = nnx.Param(jnp.full((out_dim,), bias_init, jnp.float32))
        self.lr_mul = lr_mul
        self.activation = activation

    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.weight[...]
        y = x @ (w * (self.lr_mul / math.sqrt(w.shape[0]))).astype(x.dtype)
        b = (self.bias[...] * self.lr_mul).astype(x.dtype)
        if self.activation:
            return ops.lrelu_gain(y, b)
        return y + b


class MappingNetwork(nnx.Module):
    """z (B, z_dim) -> w (B, w_dim): PixelNorm then ``len(mapping_dims)`` lrelu layers."""

    def __init__(self, cfg: GeneratorConfig):
        dims = (cfg.z_dim,) + tuple(cfg.mapping_dims)
        self.num_layers = len(cfg.mapping_dims)
        for i in range(self.num_layers):
            setattr(self, f"fc{i}", FullyConnected(dims[i], dims[i + 1], lr_mul=cfg.mapping_lr_mul, activation=True))

    def __call__(self, z: jax.Array) -> jax.Array:
        x = ops.normalize_2nd_moment(z)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class SynthesisLayer(nnx.Module):
    """Modulated 3x3 conv (+2x up) -> noise -> bias + lrelu·√2 (-> clamp)."""

    def __init__(self, cfg: GeneratorConfig, in_ch: int, out_ch: int, resolution: int, up: bool):
        self.affine = FullyConnected(cfg.w_dim, in_ch, bias_init=1.0)
        self.weight = nnx.Param(jnp.zeros((3, 3, in_ch, out_ch), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((out_ch,), jnp.float32))
        self.noise_strength = nnx.Param(jnp.zeros((), jnp.float32))
        self.noise_const = Buffer(jnp.zeros((resolution, resolution), jnp.float32))
        self.up = up
        self.resolution = resolution
        self.clamp = cfg.conv_clamp
        self.demod_weight_gain = cfg.demod_weight_gain
        self.blur_kernel = tuple(cfg.blur_kernel)

    def __call__(self, x: jax.Array, s: jax.Array, noise: jax.Array | None, fold_batch1: bool = False) -> jax.Array:
        """x (B,H,W,I), s (B,I), noise (B|1, R, R) or None -> (B,R,R,O)."""
        x = ops.modulated_conv(
            x,
            self.weight[...],
            s,
            up=self.up,
            demod_weight_gain=self.demod_weight_gain,
            blur_kernel=self.blur_kernel,
            fold_batch1=fold_batch1,
        )
        if noise is not None:
            x = x + (self.noise_strength[...] * noise)[..., None].astype(x.dtype)
        return ops.lrelu_gain(x, self.bias[...].astype(x.dtype), clamp=self.clamp)


class ToRGBLayer(nnx.Module):
    """Modulated 1x1 conv without demodulation, + bias (-> clamp)."""

    def __init__(self, cfg: GeneratorConfig, in_ch: int):
        self.affine = FullyConnected(cfg.w_dim, in_ch, bias_init=1.0)
        self.weight = nnx.Param(jnp.zeros((1, 1, in_ch, cfg.img_channels), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((cfg.img_channels,), jnp.float32))
        self.clamp = cfg.conv_clamp

    def __call__(self, x: jax.Array, s: jax.Array, fold_batch1: bool = False) -> jax.Array:
        y = ops.modulated_conv(x, self.weight[...], s, demodulate=False, fold_batch1=fold_batch1)
        y = y + self.bias[...].astype(y.dtype)
        if self.clamp is not None:
            y = jnp.clip(y, -self.clamp, self.clamp)
        return y


class SynthesisBlock(nnx.Module):
    """One resolution: (const | conv0 up) -> conv1 -> torgb, image skip upsampled and added."""

    def __init__(self, cfg: GeneratorConfig, resolution: int):
        out_ch = cfg.channels_at(resolution)
        self.resolution = resolution
        self.blur_kernel = tuple(cfg.blur_kernel)
        if resolution == 4:
            self.const = nnx.Param(jnp.zeros((4, 4, out_ch), jnp.float32))
        else:
            in_ch = cfg.channels_at(resolution // 2)
            self.conv0 = SynthesisLayer(cfg, in_ch, out_ch, resolution, up=True)
        self.conv1 = SynthesisLayer(cfg, out_ch, out_ch, resolution, up=False)
        self.torgb = ToRGBLayer(cfg, out_ch)

    def __call__(
        self,
        x,
        img,
        styles: Sequence[jax.Array],
        noises: Sequence[jax.Array | None],
        batch: int,
        dtype,
        fold_batch1: bool = False,
    ):
        """styles: this block's (conv0?, conv1, torgb) style vectors; noises: per conv layer."""
        f = fold_batch1
        if self.resolution == 4:
            x = jnp.broadcast_to(self.const[...].astype(dtype)[None], (batch,) + self.const.shape)
            x = self.conv1(x, styles[0], noises[0], f)
            return x, self.torgb(x, styles[1], f).astype(jnp.float32)
        x = self.conv0(x, styles[0], noises[0], f)
        x = self.conv1(x, styles[1], noises[1], f)
        y = self.torgb(x, styles[2], f).astype(jnp.float32)  # the image skip sums in float32
        return x, ops.upsample_2x(img, self.blur_kernel) + y


class SynthesisNetwork(nnx.Module):
    """``compute_dtype`` ("float32" or "bfloat16") is what the convs run in; styles are cast to it,
    demodulation and the toRGB image sum stay float32, the image comes out float32."""

    def __init__(self, cfg: GeneratorConfig, compute_dtype: str = "float32"):
        self.cfg = cfg
        self.compute_dtype = compute_dtype
        for res in cfg.block_resolutions:
            setattr(self, f"b{res}", SynthesisBlock(cfg, res))

    def layer(self, module_path: str):
        """The module at ``synthesis.b8.conv0``-style path (as in ``StyleLayer.module``)."""
        obj = self
        for part in module_path.split(".")[1:]:
            obj = getattr(obj, part)
        return obj

    def conv_layers(self) -> list[SynthesisLayer]:
        """All noise-bearing conv layers in synthesis order (the 17 noise inputs at 1024)."""
        out = []
        for res in self.cfg.block_resolutions:
            blk = getattr(self, f"b{res}")
            if res > 4:
                out.append(blk.conv0)
            out.append(blk.conv1)
        return out

    def w_to_s(self, wplus: jax.Array) -> list[jax.Array]:
        """W+ (B, num_ws, w_dim) -> StyleSpace list of (B, C_l), in ``cfg.style_layers`` order."""
        return [self.layer(l.module).affine(wplus[:, l.w_index]) for l in self.cfg.style_layers]

    def noise_inputs(self, batch: int, mode: str, key: jax.Array | None) -> list[jax.Array | None]:
        layers = self.conv_layers()
        if mode == "const":
            return [l.noise_const[...] for l in layers]
        if mode == "none":
            return [None] * len(layers)
        if mode == "random":
            if key is None:
                raise InputError("noise_mode='random' needs an explicit PRNG key")
            keys = jax.random.split(key, len(layers))
            return [jax.random.normal(k, (batch, l.resolution, l.resolution)) for k, l in zip(keys, layers)]
        raise InputError(f"noise_mode must be one of {NOISE_MODES}, got {mode!r}")

    def __call__(
        self,
        styles: Sequence[jax.Array],
        *,
        noise_mode: str = "const",
        key: jax.Array | None = None,
        fold_batch1: bool = False,
    ) -> jax.Array:
        """StyleSpace list (B, C_l) -> float32 image (B, R, R, img_channels) in the raw output range.
        ``fold_batch1``: see ``ops.modulated_conv`` (inference with B = 1)."""
        dtype = jnp.dtype(self.compute_dtype)
        styles = [s.astype(dtype) for s in styles]
        batch = styles[0].shape[0]
        noises = self.noise_inputs(batch, noise_mode, key)
        x = img = None
        si = ni = 0
        for res in self.cfg.block_resolutions:
            blk = getattr(self, f"b{res}")
            n_conv = 1 if res == 4 else 2
            x, img = blk(x, img, styles[si : si + n_conv + 1], noises[ni : ni + n_conv], batch, dtype, fold_batch1)
            si += n_conv + 1
            ni += n_conv
        return img


class WPlusMapping:
    """z -> W+ with truncation, shared by the StyleGAN2 and StyleGAN3 generators (which hold
    ``mapping``, ``w_avg`` and ``cfg.num_ws``)."""

    def truncate(self, ws: jax.Array, psi: float | jax.Array = 1.0, cutoff: int | None = None) -> jax.Array:
        """Move W+ (B, L, D) toward ``w_avg``: ``w_avg + psi·(w − w_avg)`` on rows < cutoff (all if None)."""
        avg = self.w_avg[...].astype(ws.dtype)
        truncated = avg + psi * (ws - avg)
        if cutoff is None:
            return truncated
        rows = (jnp.arange(ws.shape[1]) < cutoff)[None, :, None]
        return jnp.where(rows, truncated, ws)

    def map_to_wplus(self, z: jax.Array, psi: float | jax.Array = 1.0, cutoff: int | None = None) -> jax.Array:
        """z (B, z_dim) or per-layer z (B, L, z_dim) -> truncated W+ (B, L, w_dim)."""
        if z.ndim == 2:
            w = self.mapping(z)
            ws = jnp.broadcast_to(w[:, None], (w.shape[0], self.cfg.num_ws, w.shape[1]))
        else:
            ws = self.mapping(z)
        return self.truncate(ws, psi, cutoff)


class Generator(WPlusMapping, nnx.Module):
    """StyleGAN2 generator: ``mapping`` (z -> w), ``synthesis`` (S -> image), ``w_avg`` buffer."""

    def __init__(self, cfg: GeneratorConfig, compute_dtype: str = "float32"):
        self.cfg = cfg
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg, compute_dtype)
        self.w_avg = Buffer(jnp.zeros((cfg.w_dim,), jnp.float32))

    def __call__(
        self, wplus: jax.Array, *, noise_mode: str = "const", key: jax.Array | None = None, fold_batch1: bool = False
    ):
        """W+ (B, L, D) -> (image (B, R, R, 3), {"wplus", "s"}) with s a list of (B, C_l)."""
        styles = self.synthesis.w_to_s(wplus)
        img = self.synthesis(styles, noise_mode=noise_mode, key=key, fold_batch1=fold_batch1)
        return img, {"wplus": wplus, "s": styles}
