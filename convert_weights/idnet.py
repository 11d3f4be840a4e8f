"""Convert ``model_ir_se50.pth`` (TreB1eN / pSp IR-SE50 state dict) into our format."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np

from styleclip_jax.errors import CheckpointError
from styleclip_jax.model_dir import check_flat_against, refuse_nonempty_dir
from styleclip_jax.models.idnet.api import IDNet, idnet_expected_shapes
from styleclip_jax.models.idnet.model import IDNetConfig

from convert_weights.keys import KeyTracker
from styleclip_jax.torch_pickle import file_sha256, load_checkpoint

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
    cfg = IDNetConfig(units=tuple(units), stem_channels=int(sd["input_layer.0.weight"].shape[0]),
                      embed_dim=int(sd["output_layer.3.weight"].shape[0]), se_reduction=red)
    if sd["output_layer.3.weight"].shape[1] != c * cfg.out_grid ** 2:
        raise CheckpointError(f"{what}: output_layer.3.weight {sd['output_layer.3.weight'].shape} does not fit "
                              f"{c}×{cfg.out_grid}×{cfg.out_grid} features")
    return cfg


def idnet_to_ours(sd: Mapping[str, np.ndarray], cfg: IDNetConfig, what: str) -> dict[str, np.ndarray]:
    t = KeyTracker({k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}, what)
    take, out = t.take, {}

    conv = lambda k: take(k).transpose(2, 3, 1, 0)  # noqa: E731  OIHW -> HWIO

    def bn(src, dst):
        for p in BN:
            out[f"{dst}.{p}"] = take(f"{src}.{p}")

    out["stem_conv.weight"] = conv("input_layer.0.weight")
    bn("input_layer.1", "stem_bn")
    out["stem_prelu.weight"] = take("input_layer.2.weight")
    for i, (cin, depth, _) in enumerate(cfg.units):
        s, d = f"body.{i}", f"units.{i}"
        if cin != depth:
            out[f"{d}.shortcut_conv.weight"] = conv(f"{s}.shortcut_layer.0.weight")
            bn(f"{s}.shortcut_layer.1", f"{d}.shortcut_bn")
        bn(f"{s}.res_layer.0", f"{d}.res_bn1")
        out[f"{d}.res_conv1.weight"] = conv(f"{s}.res_layer.1.weight")
        out[f"{d}.res_prelu.weight"] = take(f"{s}.res_layer.2.weight")
        out[f"{d}.res_conv2.weight"] = conv(f"{s}.res_layer.3.weight")
        bn(f"{s}.res_layer.4", f"{d}.res_bn2")
        out[f"{d}.res_se.fc1.weight"] = conv(f"{s}.res_layer.5.fc1.weight")
        out[f"{d}.res_se.fc2.weight"] = conv(f"{s}.res_layer.5.fc2.weight")
    bn("output_layer.0", "head_bn2d")
    out["head_linear_kernel"] = take("output_layer.3.weight").T
    out["head_linear_bias"] = take("output_layer.3.bias")
    bn("output_layer.4", "head_bn1d")
    t.check_unused()
    check_flat_against(idnet_expected_shapes(cfg), out, f"{what}: converted ID net")
    return out


def convert_idnet(src: str | os.PathLike, out_dir: str | os.PathLike | None = None, overwrite: bool = False) -> IDNet:
    src = Path(src)
    refuse_nonempty_dir(out_dir, overwrite)      # before the (slow) conversion
    obj = load_checkpoint(src)
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{src}: expected an IR-SE50 state dict, got {type(obj).__name__}")
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}
    cfg = idnet_config(sd, str(src))
    net = IDNet(cfg, idnet_to_ours(sd, cfg, str(src)),
                {"format": "ir_se50 state dict", "file": src.name, "sha256": file_sha256(src)})
    if out_dir is not None:
        net.save(out_dir, overwrite=overwrite)
    return net
