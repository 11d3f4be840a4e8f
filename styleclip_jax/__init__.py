"""styleclip-jax: StyleCLIP (text-driven StyleGAN2 editing) in JAX/Flax."""

__version__ = "0.1.0"

from .errors import CheckpointError, InputError, StyleClipError, UnsafeCheckpointError
from .models.stylegan2 import GeneratorConfig, StyleGAN2, load_generator

__all__ = ["CheckpointError", "GeneratorConfig", "InputError", "StyleClipError", "StyleGAN2",
           "UnsafeCheckpointError", "__version__", "load_generator"]
