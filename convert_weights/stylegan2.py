"""Convert rosinality ``.pt`` and NVIDIA stylegan2-ada ``.pkl`` generators into our format.

Both are read with the restricted unpickler (no torch, no code from the file). The config is
inferred from tensor shapes; every upstream key is either placed, checked-and-dropped (blur
kernels, which must equal the configured FIR filter), or reported as unused.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from convert_weights.keys import apply_renames, oihw_to_hwio, transposed
from convert_weights.stylegan3 import is_stylegan3, stylegan3_from_snapshot
from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.files import check_output_path, refuse_nonempty_dir
from styleclip_jax.io.torch_pickle import (
    PersistentObject,
    file_sha256,
    load_checkpoint,
    module_state_dict,
)
from styleclip_jax.io.torch_write import save_torch
from styleclip_jax.models.stylegan2.config import GeneratorConfig
from styleclip_jax.models.stylegan2.handle import StyleGAN2, expected_shapes

W_AVG_SAMPLES = 4096


def _taps_from_kernel(k2d: np.ndarray, what: str) -> tuple[float, ...]:
    """1-D taps (normalised) of a separable 2-D FIR kernel; error if it is not separable."""
    k2d = np.asarray(k2d, np.float64)
    if k2d.ndim != 2 or k2d.shape[0] != k2d.shape[1]:
        raise CheckpointError(f"{what}: FIR kernel must be square 2-D, got {k2d.shape}")
    total = k2d.sum()
    taps = k2d.sum(axis=0) / total
    if not np.allclose(np.outer(taps, taps) * total, k2d, rtol=1e-5, atol=1e-7):
        raise CheckpointError(f"{what}: non-separable FIR kernel is not supported")
    return tuple(float(t) for t in taps)


def _check_kernel(k2d: np.ndarray, taps: tuple[float, ...], key: str):
    got = _taps_from_kernel(k2d, key)
    if not np.allclose(got, np.asarray(taps) / np.sum(taps), atol=1e-6):
        raise CheckpointError(f"{key}: FIR kernel {got} differs from the generator's {taps}")


# ---- rosinality ----------------------------------------------------------------------------------
def find_rosinality_state(obj: Any, what: str) -> tuple[dict, np.ndarray | None, str]:
    """Locate the generator state dict in a rosinality / StyleCLIP checkpoint.

    Returns (state_dict, latent_avg or None, description of where it came from).
    """
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{what}: expected a dict checkpoint, got {type(obj).__name__}")
    if "g_ema" in obj:
        la = obj.get("latent_avg")
        return dict(obj["g_ema"]), (None if la is None else np.asarray(la, np.float32).reshape(-1)), "g_ema"
    if "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        dec = {k[len("decoder.") :]: v for k, v in obj["state_dict"].items() if k.startswith("decoder.")}
        if dec:
            return dec, None, "decoder.* of a StyleCLIP mapper checkpoint"
        raise CheckpointError(
            f"{what}: a state_dict checkpoint without decoder.* keys (a mapper saved "
            f"without its generator?); pass the generator .pt instead"
        )
    if "style.1.weight" in obj:
        return dict(obj), None, "plain generator state_dict"
    if "G_ema" in obj:
        raise CheckpointError(f"{what}: this is an NVIDIA stylegan2-ada snapshot, not a rosinality checkpoint")
    if "g" in obj:
        raise CheckpointError(f"{what}: training checkpoint without 'g_ema'; refusing to guess with 'g'")
    raise CheckpointError(
        f"{what}: no generator found (expected 'g_ema', 'decoder.*' or 'style.*' keys; "
        f"top-level keys are {sorted(map(str, obj))[:10]})"
    )


def rosinality_config(sd: Mapping[str, np.ndarray], what: str) -> GeneratorConfig:
    if "input.input" not in sd or "style.1.weight" not in sd:
        raise CheckpointError(f"{what}: not a rosinality StyleGAN2 generator (no input.input / style.1.weight)")
    n_mlp = 0
    while f"style.{n_mlp + 1}.weight" in sd:
        n_mlp += 1
    style_dim = int(sd["style.1.weight"].shape[1])
    mapping_dims = tuple(int(sd[f"style.{i}.weight"].shape[0]) for i in range(1, n_mlp + 1))
    channels = {4: int(sd["input.input"].shape[1])}
    n_up = 0
    while f"to_rgbs.{n_up}.conv.weight" in sd:
        res = 8 * 2**n_up
        w = sd.get(f"convs.{2 * n_up}.conv.weight")
        if w is None or w.ndim != 5:
            raise CheckpointError(f"{what}: missing or mis-shaped convs.{2 * n_up}.conv.weight")
        channels[res] = int(w.shape[1])
        n_up += 1
    kernel_key = "convs.0.conv.blur.kernel"
    blur = _taps_from_kernel(sd[kernel_key], kernel_key) if kernel_key in sd else (1.0, 3.0, 3.0, 1.0)
    try:
        return GeneratorConfig(
            resolution=4 * 2**n_up,
            z_dim=style_dim,
            w_dim=mapping_dims[-1],
            mapping_dims=mapping_dims,
            channels=tuple(sorted(channels.items())),
            blur_kernel=blur,
            conv_clamp=None,
            demod_weight_gain=True,
            source="rosinality",
        )
    except ValueError as e:
        raise CheckpointError(f"{what}: inconsistent generator shapes ({e})") from None


def _kernel_check(taps: tuple[float, ...], key: str):
    """A check-only row's transform: the stored FIR kernel must be the config's."""

    def check(k2d):
        _check_kernel(k2d, taps, key)

    return check


def rosinality_table(cfg: GeneratorConfig, keys) -> list:
    """(ours, theirs, transform) for a rosinality ``Generator.state_dict()`` (w_avg excluded);
    ``keys`` decides whether the optional FIR kernel buffers are there to check."""
    rows = [
        row
        for i in range(len(cfg.mapping_dims))
        for row in (
            (f"mapping.fc{i}.weight", f"style.{i + 1}.weight", transposed),
            (f"mapping.fc{i}.bias", f"style.{i + 1}.bias", None),
        )
    ]
    rows.append(("synthesis.b4.const", "input.input", lambda v: v[0].transpose(1, 2, 0)))
    conv = lambda v: oihw_to_hwio(v[0])  # noqa: E731  (1, O, I, kh, kw)

    def optional_kernel(key):
        return [(None, key, _kernel_check(cfg.blur_kernel, key))] if key in keys else []

    def styled(src: str, dst: str, noise: str):
        return [
            (f"{dst}.weight", f"{src}.conv.weight", conv),
            (f"{dst}.affine.weight", f"{src}.conv.modulation.weight", transposed),
            (f"{dst}.affine.bias", f"{src}.conv.modulation.bias", None),
            (f"{dst}.noise_strength", f"{src}.noise.weight", lambda v: v.reshape(())),
            (f"{dst}.bias", f"{src}.activate.bias", lambda v: v.reshape(-1)),
            (f"{dst}.noise_const", noise, lambda v: v[0, 0]),
        ] + optional_kernel(f"{src}.conv.blur.kernel")

    def torgb(src: str, dst: str):
        return [
            (f"{dst}.weight", f"{src}.conv.weight", conv),
            (f"{dst}.affine.weight", f"{src}.conv.modulation.weight", transposed),
            (f"{dst}.affine.bias", f"{src}.conv.modulation.bias", None),
            (f"{dst}.bias", f"{src}.bias", lambda v: v.reshape(-1)),
        ] + optional_kernel(f"{src}.upsample.kernel")

    rows += styled("conv1", "synthesis.b4.conv1", "noises.noise_0") + torgb("to_rgb1", "synthesis.b4.torgb")
    for k, res in enumerate(cfg.block_resolutions[1:]):
        rows += styled(f"convs.{2 * k}", f"synthesis.b{res}.conv0", f"noises.noise_{2 * k + 1}")
        rows += styled(f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1", f"noises.noise_{2 * k + 2}")
        rows += torgb(f"to_rgbs.{k}", f"synthesis.b{res}.torgb")
    return rows


def ours_to_rosinality(gen: StyleGAN2) -> dict[str, np.ndarray]:
    """The inverse of ``rosinality_to_ours``: a rosinality ``Generator.state_dict()`` (keys in its
    module order, FIR kernel buffers included) from a generator whose config is rosinality's."""
    cfg = gen.config
    if cfg.source != "rosinality":
        raise CheckpointError(
            f"only a rosinality-architecture generator can be written as a rosinality checkpoint; this one is "
            f"{cfg.source!r} (stylegan2-ada and StyleGAN3 differ in layers, not only in names)"
        )
    t = gen.tensors()
    taps = np.asarray(cfg.blur_kernel, np.float32)
    kernel = (np.outer(taps, taps) / np.outer(taps, taps).sum() * 4).astype(np.float32)  # make_kernel · factor²
    conv = lambda v: v.transpose(3, 2, 0, 1)[None]  # noqa: E731  HWIO -> (1, O, I, kh, kw)
    sd: dict[str, np.ndarray] = {}
    for i in range(len(cfg.mapping_dims)):
        sd[f"style.{i + 1}.weight"] = t[f"mapping.fc{i}.weight"].T
        sd[f"style.{i + 1}.bias"] = t[f"mapping.fc{i}.bias"]
    sd["input.input"] = t["synthesis.b4.const"].transpose(2, 0, 1)[None]

    def styled(dst: str, src: str, up: bool):
        sd[f"{dst}.conv.weight"] = conv(t[f"{src}.weight"])
        if up:
            sd[f"{dst}.conv.blur.kernel"] = kernel
        sd[f"{dst}.conv.modulation.weight"] = t[f"{src}.affine.weight"].T
        sd[f"{dst}.conv.modulation.bias"] = t[f"{src}.affine.bias"]
        sd[f"{dst}.noise.weight"] = t[f"{src}.noise_strength"].reshape(1)
        sd[f"{dst}.activate.bias"] = t[f"{src}.bias"]

    def torgb(dst: str, src: str, up: bool):
        sd[f"{dst}.bias"] = t[f"{src}.bias"].reshape(1, -1, 1, 1)
        if up:
            sd[f"{dst}.upsample.kernel"] = kernel
        sd[f"{dst}.conv.weight"] = conv(t[f"{src}.weight"])
        sd[f"{dst}.conv.modulation.weight"] = t[f"{src}.affine.weight"].T
        sd[f"{dst}.conv.modulation.bias"] = t[f"{src}.affine.bias"]

    styled("conv1", "synthesis.b4.conv1", False)
    torgb("to_rgb1", "synthesis.b4.torgb", False)
    for k, res in enumerate(cfg.block_resolutions[1:]):
        styled(f"convs.{2 * k}", f"synthesis.b{res}.conv0", True)
        styled(f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1", False)
    for k, res in enumerate(cfg.block_resolutions[1:]):
        torgb(f"to_rgbs.{k}", f"synthesis.b{res}.torgb", True)
    noises = [("synthesis.b4.conv1", 0)] + [
        (f"synthesis.b{res}.conv{j}", 2 * k + 1 + j) for k, res in enumerate(cfg.block_resolutions[1:]) for j in (0, 1)
    ]
    for src, n in noises:
        sd[f"noises.noise_{n}"] = t[f"{src}.noise_const"][None, None]
    return {k: np.ascontiguousarray(v, np.float32) for k, v in sd.items()}


def export_rosinality(gen: StyleGAN2, out, overwrite: bool = False) -> Path:
    """Write ``gen`` as a rosinality checkpoint ``{'g_ema': state_dict, 'latent_avg': w_avg}``
    (what StyleCLIP, e4e, ReStyle and PTI load) that ``torch.load(weights_only=True)`` reads and
    upstream's ``Generator(size, style_dim, n_mlp)`` loads strictly; written without torch."""
    out = check_output_path(out, overwrite, suffixes=(".pt", ".pth"))
    sd = collections.OrderedDict(ours_to_rosinality(gen))
    save_torch({"g_ema": sd, "latent_avg": np.asarray(gen.w_avg, np.float32)}, out)
    return out


def rosinality_to_ours(sd: Mapping[str, np.ndarray], cfg: GeneratorConfig, what: str) -> dict[str, np.ndarray]:
    """Rename + transpose a rosinality ``Generator.state_dict()`` into our flat layout (w_avg excluded)."""
    expected = {k: v for k, v in expected_shapes(cfg).items() if k != "w_avg"}
    return apply_renames(rosinality_table(cfg, sd), sd, what, expected=expected)


def ada_config(g: PersistentObject, sd: Mapping[str, np.ndarray], what: str) -> GeneratorConfig:
    kw = g.state.get("_init_kwargs") or {}
    if not isinstance(kw, Mapping):
        raise CheckpointError(f"{what}: G_ema has no init_kwargs")
    if int(kw.get("c_dim", 0) or 0) != 0:
        raise CheckpointError(f"{what}: conditional generators (c_dim={kw['c_dim']}) are not supported")
    mk, sk = dict(kw.get("mapping_kwargs") or {}), dict(kw.get("synthesis_kwargs") or {})
    arch = sk.get("architecture", "skip")
    if arch != "skip":
        raise CheckpointError(f"{what}: synthesis architecture {arch!r} is not supported (only 'skip')")
    res = int(kw.get("img_resolution", 0))
    n_layers = 0
    while f"mapping.fc{n_layers}.weight" in sd:
        n_layers += 1
    if n_layers == 0 or "synthesis.b4.const" not in sd:
        raise CheckpointError(f"{what}: G_ema lacks mapping.fc0 / synthesis.b4.const")
    mapping_dims = tuple(int(sd[f"mapping.fc{i}.weight"].shape[0]) for i in range(n_layers))
    channels = {4: int(sd["synthesis.b4.const"].shape[0])}
    r = 8
    while f"synthesis.b{r}.conv0.weight" in sd:
        channels[r] = int(sd[f"synthesis.b{r}.conv0.weight"].shape[0])
        r *= 2
    if any(k.startswith(f"synthesis.b{r}.") for k in sd):  # a block is there but its conv0 is not
        raise CheckpointError(f"{what}: missing key 'synthesis.b{r}.conv0.weight'")
    filt_key = "synthesis.b4.resample_filter"
    blur = _taps_from_kernel(sd[filt_key], filt_key) if filt_key in sd else (1.0, 3.0, 3.0, 1.0)
    clamp = sk.get("conv_clamp")
    try:
        cfg = GeneratorConfig(
            resolution=max(channels),
            z_dim=int(sd["mapping.fc0.weight"].shape[1]),
            w_dim=mapping_dims[-1],
            mapping_dims=mapping_dims,
            channels=tuple(sorted(channels.items())),
            mapping_lr_mul=float(mk.get("lr_multiplier", 0.01)),
            blur_kernel=blur,
            conv_clamp=None if clamp is None else float(clamp),
            demod_weight_gain=False,
            img_channels=int(kw.get("img_channels", 3)),
            source="stylegan2-ada",
        )
    except ValueError as e:
        raise CheckpointError(f"{what}: inconsistent generator shapes ({e})") from None
    if res and res != cfg.resolution:
        raise CheckpointError(f"{what}: init_kwargs say img_resolution={res} but blocks reach {cfg.resolution}")
    return cfg


def ada_table(cfg: GeneratorConfig, keys) -> list:
    """(ours, theirs, transform) for an ADA ``G_ema`` state dict: the names already match ours."""
    rows = [
        row
        for i in range(len(cfg.mapping_dims))
        for row in (
            (f"mapping.fc{i}.weight", f"mapping.fc{i}.weight", transposed),
            (f"mapping.fc{i}.bias", f"mapping.fc{i}.bias", None),
        )
    ]
    rows += [
        ("w_avg", "mapping.w_avg", None),
        ("synthesis.b4.const", "synthesis.b4.const", lambda v: v.transpose(1, 2, 0)),
    ]

    def filters(p):
        return (
            [(None, f"{p}.resample_filter", _kernel_check(cfg.blur_kernel, f"{p}.resample_filter"))]
            if f"{p}.resample_filter" in keys
            else []
        )

    for res in cfg.block_resolutions:
        blk = f"synthesis.b{res}"
        rows += filters(blk)
        for conv in ("conv1",) if res == 4 else ("conv0", "conv1"):
            p = f"{blk}.{conv}"
            rows += [
                (f"{p}.weight", f"{p}.weight", oihw_to_hwio),
                (f"{p}.affine.weight", f"{p}.affine.weight", transposed),
            ]
            rows += [
                (f"{p}.{name}", f"{p}.{name}", None)
                for name in ("bias", "noise_strength", "noise_const", "affine.bias")
            ]
            rows += filters(p)
        p = f"{blk}.torgb"
        rows += [
            (f"{p}.weight", f"{p}.weight", oihw_to_hwio),
            (f"{p}.bias", f"{p}.bias", None),
            (f"{p}.affine.weight", f"{p}.affine.weight", transposed),
            (f"{p}.affine.bias", f"{p}.affine.bias", None),
        ]
    return rows


def ada_to_ours(sd: Mapping[str, np.ndarray], cfg: GeneratorConfig, what: str) -> dict[str, np.ndarray]:
    """Transpose an ADA ``G_ema`` state dict into our layout; includes w_avg."""
    return apply_renames(ada_table(cfg, sd), sd, what, expected=expected_shapes(cfg))


# ---- entry points ----------------------------------------------------------------------------------
def generator_from_checkpoint(obj: Any, what: str = "checkpoint", allow_modified_source: bool = False) -> StyleGAN2:
    """A StyleGAN2 (or StyleGAN3) from an already-unpickled rosinality dict or NVIDIA snapshot dict;
    a StyleGAN3 ``G_ema`` is recognised by its Fourier-feature input."""
    if isinstance(obj, Mapping) and "G_ema" in obj:
        g = obj["G_ema"]
        if not isinstance(g, PersistentObject):
            raise CheckpointError(f"{what}: G_ema is not a pickled network ({type(g).__name__})")
        if is_stylegan3(g):
            return stylegan3_from_snapshot(g, what, allow_modified_source)
        sd = module_state_dict(g)
        cfg = ada_config(g, sd, what)
        tensors = ada_to_ours(sd, cfg, f"{what} (G_ema)")
        source = {
            "format": "stylegan2-ada pickle",
            "network": "G_ema",
            "w_avg": "mapping.w_avg",
            "module_src_sha256": g.module_src_sha256,
        }
    else:
        sd, latent_avg, where = find_rosinality_state(obj, what)
        cfg = rosinality_config(sd, what)
        tensors = rosinality_to_ours(sd, cfg, f"{what} ({where})")
        source = {"format": "rosinality .pt", "network": where}
        if latent_avg is not None:
            if latent_avg.shape != (cfg.w_dim,):
                raise CheckpointError(f"{what}: latent_avg has shape {latent_avg.shape}, expected ({cfg.w_dim},)")
            tensors["w_avg"] = latent_avg
            source["w_avg"] = "latent_avg"
        else:
            tensors["w_avg"] = np.zeros((cfg.w_dim,), np.float32)
    gen = StyleGAN2(cfg, tensors, source)
    if "w_avg" not in source:
        # No stored average (mapper decoders, bare state dicts): StyleCLIP's mean_latent(4096), seeded.
        tensors["w_avg"] = np.asarray(gen.mean_w(W_AVG_SAMPLES, seed=0))
        source["w_avg"] = f"computed: mean of mapping(z) over {W_AVG_SAMPLES} z ~ N(0, I), seed 0"
        gen = StyleGAN2(cfg, tensors, source)
    return gen


def convert_generator(
    src: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    allow_modified_source: bool = False,
) -> StyleGAN2:
    """Convert a rosinality ``.pt`` / StyleCLIP mapper ``.pt`` / NVIDIA StyleGAN2-ADA or StyleGAN3
    ``.pkl`` generator (which one is decided from the file).

    Writes ``out_dir`` (config.json + model.safetensors) when given, and returns the generator.
    ``allow_modified_source``: convert a StyleGAN3 snapshot whose embedded network source is not
    NVIDIA's (a fork), at the user's risk.
    """
    src = Path(src)
    refuse_nonempty_dir(out_dir, overwrite)  # before the (slow) conversion
    obj = load_checkpoint(src)
    gen = generator_from_checkpoint(obj, str(src), allow_modified_source)
    gen.source.update({"file": src.name, "sha256": file_sha256(src)})
    if out_dir is not None:
        gen.save(out_dir, overwrite=overwrite)
    return gen
