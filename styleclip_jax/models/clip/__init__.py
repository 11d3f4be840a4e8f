"""Flax NNX CLIP (ViT family), offline tokenizer, and the image paths StyleCLIP uses."""

from styleclip_jax.models.clip.handle import CLIPModel, load_clip
from styleclip_jax.models.clip.loss import clip_loss, loss_images
from styleclip_jax.models.clip.network import CLIP, CLIPConfig, normalize
from styleclip_jax.models.clip.preprocess import preprocess_jax, preprocess_pil
from styleclip_jax.models.clip.tokenizer import tokenize

__all__ = [
    "CLIP",
    "CLIPConfig",
    "CLIPModel",
    "clip_loss",
    "load_clip",
    "loss_images",
    "normalize",
    "preprocess_jax",
    "preprocess_pil",
    "tokenize",
]
