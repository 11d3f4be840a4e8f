"""The photo encoder handle: ``load_encoder(dir)``; photos -> W+ latents."""

from __future__ import annotations

import numpy as np
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.models.e4e.config import EncoderConfig
from styleclip_jax.models.e4e.network import E4EEncoder
from styleclip_jax.models.e4e.transform import preprocess
from styleclip_jax.models.handle import ModelHandle, jit_call
from styleclip_jax.validation import check_array

KIND = "encoder"


_encode = jit_call(lambda m, x, stage: m(x, stage), static=(1,))


class Encoder(ModelHandle):
    """e4e (or pSp) encoder: ``encode(x)`` maps aligned faces (B, 256, 256, 3) in [-1, 1] to W+
    (B, N, D), ``latent_avg`` included (StyleCLIP's inversions). A ReStyle encoder (6-channel input,
    ``config.iterative``) runs through ``editing.inversion.restyle.restyle_invert`` instead."""

    KIND, CONFIG_CLS, WHAT = KIND, EncoderConfig, "encoder weights"

    @staticmethod
    def abstract(config):
        return nnx.eval_shape(lambda: E4EEncoder(config))

    def check_fits(self, generator) -> None:
        """Raise unless this encoder's W+ (num_styles, style_dim) is the generator's."""
        c, g = self.config, generator.config
        if (g.num_ws, g.w_dim) != (c.num_styles, c.style_dim):
            raise InputError(
                f"the generator takes W+ ({g.num_ws}, {g.w_dim}); the encoder makes ({c.num_styles}, {c.style_dim})"
            )

    def check_one_pass(self) -> None:
        """Raise for a ReStyle encoder: it needs the generator and its iterations."""
        if self.config.iterative:
            raise InputError(
                f"this is a {self.config.name} encoder: it inverts iteratively with its generator "
                "(give `generator`, or use editing.inversion.restyle), not in one pass"
            )

    def encode(self, images, stage: int | None = None) -> np.ndarray:
        self.check_one_pass()
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
            out.append(self.encode(preprocess(photos_u8[i : i + batch_size], self.config.input_size)))
            if progress:
                progress(sum(map(len, out)), len(photos_u8))
        return np.concatenate(out)


def load_encoder(path) -> Encoder:
    """Load an encoder folder written by ``styleclip-jax convert encoder``."""
    return Encoder.load(path)
