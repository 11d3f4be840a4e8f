"""Mapper training settings: plain frozen dataclasses, importable without JAX (the CLI reads
their defaults)."""

from __future__ import annotations

import dataclasses

from styleclip_jax.config_utils import check_nonnegative, known_fields
from styleclip_jax.errors import InputError

OPTIMIZERS = ("ranger", "adam")


@dataclasses.dataclass(frozen=True)
class MapperTrainConfig:
    """Training settings; defaults are upstream's ``TrainOptions`` except where noted.

    ``truncation`` applies only to latents sampled on the fly (upstream's broken random-latent
    path meant 0.7); latents from a file are used as they are. ``val_size`` rows of the latents
    file (or seeded samples) are held out for validation.
    """

    description: str
    steps: int = 50000
    batch_size: int = 2
    optimizer: str = "ranger"
    lr: float = 0.5
    clip_lambda: float = 1.0
    l2_lambda: float = 0.8
    id_lambda: float = 0.1
    mapper_kind: str = "levels"
    coarse: bool = True
    medium: bool = True
    fine: bool = True
    truncation: float = 0.7
    val_size: int = 16
    val_batch_size: int = 4
    log_every: int = 50
    val_every: int = 2000
    save_every: int = 2000
    seed: int = 0
    keep: tuple[str, ...] = ()  # keep-texts: CLIP similarity to each held at its start
    keep_lambda: float = 1.0
    mask_lambda: float = 10.0  # weight of the pixel change outside the region (with a mask)
    # Beyond upstream (editing.contrib), both 0 (off) by default: population_scale > 0 starts the
    # mapper's offset ŵ − w at that multiple of the population bank's W direction for the
    # description (on the rows it moves); population_lambda > 0 then holds the batch's mean offset
    # there with that weight; population_condition > 0 (a temperature) then fits the mapper, before
    # the CLIP loop, so that each bank sample's offset is the direction taken among its lookalikes
    # in the bank (population.conditioned_shift): a start that depends on w, as the mapper does.
    population_scale: float = 0.0
    population_lambda: float = 0.0
    population_condition: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "keep", tuple([self.keep] if isinstance(self.keep, str) else self.keep))
        if not self.description.strip():
            raise InputError("the mapper needs a non-empty `description` (the target prompt)")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.mapper_kind not in ("levels", "single"):
            raise InputError(f"training supports W+ mappers ('levels', 'single'), got {self.mapper_kind!r}")
        for name in ("steps", "batch_size", "log_every", "val_every", "save_every", "val_batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.val_size < 0:
            raise InputError("val_size must be >= 0")
        check_nonnegative(
            self,
            (
                "lr",
                "clip_lambda",
                "l2_lambda",
                "id_lambda",
                "truncation",
                "keep_lambda",
                "mask_lambda",
                "population_lambda",
                "population_scale",
                "population_condition",
            ),
        )
        if self.population_condition and not self.population_scale:
            raise InputError(
                "population_condition fits the mapper's start to the population's directions: set "
                "population_scale > 0 too"
            )

    @property
    def step_config(self) -> StepConfig:
        """Only what one training step depends on: the static key of the compiled chunk, so that
        changing steps, intervals or the seed never recompiles."""
        return StepConfig(
            self.batch_size,
            self.optimizer,
            self.lr,
            self.clip_lambda,
            self.l2_lambda,
            self.id_lambda,
            self.truncation,
            self.keep_lambda,
            self.mask_lambda,
            self.population_lambda,
        )

    def mapper_config(self, num_ws: int, w_dim: int):
        from styleclip_jax.models.mapper.network import MapperConfig  # lazy: the config imports without JAX

        try:
            return MapperConfig(
                kind=self.mapper_kind,
                latent_dim=w_dim,
                num_ws=num_ws,
                coarse=self.coarse,
                medium=self.medium,
                fine=self.fine,
            )
        except ValueError as e:
            raise InputError(str(e)) from None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["keep"] = list(self.keep)
        return d

    @classmethod
    def from_dict(cls, d) -> MapperTrainConfig:
        return cls(**known_fields(cls, d, "mapper training"))


@dataclasses.dataclass(frozen=True)
class StepConfig:
    batch_size: int
    optimizer: str
    lr: float
    clip_lambda: float
    l2_lambda: float
    id_lambda: float
    truncation: float
    keep_lambda: float = 1.0
    mask_lambda: float = 10.0
    population_lambda: float = 0.0
