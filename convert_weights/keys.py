"""Strict key bookkeeping shared by every converter: take by name, report missing and unused."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from styleclip_jax.errors import CheckpointError
from styleclip_jax.model_dir import check_weights


class KeyTracker:
    """Hands out upstream tensors (as float32) by name and remembers which were consumed.

    ``out`` is a dict for our tensors that records, for each key written, the upstream key taken
    last, so shape errors can name the upstream key (``out.origin``).
    """

    def __init__(self, sd: Mapping[str, np.ndarray], what: str):
        self.sd, self.what, self.used = dict(sd), what, set()
        self.last: str | None = None
        self.out = _Placed(self)

    def take(self, key: str) -> np.ndarray:
        if key not in self.sd:
            raise CheckpointError(f"{self.what}: missing key {key!r}")
        self.used.add(key)
        self.last = key
        check_weights({key: self.sd[key]}, self.what)           # named here, by its upstream key
        return np.asarray(self.sd[key], dtype=np.float32)

    def check_unused(self, prefix: str = "") -> None:
        """Raise naming every key (starting with ``prefix``) that was never taken."""
        unused = sorted(k for k in self.sd if k.startswith(prefix) and k not in self.used)
        if unused:
            raise CheckpointError(f"{self.what}: unused keys {unused[:20]}{' …' if len(unused) > 20 else ''}")


class _Placed(dict):
    def __init__(self, tracker: KeyTracker):
        super().__init__()
        self.tracker, self.origin = tracker, {}

    def __setitem__(self, key, value):
        self.origin[key] = self.tracker.last
        super().__setitem__(key, value)


def apply_renames(table, sd: Mapping[str, np.ndarray], what: str) -> dict[str, np.ndarray]:
    """A declarative converter: ``table`` rows ``(ours, theirs, transform or None)``; every upstream
    key must be taken exactly once (missing and unused keys are errors, by name)."""
    t = KeyTracker(sd, what)
    for ours, theirs, transform in table:
        v = t.take(theirs)
        t.out[ours] = transform(v) if transform is not None else v
    t.check_unused()
    return dict(t.out)
