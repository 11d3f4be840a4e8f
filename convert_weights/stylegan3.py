"""NVIDIA StyleGAN3 snapshots (``G_ema`` of a ``.pkl``, T or R) -> our StyleGAN3 folder.

Read as data by the restricted unpickler; the embedded ``module_src`` is never run, only
identified by its git blob id. The config comes from ``init_kwargs`` (defaults applied where a key
is missing, as upstream does; unknown keys and non-default hard-coded hyper-parameters refused)
and is checked against the shapes. The stored filters must equal the ones the config designs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convert_weights.keys import apply_renames, oihw_to_hwio, transposed
from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.torch_pickle import PersistentObject, module_state_dict
from styleclip_jax.models.stylegan3 import config as sg3
from styleclip_jax.models.stylegan3.config import SG3Config
from styleclip_jax.models.stylegan3.filters import layer_filters
from styleclip_jax.models.stylegan3.handle import StyleGAN3, expected_shapes

# git blob id of NVlabs/stylegan3's training/networks_stylegan3.py (every release snapshot embeds it)
UPSTREAM_SOURCE_BLOB = "ab1a708da3bcc020edf4553ede177149f8fa8698"
KNOWN_KWARGS = {
    "z_dim",
    "w_dim",
    "mapping_kwargs",
    "channel_base",
    "channel_max",
    "magnitude_ema_beta",
    "c_dim",
    "img_resolution",
    "img_channels",
    "conv_kernel",
    "use_radial_filters",
    "num_fp16_res",
    "conv_clamp",
}
# hyper-parameters our port hard-codes: a snapshot may name them only at upstream's values
FIXED_KWARGS = {
    "num_layers": sg3.NUM_LAYERS,
    "num_critical": sg3.NUM_CRITICAL,
    "first_cutoff": sg3.FIRST_CUTOFF,
    "first_stopband": sg3.FIRST_STOPBAND,
    "last_stopband_rel": sg3.LAST_STOPBAND_REL,
    "margin_size": sg3.MARGIN_SIZE,
    "output_scale": sg3.OUTPUT_SCALE,
    "filter_size": sg3.FILTER_SIZE,
    "lrelu_upsampling": sg3.LRELU_UPSAMPLING,
}


def is_stylegan3(g: Any) -> bool:
    """A pickled ``G_ema`` with the Fourier-feature input (StyleGAN3) rather than StyleGAN2's const."""
    synthesis = (g.state.get("_modules") or {}).get("synthesis") if isinstance(g, PersistentObject) else None
    return isinstance(synthesis, PersistentObject) and "input" in (synthesis.state.get("_modules") or {})


