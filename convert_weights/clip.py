"""Convert CLIP checkpoints (OpenAI ``.pt`` / state dict, HF folder or files) into our format.

Torch-free and code-free: OpenAI's TorchScript archives are read as data by the restricted
unpickler (their ``__torch__`` objects become inert records; the ``code/`` folder is ignored).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from convert_weights.keys import apply_renames, oihw_to_hwio, transposed
from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.torch_pickle import (
    TorchModuleRecord,
    file_sha256,
    load_checkpoint,
)
from styleclip_jax.models.clip.handle import CLIPModel, clip_expected_shapes
from styleclip_jax.models.clip.network import CLIPConfig

OPENAI_SCALARS = ("input_resolution", "context_length", "vocab_size")


def _count(sd: Mapping[str, Any], prefix: str) -> int:
    """Number of numbered blocks under ``prefix`` (one past the highest index), so a block with a
    missing tensor is reported as a missing key, not read as a shorter model."""
    idx = [
        int(k[len(prefix) :].split(".", 1)[0])
        for k in sd
        if k.startswith(prefix) and k[len(prefix) :].split(".", 1)[0].isdigit()
    ]
    return max(idx) + 1 if idx else 0


# ---- OpenAI --------------------------------------------------------------------------------------
def openai_config(
    sd: Mapping[str, np.ndarray], what: str, vision_heads: int | None = None, text_heads: int | None = None
) -> CLIPConfig:
    if "visual.layer1.0.conv1.weight" in sd or "visual.attnpool.positional_embedding" in sd:
        raise CheckpointError(f"{what}: ResNet CLIP models are not supported (ViT family only)")
    need = ("visual.conv1.weight", "visual.positional_embedding", "token_embedding.weight", "text_projection")
    missing = [k for k in need if k not in sd]
    if missing:
        raise CheckpointError(f"{what}: not an OpenAI CLIP state dict (missing {missing})")
    vw = int(sd["visual.conv1.weight"].shape[0])
    patch = int(sd["visual.conv1.weight"].shape[-1])
    grid = round((sd["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    tw = int(sd["ln_final.weight"].shape[0])
    vh, th = vision_heads or vw // 64, text_heads or tw // 64
    if vh < 1 or th < 1:
        raise CheckpointError(f"{what}: widths {vw}/{tw} < 64; pass the head counts explicitly")
    try:
        return CLIPConfig(
            embed_dim=int(sd["text_projection"].shape[1]),
            image_size=patch * grid,
            patch_size=patch,
            vision_width=vw,
            vision_layers=_count(sd, "visual.transformer.resblocks."),
            vision_heads=vh,
            context_length=int(sd["positional_embedding"].shape[0]),
            vocab_size=int(sd["token_embedding.weight"].shape[0]),
            text_width=tw,
            text_layers=_count(sd, "transformer.resblocks."),
            text_heads=th,
        )
    except ValueError as e:
        raise CheckpointError(f"{what}: inconsistent CLIP shapes ({e})") from None


def _openai_row(k: str):
    """OpenAI's names are ours but for the attention / MLP kernels (transposed) and two embeddings."""
    if k.endswith("attn.in_proj_weight"):
        return k.replace("in_proj_weight", "in_proj.kernel"), k, transposed
    if k.endswith("attn.in_proj_bias"):
        return k.replace("in_proj_bias", "in_proj.bias"), k, None
    if ".attn.out_proj.weight" in k or ".mlp.c_fc.weight" in k or ".mlp.c_proj.weight" in k:
        return k[: -len("weight")] + "kernel", k, transposed
    if k == "visual.conv1.weight":
        return "visual.conv1", k, oihw_to_hwio
    if k == "token_embedding.weight":
        return "token_embedding", k, None
    return k, k, None


def openai_table(keys) -> list:
    """(ours, theirs, transform) for an OpenAI CLIP state dict's tensors."""
    return [_openai_row(k) for k in keys if k not in OPENAI_SCALARS]


def openai_to_ours(sd: Mapping[str, np.ndarray], cfg: CLIPConfig, what: str) -> dict[str, np.ndarray]:
    return apply_renames(
        openai_table(sd), sd, what, expected=clip_expected_shapes(cfg), ignore=lambda k: k in OPENAI_SCALARS
    )


