"""Convert LPIPS: a torchvision AlexNet or VGG16 state dict (``alexnet-owt-7be5be79.pth`` /
``vgg16-397923af.pth``; only ``features.*`` is read, ``classifier.*`` is ignored) plus the lpips
package's head file (``weights/v0.1/alex.pth`` / ``vgg.pth``, legacy torch format, keys
``lin{k}.model.1.weight`` of shape (1, C_k, 1, 1)). The trunk is told by its conv count, every width
is read off the shapes, and heads that do not fit the trunk's taps are refused."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from convert_weights.keys import apply_renames, oihw_to_hwio, plain_state_dict
from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.torch_pickle import file_sha256, load_checkpoint
from styleclip_jax.models.handle import expected_shapes_of
from styleclip_jax.models.lpips.config import LAYOUTS, LpipsConfig, conv_indices
from styleclip_jax.models.lpips.handle import Lpips


def lpips_config(trunk: dict, what: str) -> LpipsConfig:
    convs = sorted(int(k.split(".")[1]) for k in trunk if k.startswith("features.") and k.endswith(".weight"))
    for net in LAYOUTS:
        if tuple(convs) == conv_indices(net):
            break
    else:
        raise CheckpointError(
            f"{what}: not a torchvision AlexNet / VGG16 trunk (convs at features.{convs[:14]})"
            if convs
            else f"{what}: no features.*.weight keys (not a torchvision AlexNet / VGG16 state dict)"
        )
    kernels = {op[1]: op[2] for op in LAYOUTS[net] if op[0] == "conv"}
    for i in convs:
        shape = np.shape(trunk[f"features.{i}.weight"])
        if len(shape) != 4 or shape[2:] != (kernels[i], kernels[i]):
            raise CheckpointError(
                f"{what}: features.{i}.weight has shape {shape}, expected a {kernels[i]}×{kernels[i]} conv"
            )
    return LpipsConfig(net, tuple(int(np.shape(trunk[f"features.{i}.weight"])[0]) for i in convs))


def lpips_table(cfg: LpipsConfig) -> list:
    rows: list = []
    for k, i in enumerate(conv_indices(cfg.net)):
        rows += [
            (f"convs.{k}.weight", f"features.{i}.weight", oihw_to_hwio),
            (f"convs.{k}.bias", f"features.{i}.bias", None),
        ]
    rows += [(f"heads.{k}", f"lin{k}.model.1.weight", lambda v: v.reshape(-1)) for k in range(5)]
    return rows


def convert_lpips(
    backbone: str | os.PathLike,
    heads: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Lpips:
    backbone, heads = Path(backbone), Path(heads)
    refuse_nonempty_dir(out_dir, overwrite)
    trunk = {
        k: v for k, v in plain_state_dict(load_checkpoint(backbone), str(backbone)).items() if k.startswith("features.")
    }
    cfg = lpips_config(trunk, str(backbone))
    hd = plain_state_dict(load_checkpoint(heads), str(heads))
    if "lin0.model.0.weight" in hd:
        raise CheckpointError(f"{heads}: heads saved without dropout (lin0.model.0); upstream would keep random heads")
    missing = [f"lin{k}.model.1.weight" for k in range(5) if f"lin{k}.model.1.weight" not in hd]
    if missing:
        raise CheckpointError(f"{heads}: not an lpips head file (missing {missing[:2]})")
    for k, c in enumerate(cfg.tap_widths):
        shape = tuple(np.shape(hd[f"lin{k}.model.1.weight"]))
        if shape != (1, c, 1, 1):
            raise CheckpointError(
                f"{heads}: head lin{k} has shape {shape} but the {cfg.net} trunk's tap {k + 1} has {c} channels "
                "(heads of another trunk?)"
            )
    what = f"{backbone} + {heads}"
    tensors = apply_renames(lpips_table(cfg), {**trunk, **hd}, what, expected=expected_shapes_of(Lpips.abstract(cfg)))
    source = {
        "format": "torchvision features + lpips v0.1 heads",
        "backbone": backbone.name,
        "backbone_sha256": file_sha256(backbone),
        "heads": heads.name,
        "heads_sha256": file_sha256(heads),
    }
    net = Lpips(cfg, tensors, source)
    if out_dir is not None:
        net.save(out_dir, overwrite=overwrite)
    return net