def sg3_config(g: PersistentObject, what: str, allow_modified_source: bool = False) -> SG3Config:
    if g.module_src_blob_sha1 != UPSTREAM_SOURCE_BLOB and not allow_modified_source:
        raise CheckpointError(
            f"{what}: G_ema's embedded source is not NVIDIA's networks_stylegan3.py (blob "
            f"{g.module_src_blob_sha1[:12]}…, expected {UPSTREAM_SOURCE_BLOB[:12]}…); a modified "
            "fork may compute something else. Pass `allow_modified_source=True` to convert anyway"
        )
    kw = dict(g.state.get("_init_kwargs") or {})
    unknown = sorted(set(kw) - KNOWN_KWARGS - set(FIXED_KWARGS))
    if unknown:
        raise CheckpointError(f"{what}: unknown StyleGAN3 init_kwargs {unknown}")
    for k, v in FIXED_KWARGS.items():
        if k in kw and not np.isclose(float(kw[k]), float(v), rtol=1e-12, atol=0):
            raise CheckpointError(
                f"{what}: init_kwargs {k}={kw[k]} differs from upstream's {v}, which this port hard-codes"
            )
    if int(kw.get("c_dim", 0) or 0) != 0:
        raise CheckpointError(f"{what}: conditional generators (c_dim={kw['c_dim']}) are not supported")
    mk = dict(kw.get("mapping_kwargs") or {})
    unknown = sorted(set(mk) - {"num_layers", "lr_multiplier", "w_avg_beta"})
    if unknown:
        raise CheckpointError(f"{what}: unknown mapping_kwargs {unknown}")
    clamp = kw.get("conv_clamp", 256)
    try:
        return SG3Config(
            resolution=int(kw["img_resolution"]),
            z_dim=int(kw["z_dim"]),
            w_dim=int(kw["w_dim"]),
            mapping_layers=int(mk.get("num_layers", 2)),
            channel_base=int(kw.get("channel_base", 32768)),
            channel_max=int(kw.get("channel_max", 512)),
            conv_kernel=int(kw.get("conv_kernel", 3)),
            use_radial_filters=bool(kw.get("use_radial_filters", False)),
            conv_clamp=None if clamp is None else float(clamp),
            num_fp16_res=int(kw.get("num_fp16_res", 4)),
            img_channels=int(kw.get("img_channels", 3)),
            mapping_lr_mul=float(mk.get("lr_multiplier", 0.01)),
            source="stylegan3",
        )
    except KeyError as e:
        raise CheckpointError(f"{what}: init_kwargs lack {e}") from None
    except ValueError as e:
        raise CheckpointError(f"{what}: bad StyleGAN3 init_kwargs ({e})") from None


def _filter_check(designed: np.ndarray, key: str):
    def check(stored):
        if stored.shape != designed.shape or float(np.abs(stored - designed).max()) > 1e-6:
            raise CheckpointError(
                f"{key}: stored filter differs from the one its config designs (a modified architecture?)"
            )

    return check


def sg3_table(cfg: SG3Config) -> list:
    """(ours, theirs, transform) for every tensor of a StyleGAN3 ``G_ema`` (filters only checked)."""
    rows = [
        row
        for i in range(cfg.mapping_layers)
        for row in (
            (f"mapping.fc{i}.weight", f"mapping.fc{i}.weight", transposed),
            (f"mapping.fc{i}.bias", f"mapping.fc{i}.bias", None),
        )
    ]
    rows.append(("w_avg", "mapping.w_avg", None))
    p = "synthesis.input"
    rows += [(f"{p}.{n}", f"{p}.{n}", None) for n in ("weight", "transform", "freqs", "phases", "affine.bias")]
    rows.append((f"{p}.affine.weight", f"{p}.affine.weight", transposed))
    for g in cfg.layers:
        p = f"synthesis.{g.name}"
        rows += [
            (f"{p}.weight", f"{p}.weight", oihw_to_hwio),
            (f"{p}.bias", f"{p}.bias", None),
            (f"{p}.magnitude_ema", f"{p}.magnitude_ema", None),
            (f"{p}.affine.weight", f"{p}.affine.weight", transposed),
            (f"{p}.affine.bias", f"{p}.affine.bias", None),
        ]
        for name, f in zip(("up_filter", "down_filter"), layer_filters(g)):
            if f is not None:
                rows.append((None, f"{p}.{name}", _filter_check(f, f"{p}.{name}")))
    return rows


def stylegan3_from_snapshot(g: PersistentObject, what: str, allow_modified_source: bool = False) -> StyleGAN3:
    """Our StyleGAN3 handle from an unpickled ``G_ema`` record."""
    cfg = sg3_config(g, what, allow_modified_source)
    sd = module_state_dict(g)
    tensors = apply_renames(sg3_table(cfg), sd, f"{what} (G_ema)", expected=expected_shapes(cfg))
    source = {
        "format": "stylegan3 pickle",
        "network": "G_ema",
        "w_avg": "mapping.w_avg",
        "config": cfg.kind,
        "module_src_blob_sha1": g.module_src_blob_sha1,
    }
    return StyleGAN3(cfg, tensors, source)
