"""Latents for a generator handle: NVIDIA's seed convention and W+ from ``seeds`` or a latents file."""

from __future__ import annotations

import os

import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.io.latents import read_latents
from styleclip_jax.validation import parse_seeds


def z_from_seeds(seeds, z_dim: int) -> np.ndarray:
    """NVIDIA's convention: ``RandomState(seed).randn(z_dim)`` per seed -> (B, z_dim) float32."""
    return np.stack([np.random.RandomState(s).randn(z_dim) for s in seeds]).astype(np.float32)


def wplus_from_source(
    gen,
    *,
    seeds: str | None = None,
    latents: str | os.PathLike | None = None,
    truncation: float = 1.0,
    what: str = "this command",
    key: str | None = None,
) -> np.ndarray:
    """W+ (B, L, D) from ``--seeds`` (mapped at ``truncation``) or a latents file (wplus or w)."""
    if (seeds is None) == (latents is None):
        raise InputError(f"{what} needs exactly one of `seeds` or `latents`")
    if latents is None:
        return np.asarray(gen.mapping(z_from_seeds(parse_seeds(str(seeds)), gen.config.z_dim), truncation))
    _, w = read_latents(latents, gen, accept=("wplus", "w"), key=key)
    return gen.as_wplus(w)
