"""The CLIP text direction Δt of global directions (StyleCLIP ``GetDt``).

Each class name is put into the 79 ImageNet prompt templates of CLIP's zero-shot notebook (the
80 minus ``'a photo of many {}.'``, as upstream comments it out); the prompts are encoded,
L2-normalised, averaged and normalised again. Δt = e(target) − e(neutral), normalised.
"""

from __future__ import annotations

import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.models.clip.tokenizer import tokenize

IMAGENET_TEMPLATES = (
    "a bad photo of a {}.",
    "a sculpture of a {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of the {}.",
    "a rendering of a {}.",
    "graffiti of a {}.",
    "a bad photo of the {}.",
    "a cropped photo of the {}.",
    "a tattoo of a {}.",
    "the embroidered {}.",
    "a photo of a hard to see {}.",
    "a bright photo of a {}.",
    "a photo of a clean {}.",
    "a photo of a dirty {}.",
    "a dark photo of the {}.",
    "a drawing of a {}.",
    "a photo of my {}.",
    "the plastic {}.",
    "a photo of the cool {}.",
    "a close-up photo of a {}.",
    "a black and white photo of the {}.",
    "a painting of the {}.",
    "a painting of a {}.",
    "a pixelated photo of the {}.",
    "a sculpture of the {}.",
    "a bright photo of the {}.",
    "a cropped photo of a {}.",
    "a plastic {}.",
    "a photo of the dirty {}.",
    "a jpeg corrupted photo of a {}.",
    "a blurry photo of the {}.",
    "a photo of the {}.",
    "a good photo of the {}.",
    "a rendering of the {}.",
    "a {} in a video game.",
    "a photo of one {}.",
    "a doodle of a {}.",
    "a close-up photo of the {}.",
    "a photo of a {}.",
    "the origami {}.",
    "the {} in a video game.",
    "a sketch of a {}.",
    "a doodle of the {}.",
    "a origami {}.",
    "a low resolution photo of a {}.",
    "the toy {}.",
    "a rendition of the {}.",
    "a photo of the clean {}.",
    "a photo of a large {}.",
    "a rendition of a {}.",
    "a photo of a nice {}.",
    "a photo of a weird {}.",
    "a blurry photo of a {}.",
    "a cartoon {}.",
    "art of a {}.",
    "a sketch of the {}.",
    "a embroidered {}.",
    "a pixelated photo of a {}.",
    "itap of the {}.",
    "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.",
    "a plushie {}.",
    "a photo of the nice {}.",
    "a photo of the small {}.",
    "a photo of the weird {}.",
    "the cartoon {}.",
    "art of the {}.",
    "a drawing of the {}.",
    "a photo of the large {}.",
    "a black and white photo of a {}.",
    "the plushie {}.",
    "a dark photo of a {}.",
    "itap of a {}.",
    "graffiti of the {}.",
    "a toy {}.",
    "itap of my {}.",
    "a photo of a cool {}.",
    "a photo of a small {}.",
    "a tattoo of the {}.",
)


def _unit(x: np.ndarray, axis=-1) -> np.ndarray:
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def class_embedding(clip, name: str, templates=IMAGENET_TEMPLATES) -> np.ndarray:
    """Template-ensembled, unit-norm text embedding (E,) of one class name."""
    if not name or not name.strip():
        raise InputError("global-direction prompts must be non-empty (e.g. `neutral` 'face', `target` 'smiling face')")
    feats = np.asarray(clip.encode_text(tokenize([t.format(name) for t in templates])), np.float32)
    return _unit(_unit(feats).mean(axis=0))


def text_direction(clip, neutral: str, target: str) -> tuple[np.ndarray, float]:
    """(Δt (E,) unit vector, its norm before normalising). Raises if the prompts embed identically."""
    diff = class_embedding(clip, target) - class_embedding(clip, neutral)
    norm = float(np.linalg.norm(diff))
    if not norm > 1e-6:
        raise InputError(f"neutral {neutral!r} and target {target!r} give the same CLIP embedding; no direction")
    return (diff / np.float32(norm)).astype(np.float32), norm
