"""The blend region of a paste-back: the face and hair a face parser sees, on the edited crop and
on the original crop together (an edit that grows the hair still pastes the new hair; one that
shrinks it still covers the old), grown and feathered. Outside it the photo stays as it was."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import binary_dilation

from styleclip_jax.editing.constraints.mask import feather
from styleclip_jax.errors import InputError
from styleclip_jax.models.parser.config import class_ids

OUTLINE = "face+hair"
GROW, FEATHER = 0.02, 0.01  # shares of the crop's side


def outline_region(parser, edited_u8: np.ndarray, original_u8: np.ndarray, region: str = OUTLINE) -> np.ndarray:
    """(S, S) float32 in [0, 1] at the edited crop's size S: ``region`` of both crops (the original
    resized to S), grown by 2% of S and feathered by a Gaussian of 1% of S."""
    s = edited_u8.shape[0]
    ids = class_ids(region, parser.config.class_names)
    labels = parser.labels_of_photos([np.asarray(edited_u8, np.uint8), np.asarray(original_u8, np.uint8)])
    if labels[1].shape != (s, s):
        labels[1] = np.asarray(Image.fromarray(labels[1]).resize((s, s), Image.Resampling.NEAREST))
    m = np.isin(labels[0], ids) | np.isin(labels[1], ids)
    if not m.any():
        raise InputError(f"the face parser sees no {region} in the crop, so there is nothing to paste back through")
    grow = max(1, round(GROW * s))
    m = binary_dilation(m, np.ones((2 * grow + 1, 2 * grow + 1), bool))
    return feather(m.astype(np.float32), FEATHER * s)
