"""The bundled toy world: trained generator, CLIP, shape reader and global-direction stats.

They ship inside the package (``styleclip_jax/toyworld/weights/``, about 10 MB in our model
format), so the demo and the quality tests need no download. ``RECORD.md`` there says how each
was made; the training scripts are ``styleclip-jax toy train-gan | train-clip | train-reader``.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

from styleclip_jax.editing.global_directions.stats import StyleSpaceStats
from styleclip_jax.errors import CheckpointError
from styleclip_jax.models.clip import load_clip
from styleclip_jax.models.e4e import load_encoder
from styleclip_jax.models.generators import load_generator
from styleclip_jax.toyworld.readers import AttributeReader, ShapeReaderModel


def weights_dir() -> Path:
    return Path(str(resources.files(__package__).joinpath("weights")))


@dataclasses.dataclass
class ToyWorld:
    generator: object  # StyleGAN2, 32 px
    clip: object  # CLIPModel (224 px input, embed 64)
    reader: object  # AttributeReader
    stats: object | None  # StyleSpaceStats with fs3, or None when not precomputed
    path: Path
    encoder: object | None = None  # e4e Encoder for the generator (32 px scenes -> W+), if bundled
    base_generator: object | None = None  # set when ``generator`` was PTI-tuned from it (mappers train on it)
    restyle: object | None = None  # ReStyle-e4e Encoder (iterative), if bundled


def load_world(path=None, with_stats: bool = True) -> ToyWorld:
    """Load the toy world from ``path`` (default: the bundled weights)."""
    p = Path(path) if path is not None else weights_dir()
    for sub in ("generator", "clip", "shape_reader"):
        if not (p / sub).is_dir():
            raise CheckpointError(f"{p} is not a toy-world folder: {sub}/ is missing")
    stats = StyleSpaceStats.load(p / "global") if with_stats and (p / "global").is_dir() else None
    encoder = load_encoder(p / "encoder") if (p / "encoder").is_dir() else None
    restyle = load_encoder(p / "restyle") if (p / "restyle").is_dir() else None
    return ToyWorld(
        load_generator(p / "generator"),
        load_clip(p / "clip"),
        AttributeReader(ShapeReaderModel.load(p / "shape_reader")),
        stats,
        p,
        encoder,
        restyle=restyle,
    )
