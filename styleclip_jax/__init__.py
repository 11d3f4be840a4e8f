"""styleclip-jax: StyleCLIP (text-driven StyleGAN2 editing) in JAX/Flax.

Public names are imported lazily (PEP 562), so light submodules such as
``styleclip_jax.export.runtime`` (numpy + onnxruntime only) and ``styleclip_jax.errors`` load
without importing JAX.
"""

from styleclip_jax._lazy import lazy_getattr
from styleclip_jax.errors import (
    CheckpointError,
    ConfigError,
    InputError,
    JobFolderError,
    NonFiniteError,
    OutputExistsError,
    StyleClipError,
    UnsafeCheckpointError,
)
from styleclip_jax.version import __version__

_LAZY = {
    "CLIPModel": "styleclip_jax.models.clip",
    "load_clip": "styleclip_jax.models.clip",
    "tokenize": "styleclip_jax.models.clip",
    "IDNet": "styleclip_jax.models.idnet",
    "load_idnet": "styleclip_jax.models.idnet",
    "GeneratorConfig": "styleclip_jax.models.stylegan2",
    "StyleGAN2": "styleclip_jax.models.stylegan2",
    "load_generator": "styleclip_jax.models.generators",
    "load_mapper": "styleclip_jax.models.mapper.handle",
    "FaceDetector": "styleclip_jax.models.mtcnn",
    "load_face_detector": "styleclip_jax.models.mtcnn",
    "Encoder": "styleclip_jax.models.e4e",
    "load_encoder": "styleclip_jax.models.e4e",
    "align_face": "styleclip_jax.faces",
    "align_photos": "styleclip_jax.faces",
    "paste_back": "styleclip_jax.faces",
}

__all__ = [
    "CheckpointError",
    "ConfigError",
    "InputError",
    "JobFolderError",
    "NonFiniteError",
    "OutputExistsError",
    "StyleClipError",
    "UnsafeCheckpointError",
    "__version__",
    *_LAZY,
]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
