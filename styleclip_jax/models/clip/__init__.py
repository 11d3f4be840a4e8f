"""Flax NNX CLIP (ViT family), offline tokenizer, and the image paths StyleCLIP uses."""

from .api import CLIPModel, load_clip
from .model import CLIP, CLIPConfig, normalize
from .preprocess import clip_loss, loss_images, preprocess_jax, preprocess_pil
from .tokenizer import tokenize

__all__ = ["CLIP", "CLIPConfig", "CLIPModel", "clip_loss", "load_clip", "loss_images", "normalize",
           "preprocess_jax", "preprocess_pil", "tokenize"]
