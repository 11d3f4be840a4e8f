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
    lpips_lambda: float = 0.0  # e4e trains faces with 0.8
    progressive_start: int = 0
    progressive_every: int = 0
    truncation: float = 0.7
    seed: int = 0
    iterations: int = 5  # ReStyle encoders: refinement iterations per batch (upstream's n_iters_per_batch)

    def __post_init__(self):
        if self.steps < 0 or self.batch_size < 1:
            raise InputError(f"steps must be >= 0 and batch_size >= 1, got {self.steps}, {self.batch_size}")
        if not 1 <= self.iterations <= 20:
            raise InputError(f"iterations must lie in 1..20, got {self.iterations}")
        check_nonnegative(self, ("lr", "pixel_lambda", "id_lambda", "delta_lambda", "latent_lambda", "lpips_lambda"))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PTIConfig:
    """Pivotal tuning (Roich et al. 2022, danielroich/PTI ``configs/hyperparameters.py``): the
    generator's synthesis weights are tuned so that G(pivot) reproduces each photo.

    Loss per photo: l2_lambda · MSE + lpips_lambda · LPIPS, plus, with ``locality``, the
    regulariser on codes ``reg_alpha`` away from the pivot toward random samples (ψ ``reg_psi``):
    reg_l2_lambda · MSE + reg_lpips_lambda · LPIPS between the tuned and the original generator
    (noise off, as upstream). Adam (torch's), lr 3e-4. One photo stops early once its LPIPS is at or
    under ``lpips_threshold`` (checked before the update, as upstream's single-id coach); several
    photos are tuned together as upstream's multi-id coach: each step updates once per photo, in
    order, with no early stop. ``batch`` > 1 updates on that many photos at once (the mean loss;
    STIT's way for a clip's frames): fewer, larger steps."""

    steps: int = 350
    lr: float = 3e-4
    l2_lambda: float = 1.0
    lpips_lambda: float = 1.0
    lpips_threshold: float = 0.06
    locality: bool = False
    reg_l2_lambda: float = 0.1
    reg_lpips_lambda: float = 0.1
    reg_alpha: float = 30.0
    reg_psi: float = 0.5
    batch: int = 1
    seed: int = 0

    def __post_init__(self):
        if self.steps < 0 or self.batch < 1:
            raise InputError(f"PTI steps must be >= 0 and batch >= 1, got {self.steps}, {self.batch}")
        check_nonnegative(self, ("lr", "l2_lambda", "lpips_lambda", "reg_l2_lambda", "reg_lpips_lambda", "reg_alpha"))
        if not 0 < self.lr <= 1:
            raise InputError(f"PTI lr must lie in (0, 1], got {self.lr}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
