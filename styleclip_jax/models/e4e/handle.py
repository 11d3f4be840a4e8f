"""The photo encoder handle: ``load_encoder(dir)``; photos -> W+ latents."""

from __future__ import annotations

import functools

import jax
import numpy as np
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.io.images import encoder_input
from styleclip_jax.models.e4e.config import EncoderConfig
from styleclip_jax.models.e4e.network import E4EEncoder
from styleclip_jax.models.handle import ModelHandle
from styleclip_jax.validation import check_array

KIND = "encoder"


@functools.partial(jax.jit, static_argnums=(0, 3))
def _encode(graphdef, state, x, stage):
    return nnx.merge(graphdef, state)(x, stage)


def preprocess(images_u8, size: int = 256) -> np.ndarray:
    """e4e's inference preprocessing (``utils.images.encoder_input``): (B, size, size, 3) in [-1, 1]."""
    return encoder_input(images_u8, size)


class Encoder(ModelHandle):
    """e4e (or pSp) encoder: ``encode(x)`` maps aligned faces (B, 256, 256, 3) in [-1, 1] to W+
    (B, N, D), ``latent_avg`` included (StyleCLIP's inversions)."""

    KIND, CONFIG_CLS, WHAT = KIND, EncoderConfig, "encoder weights"

    @staticmethod
    def abstract(config):
        return nnx.eval_shape(lambda: E4EEncoder(config))

    def encode(self, images, stage: int | None = None) -> np.ndarray:
        s = self.config.input_size
        x = check_array(images, "images", (None, s, s, 3))
        return np.asarray(_encode(self.graphdef, self.state, x, stage))

    def encode_photos(self, photos_u8, batch_size: int = 8, progress=None) -> np.ndarray:
        """uint8 photos (already aligned) -> W+ (B, N, D), in batches of ``batch_size``;
        ``progress(done_photos, total)`` after each batch."""
        if batch_size < 1:
            raise InputError("batch_size must be >= 1")
        out = []
        for i in range(0, len(photos_u8), batch_size):
            out.append(self.encode(preprocess(photos_u8[i:i + batch_size], self.config.input_size)))
            if progress:
                progress(sum(map(len, out)), len(photos_u8))
        return np.concatenate(out)


def load_encoder(path) -> Encoder:
    """Load an encoder folder written by ``styleclip-jax convert encoder``."""
    return Encoder.load(path)
