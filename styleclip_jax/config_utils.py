"""Shared helper for frozen-dataclass configs read from ``config.json``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from styleclip_jax.errors import ConfigError, InputError


def known_fields(cls, d: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A mutable copy of ``d``; unknown fields are an error (we never silently ignore config)."""
    unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ConfigError(f"unknown {what} config fields: {sorted(unknown)}")
    return dict(d)


def int_tuples(value):
    """Nested lists of ints (as JSON stores them) -> nested tuples: hashable, as frozen configs need."""
    return tuple(int_tuples(v) for v in value) if isinstance(value, (list, tuple)) else int(value)


def check_nonnegative(config, names) -> None:
    """Each named field of ``config`` must be a finite number >= 0 (learning rates, loss weights)."""
    for name in names:
        v = getattr(config, name)
        if not (math.isfinite(v) and v >= 0):
            raise ConfigError(f"{name} must be a finite number >= 0, got {v}")


COMPUTE_DTYPES = ("float32", "bfloat16")


def check_compute_dtype(dtype: str) -> str:
    """A model's compute dtype: float32 (default) or bfloat16 (weights and latents stay float32)."""
    if dtype not in COMPUTE_DTYPES:
        raise InputError(f"dtype must be one of {COMPUTE_DTYPES}, got {dtype!r}")
    return dtype
