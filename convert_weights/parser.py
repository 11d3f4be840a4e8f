"""Convert face-parsing.PyTorch's BiSeNet (``79999_iter.pth``: a state dict, legacy or zip
format, no ``module.`` prefix) into our format. The config is read off the shapes; our module
names are upstream's but for the ResNet shortcut (``downsample.0/1`` -> ``downsample_conv/bn``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from convert_weights.keys import apply_renames, oihw_to_hwio, plain_state_dict
from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.torch_pickle import file_sha256, load_checkpoint
from styleclip_jax.models.parser.config import ParserConfig
from styleclip_jax.models.parser.handle import FaceParser, parser_expected_shapes

# the one difference between our names and upstream's keys
RENAMES = (("downsample_conv.", "downsample.0."), ("downsample_bn.", "downsample.1."))


def parser_config(sd: Mapping[str, np.ndarray], what: str) -> ParserConfig:
    """Widths from the tensors that carry them (golden README §15, 'infer_from_keys')."""
    need = ["cp.resnet.conv1.weight", "cp.arm16.conv.conv.weight", "ffm.convblk.conv.weight", "ffm.conv1.weight"]
    need += [f"cp.resnet.layer{i}.0.conv2.weight" for i in range(1, 5)]
    need += [f"{h}.conv.conv.weight" for h in ("conv_out", "conv_out16", "conv_out32")] + ["conv_out.conv_out.weight"]
    missing = [k for k in need if k not in sd]
    if missing:
        raise CheckpointError(f"{what}: not a face-parsing BiSeNet state dict (missing {missing[:3]})")

    def out(k: str) -> int:
        return int(np.shape(sd[k])[0])

    return ParserConfig(
        resnet=(out("cp.resnet.conv1.weight"), *(out(f"cp.resnet.layer{i}.0.conv2.weight") for i in range(1, 5))),
        context=out("cp.arm16.conv.conv.weight"),
        ffm=out("ffm.convblk.conv.weight"),
        ffm_hidden=out("ffm.conv1.weight"),
        heads=tuple(out(f"{h}.conv.conv.weight") for h in ("conv_out", "conv_out16", "conv_out32")),
        n_classes=out("conv_out.conv_out.weight"),
    )


def _theirs(ours: str) -> str:
    for a, b in RENAMES:
        ours = ours.replace(a, b)
    return ours


def parser_table(cfg: ParserConfig) -> list:
    """(ours, theirs, transform) for every tensor: conv weights OIHW -> HWIO, the rest as they are."""
    return [
        (k, _theirs(k), oihw_to_hwio if len(shape) == 4 else None)
        for k, shape in sorted(parser_expected_shapes(cfg).items())
    ]


def parser_to_ours(sd: Mapping[str, np.ndarray], cfg: ParserConfig, what: str) -> dict[str, np.ndarray]:
    return apply_renames(
        parser_table(cfg),
        sd,
        what,
        expected=parser_expected_shapes(cfg),
        ignore=lambda k: k.endswith("num_batches_tracked"),
    )


def convert_parser(
    src: str | os.PathLike, out_dir: str | os.PathLike | None = None, overwrite: bool = False
) -> FaceParser:
    src = Path(src)
    refuse_nonempty_dir(out_dir, overwrite)  # before the conversion
    sd = plain_state_dict(load_checkpoint(src), str(src))
    cfg = parser_config(sd, str(src))
    net = FaceParser(
        cfg,
        parser_to_ours(sd, cfg, str(src)),
        {"format": "face-parsing.PyTorch state dict", "file": src.name, "sha256": file_sha256(src)},
    )
    if out_dir is not None:
        net.save(out_dir, overwrite=overwrite)
    return net
