"""Convert CLIP checkpoints (OpenAI ``.pt`` / state dict, HF folder or files) into our format.

Torch-free and code-free: OpenAI's TorchScript archives are read as data by the restricted
unpickler (their ``__torch__`` objects become inert records; the ``code/`` folder is ignored).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from styleclip_jax.errors import CheckpointError
from styleclip_jax.models.clip.api import CLIPModel, clip_expected_shapes
from styleclip_jax.models.clip.model import CLIPConfig
from styleclip_jax.model_dir import check_flat_against, refuse_nonempty_dir

from convert_weights.keys import KeyTracker
from styleclip_jax.torch_pickle import TorchModuleRecord, file_sha256, load_checkpoint

OPENAI_SCALARS = ("input_resolution", "context_length", "vocab_size")


def _count(sd: Mapping[str, Any], prefix: str) -> int:
    """Number of numbered blocks under ``prefix`` (one past the highest index), so a block with a
    missing tensor is reported as a missing key, not read as a shorter model."""
    idx = [int(k[len(prefix):].split(".", 1)[0]) for k in sd
           if k.startswith(prefix) and k[len(prefix):].split(".", 1)[0].isdigit()]
    return max(idx) + 1 if idx else 0


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


# ---- OpenAI --------------------------------------------------------------------------------------
def openai_config(sd: Mapping[str, np.ndarray], what: str, vision_heads: int | None = None,
                  text_heads: int | None = None) -> CLIPConfig:
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
        return CLIPConfig(embed_dim=int(sd["text_projection"].shape[1]), image_size=patch * grid, patch_size=patch,
                          vision_width=vw, vision_layers=_count(sd, "visual.transformer.resblocks."),
                          vision_heads=vh, context_length=int(sd["positional_embedding"].shape[0]),
                          vocab_size=int(sd["token_embedding.weight"].shape[0]), text_width=tw,
                          text_layers=_count(sd, "transformer.resblocks."), text_heads=th)
    except ValueError as e:
        raise CheckpointError(f"{what}: inconsistent CLIP shapes ({e})") from None


def openai_to_ours(sd: Mapping[str, np.ndarray], cfg: CLIPConfig, what: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for k, v in sd.items():
        if k in OPENAI_SCALARS:
            continue
        v = _f32(v)
        nk = k
        if k.endswith("attn.in_proj_weight"):
            nk, v = k.replace("in_proj_weight", "in_proj.kernel"), v.T
        elif k.endswith("attn.in_proj_bias"):
            nk = k.replace("in_proj_bias", "in_proj.bias")
        elif ".attn.out_proj.weight" in k or ".mlp.c_fc.weight" in k or ".mlp.c_proj.weight" in k:
            nk, v = k[: -len("weight")] + "kernel", v.T
        elif k == "visual.conv1.weight":
            nk, v = "visual.conv1", v.transpose(2, 3, 1, 0)
        elif k == "token_embedding.weight":
            nk = "token_embedding"
        out[nk] = v
    check_flat_against(clip_expected_shapes(cfg), out, f"{what}: converted CLIP")
    return out


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
    g = lambda d, k, default=None: d.get(k, default)  # noqa: E731
    for d, name in ((t, "text"), (v, "vision")):
        if g(d, "intermediate_size", 4 * g(d, "hidden_size", 0)) != 4 * g(d, "hidden_size", 0):
            raise CheckpointError(f"{what}: {name} intermediate_size must be 4 x hidden_size (OpenAI layout)")
    act = g(t, "hidden_act", "quick_gelu")
    if act not in ("quick_gelu", "gelu") or g(v, "hidden_act", act) != act:
        raise CheckpointError(f"{what}: unsupported activation {act!r} / {g(v, 'hidden_act')!r}")
    try:
        return CLIPConfig(embed_dim=int(cfg.get("projection_dim", 512)), image_size=int(g(v, "image_size", 224)),
                          patch_size=int(g(v, "patch_size", 32)), vision_width=int(g(v, "hidden_size", 768)),
                          vision_layers=int(g(v, "num_hidden_layers", 12)), vision_heads=int(g(v, "num_attention_heads", 12)),
                          context_length=int(g(t, "max_position_embeddings", 77)), vocab_size=int(g(t, "vocab_size", 49408)),
                          text_width=int(g(t, "hidden_size", 512)), text_layers=int(g(t, "num_hidden_layers", 12)),
                          text_heads=int(g(t, "num_attention_heads", 8)), activation=act,
                          layer_norm_eps=float(g(t, "layer_norm_eps", 1e-5)))
    except ValueError as e:
        raise CheckpointError(f"{what}: inconsistent CLIP config ({e})") from None


def hf_to_ours(sd: Mapping[str, np.ndarray], cfg: CLIPConfig, what: str) -> dict[str, np.ndarray]:
    t = KeyTracker({k: v for k, v in sd.items() if not k.endswith("position_ids")}, what)
    take, out = t.take, {}

    def tower(src, dst, layers):
        for i in range(layers):
            s, d = f"{src}.encoder.layers.{i}", f"{dst}.resblocks.{i}"
            qkv_w = [take(f"{s}.self_attn.{p}_proj.weight") for p in "qkv"]
            qkv_b = [take(f"{s}.self_attn.{p}_proj.bias") for p in "qkv"]
            out[f"{d}.attn.in_proj.kernel"] = np.concatenate(qkv_w, 0).T
            out[f"{d}.attn.in_proj.bias"] = np.concatenate(qkv_b, 0)
            out[f"{d}.attn.out_proj.kernel"] = take(f"{s}.self_attn.out_proj.weight").T
            out[f"{d}.attn.out_proj.bias"] = take(f"{s}.self_attn.out_proj.bias")
            for a, b in (("layer_norm1", "ln_1"), ("layer_norm2", "ln_2")):
                out[f"{d}.{b}.weight"], out[f"{d}.{b}.bias"] = take(f"{s}.{a}.weight"), take(f"{s}.{a}.bias")
            for a, b in (("fc1", "c_fc"), ("fc2", "c_proj")):
                out[f"{d}.mlp.{b}.kernel"] = take(f"{s}.mlp.{a}.weight").T
                out[f"{d}.mlp.{b}.bias"] = take(f"{s}.mlp.{a}.bias")

    out["token_embedding"] = take("text_model.embeddings.token_embedding.weight")
    out["positional_embedding"] = take("text_model.embeddings.position_embedding.weight")
    tower("text_model", "transformer", cfg.text_layers)
    out["ln_final.weight"], out["ln_final.bias"] = take("text_model.final_layer_norm.weight"), take("text_model.final_layer_norm.bias")
    out["text_projection"] = take("text_projection.weight").T
    out["logit_scale"] = take("logit_scale").reshape(())
    out["visual.class_embedding"] = take("vision_model.embeddings.class_embedding")
    out["visual.conv1"] = take("vision_model.embeddings.patch_embedding.weight").transpose(2, 3, 1, 0)
    out["visual.positional_embedding"] = take("vision_model.embeddings.position_embedding.weight")
    for a, b in (("pre_layrnorm", "ln_pre"), ("post_layernorm", "ln_post")):
        out[f"visual.{b}.weight"], out[f"visual.{b}.bias"] = take(f"vision_model.{a}.weight"), take(f"vision_model.{a}.bias")
    tower("vision_model", "visual.transformer", cfg.vision_layers)
    out["visual.proj"] = take("visual_projection.weight").T
    t.check_unused()
    check_flat_against(clip_expected_shapes(cfg), out, f"{what}: converted CLIP")
    return out


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
def convert_clip(src: str | os.PathLike, out_dir: str | os.PathLike | None = None, overwrite: bool = False,
                 vision_heads: int | None = None, text_heads: int | None = None) -> CLIPModel:
    """Convert an HF CLIP folder (config.json + weights), or an OpenAI ``.pt`` (TorchScript or state dict)."""
    src = Path(src)
    refuse_nonempty_dir(out_dir, overwrite)      # before the (slow) conversion
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
        source = {"format": "openai " + ("torchscript" if isinstance(obj, TorchModuleRecord) else "state dict"),
                  "file": src.name, "sha256": file_sha256(src)}
    model = CLIPModel(cfg, tensors, source)
    if out_dir is not None:
        model.save(out_dir, overwrite=overwrite)
    return model
