"""Input checks done on the host before anything is traced, so errors name the problem."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from styleclip_jax.errors import InputError, NonFiniteError


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


def check_finite(name: str, a) -> np.ndarray:
    """``a`` as numpy, or NonFiniteError: nothing with NaN or infinity is written."""
    a = np.asarray(a)
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        raise NonFiniteError(
            f"{name} holds {int(np.sum(~np.isfinite(a)))} NaN or infinite value(s); nothing "
            "was written (check the weights and the numeric options)"
        )
    return a


MAX_PROMPT_CHARS = 1000  # CLIP reads 77 tokens; a longer text is refused before its BPE pass
MAX_TEXTS = 64  # keep-texts (each alternative counted) or composed terms of one edit: each is a CLIP pass


def check_text_count(n: int, what: str) -> None:
    """Refuse more than ``MAX_TEXTS`` texts of one kind in one edit (each costs a CLIP pass)."""
    if n > MAX_TEXTS:
        raise InputError(f"{n} {what}; at most {MAX_TEXTS} in one edit")


MAX_SEEDS = 65536  # per call: 65536 W+ codes of a 1024 generator are 2.4 GB of latents alone


def parse_seeds(text: str, flag: str = "seeds") -> list[int]:
    """'0-7' / '1,5,9' / '0-3,10' -> list of ints (``flag`` names the option in errors); at most
    ``MAX_SEEDS`` of them."""
    seeds: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                if len(seeds) + hi - lo + 1 > MAX_SEEDS:
                    raise InputError(
                        f"`{flag}` {text!r} names {len(seeds) + hi - lo + 1} seeds; at most {MAX_SEEDS} per call "
                        "(split the range over several calls)"
                    )
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
                if len(seeds) > MAX_SEEDS:
                    raise InputError(f"`{flag}` names more than {MAX_SEEDS} seeds; split them over several calls")
    except InputError:
        raise
    except ValueError:
        raise InputError(f"`{flag}` must look like '0-7' or '1,5,9', got {text!r}") from None
    if not seeds or any(s < 0 or s >= 2**32 for s in seeds):
        raise InputError(f"`{flag}` must name whole numbers in [0, 2^32), got {text!r}")
    return seeds
