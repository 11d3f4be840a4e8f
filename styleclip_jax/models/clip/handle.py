"""The public CLIP handle: ``load_clip(dir)`` -> jitted, validated encoders."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.config_utils import check_compute_dtype
from styleclip_jax.errors import InputError
from styleclip_jax.models.clip.network import CLIP, CLIPConfig
from styleclip_jax.models.handle import ModelHandle, expected_shapes_of, jit_call
from styleclip_jax.validation import check_array

KIND = "clip"


def abstract_clip(cfg: CLIPConfig) -> CLIP:
    return nnx.eval_shape(lambda: CLIP(cfg))


def clip_expected_shapes(cfg: CLIPConfig) -> dict[str, tuple]:
    return expected_shapes_of(abstract_clip(cfg))


_encode_text = jit_call(lambda m, tokens, dtype: m.encode_text(tokens, dtype).astype(jnp.float32), static=(1,))
_encode_image = jit_call(lambda m, images, dtype: m.encode_image(images, dtype).astype(jnp.float32), static=(1,))
_logits = jit_call(lambda m, images, tokens, dtype: m(images, tokens, dtype), static=(2,))


def trim_padding(tokens: np.ndarray, multiple: int = 8) -> np.ndarray:
    """Drop trailing columns that are padding (id 0) in every row, keeping a multiple of ``multiple``.

    The text tower is causal and reads its features at the EOT token, so positions after the last
    EOT never reach the output: a template prompt of ~10 tokens costs 16 positions, not 77 (5x less
    text-tower work for a global direction's 2 x 79 prompts). Buckets of ``multiple`` bound recompiles.
    """
    used = np.flatnonzero(np.any(tokens != 0, axis=0))
    n = int(used[-1]) + 1 if used.size else 1
    n = min(tokens.shape[1], -(-n // multiple) * multiple)
    return tokens[:, :n]


class CLIPModel(ModelHandle):
    """A loaded CLIP. Features are float32 and *unnormalised* (normalise with ``model.normalize``)."""

    KIND, CONFIG_CLS, WHAT = KIND, CLIPConfig, "CLIP weights"
    abstract = staticmethod(abstract_clip)

    def __init__(self, config: CLIPConfig, tensors, source=None, dtype: str = "float32"):
        self.dtype_name, self.dtype = check_compute_dtype(dtype), jnp.dtype(dtype)
        super().__init__(config, tensors, source)
        self._set_compute_dtype(dtype)

    # ---- checked API ----------------------------------------------------------------------------
    def check_tokens(self, tokens) -> np.ndarray:
        t = np.asarray(tokens)
        if t.ndim != 2 or t.shape[0] == 0 or not (1 <= t.shape[1] <= self.config.context_length):
            raise InputError(f"tokens must have shape (B, <= {self.config.context_length}), got {t.shape}")
        if not np.issubdtype(t.dtype, np.integer):
            raise InputError(f"tokens must be integers, got {t.dtype} (use styleclip_jax.tokenize)")
        if t.min() < 0 or t.max() >= self.config.vocab_size:
            raise InputError(f"token ids must lie in [0, {self.config.vocab_size}), got [{t.min()}, {t.max()}]")
        return t.astype(np.int32)

    def check_images(self, images) -> np.ndarray:
        s = self.config.image_size
        return check_array(images, "images", (None, s, s, 3))

    def encode_text(self, tokens) -> jax.Array:
        """int (B, 77) tokens -> (B, embed_dim) text features."""
        return _encode_text(self.graphdef, self.state, trim_padding(self.check_tokens(tokens)), self.dtype)

    def encode_image(self, images) -> jax.Array:
        """NHWC (B, S, S, 3) preprocessed images -> (B, embed_dim) image features."""
        return _encode_image(self.graphdef, self.state, self.check_images(images), self.dtype)

    def logits(self, images, tokens):
        """(logits_per_image (Bi, Bt), logits_per_text (Bt, Bi)) = exp(logit_scale) · cosines."""
        return _logits(
            self.graphdef, self.state, self.check_images(images), trim_padding(self.check_tokens(tokens)), self.dtype
        )


def load_clip(path, dtype: str = "float32") -> CLIPModel:
    """Load a CLIP folder written by ``styleclip-jax convert clip``."""
    return CLIPModel.load(path, dtype=dtype)
