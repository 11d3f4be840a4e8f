"""Typed global-direction edits (``TextEdit``); light (numpy only), so the CLI reads its defaults."""

from __future__ import annotations

import dataclasses

import numpy as np

from styleclip_jax.errors import InputError

SOURCES = ("fs3", "population")
KEEP_MODES = ("text", "relevance", "drop")  # how keep-texts constrain a direction (constrain.py)


def _finite(x) -> bool:
    """A finite real number (not a bool, a string or NaN)."""
    return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) and bool(np.isfinite(x))


@dataclasses.dataclass(frozen=True)
class TextEdit:
    """One global-direction edit: from ``neutral`` to ``target`` text (e.g. "face" -> "smiling face").

    ``alpha``: strength when edits are composed (upstream 4.1); ``beta``: disentanglement
    threshold (upstream 0.15), or "auto" (the largest β in 0.10…0.29 that moves more than 20
    channels);
    ``layers``: StyleSpace layer names the edit may move (None: all manipulable ones);
    ``keep``: texts naming what must not change (each a direction from ``neutral``), removed from
    the edit as ``keep_mode`` says (``constrain.py``: "text" projects Δt, "relevance" projects the
    channel relevance, "drop" leaves out channels relevant to a keep-text);
    ``source``: how channel relevance is estimated: "fs3" (StyleCLIP's per-channel CLIP response)
    or "population" (CLIP-labelled generator samples, ``population.py``; β is then a share of the
    strongest channel);
    ``condition``: with the population estimator, > 0 estimates the direction per start image,
    among the bank's samples that look like it (softmax of CLIP likeness / ``condition``, a
    temperature: ``population.conditioned_shift``); 0: one direction for every image, as upstream.
    Beyond upstream (``editing.contrib``).
    """

    neutral: str
    target: str
    alpha: float = 4.1
    beta: float | str = 0.15
    layers: tuple[str, ...] | None = None
    keep: tuple[str, ...] = ()
    keep_mode: str = "drop"
    source: str = "fs3"
    condition: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "keep", tuple([self.keep] if isinstance(self.keep, str) else self.keep))
        if self.source not in SOURCES:
            raise InputError(f"source must be one of {SOURCES}, got {self.source!r}")
        if not _finite(self.condition) or self.condition < 0:
            raise InputError(f"condition must be a finite number >= 0 (a temperature; 0: off), got {self.condition!r}")
        if self.condition and self.source != "population":
            raise InputError("condition (a per-image direction) needs source='population'")
        if self.keep_mode not in KEEP_MODES:
            raise InputError(f"keep_mode must be one of {KEEP_MODES}, got {self.keep_mode!r}")
        if self.beta != "auto" and (not _finite(self.beta) or self.beta < 0):
            raise InputError(f"beta must be a finite number >= 0 or 'auto', got {self.beta!r}")
        if not _finite(self.alpha):
            raise InputError(f"alpha must be finite, got {self.alpha}")
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(self.layers))

    @classmethod
    def of(cls, edit: TextEdit | dict) -> TextEdit:
        """A ``TextEdit`` from itself or from a dict with the same fields."""
        if isinstance(edit, TextEdit):
            return edit
        unknown = sorted(set(edit) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise InputError(
                f"unknown edit fields {unknown}; a TextEdit has neutral, target, beta, alpha, layers, keep, "
                "keep_mode, source, condition"
            )
        return cls(**edit)
