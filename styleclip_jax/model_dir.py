"""Our on-disk model format: a folder with ``config.json`` + ``model.safetensors``.

``config.json`` holds ``{"format": "styleclip-jax", "kind": ..., "format_version": 1,
"config": {...}, "source": {...}}``. Tensors are stored under our parameter paths
(``synthesis.b8.conv0.affine.weight``), in our layouts (HWIO, (in, out)). Loading builds the
model abstractly (``nnx.eval_shape``) and fills it, refusing missing, unused or mis-shaped keys.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from styleclip_jax.errors import CheckpointError, NonFiniteError, OutputExistsError

FORMAT = "styleclip-jax"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def check_flat_against(expected: Mapping[str, tuple], flat: Mapping[str, np.ndarray], what: str) -> None:
    """Raise naming every missing, unused and mis-shaped key of ``flat`` vs ``expected`` shapes."""
    missing = sorted(set(expected) - set(flat))
    unused = sorted(set(flat) - set(expected))
    bad = sorted(f"{k}: expected {tuple(expected[k])}, got {tuple(np.shape(flat[k]))}"
                 for k in set(expected) & set(flat) if tuple(expected[k]) != tuple(np.shape(flat[k])))
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
        if v.dtype.kind != "f" and not (v.dtype.kind == "V" and v.dtype.itemsize == 2):     # bfloat16 is kind V
            raise CheckpointError(f"{what}: tensor {k} has dtype {v.dtype}; weights must be floating point")
        bad = int(np.size(v) - np.count_nonzero(np.isfinite(v.astype(np.float32))))
        if bad:
            raise NonFiniteError(f"{what}: tensor {k} holds {bad} NaN or infinite value(s); refusing these weights")


def refuse_nonempty_dir(path: str | os.PathLike | None, overwrite: bool) -> None:
    """Never overwrite without being asked: a non-empty existing folder needs ``overwrite``."""
    if path is None or overwrite:
        return
    p = Path(path)
    if p.exists() and (p.is_file() or any(p.iterdir())):
        raise OutputExistsError(f"{p} exists and is not empty; pass --overwrite (overwrite=True) to replace it")


def save_model_dir(out_dir: str | os.PathLike, kind: str, config: Mapping[str, Any],
                   tensors: Mapping[str, np.ndarray], source: Mapping[str, Any] | None = None,
                   overwrite: bool = False) -> Path:
    """Write ``out_dir/config.json`` and ``out_dir/model.safetensors`` (atomically, file by file)."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    refuse_nonempty_dir(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    check_weights(tensors, str(out))
    arrays = {k: np.array(v, dtype=np.float32, order="C") for k, v in tensors.items()}  # keeps 0-d shapes
    meta = {"format": FORMAT, "kind": kind, "format_version": FORMAT_VERSION, "config": dict(config),
            "source": dict(source or {})}
    atomic_write(out / WEIGHTS_FILE, lambda p: save_file(arrays, str(p), metadata={"format": FORMAT, "kind": kind}))
    atomic_write(out / CONFIG_FILE, lambda p: Path(p).write_text(json.dumps(meta, indent=2, sort_keys=True)))
    return out


