"""Convert ``model_ir_se50.pth`` (TreB1eN / pSp IR-SE50 state dict) into our format."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from convert_weights.keys import apply_renames, oihw_to_hwio, plain_state_dict, transposed
from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.torch_pickle import file_sha256, load_checkpoint
from styleclip_jax.models.idnet.handle import IDNet, idnet_expected_shapes
from styleclip_jax.models.idnet.network import IDNetConfig

BN = ("weight", "bias", "running_mean", "running_var")


def idnet_config(sd: Mapping[str, np.ndarray], what: str) -> IDNetConfig:
    if "input_layer.0.weight" not in sd or "output_layer.3.weight" not in sd:
        raise CheckpointError(f"{what}: not an IR-SE state dict (no input_layer.0 / output_layer.3)")
    units, i = [], 0
    while f"body.{i}.res_layer.1.weight" in sd:
        depth, cin = sd[f"body.{i}.res_layer.1.weight"].shape[:2]
        new_stage = i == 0 or depth != units[-1][1]
        units.append((int(cin), int(depth), 2 if new_stage else 1))
        i += 1
    if not units:
        raise CheckpointError(f"{what}: no body.* units")
    c = units[-1][1]
    red = c // int(sd[f"body.{i - 1}.res_layer.5.fc1.weight"].shape[0])
    cfg = IDNetConfig(
        units=tuple(units),
        stem_channels=int(sd["input_layer.0.weight"].shape[0]),
        embed_dim=int(sd["output_layer.3.weight"].shape[0]),
        se_reduction=red,
    )
    if sd["output_layer.3.weight"].shape[1] != c * cfg.out_grid**2:
        raise CheckpointError(
            f"{what}: output_layer.3.weight {sd['output_layer.3.weight'].shape} does not fit "
            f"{c}×{cfg.out_grid}×{cfg.out_grid} features"
        )
    return cfg


def irse_rows(cfg) -> list:
    """Rows of the IR-SE50 stem and body (shared by the ID net and the e4e / pSp encoders)."""
    rows = [
        ("stem_conv.weight", "input_layer.0.weight", oihw_to_hwio),
        ("stem_prelu.weight", "input_layer.2.weight", None),
    ]
    rows += [(f"stem_bn.{p}", f"input_layer.1.{p}", None) for p in BN]
    for i, (cin, depth, _) in enumerate(cfg.units):
        s, d = f"body.{i}", f"units.{i}"
        if cin != depth:
            rows.append((f"{d}.shortcut_conv.weight", f"{s}.shortcut_layer.0.weight", oihw_to_hwio))
            rows += [(f"{d}.shortcut_bn.{p}", f"{s}.shortcut_layer.1.{p}", None) for p in BN]
        rows += [(f"{d}.res_bn1.{p}", f"{s}.res_layer.0.{p}", None) for p in BN]
        rows += [
            (f"{d}.res_conv1.weight", f"{s}.res_layer.1.weight", oihw_to_hwio),
            (f"{d}.res_prelu.weight", f"{s}.res_layer.2.weight", None),
            (f"{d}.res_conv2.weight", f"{s}.res_layer.3.weight", oihw_to_hwio),
            (f"{d}.res_se.fc1.weight", f"{s}.res_layer.5.fc1.weight", oihw_to_hwio),
            (f"{d}.res_se.fc2.weight", f"{s}.res_layer.5.fc2.weight", oihw_to_hwio),
        ]
        rows += [(f"{d}.res_bn2.{p}", f"{s}.res_layer.4.{p}", None) for p in BN]
    return rows


def idnet_table(cfg: IDNetConfig) -> list:
    """(ours, theirs, transform) for every ID-net tensor."""
    return (
        irse_rows(cfg)
        + [(f"head_bn2d.{p}", f"output_layer.0.{p}", None) for p in BN]
        + [
            ("head_linear_kernel", "output_layer.3.weight", transposed),
            ("head_linear_bias", "output_layer.3.bias", None),
            *[(f"head_bn1d.{p}", f"output_layer.4.{p}", None) for p in BN],
        ]
    )


def idnet_to_ours(sd: Mapping[str, np.ndarray], cfg: IDNetConfig, what: str) -> dict[str, np.ndarray]:
    return apply_renames(
        idnet_table(cfg),
        sd,
        what,
        expected=idnet_expected_shapes(cfg),
        ignore=lambda k: k.endswith("num_batches_tracked"),
    )


def convert_idnet(src: str | os.PathLike, out_dir: str | os.PathLike | None = None, overwrite: bool = False) -> IDNet:
    src = Path(src)
    refuse_nonempty_dir(out_dir, overwrite)  # before the (slow) conversion
    sd = plain_state_dict(load_checkpoint(src), str(src))
    cfg = idnet_config(sd, str(src))
    net = IDNet(
        cfg,
        idnet_to_ours(sd, cfg, str(src)),
        {"format": "ir_se50 state dict", "file": src.name, "sha256": file_sha256(src)},
    )
    if out_dir is not None:
        net.save(out_dir, overwrite=overwrite)
    return net
