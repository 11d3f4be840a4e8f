"""The public StyleGAN2 handle: a config plus weights, with jitted, validated entry points.

Every call goes through a module-level ``jax.jit`` function that takes the NNX graphdef as a
static argument and the state as an ordinary argument (weights are never baked into the
compiled program). The raw NNX module is available through ``.module()`` for use inside
larger jitted programs (editing loops, export).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.config_utils import check_compute_dtype
from styleclip_jax.errors import InputError
from styleclip_jax.models.handle import ModelHandle, expected_shapes_of, jit_call
from styleclip_jax.models.stylegan2.config import GeneratorConfig
from styleclip_jax.models.stylegan2.network import NOISE_MODES, Generator
from styleclip_jax.validation import check_array

KIND = "generator"


def abstract_generator(cfg: GeneratorConfig) -> Generator:
    return nnx.eval_shape(lambda: Generator(cfg))


def expected_shapes(cfg: GeneratorConfig) -> dict[str, tuple]:
    """Our flat parameter names -> shapes for ``cfg`` (what a converter must produce)."""
    return expected_shapes_of(abstract_generator(cfg))


# ---- jitted entry points (graphdef static, state traced) -------------------------------------
_map = jit_call(lambda m, z, psi, cutoff: m.map_to_wplus(z, psi, cutoff), static=(2,))
_w_to_s = jit_call(lambda m, wplus: m.synthesis.w_to_s(wplus))
_synth_s = jit_call(
    lambda m, styles, key, noise_mode: m.synthesis(styles, noise_mode=noise_mode, key=key, fold_batch1=True),
    static=(2,),
)
_generate = jit_call(
    lambda m, wplus, key, noise_mode: m(wplus, noise_mode=noise_mode, key=key, fold_batch1=True), static=(2,)
)


class StyleGAN2(ModelHandle):
    """A StyleGAN2 generator ready to run.

    Images are NHWC float32 in the generator's raw output range (nominally [-1, 1]; not clamped).
    Latents: z (B, z_dim); w (B, w_dim); W+ (B, num_ws, w_dim); StyleSpace S as a dict
    ``{layer name: (B, C_l)}`` in ``config.style_layers`` order.
    """

    KIND, CONFIG_CLS, WHAT = KIND, GeneratorConfig, "generator weights"
    abstract = staticmethod(abstract_generator)

    def __init__(self, config: GeneratorConfig, tensors, source=None, dtype: str = "float32"):
        """``dtype="bfloat16"``: synthesis convs run in bf16 everywhere this generator is used (the
        three methods too); latents, weights, demodulation and the image sum stay float32."""
        self.dtype_name = check_compute_dtype(dtype)
        super().__init__(config, tensors, source)
        self._set_compute_dtype(dtype, lambda module: module.synthesis)

    @property
    def w_avg(self) -> np.ndarray:
        return np.asarray(self.module().w_avg[...])

    # ---- checked, jitted API --------------------------------------------------------------
    def mapping(self, z, truncation: float = 1.0, cutoff: int | None = None) -> jax.Array:
        """z (B, z_dim) or per-layer z (B, num_ws, z_dim) -> W+ (B, num_ws, w_dim), truncated toward w_avg."""
        cfg = self.config
        z = np.asarray(z)
        shape = (None, cfg.z_dim) if z.ndim == 2 else (None, cfg.num_ws, cfg.z_dim)
        z = check_array(z, "z", shape)
        return _map(self.graphdef, self.state, z, jnp.float32(truncation), cutoff)

    def w_to_s(self, wplus) -> dict[str, jax.Array]:
        """W+ (B, num_ws, w_dim) -> StyleSpace ``{name: (B, C_l)}``."""
        wplus = self.as_wplus(wplus)
        return dict(zip(self.config.style_names, _w_to_s(self.graphdef, self.state, wplus)))

    def synthesis(self, wplus, noise_mode: str = "const", key: jax.Array | None = None) -> jax.Array:
        """W+ (B, num_ws, w_dim) or W (B, w_dim) -> image (B, R, R, 3)."""
        return self.generate(wplus, noise_mode, key)[0]

    def generate(self, wplus, noise_mode: str = "const", key: jax.Array | None = None):
        """W+ or W -> (image (B,R,R,3), {"wplus": (B,L,D), "s": {name: (B,C)}})."""
        wplus = self.as_wplus(wplus)
        key = self._check_noise(noise_mode, key)
        img, extra = _generate(self.graphdef, self.state, wplus, key, noise_mode)
        return img, {"wplus": extra["wplus"], "s": dict(zip(self.config.style_names, extra["s"]))}

    def synthesis_s(
        self,
        styles: Mapping[str, np.ndarray] | Sequence[np.ndarray],
        noise_mode: str = "const",
        key: jax.Array | None = None,
    ) -> jax.Array:
        """StyleSpace codes (dict by layer name, or list in layer order) -> image (B, R, R, 3)."""
        layers = self.config.style_layers
        if isinstance(styles, Mapping):
            names = {l.name for l in layers}
            unknown = sorted(set(styles) - names)
            missing = [l.name for l in layers if l.name not in styles]
            if unknown or missing:
                raise InputError(f"StyleSpace codes: missing layers {missing}, unknown layers {unknown}")
            styles = [styles[l.name] for l in layers]
        if len(styles) != len(layers):
            raise InputError(f"StyleSpace codes: expected {len(layers)} layers, got {len(styles)}")
        arrs = [check_array(s, f"StyleSpace code {l.name}", (None, l.width)) for s, l in zip(styles, layers)]
        if len({a.shape[0] for a in arrs}) != 1:
            raise InputError(f"StyleSpace codes disagree on batch size: {[a.shape[0] for a in arrs]}")
        key = self._check_noise(noise_mode, key)
        return _synth_s(self.graphdef, self.state, arrs, key, noise_mode)

    def mean_w(self, n: int = 4096, seed: int = 0) -> jax.Array:
        """Mean of mapping(z) over n seeded z (StyleCLIP's ``mean_latent``), shape (w_dim,)."""
        z = jax.random.normal(jax.random.key(seed), (n, self.config.z_dim))
        return jnp.mean(_map(self.graphdef, self.state, z, jnp.float32(1.0), None)[:, 0], axis=0)

    def with_transform(self, translate=(0.0, 0.0), angle: float = 0.0):
        """StyleGAN3 only (its Fourier-feature input can be moved and rotated); see ``StyleGAN3``."""
        raise InputError("`translate` / `rotate` need a StyleGAN3 generator: StyleGAN2's constant input cannot move")

    # ---- helpers -------------------------------------------------------------------------
    def as_wplus(self, wplus) -> np.ndarray:
        """Checked float32 W+ (B, num_ws, w_dim) from W+ or W (B, w_dim, repeated over rows)."""
        cfg = self.config
        w = np.asarray(wplus)
        if w.ndim == 2:
            w = check_array(w, "w", (None, cfg.w_dim))
            return np.broadcast_to(w[:, None], (w.shape[0], cfg.num_ws, cfg.w_dim)).copy()
        return check_array(w, "wplus", (None, cfg.num_ws, cfg.w_dim))

    @staticmethod
    def _check_noise(noise_mode: str, key):
        if noise_mode not in NOISE_MODES:
            raise InputError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if noise_mode == "random" and key is None:
            raise InputError("noise_mode='random' needs an explicit key (jax.random.key(seed))")
        return key
