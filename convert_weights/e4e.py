"""Convert e4e (``e4e_ffhq_encode.pt``), pSp and ReStyle (``restyle_e4e_ffhq_encode.pt``,
``restyle_psp_ffhq_encode.pt``) checkpoints: the encoder into our format, and on
request the embedded ``decoder.*`` generator into a generator folder.

The file is ``{'state_dict': pSp.state_dict(), 'opts': dict, 'latent_avg': (N, D)}`` with storages
tagged ``cuda:0``; it is read by the code-free torch reader. ``opts['encoder_type']`` decides the
forward: ``Encoder4Editing`` (w0 + deltas) or ``GradualStyleEncoder`` (pSp, identical keys, a
different forward), so a pSp file never loads silently as e4e; ReStyle's
``ProgressiveBackboneEncoder`` / ``BackboneEncoder`` are the same two forwards with a 6-channel
input and no FPN, and a file whose type disagrees with its shapes (a ReStyle body under an e4e type,
or the reverse) is refused; other encoder types are refused by name. Training-only top-level keys
(optimizer, discriminator, global_step) are ignored. The config is inferred from the shapes (as encoder4editing's
``models/encoders/psp_encoders.py`` builds it) and checked against ``opts['stylegan_size']``; the
weights move through one rename table.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from convert_weights.idnet import irse_rows
from convert_weights.keys import apply_renames, oihw_to_hwio, transposed
from convert_weights.stylegan2 import generator_from_checkpoint
from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.model_folder import check_flat_against
from styleclip_jax.io.torch_pickle import file_sha256, load_checkpoint
from styleclip_jax.models.e4e import Encoder, EncoderConfig
from styleclip_jax.models.handle import expected_shapes_of

ENCODER_TYPES = {"Encoder4Editing": "e4e", "GradualStyleEncoder": "psp"}
RESTYLE_TYPES = {"ProgressiveBackboneEncoder": "e4e", "BackboneEncoder": "psp"}  # iterative, no FPN
BN = ("weight", "bias", "running_mean", "running_var")


def encoder_config(sd: Mapping[str, np.ndarray], opts: Mapping, what: str) -> EncoderConfig:
    etype = opts.get("encoder_type")
    types = {**ENCODER_TYPES, **RESTYLE_TYPES}
    if etype not in types:
        raise CheckpointError(f"{what}: encoder_type {etype!r} is not supported (only {sorted(types)})")
    if "input_layer.0.weight" not in sd or "styles.0.linear.weight" not in sd:
        raise CheckpointError(f"{what}: not an e4e / pSp / ReStyle encoder (no input_layer.0 / styles.0.linear)")
    restyle = etype in RESTYLE_TYPES
    input_nc, fpn = int(np.shape(sd["input_layer.0.weight"])[1]), "latlayer1.weight" in sd
    if (input_nc, fpn) != ((6, False) if restyle else (3, True)):
        body = f"{input_nc}-channel input, {'an' if fpn else 'no'} FPN"
        raise CheckpointError(
            f"{what}: encoder_type {etype} but the weights are {body} "
            f"({'e4e / pSp' if fpn else 'ReStyle'} weights under another type?)"
        )
    if restyle and int(opts.get("input_nc", 6)) != 6:
        raise CheckpointError(f"{what}: a ReStyle encoder with input_nc {opts.get('input_nc')} (only 6 is supported)")
    units, reds, i = [], [], 0
    while f"body.{i}.res_layer.1.weight" in sd:
        depth, cin = (int(v) for v in sd[f"body.{i}.res_layer.1.weight"].shape[:2])
        stride = 2 if i == 0 or f"body.{i}.shortcut_layer.0.weight" in sd else 1
        units.append((cin, depth, stride))
        hidden = int(sd[f"body.{i}.res_layer.5.fc1.weight"].shape[0])
        if hidden < 1 or depth % hidden:
            raise CheckpointError(f"{what}: body.{i} SE width {hidden} does not divide its {depth} channels")
        reds.append(depth // hidden)
        i += 1
    starts = [k for k, u in enumerate(units) if u[2] == 2]
    if len(starts) != 4:
        raise CheckpointError(f"{what}: expected 4 IR-SE stages, found {len(starts)}")
    ends = [s - 1 for s in starts[1:]] + [len(units) - 1]
    n_styles, convs = 0, []
    while f"styles.{n_styles}.linear.weight" in sd:
        k = 0
        while f"styles.{n_styles}.convs.{2 * k}.weight" in sd:
            k += 1
        convs.append(k)
        n_styles += 1
    size_key = "output_size" if restyle else "stylegan_size"
    size = opts.get(size_key)
    if size is not None and n_styles != 2 * int(math.log2(int(size))) - 2:
        raise CheckpointError(
            f"{what}: {n_styles} style blocks, but {size_key} {size} needs {2 * int(math.log2(int(size))) - 2}"
        )
    try:
        return EncoderConfig(
            units=tuple(units),
            se_reductions=tuple(reds),
            taps=tuple(ends[1:]),
            fpn_width=int(sd["latlayer1.weight"].shape[0]) if fpn else 0,
            style_dim=int(sd["styles.0.linear.weight"].shape[0]),
            style_convs=tuple(convs),
            kind=types[etype],
            # ReStyle stores the flag but always starts from latent_avg
            start_from_latent_avg=restyle or bool(opts.get("start_from_latent_avg", True)),
            input_nc=input_nc,
        )
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{what}: inconsistent encoder shapes ({e})") from None


def rename_table(cfg: EncoderConfig) -> list[tuple[str, str, object]]:
    """(ours, theirs, transform) for every encoder tensor."""
    rows = irse_rows(cfg)
    for n in (1, 2) if cfg.fpn_width else ():
        rows += [
            (f"latlayer{n}.weight", f"latlayer{n}.weight", oihw_to_hwio),
            (f"latlayer{n}.bias", f"latlayer{n}.bias", None),
        ]
    for i, n_convs in enumerate(cfg.style_convs):
        for k in range(n_convs):
            rows += [
                (f"styles.{i}.convs.{k}.weight", f"styles.{i}.convs.{2 * k}.weight", oihw_to_hwio),
                (f"styles.{i}.convs.{k}.bias", f"styles.{i}.convs.{2 * k}.bias", None),
            ]
        rows += [
            (f"styles.{i}.linear_weight", f"styles.{i}.linear.weight", transposed),
            (f"styles.{i}.linear_bias", f"styles.{i}.linear.bias", None),
        ]
    return rows


def convert_encoder(
    src: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    generator_out: str | os.PathLike | None = None,
    overwrite: bool = False,
):
    """Convert an e4e / pSp ``.pt``; returns (encoder, generator or None)."""
    src = Path(src)
    refuse_nonempty_dir(out_dir, overwrite)
    refuse_nonempty_dir(generator_out, overwrite)
    ck = load_checkpoint(src)
    what = str(src)
    if not isinstance(ck, Mapping) or not isinstance(ck.get("state_dict"), Mapping):
        raise CheckpointError(f"{what}: expected an e4e / pSp checkpoint ({{'state_dict', 'opts', 'latent_avg'}})")
    opts = ck.get("opts")
    opts = vars(opts) if hasattr(opts, "__dict__") and not isinstance(opts, Mapping) else (opts or {})
    sd = {
        k[len("encoder.") :]: v
        for k, v in ck["state_dict"].items()
        if k.startswith("encoder.") and not k.endswith("num_batches_tracked")
    }
    if not sd:
        raise CheckpointError(f"{what}: no encoder.* weights")
    cfg = encoder_config(sd, opts, what)
    tensors = apply_renames(rename_table(cfg), sd, f"{what} (encoder)")
    la = ck.get("latent_avg")
    if cfg.start_from_latent_avg:
        if la is None:
            raise CheckpointError(f"{what}: start_from_latent_avg is set but the file has no latent_avg")
        la = np.asarray(la, np.float32)
        if la.ndim == 1:
            la = np.repeat(la[None], cfg.num_styles, 0)
        if la.shape != (cfg.num_styles, cfg.style_dim):
            raise CheckpointError(
                f"{what}: latent_avg has shape {la.shape}, expected {(cfg.num_styles, cfg.style_dim)}"
            )
    tensors["latent_avg"] = la if cfg.start_from_latent_avg else np.zeros((cfg.num_styles, cfg.style_dim), np.float32)
    check_flat_against(expected_shapes_of(Encoder.abstract(cfg)), tensors, f"{what}: converted encoder")
    source = {
        "format": f"{opts.get('encoder_type')} checkpoint",
        "file": src.name,
        "sha256": file_sha256(src),
        "dataset_type": opts.get("dataset_type"),
        "stylegan_size": opts.get("stylegan_size", opts.get("output_size")),
    }
    enc = Encoder(cfg, tensors, source)
    gen = None
    if generator_out is not None:
        dec = {k[len("decoder.") :]: v for k, v in ck["state_dict"].items() if k.startswith("decoder.")}
        if not dec:
            raise CheckpointError(f"{what}: no decoder.* weights to convert into a generator")
        gen = generator_from_checkpoint(
            {"g_ema": dec, "latent_avg": None if la is None else la[0]}, f"{what} (decoder)"
        )
        if gen.config.num_ws != cfg.num_styles or gen.config.w_dim != cfg.style_dim:
            raise CheckpointError(
                f"{what}: the decoder takes W+ ({gen.config.num_ws}, {gen.config.w_dim}) but the "
                f"encoder makes ({cfg.num_styles}, {cfg.style_dim})"
            )
        gen.source.update({"file": src.name, "network": "decoder.* of an e4e checkpoint"})
    if out_dir is not None:
        enc.save(out_dir, overwrite=overwrite)
    if gen is not None:
        gen.save(generator_out, overwrite=overwrite)
    return enc, gen
