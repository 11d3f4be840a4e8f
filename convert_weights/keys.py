"""The one function every converter runs: a declarative rename table applied with strict checks.

A table is a list of rows ``(ours, theirs, transform)``:
- ``theirs`` is an upstream key, or a tuple of keys (``transform`` then gets their list, e.g. q, k
  and v projections concatenated into one kernel);
- ``transform`` maps upstream layout to ours (None: taken as is);
- ``ours`` None marks a tensor that is only checked (``transform`` raises if it disagrees, e.g. a
  stored FIR filter against the config's).
Every upstream key must be taken exactly once; missing, unused and (given ``expected``) missing,
unused or mis-shaped converted keys are errors that name the keys, mis-shaped ones by the
upstream key they came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.model_folder import check_flat_against, check_weights


def plain_state_dict(obj, what: str) -> dict[str, np.ndarray]:
    """A loaded checkpoint as a flat state dict: a ``state_dict`` entry unwrapped and
    DataParallel's ``module.`` prefix dropped (how pSp / face-parsing trainers save)."""
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{what}: expected a state dict, got {type(obj).__name__}")
    return {k[len("module.") :] if k.startswith("module.") else k: v for k, v in obj.items()}


Row = tuple  # (ours: str | None, theirs: str | tuple[str, ...], transform: Callable | None)


def apply_renames(
    table: Iterable[Row],
    sd: Mapping[str, np.ndarray],
    what: str,
    expected: Mapping[str, tuple] | None = None,
    ignore: Callable[[str], bool] = lambda k: False,
) -> dict[str, np.ndarray]:
    """Our flat tensors from upstream ``sd`` by ``table`` (see the module docstring).

    ``ignore(key)``: upstream keys that are not this network's (buffers such as
    ``num_batches_tracked``, another network stored in the same file).
    """
    used: set[str] = set()
    out: dict[str, np.ndarray] = {}
    origin: dict[str, str] = {}

    def take(key: str) -> np.ndarray:
        if key not in sd:
            raise CheckpointError(f"{what}: missing key {key!r}")
        if key in used:
            raise CheckpointError(f"{what}: key {key!r} is used twice by the rename table")
        used.add(key)
        check_weights({key: sd[key]}, what)  # named here, by its upstream key
        return np.asarray(sd[key], dtype=np.float32)

    for ours, theirs, transform in table:
        v = [take(k) for k in theirs] if isinstance(theirs, tuple) else take(theirs)
        v = transform(v) if transform is not None else v
        if ours is not None:
            out[ours], origin[ours] = np.asarray(v, np.float32), theirs if isinstance(theirs, str) else theirs[0]
    unused = sorted(k for k in sd if k not in used and not ignore(k))
    if unused:
        raise CheckpointError(f"{what}: unused keys {unused[:20]}{' …' if len(unused) > 20 else ''}")
    if expected is not None:
        bad = [
            f"{origin[k]} (-> {k}): expected {tuple(expected[k])} in our layout, got {np.shape(v)}"
            for k, v in sorted(out.items())
            if k in expected and tuple(np.shape(v)) != tuple(expected[k])
        ]
        if bad:
            raise CheckpointError(f"{what}: mis-shaped keys {bad}")
        check_flat_against(expected, out, f"{what}: converted")
    return out


def transposed(v: np.ndarray) -> np.ndarray:
    """torch Linear (out, in) -> our (in, out)."""
    return v.T


def oihw_to_hwio(v: np.ndarray) -> np.ndarray:
    """torch conv (out, in, kh, kw) -> our HWIO."""
    return v.transpose(2, 3, 1, 0)
