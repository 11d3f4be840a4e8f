"""The StyleGAN3 handle: the StyleGAN2 handle's API (mapping, synthesis, W+ -> S, S -> image)
over the alias-free network, plus the input transform (``set_transform``)."""

from __future__ import annotations

import numpy as np
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.models.handle import expected_shapes_of
from styleclip_jax.models.stylegan2.handle import StyleGAN2
from styleclip_jax.models.stylegan3.config import SG3Config
from styleclip_jax.models.stylegan3.network import Generator

KIND = "stylegan3-generator"


def abstract_generator(cfg: SG3Config) -> Generator:
    return nnx.eval_shape(lambda: Generator(cfg))


def expected_shapes(cfg: SG3Config) -> dict[str, tuple]:
    """Our flat parameter names -> shapes for ``cfg`` (what the converter must produce)."""
    return expected_shapes_of(abstract_generator(cfg))


def make_transform(translate=(0.0, 0.0), angle: float = 0.0) -> np.ndarray:
    """``gen_images.py``'s image transform: ``[[cos, sin, tx], [−sin, cos, ty], [0, 0, 1]]``
    (angle in degrees, translation in image units: the image spans [−0.5, 0.5])."""
    a = np.deg2rad(angle)
    return np.array([[np.cos(a), np.sin(a), translate[0]], [-np.sin(a), np.cos(a), translate[1]], [0, 0, 1]])


class StyleGAN3(StyleGAN2):
    """A StyleGAN3 generator (T or R) ready to run; same API as ``StyleGAN2``.

    16 W+ rows; StyleSpace ``{"input": (B, 4), "L0_…": (B, C), …, "L14_…": (B, C)}`` of raw affine
    outputs (see ``network.py``). There is no noise: every ``noise_mode`` gives the same image.
    """

    KIND, CONFIG_CLS, WHAT = KIND, SG3Config, "StyleGAN3 generator weights"
    abstract = staticmethod(abstract_generator)

    def __init__(self, config: SG3Config, tensors, source=None, dtype: str = "float32"):
        if dtype != "float32":
            raise InputError(f"StyleGAN3 runs in float32 only (asked for {dtype!r})")
        super().__init__(config, tensors, source, dtype)

    @property
    def transform(self) -> np.ndarray:
        """The stored input transform: the *inverse* of the image transform (as ``gen_images.py``)."""
        return np.asarray(self.module().synthesis.input.transform[...])

    def with_transform(self, translate=(0.0, 0.0), angle: float = 0.0) -> StyleGAN3:
        """A copy whose images are translated by ``translate`` and rotated by ``angle`` degrees
        (``gen_images.py --translate --rotate``)."""
        m = np.linalg.inv(make_transform(translate, angle)).astype(np.float32)
        if not np.all(np.isfinite(m)):
            raise InputError(f"translate {translate} / angle {angle} do not give a finite transform")
        tensors = self.tensors()
        tensors["synthesis.input.transform"] = m
        return StyleGAN3(self.config, tensors, self.source)


# ---- StyleSpace conventions ---------------------------------------------------------------------
# Ours (= the golden's, = NVIDIA's affine outputs): ``input`` raw, toRGB before its weight gain.
# stylegan3-editing (Alaluf et al. 2022, which ran StyleCLIP's global directions on StyleGAN3):
# ``input`` normalised by the norm of its rotation part, toRGB after the gain 1/sqrt(C_in).
def to_editing_convention(styles: dict, config: SG3Config) -> dict:
    """Our StyleSpace codes ``{name: (B, C)}`` -> stylegan3-editing's (same images)."""
    out = dict(styles)
    t = np.asarray(styles["input"], np.float32)
    out["input"] = t / np.linalg.norm(t[:, :2], axis=1, keepdims=True)
    torgb = config.layers[-1]
    out[torgb.name] = np.asarray(styles[torgb.name], np.float32) / np.float32(np.sqrt(torgb.in_channels))
    return out


def from_editing_convention(styles: dict, config: SG3Config) -> dict:
    """stylegan3-editing's codes -> ours. A normalised ``input`` is a valid raw code (the synthesis
    normalises anyway), so only toRGB changes."""
    out = dict(styles)
    torgb = config.layers[-1]
    out[torgb.name] = np.asarray(styles[torgb.name], np.float32) * np.float32(np.sqrt(torgb.in_channels))
    return out
