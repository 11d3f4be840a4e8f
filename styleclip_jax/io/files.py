"""Files written safely: atomic replacement, and never overwriting a folder unless asked."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from styleclip_jax.errors import InputError, OutputExistsError


def refuse_nonempty_dir(path: str | os.PathLike | None, overwrite: bool) -> None:
    """Never overwrite without being asked: a non-empty existing folder needs ``overwrite``."""
    if path is None or overwrite:
        return
    p = Path(path)
    if p.exists() and (p.is_file() or any(p.iterdir())):
        raise OutputExistsError(f"{p} exists and is not empty; pass `overwrite=True` to replace it")


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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs follow the umask
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(
    path: str | os.PathLike, overwrite: bool, suffixes=(".png", ".npz"), sidecars: Sequence[str] = ()
) -> Path:
    """``path`` checked before any work: its suffix, and that neither it nor its ``sidecars``
    (suffixes appended to the name, e.g. '.json') exist unless ``overwrite``."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise InputError(f"`out` must end with one of {suffixes}, got {p.name!r}")
    if p.is_dir():
        raise InputError(f"`out` {p} is a folder; name a file ending with one of {suffixes}")
    for f in [p] + [Path(str(p) + s) for s in sidecars]:
        if f.exists() and not overwrite:
            raise OutputExistsError(f"{f} exists; pass `overwrite=True` to replace it")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p