def _torchscript_state_dict(rec: TorchModuleRecord) -> dict[str, np.ndarray]:
    """Walk a TorchScript module record (attributes: tensors and submodules) into a state dict."""
    out: dict[str, np.ndarray] = {}

    def walk(obj, prefix):
        for name, v in vars(obj).items():
            if isinstance(v, np.ndarray) and v.dtype.kind == "f":
                out[prefix + name] = v
            elif isinstance(v, TorchModuleRecord):
                walk(v, f"{prefix}{name}.")

    walk(rec, "")
    return out


def openai_state_dict(obj: Any, what: str) -> dict[str, np.ndarray]:
    if isinstance(obj, TorchModuleRecord):
        return _torchscript_state_dict(obj)
    if isinstance(obj, Mapping):
        if "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
            obj = obj["state_dict"]
        return {k: v for k, v in obj.items() if isinstance(v, np.ndarray)}
    raise CheckpointError(f"{what}: expected a CLIP state dict or TorchScript archive, got {type(obj).__name__}")


# ---- Hugging Face ----------------------------------------------------------------------------------
def hf_config(cfg: Mapping[str, Any], what: str) -> CLIPConfig:
    t, v = cfg.get("text_config") or {}, cfg.get("vision_config") or {}
    if not t or not v:
        raise CheckpointError(f"{what}: config.json lacks text_config / vision_config (not a CLIPModel config)")

    def g(d, k, default=None):
        return d.get(k, default)

    for d, name in ((t, "text"), (v, "vision")):
        if g(d, "intermediate_size", 4 * g(d, "hidden_size", 0)) != 4 * g(d, "hidden_size", 0):
            raise CheckpointError(f"{what}: {name} intermediate_size must be 4 x hidden_size (OpenAI layout)")
    act = g(t, "hidden_act", "quick_gelu")
    if act not in ("quick_gelu", "gelu") or g(v, "hidden_act", act) != act:
        raise CheckpointError(f"{what}: unsupported activation {act!r} / {g(v, 'hidden_act')!r}")
    try:
        return CLIPConfig(
            embed_dim=int(cfg.get("projection_dim", 512)),
            image_size=int(g(v, "image_size", 224)),
            patch_size=int(g(v, "patch_size", 32)),
            vision_width=int(g(v, "hidden_size", 768)),
            vision_layers=int(g(v, "num_hidden_layers", 12)),
            vision_heads=int(g(v, "num_attention_heads", 12)),
            context_length=int(g(t, "max_position_embeddings", 77)),
            vocab_size=int(g(t, "vocab_size", 49408)),
            text_width=int(g(t, "hidden_size", 512)),
            text_layers=int(g(t, "num_hidden_layers", 12)),
            text_heads=int(g(t, "num_attention_heads", 8)),
            activation=act,
            layer_norm_eps=float(g(t, "layer_norm_eps", 1e-5)),
        )
    except ValueError as e:
        raise CheckpointError(f"{what}: inconsistent CLIP config ({e})") from None


def _hf_tower_rows(src: str, dst: str, layers: int) -> list:
    rows = []
    for i in range(layers):
        s, d = f"{src}.encoder.layers.{i}", f"{dst}.resblocks.{i}"
        rows += [
            (
                f"{d}.attn.in_proj.kernel",
                tuple(f"{s}.self_attn.{p}_proj.weight" for p in "qkv"),
                lambda qkv: np.concatenate(qkv, 0).T,
            ),
            (f"{d}.attn.in_proj.bias", tuple(f"{s}.self_attn.{p}_proj.bias" for p in "qkv"), np.concatenate),
            (f"{d}.attn.out_proj.kernel", f"{s}.self_attn.out_proj.weight", transposed),
            (f"{d}.attn.out_proj.bias", f"{s}.self_attn.out_proj.bias", None),
        ]
        rows += [
            (f"{d}.{b}.{p}", f"{s}.{a}.{p}", None)
            for a, b in (("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"))
            for p in ("weight", "bias")
        ]
        for a, b in (("fc1", "c_fc"), ("fc2", "c_proj")):
            rows += [
                (f"{d}.mlp.{b}.kernel", f"{s}.mlp.{a}.weight", transposed),
                (f"{d}.mlp.{b}.bias", f"{s}.mlp.{a}.bias", None),
            ]
    return rows


