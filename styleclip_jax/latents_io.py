"""Reading latents files and writing generator outputs (the ``.npz`` contract of the CLI).

Input ``.npz``: one of ``wplus`` (B, L, D), ``w`` (B, D), ``z`` (B, Z), or StyleSpace codes as
``s/<layer name>`` (B, C) for every layer (first present wins, in that order).
Output ``.npz``: ``images`` (B, H, W, 3) float32 raw range, ``wplus`` (B, L, D) when known, and
``s/<layer name>`` (B, C) for every style layer.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from .errors import InputError
from .model_dir import atomic_write
from .validation import check_array

if TYPE_CHECKING:                     # annotation only: keeps this module (and run-onnx) free of JAX
    from .models.stylegan2.config import GeneratorConfig


def parse_seeds(text: str) -> list[int]:
    """'0-7' / '1,5,9' / '0-3,10' -> list of ints."""
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
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise InputError(f"--seeds must look like '0-7' or '1,5,9', got {text!r}") from None
    if not seeds or any(s < 0 or s >= 2**32 for s in seeds):
        raise InputError(f"--seeds must name seeds in [0, 2^32), got {text!r}")
    return seeds


def z_from_seeds(seeds, z_dim: int) -> np.ndarray:
    """NVIDIA's convention: ``RandomState(seed).randn(z_dim)`` per seed -> (B, z_dim) float32."""
    return np.stack([np.random.RandomState(s).randn(z_dim) for s in seeds]).astype(np.float32)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of a latents ``.npz`` (never unpickling); a missing or broken file is an InputError."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"latents file {p} does not exist")
    try:
        with np.load(p, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise InputError(f"{p}: not a readable .npz file ({e})") from None


def read_latents(path: str | os.PathLike, cfg: GeneratorConfig) -> tuple[str, object]:
    """Return ('wplus'|'w'|'z', array) or ('s', {name: array}) after checking shapes."""
    p = Path(path)
    files = read_npz(p)
    if "wplus" in files:
        return "wplus", check_array(files["wplus"], f"{p.name}:wplus", (None, cfg.num_ws, cfg.w_dim))
    if "w" in files:
        return "w", check_array(files["w"], f"{p.name}:w", (None, cfg.w_dim))
    if "z" in files:
        return "z", check_array(files["z"], f"{p.name}:z", (None, cfg.z_dim))
    s_keys = {k[2:]: v for k, v in files.items() if k.startswith("s/")}
    if s_keys:
        missing = [l.name for l in cfg.style_layers if l.name not in s_keys]
        if missing:
            raise InputError(f"{p}: StyleSpace codes for layers {missing} are missing")
        return "s", {l.name: check_array(s_keys[l.name], f"{p.name}:s/{l.name}", (None, l.width))
                     for l in cfg.style_layers}
    raise InputError(f"{p}: found arrays {sorted(files)}; expected 'wplus' (B,{cfg.num_ws},{cfg.w_dim}), "
                     f"'w' (B,{cfg.w_dim}), 'z' (B,{cfg.z_dim}) or 's/<layer name>' codes")


def wplus_from_source(gen, *, seeds: str | None = None, latents: str | os.PathLike | None = None,
                      truncation: float = 1.0, what: str = "this command") -> np.ndarray:
    """W+ (B, L, D) from ``--seeds`` (mapped at ``truncation``) or a latents file (wplus or w)."""
    if (seeds is None) == (latents is None):
        raise InputError(f"{what} needs exactly one of --seeds or --latents")
    if seeds is not None:
        return np.asarray(gen.mapping(z_from_seeds(parse_seeds(seeds), gen.config.z_dim), truncation))
    kind, w = read_latents(latents, gen.config)
    if kind not in ("wplus", "w"):
        raise InputError(f"{latents}: {what} needs 'wplus' or 'w' latents, got {kind!r}")
    return gen.as_wplus(w)


def check_output_path(path: str | os.PathLike, overwrite: bool, suffixes=(".png", ".npz")) -> Path:
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise InputError(f"--out must end with one of {suffixes}, got {p.name!r}")
    if p.exists() and not overwrite:
        raise FileExistsError(f"{p} exists; pass --overwrite to replace it")
    if not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    return p


def write_npz(path: str | os.PathLike, images, wplus=None, styles: Mapping[str, np.ndarray] | None = None,
              **extra) -> None:
    arrays = {"images": np.asarray(images, np.float32)}
    if wplus is not None:
        arrays["wplus"] = np.asarray(wplus, np.float32)
    for name, s in (styles or {}).items():
        arrays[f"s/{name}"] = np.asarray(s, np.float32)
    arrays.update({k: np.asarray(v) for k, v in extra.items()})
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays))
