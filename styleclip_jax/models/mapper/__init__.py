"""Latent mappers (method B's network): ``network.py`` (Single / Levels / StyleSpace mappers) and
``handle.py`` (a loaded mapper folder: ``load_mapper``, ``LatentMapperModel.edit``)."""

from styleclip_jax.models.mapper.handle import LatentMapperModel, load_mapper
from styleclip_jax.models.mapper.network import LatentMapper, MapperConfig

__all__ = ["LatentMapper", "LatentMapperModel", "MapperConfig", "load_mapper"]
