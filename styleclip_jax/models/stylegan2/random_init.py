"""Random-weight generators for demos, tests and benchmarks (no downloads needed).

Draws follow the golden files' rules, so every path (noise strengths, biases, modulation
biases, the toRGB skip) is active rather than left at a trivial 0 or 1.
"""

from __future__ import annotations

import numpy as np

from styleclip_jax.models.stylegan2.config import GeneratorConfig
from styleclip_jax.models.stylegan2.handle import StyleGAN2, expected_shapes


def random_tensors(cfg: GeneratorConfig, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in sorted(expected_shapes(cfg).items()):
        n = lambda std: rng.standard_normal(shape, dtype=np.float32) * np.float32(std)  # noqa: E731
        if key == "w_avg":
            out[key] = np.zeros(shape, np.float32)
        elif key.startswith("mapping.") and key.endswith("weight"):
            out[key] = n(1.0) / np.float32(cfg.mapping_lr_mul)
        elif key.startswith("mapping."):
            out[key] = n(0.2) / np.float32(cfg.mapping_lr_mul)
        elif key.endswith("affine.weight"):
            out[key] = n(1.0)
        elif key.endswith("affine.bias"):
            out[key] = 1.0 + n(0.5)
        elif key.endswith("noise_strength"):
            out[key] = n(0.25)
        elif key.endswith("noise_const") or key.endswith("const"):
            out[key] = n(1.0)
        elif ".torgb." in key and key.endswith("weight"):
            out[key] = n(0.3)
        elif ".torgb." in key:
            out[key] = n(0.1)
        elif key.endswith("weight"):
            out[key] = n(1.0)
        else:
            out[key] = n(0.2)
    return out


def random_generator(cfg: GeneratorConfig, seed: int = 0) -> StyleGAN2:
    """A StyleGAN2 with seeded random weights; ``w_avg`` is the mapping mean over 4096 z."""
    tensors = random_tensors(cfg, seed)
    gen = StyleGAN2(cfg, tensors, {"format": "random", "seed": seed})
    tensors["w_avg"] = np.asarray(gen.mean_w(4096, seed=seed))
    return StyleGAN2(cfg, tensors, {"format": "random", "seed": seed,
                                    "w_avg": f"computed: mean of mapping(z) over 4096 z, seed {seed}"})
