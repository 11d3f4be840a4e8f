"""Face-parsing BiSeNet settings (zllrunning/face-parsing.PyTorch, ``79999_iter.pth``), read off a
checkpoint's shapes; importable without JAX."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from styleclip_jax.config_utils import known_fields
from styleclip_jax.errors import InputError

# Label k as upstream numbers it (prepropess_data.py): 0 is background.
CLASS_NAMES = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
    "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)  # fmt: skip
# Unions users name: the face (skin, brows, eyes, nose, lips, mouth), the ears, the lips, the eyes.
UNIONS = {
    "face": ("skin", "l_brow", "r_brow", "l_eye", "r_eye", "nose", "mouth", "u_lip", "l_lip"),
    "brows": ("l_brow", "r_brow"),
    "eyes": ("l_eye", "r_eye"),
    "ears": ("l_ear", "r_ear"),
    "lips": ("u_lip", "l_lip"),
}
# ImageNet statistics of upstream's torchvision Normalize, and the size test.py parses at.
MEAN, STD, INPUT_SIZE = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 512


@dataclasses.dataclass(frozen=True)
class ParserConfig:
    """Widths of the ResNet-18 stages (stem, layer1..4), the context path, the fusion module (and
    its attention's hidden width) and the three heads' middle layers; the class count."""

    resnet: tuple[int, ...] = (64, 64, 128, 256, 512)  # stem, layer1..4
    context: int = 128
    ffm: int = 256
    ffm_hidden: int = 64
    heads: tuple[int, ...] = (256, 64, 64)  # conv_out, conv_out16, conv_out32
    n_classes: int = 19

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES if self.n_classes == len(CLASS_NAMES) else tuple(f"class_{i}" for i in range(self.n_classes))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["resnet"], d["heads"] = list(self.resnet), list(self.heads)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ParserConfig:
        d = known_fields(cls, d, "face parser")
        d["resnet"] = tuple(int(x) for x in d["resnet"])
        d["heads"] = tuple(int(x) for x in d["heads"])
        return cls(**d)


def region_from_labels(labels, region: str, class_names=CLASS_NAMES) -> np.ndarray:
    """(B, H, W) float32 {0, 1} where ``labels`` (B, H, W) hold any class of ``region``; a region
    empty on an image is an error naming it."""
    mask = np.isin(np.asarray(labels), class_ids(region, class_names)).astype(np.float32)
    empty = [i for i in range(len(mask)) if not mask[i].any()]
    if empty:
        raise InputError(f"the region {region!r} is empty on image(s) {empty}: the parser sees none of it there")
    return mask


def class_ids(region: str, class_names=CLASS_NAMES) -> tuple[int, ...]:
    """Class ids of a region name ``NAME[+NAME…]`` ("hair", "face+hair", "background"); an unknown
    name is an error listing the known ones."""
    names = [n.strip() for n in str(region).split("+")]
    ids: list[int] = []
    for n in names:
        members = UNIONS.get(n, (n,)) if class_names == CLASS_NAMES else (n,)
        for m in members:
            if m not in class_names:
                raise InputError(f"unknown region {n!r}; known: {', '.join(list(class_names) + list(UNIONS))}")
            ids.append(class_names.index(m))
    return tuple(sorted(set(ids)))
