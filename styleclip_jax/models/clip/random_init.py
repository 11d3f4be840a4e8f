"""Random-weight CLIP for benchmarks and tests (speed does not depend on the values)."""

from __future__ import annotations

import numpy as np

from styleclip_jax.models.clip.handle import CLIPModel, clip_expected_shapes
from styleclip_jax.models.clip.network import CLIPConfig


def random_clip(cfg: CLIPConfig | None = None, seed: int = 0, dtype: str = "float32") -> CLIPModel:
    cfg = cfg or CLIPConfig.vit_b_32()
    rng = np.random.default_rng(seed)
    tensors = {}
    for k, shape in clip_expected_shapes(cfg).items():
        if k.endswith("weight") and ("ln_" in k):
            tensors[k] = np.ones(shape, np.float32)
        elif k == "logit_scale":
            tensors[k] = np.full(shape, np.log(100.0), np.float32)
        else:
            tensors[k] = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    return CLIPModel(cfg, tensors, {"format": "random", "seed": seed}, dtype=dtype)
