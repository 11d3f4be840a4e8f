"""Captions of toy-world scenes, generated from their attributes, and which images they fit.

A caption names a random subset of the attributes (the shape word may be replaced by "shape" or
"object"), and is either "a <phrase>", one of CLIP's 79 ImageNet templates around the phrase
(so the prompts global directions build are in-distribution), or the bare phrase. Since we know
which attributes a caption names, we know every image in a batch it describes: ``matches``
gives the multi-positive targets of the contrastive loss.
"""

from __future__ import annotations

import numpy as np

from styleclip_jax.editing.global_directions.text import IMAGENET_TEMPLATES
from styleclip_jax.toyworld.world import ATTRIBUTES, VOCAB

POSITION_WORDS = {"left": "on the left", "center": "in the center", "right": "on the right"}
BACKGROUND_WORDS = {"dark": "on a dark background", "light": "on a light background"}
NAME_PROB = {"colour": 0.6, "shape": 0.7, "size": 0.4, "position": 0.35, "background": 0.35}
UNNAMED = -1


def phrase(words: dict[str, str]) -> str:
    """Attribute words (any subset; missing ones unnamed) -> "small red circle on the left"."""
    head = " ".join(w for w in (words.get("size"), words.get("colour"), words.get("shape", "shape")) if w)
    tail = [POSITION_WORDS[words["position"]]] if "position" in words else []
    tail += [BACKGROUND_WORDS[words["background"]]] if "background" in words else []
    return " ".join([head] + tail)


def random_captions(
    attrs: dict[str, np.ndarray], rng: np.random.RandomState
) -> tuple[list[str], dict[str, np.ndarray]]:
    """One caption per scene; returns (captions, named attribute indices with UNNAMED where left out)."""
    b = len(attrs["colour"])
    named = {a: np.where(rng.rand(b) < NAME_PROB[a], attrs[a], UNNAMED) for a in ATTRIBUTES}
    captions = []
    for i in range(b):
        words = {a: VOCAB[a][named[a][i]] for a in ATTRIBUTES if named[a][i] != UNNAMED}
        if "shape" not in words and rng.rand() < 0.5:
            words["shape"] = "object"
        p = phrase(words)
        u = rng.rand()
        if u < 0.5:
            captions.append("a " + p)
        elif u < 0.9:
            captions.append(IMAGENET_TEMPLATES[rng.randint(len(IMAGENET_TEMPLATES))].format(p))
        else:
            captions.append(p)
    return captions, named


def matches(attrs: dict[str, np.ndarray], named: dict[str, np.ndarray]) -> np.ndarray:
    """(B_images, B_captions) bool: caption j fits image i (every attribute it names agrees)."""
    ok = np.ones((len(attrs["colour"]), len(named["colour"])), bool)
    for a in ATTRIBUTES:
        n = named[a][None, :]
        ok &= (n == UNNAMED) | (attrs[a][:, None] == n)
    return ok


def soft_matches(weights: dict[str, np.ndarray], named: dict[str, np.ndarray]) -> np.ndarray:
    """(B_images, B_captions) in [0, 1]: how much caption j fits blended image i, the product over
    the attributes it names of the weight image i gives the named value (``world.sample_blends``).
    Equal to ``matches`` on pure (one-hot) scenes."""
    fit = np.ones((len(weights["colour"]), len(named["colour"])), np.float32)
    for a in ATTRIBUTES:
        n = named[a]
        w = np.asarray(weights[a])[:, np.maximum(n, 0)]  # (Bi, Bt)
        fit *= np.where(n[None, :] == UNNAMED, 1.0, w)
    return fit


def vocabulary_words() -> list[str]:
    """Every word a caption can contain (the rows of the token table that training touches)."""
    words = set()
    for a in ATTRIBUTES:
        words.update(VOCAB[a])
    words.update("a shape object".split())
    for text in list(POSITION_WORDS.values()) + list(BACKGROUND_WORDS.values()) + list(IMAGENET_TEMPLATES):
        words.update(text.replace("{}", " ").split())
    return sorted(words)


def named_attributes(prompt: str) -> set[str]:
    """The attributes a free-text prompt names, by the toy world's words: "a green circle" ->
    {"colour", "shape"}; "object on a dark background" -> {"background"}."""
    text = " " + " ".join(prompt.lower().replace(",", " ").split()) + " "
    return {a for a in ATTRIBUTES if any(f" {v} " in text for v in VOCAB[a])}
