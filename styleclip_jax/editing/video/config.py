"""Video-edit settings (``VideoSettings``); light, so the CLI reads defaults without JAX."""

from __future__ import annotations

import dataclasses

from styleclip_jax.errors import InputError
from styleclip_jax.faces.tracking import CENTER_SIGMA, XY_SIGMA

ALIGN_MODES = ("mtcnn", "none")


@dataclasses.dataclass(frozen=True)
class VideoSettings:
    """align: 'mtcnn' (track, smooth, FFHQ-align one face) or 'none' (every frame is already the
    generator's crop, e.g. the toy world's); center_sigma / xy_sigma: the quads' temporal smoothing
    in frames (0: off); frames: (first, last) frame edited, inclusive (None: all; the others pass
    through); batch: frames per inversion / edit chunk (one cached file each); pti_steps: one
    generator tuned on all the edited frames' crops (STIT), 0: off; pti_batch: frames per PTI update;
    feather: the paste-back's soft edge without a parser."""

    align: str = "mtcnn"
    center_sigma: float = CENTER_SIGMA
    xy_sigma: float = XY_SIGMA
    frames: tuple[int, int] | None = None
    batch: int = 8
    pti_steps: int = 0
    pti_batch: int = 4
    pti_lr: float = 3e-4
    feather: float = 0.1
    iterations: int | None = None

    def __post_init__(self):
        if self.align not in ALIGN_MODES:
            raise InputError(f"align must be one of {ALIGN_MODES}, got {self.align!r}")
        if min(self.center_sigma, self.xy_sigma) < 0 or max(self.center_sigma, self.xy_sigma) > 100:
            raise InputError("the smoothing sigmas must lie in [0, 100] frames")
        if self.batch < 1 or self.pti_steps < 0 or self.pti_batch < 1:
            raise InputError("batch and pti_batch must be >= 1 and pti_steps >= 0")
        if not 0 < self.feather <= 0.5:
            raise InputError(f"feather is a share of the crop in (0, 0.5], got {self.feather}")
        if self.frames is not None and not (0 <= self.frames[0] <= self.frames[1]):
            raise InputError(f"frames must be A-B with 0 <= A <= B, got {self.frames}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def parse_frames(text: str | None) -> tuple[int, int] | None:
    """'A-B' (inclusive, 0-based) -> (A, B)."""
    if text is None:
        return None
    try:
        a, b = (int(v) for v in text.split("-"))
    except ValueError:
        raise InputError(f"`frames` takes A-B (0-based, inclusive), got {text!r}") from None
    if not 0 <= a <= b:
        raise InputError(f"`frames` A-B needs 0 <= A <= B, got {text!r}")
    return a, b
