"""Long-job folders (mapper training, fs3 precompute): one writer at a time, a manifest of what
made them, and a safe way to clear a failed run.

* ``job_lock(folder)``: an exclusive lock file ``.lock`` holding the owner's pid, host and start
  time, created with ``O_EXCL``. A lock whose process is gone (same host, pid not alive) is
  stale and taken over; a live one, or one from another host, is a ``JobFolderError`` that
  names its owner. Re-entrant within one process (the CLI and the library may both take it).
* ``check_manifest(path, record)``: the first run writes ``record`` (model fingerprints,
  settings); every later run and every consumer must match it, and a mismatch names the fields.
* ``clear_job_folder(folder, marker)``: removes a failed run's folder for ``--overwrite``, but only
  when it holds the job's own ``marker`` file, so a mistyped path is never wiped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from styleclip_jax.errors import JobFolderError
from styleclip_jax.io.files import atomic_write
from styleclip_jax.parallel.distributed import is_primary

MANIFEST = "manifest.json"  # a resumable job's record of what its parts depend on

LOCK_FILE = ".lock"
_held: set[str] = set()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner(path: Path) -> dict | None:
    try:
        owner = json.loads(path.read_text())
        return owner if isinstance(owner, dict) and isinstance(owner.get("pid"), int) else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def job_lock(folder: str | os.PathLike):
    """Hold ``folder/.lock`` for the duration of the block (see the module docstring). In a
    multi-process run only process 0 holds it, for all of them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    key = str(path.resolve())
    if key in _held or not is_primary():  # held already (by us, or by process 0 for us)
        yield
        return
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(path)
            if owner is None and time.time() - _mtime(path) < 10:
                time.sleep(0.2)  # being written right now
                continue
            if owner is None or (owner.get("host") == me["host"] and not _alive(owner["pid"])):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)  # stale: its process is gone
                continue
            raise JobFolderError(
                f"{folder} is in use by another run (pid {owner['pid']} on {owner.get('host')}, "
                f"since {owner.get('started')}); wait for it to finish, or delete {path} if that "
                "run is gone"
            ) from None
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        break
    else:
        raise JobFolderError(f"could not take the lock {path}; delete it if no run is using {folder}")
    _held.add(key)
    try:
        yield
    finally:
        _held.discard(key)
        if (_owner(path) or {}).get("pid") == me["pid"]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def check_manifest(path: str | os.PathLike, record: Mapping, what: str, may_change: Iterable[str] = ()) -> None:
    """Write ``record`` to ``path`` the first time; afterwards refuse a record that differs from it
    in any field but ``may_change`` (those are updated)."""
    path = Path(path)
    record = json.loads(json.dumps(record))  # normalise tuples, numpy scalars
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise JobFolderError(f"{path}: unreadable manifest ({e}); clear the folder with `overwrite=True`") from None
        diffs = sorted(k for k in set(old) | set(record) if k not in may_change and old.get(k) != record.get(k))
        if diffs:
            raise JobFolderError(
                f"{path.parent}: {what} was made with other {', '.join(diffs)} "
                f"({'; '.join(f'{k}: {_short(old.get(k))} here, now {_short(record.get(k))}' for k in diffs)})"
                "; use another folder, or clear it with `overwrite=True`"
            )

    if is_primary():  # one writer in a multi-process run
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda p: Path(p).write_text(json.dumps(record, indent=2, sort_keys=True)))


def _short(v) -> str:
    text = json.dumps(v, sort_keys=True)
    return text if len(text) <= 24 else text[:12] + "…"


def clear_job_folder(folder: str | os.PathLike, marker: str, what: str) -> None:
    """Remove ``folder`` (for ``--overwrite``) if it is a ``what`` folder (holds ``marker``) or empty."""
    folder = Path(folder)
    if not folder.exists():
        return
    if folder.is_file():
        raise JobFolderError(f"{folder} is a file, not a {what} folder")
    if any(c.name != LOCK_FILE for c in folder.iterdir()) and not (folder / marker).exists():
        raise JobFolderError(
            f"{folder} is not a {what} folder (no {marker}); refusing to clear it, remove it yourself if you mean to"
        )
    with job_lock(folder):
        for child in folder.iterdir():
            if child.name == LOCK_FILE:
                continue
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def float32_sha256(*arrays) -> str:
    """sha256 over float32 arrays, in order: what a job's parts depend on (its manifest)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, np.float32).tobytes())
    return h.hexdigest()
