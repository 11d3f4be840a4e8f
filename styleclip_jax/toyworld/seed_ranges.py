"""Which seeds of the toy world a number was measured on: the ranges consulted while settings were
chosen (a figure measured there was, in part, tuned on), and fresh ranges drawn to avoid them.

``evaluate --fresh`` draws a start seed from a space of two billion, never overlapping a range
listed here, prints it and records it in the run's JSON; ``status`` names what a given range was
used for. A range consulted while choosing a setting goes into ``CONSULTED`` (and
``weights/RECORD.md``) in the same commit as the setting.
"""

from __future__ import annotations

import dataclasses
import secrets

from styleclip_jax.errors import InputError


@dataclasses.dataclass(frozen=True)
class SeedRange:
    first: int
    last: int  # inclusive
    use: str

    def overlaps(self, first: int, last: int) -> bool:
        return first <= self.last and self.first <= last


CONSULTED: tuple[SeedRange, ...] = (
    SeedRange(0, 63, "tuning: every method's settings (0-15) and the inversion / PTI settings (0-63)"),
    SeedRange(64, 191, "tuning: the mapper's subspace and the source-conditioned direction (issue #39)"),
    SeedRange(1000, 1015, "held out, then consulted across several sessions while settings were chosen"),
    SeedRange(3000, 3255, "the inversion report's drawn scenes (ReStyle / PTI settings were compared on them)"),
    SeedRange(5000, 5015, "fresh for issue #39's measurement of the methods; consulted since"),
    SeedRange(9100, 9115, "fresh for the mapper's population start; consulted once, after the choice"),
    SeedRange(9200, 9215, "fresh for edits on PTI reconstructions; consulted once"),
    SeedRange(1675668288, 1675668303, "drawn by evaluate --fresh for issue #39's baseline; consulted once"),
    SeedRange(
        1117002374,
        1117002437,
        "drawn by evaluate --fresh for issue #39's result after the settings were frozen; consulted once",
    ),
    SeedRange(
        486072065,
        486072128,
        "drawn by evaluate --fresh for issue #39's result with the start-conditioned settings frozen; consulted once",
    ),
)
FRESH_SPACE = (1_000_000, 2**31 - 1)  # start seeds are drawn from here (SEED's range)


def status(first: int, n: int) -> list[str]:
    """What the seeds ``first .. first + n - 1`` were used for (empty: never consulted)."""
    last = first + n - 1
    return [f"{r.first}-{r.last}: {r.use}" for r in CONSULTED if r.overlaps(first, last)]


def draw_fresh(n: int, randbelow=secrets.randbelow) -> int:
    """A start seed whose ``n`` seeds overlap no consulted range, drawn uniformly from
    ``FRESH_SPACE`` (``randbelow`` is injectable for tests)."""
    lo, hi = FRESH_SPACE
    if not 1 <= n <= hi - lo:
        raise InputError(f"a fresh range of {n} seeds does not fit in {lo}-{hi}")
    for _ in range(1000):
        first = lo + randbelow(hi - lo - n + 1)
        if not status(first, n):
            return first
    raise InputError("no fresh seed range found in 1000 draws")
