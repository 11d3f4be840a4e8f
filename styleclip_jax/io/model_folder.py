"""Our on-disk model format: a folder with ``config.json`` + ``model.safetensors``.

``config.json`` holds ``{"format": "styleclip-jax", "kind": ..., "format_version": 1,
"config": {...}, "source": {...}}``. Tensors are stored under our parameter paths
(``synthesis.b8.conv0.affine.weight``), in our layouts (HWIO, (in, out)). Loading builds the
model abstractly (``nnx.eval_shape``) and fills it, refusing missing, unused or mis-shaped keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from styleclip_jax.errors import CheckpointError, NonFiniteError
from styleclip_jax.io.files import atomic_write, refuse_nonempty_dir

FORMAT = "styleclip-jax"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def check_flat_against(expected: Mapping[str, tuple], flat: Mapping[str, np.ndarray], what: str) -> None:
    """Raise naming every missing, unused and mis-shaped key of ``flat`` vs ``expected`` shapes."""
    missing = sorted(set(expected) - set(flat))
    unused = sorted(set(flat) - set(expected))
    bad = sorted(
        f"{k}: expected {tuple(expected[k])}, got {tuple(np.shape(flat[k]))}"
        for k in set(expected) & set(flat)
        if tuple(expected[k]) != tuple(np.shape(flat[k]))
    )
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unused:
        problems.append(f"unused keys {unused}")
    if bad:
        problems.append(f"mis-shaped keys {bad}")
    if problems:
        raise CheckpointError(f"{what}: " + "; ".join(problems))


def check_weights(tensors: Mapping[str, np.ndarray], what: str) -> None:
    """Refuse, naming the tensor, weights that are not floating point or hold NaN / infinity."""
    for k, v in tensors.items():
        v = np.asarray(v)
        if v.dtype.kind != "f" and not (v.dtype.kind == "V" and v.dtype.itemsize == 2):  # bfloat16 is kind V
            raise CheckpointError(f"{what}: tensor {k} has dtype {v.dtype}; weights must be floating point")
        bad = int(np.size(v) - np.count_nonzero(np.isfinite(v.astype(np.float32))))
        if bad:
            raise NonFiniteError(f"{what}: tensor {k} holds {bad} NaN or infinite value(s); refusing these weights")


def save_model_dir(
    out_dir: str | os.PathLike,
    kind: str,
    config: Mapping[str, Any],
    tensors: Mapping[str, np.ndarray],
    source: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``out_dir/config.json`` and ``out_dir/model.safetensors`` (atomically, file by file)."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    refuse_nonempty_dir(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    check_weights(tensors, str(out))
    arrays = {k: np.array(v, dtype=np.float32, order="C") for k, v in tensors.items()}  # keeps 0-d shapes
    meta = {
        "format": FORMAT,
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "config": dict(config),
        "source": dict(source or {}),
    }
    atomic_write(out / WEIGHTS_FILE, lambda p: save_file(arrays, str(p), metadata={"format": FORMAT, "kind": kind}))
    atomic_write(out / CONFIG_FILE, lambda p: Path(p).write_text(json.dumps(meta, indent=2, sort_keys=True)))
    return out


def folder_kind(path: str | os.PathLike) -> str | None:
    """The ``kind`` a model folder's config.json declares (None when it cannot be read: the full
    reader then names the problem)."""
    try:
        meta = json.loads((Path(path) / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta.get("kind") if isinstance(meta, dict) else None


def read_model_dir(path: str | os.PathLike, kind: str) -> tuple[dict, dict[str, np.ndarray], dict]:
    """Read one of our model folders; returns (config dict, tensors, source info)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file or directory")
    if p.is_file():
        raise CheckpointError(
            f"{p} is a file; expected a {kind} folder with {CONFIG_FILE} and {WEIGHTS_FILE}"
            f" (convert upstream checkpoints with `styleclip-jax convert {kind} IN OUT_DIR`)"
        )
    cfg_path, w_path = p / CONFIG_FILE, p / WEIGHTS_FILE
    for f in (cfg_path, w_path):
        if not f.exists():
            raise CheckpointError(f"{p} is not a styleclip-jax {kind} folder: {f.name} is missing")
    try:
        meta = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_path}: not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{cfg_path}: not a styleclip-jax config (format={meta.get('format') if isinstance(meta, dict) else None!r})"
        )
    if meta.get("kind") != kind:
        raise CheckpointError(f"{p} holds a {meta.get('kind')!r} model, not a {kind!r}")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{p} was written by a newer styleclip-jax (format_version {meta['format_version']})")
    try:
        tensors = load_file(str(w_path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{w_path}: corrupt or unreadable safetensors file ({e})") from None
    check_weights(tensors, str(w_path))
    return meta["config"], tensors, meta.get("source", {})


def read_typed_model_dir(path, kind: str, config_cls):
    """``read_model_dir`` + ``config_cls.from_dict``; a config that does not parse is a CheckpointError."""
    cfg_dict, tensors, source = read_model_dir(path, kind)
    try:
        cfg = config_cls.from_dict(cfg_dict)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: bad {kind} config ({e})") from None
    return cfg, tensors, source
