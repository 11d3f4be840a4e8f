"""Convert StyleCLIP mapper checkpoints (``{'state_dict', 'opts'}``) into our format.

Released checkpoints also hold the full 1024 generator under ``decoder.*``; ``convert_mapper``
converts it too when asked (one command for both).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from convert_weights.keys import apply_renames, transposed
from convert_weights.stylegan2 import generator_from_checkpoint
from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.torch_pickle import file_sha256, load_checkpoint
from styleclip_jax.models.handle import expected_shapes_of
from styleclip_jax.models.mapper.handle import LatentMapperModel
from styleclip_jax.models.mapper.network import LatentMapper, MapperConfig

_LEVEL_NAMES = {"course_mapping": "coarse", "medium_mapping": "medium", "fine_mapping": "fine"}


def mapper_config_from(sd: Mapping[str, np.ndarray], opts: Mapping[str, Any], what: str):
    keys = [k for k in sd if k.startswith("mapper.")]
    if not keys:
        raise CheckpointError(f"{what}: no mapper.* keys (not a StyleCLIP mapper checkpoint)")
    if opts.get("work_in_stylespace"):
        idx = sorted({int(m.group(1)) for k in keys if (m := re.match(r"mapper\.mapper_(\d+)\.", k))})
        widths = tuple(int(sd[f"mapper.mapper_{i}.mapping.1.weight"].shape[0]) for i in idx)
        return MapperConfig(kind="stylespace", latent_dim=max(widths), style_widths=widths), idx
    dim = int(sd[keys[0]].shape[-1])
    size = int(opts.get("stylegan_size", 1024))
    num_ws = 2 * int(np.log2(size)) - 2
    if opts.get("mapper_type", "LevelsMapper") == "SingleMapper":
        return MapperConfig(kind="single", latent_dim=dim, num_ws=num_ws), None
    on = {lvl: any(k.startswith(f"mapper.{src}.") for k in keys) for src, lvl in _LEVEL_NAMES.items()}
    for lvl in on:
        if bool(opts.get(f"no_{lvl}_mapper", False)) == on[lvl] and f"no_{lvl}_mapper" in opts:
            raise CheckpointError(
                f"{what}: opts say no_{lvl}_mapper={opts[f'no_{lvl}_mapper']} but the weights "
                f"{'have' if on[lvl] else 'lack'} that mapper"
            )
    return MapperConfig(kind="levels", latent_dim=dim, num_ws=num_ws, **on), None


def mapper_table(cfg, idx) -> list:
    """(ours, theirs, transform) for every mapper tensor (the ``mapper.*`` keys)."""
    if cfg.kind == "levels":
        groups = [(src, lvl) for src, lvl in _LEVEL_NAMES.items() if getattr(cfg, lvl)]
    elif cfg.kind == "single":
        groups = [("mapping", "single")]
    else:
        groups = [(f"mapper_{i}", f"per_layer.{j}") for j, i in enumerate(idx)]
    return [
        (f"{dst}.layers.{layer}.{p}", f"mapper.{src}.mapping.{layer + 1}.{p}", transposed if p == "weight" else None)
        for src, dst in groups
        for layer in range(cfg.n_layers)
        for p in ("weight", "bias")
    ]


def mapper_to_ours(sd: Mapping[str, np.ndarray], cfg, idx, what: str) -> dict[str, np.ndarray]:
    from flax import nnx

    # decoder.* (the generator) is converted separately
    return apply_renames(
        mapper_table(cfg, idx),
        sd,
        what,
        ignore=lambda k: not k.startswith("mapper."),
        expected=expected_shapes_of(nnx.eval_shape(lambda: LatentMapper(cfg))),
    )


def convert_mapper(
    src: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    generator_out: str | os.PathLike | None = None,
    overwrite: bool = False,
):
    """Convert a StyleCLIP mapper ``.pt``; with ``generator_out`` also its ``decoder.*`` generator."""
    src = Path(src)
    for d in (out_dir, generator_out):
        refuse_nonempty_dir(d, overwrite)
    ck = load_checkpoint(src)
    if not isinstance(ck, Mapping) or not isinstance(ck.get("state_dict"), Mapping):
        raise CheckpointError(f"{src}: expected a StyleCLIP mapper checkpoint {{'state_dict', 'opts'}}")
    sd, opts = ck["state_dict"], dict(ck.get("opts") or {})
    cfg, idx = mapper_config_from(sd, opts, str(src))
    source = {
        "format": "styleclip mapper .pt",
        "file": src.name,
        "sha256": file_sha256(src),
        "description": str(opts.get("description", "")),
    }
    model = LatentMapperModel(cfg, mapper_to_ours(sd, cfg, idx, str(src)), source)
    if out_dir is not None:
        model.save(out_dir, overwrite=overwrite)
    gen = None
    if generator_out is not None:
        gen = generator_from_checkpoint(ck, str(src))
        gen.source.update({"file": src.name, "sha256": source["sha256"]})
        gen.save(generator_out, overwrite=overwrite)
    return model, gen
