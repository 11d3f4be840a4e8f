"""Random-weight StyleGAN3 generators for tests and benchmarks (no downloads needed).

Draws follow the golden files' rules where they matter (affine biases around 1, the input affine
around (1, 0, 0, 0) so rotation and translation are exercised, Fourier frequencies as upstream's
constructor draws them); ``magnitude_ema`` is calibrated layer by layer to the mean square of
each layer's input over a few samples, the fixed point upstream's training EMA would reach.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from styleclip_jax.models.stylegan2.random_init import draws
from styleclip_jax.models.stylegan3.config import SG3Config
from styleclip_jax.models.stylegan3.handle import StyleGAN3, expected_shapes


def random_tensors(cfg: SG3Config, seed: int = 0) -> dict[str, np.ndarray]:
    return draws(expected_shapes(cfg), seed, cfg.mapping_lr_mul, functools.partial(_stylegan3_rule, cfg))


def _stylegan3_rule(cfg: SG3Config, key, n, shape, rng):
    if key == "synthesis.input.affine.weight":
        return n(0.25)
    if key == "synthesis.input.affine.bias":
        return np.array([1, 0, 0, 0], np.float32) + n(0.1)
    if key == "synthesis.input.transform":
        return np.eye(3, dtype=np.float32)
    if key == "synthesis.input.freqs":  # upstream's constructor draw
        f = rng.standard_normal(shape)
        r = np.sqrt(np.sum(f**2, axis=1, keepdims=True))
        return (f / (r * np.exp(r**2) ** 0.25) * cfg.input_bandwidth).astype(np.float32)
    if key == "synthesis.input.phases":
        return (rng.random(shape) - 0.5).astype(np.float32)
    if key.endswith("affine.bias"):
        return 1.0 + n(0.5)
    if key.endswith("magnitude_ema"):
        return np.ones(shape, np.float32)
    return n(1.0 if key.endswith("weight") else 0.2)


def _calibrate(graphdef, state, z):
    """Each layer's input mean square, layer by layer with the earlier layers already calibrated."""
    from flax import nnx

    module = nnx.merge(graphdef, state)
    styles = module.synthesis.w_to_s(module.map_to_wplus(z))
    x = module.synthesis.input.features(styles[0])
    out = []
    for name, s in zip(module.synthesis.layer_names, styles[1:]):
        layer = getattr(module.synthesis, name)
        out.append(jnp.mean(jnp.square(x)))
        layer.magnitude_ema[...] = out[-1]
        x = layer(x, s)
    return out


def random_generator(cfg: SG3Config, seed: int = 0, calibrate: int = 4) -> StyleGAN3:
    """A StyleGAN3 with seeded random weights; ``w_avg`` is the mapping mean over 4096 z and each
    layer's ``magnitude_ema`` the mean square of its input over ``calibrate`` samples."""
    tensors = random_tensors(cfg, seed)
    gen = StyleGAN3(cfg, tensors, {"format": "random", "seed": seed})
    tensors["w_avg"] = np.asarray(gen.mean_w(4096, seed=seed))
    z = jax.random.normal(jax.random.key(seed + 1), (calibrate, cfg.z_dim))
    ms = jax.jit(_calibrate, static_argnums=0)(gen.graphdef, gen.state, z)
    for g, v in zip(cfg.layers, ms):
        tensors[f"synthesis.{g.name}.magnitude_ema"] = np.asarray(v, np.float32)
    return StyleGAN3(
        cfg,
        tensors,
        {"format": "random", "seed": seed, "w_avg": f"computed: mean of mapping(z) over 4096 z, seed {seed}"},
    )