def hf_table(cfg: CLIPConfig) -> list:
    """(ours, theirs, transform) for every tensor of a Hugging Face ``CLIPModel``."""
    emb = "vision_model.embeddings"
    return [
        ("token_embedding", "text_model.embeddings.token_embedding.weight", None),
        ("positional_embedding", "text_model.embeddings.position_embedding.weight", None),
        *_hf_tower_rows("text_model", "transformer", cfg.text_layers),
        ("ln_final.weight", "text_model.final_layer_norm.weight", None),
        ("ln_final.bias", "text_model.final_layer_norm.bias", None),
        ("text_projection", "text_projection.weight", transposed),
        ("logit_scale", "logit_scale", lambda v: v.reshape(())),
        ("visual.class_embedding", f"{emb}.class_embedding", None),
        ("visual.conv1", f"{emb}.patch_embedding.weight", oihw_to_hwio),
        ("visual.positional_embedding", f"{emb}.position_embedding.weight", None),
        *[
            (f"visual.{b}.{p}", f"vision_model.{a}.{p}", None)
            for a, b in (("pre_layrnorm", "ln_pre"), ("post_layernorm", "ln_post"))
            for p in ("weight", "bias")
        ],
        *_hf_tower_rows("vision_model", "visual.transformer", cfg.vision_layers),
        ("visual.proj", "visual_projection.weight", transposed),
    ]


def hf_to_ours(sd: Mapping[str, np.ndarray], cfg: CLIPConfig, what: str) -> dict[str, np.ndarray]:
    return apply_renames(
        hf_table(cfg), sd, what, expected=clip_expected_shapes(cfg), ignore=lambda k: k.endswith("position_ids")
    )


def _read_hf_weights(folder: Path) -> dict[str, np.ndarray]:
    st = folder / "model.safetensors"
    if st.exists():
        try:
            from safetensors import safe_open

            with safe_open(str(st), framework="flax") as f:
                return {k: np.asarray(f.get_tensor(k), dtype=np.float32) for k in f.keys()}
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f"{st}: corrupt or unreadable safetensors file ({e})") from None
    binf = folder / "pytorch_model.bin"
    if binf.exists():
        obj = load_checkpoint(binf)
        return {k: v for k, v in obj.items() if isinstance(v, np.ndarray)}
    raise CheckpointError(f"{folder}: no model.safetensors or pytorch_model.bin")


# ---- entry point -----------------------------------------------------------------------------------
def convert_clip(
    src: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    vision_heads: int | None = None,
    text_heads: int | None = None,
) -> CLIPModel:
    """Convert an HF CLIP folder (config.json + weights), or an OpenAI ``.pt`` (TorchScript or state dict)."""
    src = Path(src)
    refuse_nonempty_dir(out_dir, overwrite)  # before the (slow) conversion
    if src.is_dir():
        cfg_path = src / "config.json"
        if not cfg_path.exists():
            raise CheckpointError(f"{src}: folder without config.json (expected a Hugging Face CLIP folder)")
        try:
            hf = json.loads(cfg_path.read_text())
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{cfg_path}: not valid JSON ({e})") from None
        cfg = hf_config(hf, str(src))
        tensors = hf_to_ours(_read_hf_weights(src), cfg, str(src))
        source = {"format": "huggingface CLIPModel", "file": src.name}
    else:
        obj = load_checkpoint(src)
        sd = openai_state_dict(obj, str(src))
        cfg = openai_config(sd, str(src), vision_heads, text_heads)
        tensors = openai_to_ours(sd, cfg, str(src))
        source = {
            "format": "openai " + ("torchscript" if isinstance(obj, TorchModuleRecord) else "state dict"),
            "file": src.name,
            "sha256": file_sha256(src),
        }
    model = CLIPModel(cfg, tensors, source)
    if out_dir is not None:
        model.save(out_dir, overwrite=overwrite)
    return model
