"""styleclip-jax: StyleCLIP (text-driven StyleGAN2 editing) in JAX/Flax."""

__version__ = "0.1.0"

from .errors import CheckpointError, InputError, StyleClipError, UnsafeCheckpointError
from .models.clip import CLIPModel, load_clip, tokenize
from .models.idnet import IDNet, load_idnet
from .models.stylegan2 import GeneratorConfig, StyleGAN2, load_generator

__all__ = ["CLIPModel", "CheckpointError", "GeneratorConfig", "IDNet", "InputError", "StyleClipError",
           "StyleGAN2", "UnsafeCheckpointError", "__version__", "load_clip", "load_generator", "load_idnet",
           "tokenize"]
