"""Wall-clock timing for the benchmarks (``bench/``): JAX dispatches asynchronously, so every timed
call waits for its results before the clock stops."""

from __future__ import annotations

import time
from collections.abc import Callable


def time_calls(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(seconds of the first call, which compiles; best seconds of ``repeats`` further calls)."""
    import jax

    def once() -> float:
        t0 = time.perf_counter()
        jax.block_until_ready(fn())  # other results (numpy, torch, None) pass through
        return time.perf_counter() - t0

    first = once()
    return first, min((once() for _ in range(repeats)), default=float("inf"))


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Best seconds of ``repeats`` calls after a warm-up call."""
    return time_calls(fn, repeats)[1]
