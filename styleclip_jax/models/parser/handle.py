"""The face-parser handle: ``load_parser(dir)``; images -> class logits, label maps, named regions.

Images are NHWC. ``labels`` and ``region`` take images in [-1, 1] at any size and answer at that
size (jittable and differentiable up to the argmax: ``preprocess`` is upstream's 512², ImageNet
normalisation, with a JAX resize). ``labels_of_photos`` takes uint8 photos and resizes them with
PIL as upstream's ``test.py`` does, so a 512² photo gets upstream's own label map.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.models.handle import ModelHandle, expected_shapes_of, jit_call
from styleclip_jax.models.parser.config import INPUT_SIZE, MEAN, STD, ParserConfig, class_ids, region_from_labels
from styleclip_jax.models.parser.network import BiSeNet
from styleclip_jax.models.photo_input import photos_at
from styleclip_jax.validation import check_array

KIND = "face-parser"


def abstract_parser(cfg: ParserConfig) -> BiSeNet:
    return nnx.eval_shape(lambda: BiSeNet(cfg))


def parser_expected_shapes(cfg: ParserConfig) -> dict[str, tuple]:
    return expected_shapes_of(abstract_parser(cfg))


def normalize(x01):
    """[0, 1] -> ImageNet-normalised, in torchvision's float32 steps (−mean, then ÷std)."""
    mean, std = np.asarray(MEAN, np.float32), np.asarray(STD, np.float32)
    return (x01 - mean) / std


def preprocess(images, size: int = INPUT_SIZE):
    """(B, H, W, 3) in [-1, 1] -> (B, size, size, 3) ImageNet-normalised: jittable, differentiable
    (an antialiased bilinear resize when the size differs; upstream resizes with PIL)."""
    x01 = (jnp.asarray(images, jnp.float32) + 1.0) * 0.5
    if x01.shape[1:3] != (size, size):
        x01 = jax.image.resize(x01, (x01.shape[0], size, size, 3), "linear", antialias=True)
    return normalize(x01)


def preprocess_photos(photos_u8, size: int = INPUT_SIZE) -> np.ndarray:
    """uint8 RGB photos (each (H, W, 3)) -> (B, size, size, 3), as test.py: PIL bilinear resize,
    then ToTensor (÷255) and Normalize, each step rounded to float32."""
    return normalize(photos_at(photos_u8, size)).astype(np.float32)


def _labels_at(logits, size):
    if logits.shape[1:3] != tuple(size):
        logits = jax.image.resize(logits, (logits.shape[0], *size, logits.shape[-1]), "linear")
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


_heads = jit_call(lambda m, x: m(x))
_taps = jit_call(lambda m, x: (lambda t: (m(x, t), t))({}))
_labels = jit_call(lambda m, x, size: _labels_at(m(preprocess(x))[0], size), static=(1,))
_labels_normalised = jit_call(lambda m, x, size: _labels_at(m(x)[0], size), static=(1,))


class FaceParser(ModelHandle):
    """The 19-class face-parsing BiSeNet (``79999_iter.pth``)."""

    KIND, CONFIG_CLS, WHAT = KIND, ParserConfig, "face-parser weights"
    abstract = staticmethod(abstract_parser)

    def heads(self, x, taps: bool = False):
        """ImageNet-normalised (B, H, W, 3) -> (out, out16, out32) logits (B, H, W, C) [, intermediates]."""
        x = check_array(x, "images", (None, None, None, 3))
        if min(x.shape[1:3]) < 32:
            raise InputError(f"the face parser needs images of at least 32x32 pixels, got {x.shape[1:3]}")
        return _taps(self.graphdef, self.state, x) if taps else _heads(self.graphdef, self.state, x)

    def labels(self, images) -> np.ndarray:
        """(B, H, W, 3) in [-1, 1] -> (B, H, W) int32 class ids (parsed at 512², logits resized back)."""
        x = check_array(images, "images", (None, None, None, 3))
        return np.asarray(_labels(self.graphdef, self.state, x, tuple(x.shape[1:3])))

    def labels_of_photos(self, photos_u8, batch_size: int = 8) -> list[np.ndarray]:
        """uint8 photos -> (H, W) uint8 label maps, each at its photo's size (test.py's
        preprocessing); photos of one size go through in batches of ``batch_size``."""
        photos = list(photos_u8)
        out: list = [None] * len(photos)
        by_size: dict = {}
        for i, p in enumerate(photos):
            by_size.setdefault(tuple(np.shape(p)[:2]), []).append(i)
        for size, idx in by_size.items():
            for k in range(0, len(idx), batch_size):
                chunk = idx[k : k + batch_size]
                x = preprocess_photos([photos[i] for i in chunk])
                labels = np.asarray(_labels_normalised(self.graphdef, self.state, x, size), np.uint8)
                for i, lab in zip(chunk, labels):
                    out[i] = lab
        return out

    def region(self, images, names: str) -> np.ndarray:
        """(B, H, W) float32 {0, 1}: where the parser sees any class of ``names`` ("hair",
        "face+hair", "background"); a region empty on an image is an error."""
        class_ids(names, self.config.class_names)  # an unknown name is refused before any parsing
        return region_from_labels(self.labels(images), names, self.config.class_names)


def load_parser(path) -> FaceParser:
    """Load a face-parser folder written by ``styleclip-jax convert parser``."""
    return FaceParser.load(path)
