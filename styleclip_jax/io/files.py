"""Files written safely: atomic replacement, and never overwriting a folder unless asked."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from styleclip_jax.errors import OutputExistsError


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
        os.chmod(tmp, 0o666 & ~_umask())                 # mkstemp makes 0600; outputs follow the umask
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
