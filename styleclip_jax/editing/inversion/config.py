"""e4e encoder training settings (``EncoderTrainConfig``); light, so the CLI reads defaults without JAX."""

from __future__ import annotations

import dataclasses

from styleclip_jax.config_utils import check_nonnegative
from styleclip_jax.errors import InputError


@dataclasses.dataclass(frozen=True)
class EncoderTrainConfig:
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-4
    pixel_lambda: float = 1.0
    id_lambda: float = 0.0
    delta_lambda: float = 2e-4  # e4e's delta_norm_lambda
    latent_lambda: float = 0.0
    progressive_start: int = 0
    progressive_every: int = 0
    truncation: float = 0.7
    seed: int = 0

    def __post_init__(self):
        if self.steps < 0 or self.batch_size < 1:
            raise InputError(f"steps must be >= 0 and batch_size >= 1, got {self.steps}, {self.batch_size}")
        check_nonnegative(self, ("lr", "pixel_lambda", "id_lambda", "delta_lambda", "latent_lambda"))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
