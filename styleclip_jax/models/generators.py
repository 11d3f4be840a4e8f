"""Generator folders by kind: the one place that knows every generator, so that no generator
module imports another (StyleGAN3 subclasses StyleGAN2; StyleGAN2 never names StyleGAN3)."""

from __future__ import annotations

from styleclip_jax.io.model_folder import folder_kind
from styleclip_jax.models.stylegan2.handle import StyleGAN2
from styleclip_jax.models.stylegan3.handle import StyleGAN3

# folder kind (config.json "kind") -> handle class; a folder of any other kind is StyleGAN2's to refuse
GENERATORS: dict[str | None, type[StyleGAN2]] = {StyleGAN3.KIND: StyleGAN3, StyleGAN2.KIND: StyleGAN2}


def load_generator(path, dtype: str = "float32") -> StyleGAN2:
    """Load a generator folder written by ``styleclip-jax convert generator`` (or ``.save``): a
    StyleGAN2, or a StyleGAN3 (``StyleGAN3``, same API) when the folder holds one.
    ``dtype="bfloat16"`` for bf16 synthesis (StyleGAN2; see ``StyleGAN2``)."""
    return GENERATORS.get(folder_kind(path), StyleGAN2).load(path, dtype=dtype)
