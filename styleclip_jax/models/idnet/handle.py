"""The public identity-net handle: ``load_idnet(dir)``."""

from __future__ import annotations

import jax
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.models.handle import ModelHandle, expected_shapes_of, jit_call
from styleclip_jax.models.idnet.loss import id_loss
from styleclip_jax.models.idnet.network import IRSE, IDNetConfig
from styleclip_jax.validation import check_array

KIND = "idnet"


def abstract_idnet(cfg: IDNetConfig) -> IRSE:
    return nnx.eval_shape(lambda: IRSE(cfg))


def idnet_expected_shapes(cfg: IDNetConfig):
    return expected_shapes_of(abstract_idnet(cfg))


_embed = jit_call(lambda m, x: m(x))
_loss = jit_call(id_loss)


class IDNet(ModelHandle):
    """IR-SE50 embeddings and the StyleCLIP ID loss. Images NHWC in [-1, 1]."""

    KIND, CONFIG_CLS, WHAT = KIND, IDNetConfig, "ID-net weights"
    abstract = staticmethod(abstract_idnet)

    def embed(self, images) -> jax.Array:
        """(B, 112, 112, 3) -> L2-normalised (B, embed_dim)."""
        s = self.config.input_size
        return _embed(self.graphdef, self.state, check_array(images, "images", (None, s, s, 3)))

    def loss(self, x_hat, x) -> jax.Array:
        """StyleCLIP ID loss between generator outputs (B, S, S, 3) (pooled to 256 first, as upstream)."""
        x_hat = check_array(x_hat, "x_hat", (None, None, None, 3))
        x = check_array(x, "x", (None, None, None, 3))
        if x_hat.shape != x.shape:
            raise InputError(f"x_hat {x_hat.shape} and x {x.shape} must have the same shape")
        if x.shape[1] != x.shape[2]:
            raise InputError(f"ID loss needs square images, got {x.shape}")
        return _loss(self.graphdef, self.state, x_hat, x)


def load_idnet(path) -> IDNet:
    """Load an ID-net folder written by ``styleclip-jax convert idnet``."""
    return IDNet.load(path)
