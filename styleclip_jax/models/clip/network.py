"""Flax NNX CLIP, ViT family (B/32, B/16, L/14, L/14-336), named after OpenAI's state-dict keys.

Layouts: dense kernels (in, out); the patch conv HWIO; images NHWC, already preprocessed
(see ``preprocess.py``). ``encode_*`` return *unnormalised* features, as OpenAI's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from styleclip_jax.config_utils import known_fields
from styleclip_jax.errors import ConfigError

ACTIVATIONS = ("quick_gelu", "gelu")


@dataclasses.dataclass(frozen=True)
class CLIPConfig:
    """Shapes of a ViT CLIP. ``heads`` cannot be read off weights; OpenAI uses width // 64."""

    embed_dim: int
    image_size: int
    patch_size: int
    vision_width: int
    vision_layers: int
    vision_heads: int
    context_length: int
    vocab_size: int
    text_width: int
    text_layers: int
    text_heads: int
    activation: str = "quick_gelu"
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        for w, h, what in (
            (self.vision_width, self.vision_heads, "vision"),
            (self.text_width, self.text_heads, "text"),
        ):
            if h < 1 or w % h:
                raise ConfigError(f"{what} width {w} is not divisible by {h} heads")
        if self.image_size % self.patch_size:
            raise ConfigError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CLIPConfig:
        return cls(**known_fields(cls, d, "CLIP"))

    @classmethod
    def vit_b_32(cls) -> CLIPConfig:
        return cls(512, 224, 32, 768, 12, 12, 77, 49408, 512, 12, 8)


