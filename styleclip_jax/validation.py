"""Input checks done on the host before anything is traced, so errors name the problem."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from styleclip_jax.errors import InputError


def check_array(x, name: str, shape: Sequence[int | None], *, finite: bool = True) -> np.ndarray:
    """Return ``x`` as float32 numpy after checking rank, sizes (None = any) and finiteness."""
    try:
        a = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise InputError(f"{name} must be a float array, got {type(x).__name__} ({e})") from None
    want = "(" + ", ".join("B" if s is None else str(s) for s in shape) + ")"
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        raise InputError(f"{name} must have shape {want}, got {a.shape}")
    if a.size == 0:
        raise InputError(f"{name} is empty (shape {a.shape})")
    if finite and not np.all(np.isfinite(a)):
        bad = int(np.sum(~np.isfinite(a)))
        raise InputError(f"{name} contains {bad} NaN or infinite value(s)")
    return a
