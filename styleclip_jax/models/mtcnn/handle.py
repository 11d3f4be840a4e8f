"""The face detector handle: ``load_face_detector()`` (bundled MTCNN weights) and ``detect``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np
from flax import nnx

from styleclip_jax.config_utils import known_fields
from styleclip_jax.errors import ConfigError, InputError
from styleclip_jax.models.handle import ModelHandle, jit_call
from styleclip_jax.models.mtcnn.detect import Faces, detect_faces
from styleclip_jax.models.mtcnn.network import MTCNNNets

KIND = "mtcnn"
BATCH = 32  # R-/O-Net batches are padded to a multiple of this (few compiled shapes)


@dataclasses.dataclass(frozen=True)
class MTCNNConfig:
    """Detection settings (facenet-pytorch's defaults); the nets' shapes are fixed."""

    min_face_size: int = 20
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    factor: float = 0.709

    def __post_init__(self):
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        if self.min_face_size < 12 or len(self.thresholds) != 3 or not 0 < self.factor < 1:
            raise ConfigError(f"bad MTCNN settings: {self}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MTCNNConfig:
        return cls(**known_fields(cls, d, "MTCNN"))


_run = jit_call(lambda m, which, x: getattr(m, which)(x), static=(0,))


class FaceDetector(ModelHandle):
    """MTCNN (P-, R-, O-Net) with facenet-pytorch's pipeline. ``detect(image)`` -> ``Faces``."""

    KIND, CONFIG_CLS, WHAT = KIND, MTCNNConfig, "MTCNN weights"

    @staticmethod
    def abstract(config):
        return nnx.eval_shape(MTCNNNets)

    def _net(self, which: str, x: np.ndarray, pad: bool):
        n = len(x)
        if pad and n % BATCH:
            x = np.concatenate([x, np.zeros((BATCH - n % BATCH, *x.shape[1:]), x.dtype)])
        out = _run(self.graphdef, self.state, which, x)
        return tuple(np.asarray(o)[:n] for o in out)

    def pnet(self, x):
        """(1, H, W, 3) normalised -> (reg (1, H', W', 4), prob (1, H', W', 2))."""
        return self._net("pnet", x, pad=False)

    def rnet(self, x):
        """(N, 24, 24, 3) -> (reg (N, 4), prob (N, 2))."""
        return self._net("rnet", x, pad=True)

    def onet(self, x):
        """(N, 48, 48, 3) -> (reg (N, 4), landmarks (N, 10), prob (N, 2))."""
        return self._net("onet", x, pad=True)

    def detect(self, image, trace: dict | None = None) -> Faces:
        """Faces in one uint8 RGB image (H, W, 3), largest first (an empty ``Faces`` if none).

        Read photos with ``styleclip_jax.io.images.read_image`` (EXIF rotation, RGB): MTCNN
        misses a face lying on its side and sees nothing in a float image in [0, 1].
        """
        a = np.asarray(image)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise InputError(f"detect needs a uint8 RGB image (H, W, 3), got {a.dtype} {a.shape}")
        c = self.config
        if min(a.shape[:2]) < c.min_face_size:
            raise InputError(
                f"the image is {a.shape[1]}x{a.shape[0]}: too small to hold a face of the minimum "
                f"size {c.min_face_size} px"
            )
        return detect_faces(a, self, c.min_face_size, c.thresholds, c.factor, trace)


def load_face_detector(path=None) -> FaceDetector:
    """The MTCNN folder at ``path``, or the weights bundled with the package (default)."""
    if path is None:
        path = resources.files(__package__).joinpath("weights")
    return FaceDetector.load(path)
