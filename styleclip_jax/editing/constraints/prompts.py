"""Composed prompts and keep-texts.

A prompt is a text, or a composed edit: a sequence of ``(text, weight)`` terms whose CLIP losses
are summed with those weights (``[("a red object", 1.0), ("a large object", 0.5)]``). Keep-texts
are texts whose CLIP similarity the edit should hold where it started; "A|B|C" names one
attribute's values at once (latent methods hold each; global directions keep its axis).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.models.clip.network import normalize
from styleclip_jax.models.clip.tokenizer import tokenize
from styleclip_jax.validation import check_text_count

Prompt = "str | Sequence[tuple[str, float]]"


def terms_of(prompt) -> tuple[tuple[str, float], ...]:
    """((text, weight), ...) of one prompt; a plain text is one term of weight 1."""
    if isinstance(prompt, str):
        return ((prompt, 1.0),)
    try:
        terms = tuple((t, float(w)) for t, w in prompt)
    except (TypeError, ValueError):
        raise InputError(f"a composed prompt is a list of (text, weight) pairs, got {prompt!r}") from None
    check_text_count(len(terms), "terms in one composed prompt")
    if not terms:
        raise InputError("a composed prompt needs at least one (text, weight) term")
    for t, w in terms:
        if not isinstance(t, str):
            raise InputError(f"prompt texts must be strings, got {t!r}")
        if not np.isfinite(w):
            raise InputError(f"the weight of {t!r} must be finite, got {w}")
    if not any(w != 0 for _, w in terms):
        raise InputError(f"every weight of the composed prompt {[t for t, _ in terms]} is 0: nothing to edit toward")
    return terms


def label(prompt) -> str:
    """A readable name: the text, or 'a + 0.5*b' for a composed prompt."""
    terms = terms_of(prompt)
    if len(terms) == 1 and terms[0][1] == 1.0:
        return terms[0][0]
    return " + ".join(t if w == 1.0 else f"{w:g}*{t}" for t, w in terms)


def encode(clip, prompts: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Text features (P, K, E) and weights (P, K) of P prompts with up to K terms each (shorter
    ones padded with weight 0). Raises on empty or too-long texts before anything is encoded."""
    all_terms = [terms_of(p) for p in prompts]
    texts = list(dict.fromkeys(t for terms in all_terms for t, _ in terms))  # first-seen order
    feats = np.asarray(clip.encode_text(tokenize(texts)), np.float32)
    row = {t: i for i, t in enumerate(texts)}
    k = max(len(terms) for terms in all_terms)
    index = np.asarray([[row[t] for t, _ in terms] + [row[terms[0][0]]] * (k - len(terms)) for terms in all_terms])
    weights = np.asarray([[w for _, w in terms] + [0.0] * (k - len(terms)) for terms in all_terms], np.float32)
    return feats[index], weights


def alternatives(text: str) -> list[str]:
    """One keep-text's alternatives, the values of one attribute: "small object|large object" ->
    ["small object", "large object"]; a plain text is its own one alternative."""
    return [a.strip() for a in text.split("|")]


def keep_alternatives(keep: Sequence[str]) -> list[str]:
    """Keep-texts with alternatives split: every text to hold."""
    texts = [a for k in keep or () for a in alternatives(k)]
    check_text_count(len(texts), "keep-texts (alternatives counted)")
    return texts


def keep_features(clip, keep: Sequence[str]) -> np.ndarray | None:
    """Unit text features (K, E) of the keep-texts (alternatives split), or None when there are none."""
    keep = keep_alternatives(keep)
    if not keep:
        return None
    return np.asarray(normalize(clip.encode_text(tokenize(keep))), np.float32)
