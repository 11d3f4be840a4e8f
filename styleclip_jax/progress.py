"""One progress convention for every long job: ``progress(done, total)``.

Latent optimisation, mapper and encoder training, the fs3 precompute, photo alignment and
inversion, and the toy world's trainers all take ``progress``: a host callback called with the
work done so far and the total (steps, channels or photos), or None for silence. The library
never draws; the CLI turns the callback into a progress bar (``cli.options.progress_bar``), the UI
into its own.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int], None]


def _silent(done: int, total: int) -> None:
    del done, total


def callback(progress: ProgressFn | None | bool) -> ProgressFn:
    """``progress`` as a callable (None or False: report nothing)."""
    if progress is None or progress is False:
        return _silent
    if not callable(progress):
        raise TypeError(f"progress must be a callable f(done, total) or None, got {progress!r}")
    return progress