class Dense(nnx.Module):
    def __init__(self, din: int, dout: int, bias: bool = True):
        self.kernel = nnx.Param(jnp.zeros((din, dout), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((dout,), jnp.float32)) if bias else None

    def __call__(self, x):
        y = x @ self.kernel[...].astype(x.dtype)
        return y if self.bias is None else y + self.bias[...].astype(x.dtype)


class LayerNorm(nnx.Module):
    """PyTorch LayerNorm (eps 1e-5), computed in float32 like OpenAI's fp16-safe subclass."""

    def __init__(self, dim: int, eps: float):
        self.weight = nnx.Param(jnp.ones((dim,), jnp.float32))
        self.bias = nnx.Param(jnp.zeros((dim,), jnp.float32))
        self.eps = eps

    def __call__(self, x):
        x32 = x.astype(jnp.float32)
        mu = jnp.mean(x32, -1, keepdims=True)
        var = jnp.mean(jnp.square(x32 - mu), -1, keepdims=True)
        y = (x32 - mu) * jax.lax.rsqrt(var + self.eps) * self.weight[...] + self.bias[...]
        return y.astype(x.dtype)


class Attention(nnx.Module):
    """Multi-head self-attention with OpenAI's fused in_proj (q | k | v)."""

    def __init__(self, width: int, heads: int):
        self.in_proj = Dense(width, 3 * width)
        self.out_proj = Dense(width, width)
        self.heads = heads

    def __call__(self, x, mask=None):
        b, n, d = x.shape
        h = self.heads
        q, k, v = jnp.split(self.in_proj(x), 3, axis=-1)
        q, k, v = (t.reshape(b, n, h, d // h) for t in (q, k, v))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d // h)
        if mask is not None:
            logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
        w = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(x.dtype)
        return self.out_proj(jnp.einsum("bhqk,bkhd->bqhd", w, v).reshape(b, n, d))


class MLP(nnx.Module):
    def __init__(self, width: int, activation: str):
        self.c_fc = Dense(width, 4 * width)
        self.c_proj = Dense(4 * width, width)
        self.activation = activation

    def __call__(self, x):
        x = self.c_fc(x)
        x = x * jax.nn.sigmoid(1.702 * x) if self.activation == "quick_gelu" else jax.nn.gelu(x, approximate=False)
        return self.c_proj(x)


class ResidualBlock(nnx.Module):
    def __init__(self, width: int, heads: int, cfg: CLIPConfig):
        self.ln_1 = LayerNorm(width, cfg.layer_norm_eps)
        self.attn = Attention(width, heads)
        self.ln_2 = LayerNorm(width, cfg.layer_norm_eps)
        self.mlp = MLP(width, cfg.activation)

    def __call__(self, x, mask=None):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nnx.Module):
    def __init__(self, width: int, layers: int, heads: int, cfg: CLIPConfig):
        self.resblocks = nnx.List([ResidualBlock(width, heads, cfg) for _ in range(layers)])

    def __call__(self, x, mask=None):
        for blk in self.resblocks:
            x = blk(x, mask)
        return x


class VisionTransformer(nnx.Module):
    def __init__(self, cfg: CLIPConfig):
        w, p = cfg.vision_width, cfg.patch_size
        self.conv1 = nnx.Param(jnp.zeros((p, p, 3, w), jnp.float32))
        self.class_embedding = nnx.Param(jnp.zeros((w,), jnp.float32))
        self.positional_embedding = nnx.Param(jnp.zeros((cfg.grid**2 + 1, w), jnp.float32))
        self.ln_pre = LayerNorm(w, cfg.layer_norm_eps)
        self.transformer = Transformer(w, cfg.vision_layers, cfg.vision_heads, cfg)
        self.ln_post = LayerNorm(w, cfg.layer_norm_eps)
        self.proj = nnx.Param(jnp.zeros((w, cfg.embed_dim), jnp.float32))
        self.patch = p

    def __call__(self, images, return_intermediates: bool = False):
        """images (B, S, S, 3) preprocessed -> (B, embed_dim) unnormalised features."""
        dtype = images.dtype
        x = jax.lax.conv_general_dilated(
            images,
            self.conv1[...].astype(dtype),
            (self.patch, self.patch),
            "VALID",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        b = x.shape[0]
        x = x.reshape(b, -1, x.shape[-1])
        cls = jnp.broadcast_to(self.class_embedding[...].astype(dtype), (b, 1, x.shape[-1]))
        x = jnp.concatenate([cls, x], axis=1) + self.positional_embedding[...].astype(dtype)
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj[...].astype(dtype)


class CLIP(nnx.Module):
    """OpenAI CLIP (ViT image tower + causal text transformer), NNX."""

    def __init__(self, cfg: CLIPConfig):
        self.cfg = cfg
        self.token_embedding = nnx.Param(jnp.zeros((cfg.vocab_size, cfg.text_width), jnp.float32))
        self.positional_embedding = nnx.Param(jnp.zeros((cfg.context_length, cfg.text_width), jnp.float32))
        self.transformer = Transformer(cfg.text_width, cfg.text_layers, cfg.text_heads, cfg)
        self.ln_final = LayerNorm(cfg.text_width, cfg.layer_norm_eps)
        self.text_projection = nnx.Param(jnp.zeros((cfg.text_width, cfg.embed_dim), jnp.float32))
        self.logit_scale = nnx.Param(jnp.zeros((), jnp.float32))
        self.visual = VisionTransformer(cfg)
        self.compute_dtype = "float32"  # the default dtype of encode_*; set by CLIPModel(dtype=...)

    def encode_text(self, tokens, dtype=None):
        """tokens int (B, L<=context) -> (B, embed_dim); features at the EOT (argmax id) position.
        ``dtype``: the compute dtype (default ``compute_dtype``); features come out in it."""
        dtype = jnp.dtype(self.compute_dtype if dtype is None else dtype)
        n = tokens.shape[1]
        x = self.token_embedding[...][tokens].astype(dtype) + self.positional_embedding[...][:n].astype(dtype)
        causal = jnp.tril(jnp.ones((n, n), bool))[None, None]
        x = self.ln_final(self.transformer(x, causal))
        eot = jnp.argmax(tokens, axis=-1)
        return x[jnp.arange(x.shape[0]), eot] @ self.text_projection[...].astype(dtype)

    def encode_image(self, images, dtype=None):
        return self.visual(images.astype(jnp.dtype(self.compute_dtype if dtype is None else dtype)))

    def __call__(self, images, tokens, dtype=None):
        """-> (logits_per_image (Bi, Bt), logits_per_text (Bt, Bi)), as OpenAI's forward."""
        fi = normalize(self.encode_image(images, dtype).astype(jnp.float32))
        ft = normalize(self.encode_text(tokens, dtype).astype(jnp.float32))
        logits = jnp.exp(self.logit_scale[...]) * fi @ ft.T
        return logits, logits.T


def normalize(x, axis: int = -1):
    """L2-normalise (OpenAI: ``x / x.norm(dim=-1, keepdim=True)``, no epsilon)."""
    return x / jnp.linalg.norm(x, axis=axis, keepdims=True)
