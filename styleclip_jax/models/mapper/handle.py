"""The public latent-mapper handle: ``load_mapper(dir)`` and ``apply(wplus, alpha)``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.models.handle import ModelHandle, jit_call
from styleclip_jax.models.mapper.network import LatentMapper, MapperConfig
from styleclip_jax.validation import check_array

KIND = "mapper"


_edit = jit_call(lambda m, w, alpha: m.edit(w, alpha))


class LatentMapperModel(ModelHandle):
    KIND, CONFIG_CLS, WHAT = KIND, MapperConfig, "mapper weights"

    @staticmethod
    def abstract(config: MapperConfig) -> LatentMapper:
        return nnx.eval_shape(lambda: LatentMapper(config))

    def check_fits(self, gen, what: str = "this") -> None:
        """Raise unless this is a W+ mapper whose (num_ws, latent_dim) match the generator's W+."""
        c, g = self.config, gen.config
        if c.kind == "stylespace":
            raise InputError(f"{what} handles W+ mappers (levels / single); this is a StyleSpace mapper")
        if (c.num_ws, c.latent_dim) != (g.num_ws, g.w_dim):
            raise InputError(
                f"mapper expects W+ ({c.num_ws}, {c.latent_dim}) but the generator uses ({g.num_ws}, {g.w_dim})"
            )

    def apply(self, wplus, alpha=1.0) -> jax.Array:
        """W+ (B, L, D) -> edited W+ = w + α·0.1·M(w); ``alpha`` scalar or (B,)."""
        c = self.config
        if c.kind == "stylespace":
            raise InputError("this is a StyleSpace mapper; apply it to StyleSpace codes with .module().edit")
        w = check_array(wplus, "wplus", (None, c.num_ws, c.latent_dim))
        a = np.asarray(alpha, np.float32)
        if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != w.shape[0]) or not np.all(np.isfinite(a)):
            raise InputError(f"alpha must be a finite scalar or one value per latent ({w.shape[0]}), got {a.shape}")
        return _edit(self.graphdef, self.state, w, jnp.asarray(a))


def load_mapper(path) -> LatentMapperModel:
    return LatentMapperModel.load(path)
