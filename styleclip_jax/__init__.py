"""styleclip-jax: StyleCLIP (text-driven StyleGAN2 editing) in JAX/Flax.

Public names are imported lazily (PEP 562), so light submodules such as
``styleclip_jax.export.runtime`` (numpy + onnxruntime only) and ``styleclip_jax.errors`` load
without importing JAX.
"""

from ._lazy import lazy_getattr

__version__ = "0.1.0"

from .errors import CheckpointError, ConfigError, InputError, JobFolderError, NonFiniteError, OutputExistsError, \
    StyleClipError, UnsafeCheckpointError

_LAZY = {
    "CLIPModel": ".models.clip", "load_clip": ".models.clip", "tokenize": ".models.clip",
    "IDNet": ".models.idnet", "load_idnet": ".models.idnet",
    "GeneratorConfig": ".models.stylegan2", "StyleGAN2": ".models.stylegan2", "load_generator": ".models.stylegan2",
    "load_mapper": ".models.mapper_api",
    "FaceDetector": ".models.mtcnn", "load_face_detector": ".models.mtcnn",
    "Encoder": ".models.e4e", "load_encoder": ".models.e4e",
    "align_face": ".faces", "align_photos": ".faces", "paste_back": ".faces",
}

__all__ = ["CheckpointError", "ConfigError", "InputError", "JobFolderError", "NonFiniteError", "OutputExistsError",
           "StyleClipError", "UnsafeCheckpointError", "__version__", *_LAZY]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