def atomic_write(dest: str | os.PathLike, write) -> None:
    """``write(tmp_path)`` into a temporary file beside ``dest``, then rename it over ``dest``.

    Never leaves a half-written file (the temporary is removed on failure). The temporary name
    ends with ``dest``'s suffix, so writers that append one when it is missing (``np.save``,
    ``np.savez``) write exactly where they are told.
    """
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=f".tmp{dest.suffix}")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())                 # mkstemp makes 0600; outputs follow the umask
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_model_dir(path: str | os.PathLike, kind: str) -> tuple[dict, dict[str, np.ndarray], dict]:
    """Read one of our model folders; returns (config dict, tensors, source info)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file or directory")
    if p.is_file():
        raise CheckpointError(f"{p} is a file; expected a {kind} folder with {CONFIG_FILE} and {WEIGHTS_FILE}"
                              f" (convert upstream checkpoints with `styleclip-jax convert {kind} IN OUT_DIR`)")
    cfg_path, w_path = p / CONFIG_FILE, p / WEIGHTS_FILE
    for f in (cfg_path, w_path):
        if not f.exists():
            raise CheckpointError(f"{p} is not a styleclip-jax {kind} folder: {f.name} is missing")
    try:
        meta = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{cfg_path}: not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{cfg_path}: not a styleclip-jax config (format={meta.get('format') if isinstance(meta, dict) else None!r})")
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


def _key(path) -> str:
    return ".".join(map(str, path))


def expected_shapes_of(abstract_module) -> dict[str, tuple]:
    """Flat parameter names -> shapes of an (abstract) NNX module."""
    from flax import nnx

    _, state = nnx.split(abstract_module)
    return {_key(path): tuple(v.shape) for path, v in nnx.to_flat_state(state)}


def split_filled(abstract_module, tensors: Mapping[str, np.ndarray], what: str):
    """(graphdef, state) of ``abstract_module`` filled from flat ``tensors``, strictly checked."""
    import jax.numpy as jnp
    from flax import nnx

    check_flat_against(expected_shapes_of(abstract_module), tensors, what)
    graphdef, abstract = nnx.split(abstract_module)
    state = nnx.from_flat_state([(path, var.replace(jnp.asarray(tensors[_key(path)], jnp.float32)))
                                 for path, var in nnx.to_flat_state(abstract)])
    return graphdef, state


def flat_tensors(state) -> dict[str, np.ndarray]:
    """Flat numpy dict of an NNX state (what ``save_model_dir`` writes)."""
    from flax import nnx

    return {_key(p): np.asarray(v[...]) for p, v in nnx.to_flat_state(state)}


def read_typed_model_dir(path, kind: str, config_cls):
    """``read_model_dir`` + ``config_cls.from_dict``; a config that does not parse is a CheckpointError."""
    cfg_dict, tensors, source = read_model_dir(path, kind)
    try:
        cfg = config_cls.from_dict(cfg_dict)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: bad {kind} config ({e})") from None
    return cfg, tensors, source


class ModelHandle:
    """A loaded model: frozen ``config`` + NNX ``(graphdef, state)`` + ``source`` info.

    Subclasses set ``KIND`` (the folder kind), ``CONFIG_CLS``, ``WHAT`` (for error messages) and
    ``abstract(config)`` (the module built with ``nnx.eval_shape``); loading, saving and access
    to the module are shared.
    """

    KIND = ""
    CONFIG_CLS: type = object
    WHAT = "model weights"

    @staticmethod
    def abstract(config):
        raise NotImplementedError

    def __init__(self, config, tensors: Mapping[str, np.ndarray], source: Mapping | None = None):
        self.config, self.source = config, dict(source or {})
        self.graphdef, self.state = split_filled(self.abstract(config), tensors, self.WHAT)

    @classmethod
    def load(cls, path, **kwargs):
        cfg, tensors, source = read_typed_model_dir(path, cls.KIND, cls.CONFIG_CLS)
        return cls(cfg, tensors, source, **kwargs)

    def save(self, path, overwrite: bool = False) -> Path:
        return save_model_dir(path, self.KIND, self.config.to_dict(), self.tensors(), self.source, overwrite=overwrite)

    def tensors(self) -> dict[str, np.ndarray]:
        return flat_tensors(self.state)

    def fingerprint(self) -> str:
        """sha256 over config and every tensor (name, shape, float32 bytes): which weights these are.

        Computed once and cached; stats, training runs and exports record it so that using them
        with other weights is an error rather than a silently wrong image.
        """
        if getattr(self, "_fingerprint", None) is None:
            import hashlib

            h = hashlib.sha256(json.dumps(self.config.to_dict(), sort_keys=True).encode())
            for k, v in sorted(self.tensors().items()):
                h.update(f"{k}{tuple(v.shape)}".encode())
                h.update(np.ascontiguousarray(v, np.float32).tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def _set_compute_dtype(self, dtype: str, part=lambda module: module) -> None:
        """Make ``part(module)`` compute in ``dtype``: a static attribute, so it sits in the graphdef
        and reaches every jitted function that merges it (the editing methods' too)."""
        if dtype == "float32":
            return
        from flax import nnx

        module = self.module()
        part(module).compute_dtype = dtype
        self.graphdef, self.state = nnx.split(module)

    def module(self):
        """The NNX module (for use inside your own jitted functions)."""
        from flax import nnx

        return nnx.merge(self.graphdef, self.state)
