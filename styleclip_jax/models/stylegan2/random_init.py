"""Random-weight generators for demos, tests and benchmarks (no downloads needed).

Draws follow the golden files' rules, so every path (noise strengths, biases, modulation
biases, the toRGB skip) is active rather than left at a trivial 0 or 1.
"""

from __future__ import annotations

import numpy as np

from styleclip_jax.models.stylegan2.config import GeneratorConfig
from styleclip_jax.models.stylegan2.handle import StyleGAN2, expected_shapes


def draws(shapes, seed: int, lr_mul: float, rule):
    """Seeded draws for every key of ``shapes``, in sorted order: ``w_avg`` zero (set afterwards),
    mapping weights N(0,1) and biases N(0,0.2) (both / lr_mul: stored raw), the rest by
    ``rule(key, n)`` where ``n(std)`` draws N(0, std²) in the key's shape."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in sorted(shapes.items()):

        def n(std, shape=shape):
            return rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

        if key == "w_avg":
            out[key] = np.zeros(shape, np.float32)
        elif key.startswith("mapping."):
            out[key] = n(1.0 if key.endswith("weight") else 0.2) / np.float32(lr_mul)
        else:
            out[key] = rule(key, n, shape, rng)
    return out


def random_tensors(cfg: GeneratorConfig, seed: int = 0) -> dict[str, np.ndarray]:
    return draws(expected_shapes(cfg), seed, cfg.mapping_lr_mul, _stylegan2_rule)


def _stylegan2_rule(key, n, shape, rng):
    if key.endswith("affine.weight"):
        return n(1.0)
    if key.endswith("affine.bias"):
        return 1.0 + n(0.5)
    if key.endswith("noise_strength"):
        return n(0.25)
    if key.endswith("noise_const") or key.endswith("const"):
        return n(1.0)
    if ".torgb." in key:
        return n(0.3 if key.endswith("weight") else 0.1)
    return n(1.0 if key.endswith("weight") else 0.2)


def random_generator(cfg: GeneratorConfig, seed: int = 0) -> StyleGAN2:
    """A StyleGAN2 with seeded random weights; ``w_avg`` is the mapping mean over 4096 z."""
    tensors = random_tensors(cfg, seed)
    gen = StyleGAN2(cfg, tensors, {"format": "random", "seed": seed})
    tensors["w_avg"] = np.asarray(gen.mean_w(4096, seed=seed))
    return StyleGAN2(
        cfg,
        tensors,
        {"format": "random", "seed": seed, "w_avg": f"computed: mean of mapping(z) over 4096 z, seed {seed}"},
    )
