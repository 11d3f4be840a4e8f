"""Converters: every rosinality flavour, strict key checks, our folder format."""

import json

import numpy as np
import pytest
from conftest import nchw
from torch_format import save_legacy, save_zip

from convert_weights import convert_generator
from styleclip_jax import CheckpointError, load_generator
from styleclip_jax.io.torch_pickle import load_checkpoint


@pytest.fixture(scope="module")
def ros_sd(golden_dir):
    return dict(load_checkpoint(golden_dir / "rosinality_tiny.pt")["g_ema"])


def test_mapper_checkpoint_decoder(tmp_path, ros_sd, rosinality_tiny):
    """StyleCLIP mapper .pt: generator under decoder.*, mapper keys ignored, w_avg recomputed."""
    g_ref, d = rosinality_tiny
    sd = {f"decoder.{k}": v for k, v in ros_sd.items()}
    sd["mapper.course_mapping.mapping.1.weight"] = np.zeros((64, 64), np.float32)
    p = tmp_path / "mapper.pt"
    save_zip({"state_dict": sd, "opts": {"description": "purple hair", "no_fine_mapper": False}}, p)
    g = convert_generator(p)
    assert "decoder" in g.source["network"] and g.source["w_avg"].startswith("computed")
    np.testing.assert_allclose(nchw(g.synthesis(d["wplus"])), d["img_a"], atol=1e-4, rtol=0)
    # the recomputed average is close to the stored 4096-sample upstream average
    assert np.abs(g.w_avg - d["latent_avg"]).max() < 0.1 * np.abs(d["latent_avg"]).max() + 0.05


def test_training_checkpoint_legacy_format_uses_g_ema(tmp_path, ros_sd, rosinality_tiny):
    import argparse

    g_ref, d = rosinality_tiny
    g_train = {k: v + 1.0 for k, v in ros_sd.items()}
    p = tmp_path / "train_010000.pt"
    save_legacy(
        {
            "g": g_train,
            "d": {"convs.0.0.weight": np.ones((4, 3, 1, 1), np.float32)},
            "g_ema": ros_sd,
            "g_optim": {"state": {}},
            "args": argparse.Namespace(size=64, latent=64),
            "latent_avg": d["latent_avg"],
        },
        p,
    )
    g = convert_generator(p)
    assert g.source["network"] == "g_ema"
    np.testing.assert_allclose(nchw(g.synthesis(d["wplus"])), d["img_a"], atol=1e-4, rtol=0)


def test_only_g_is_refused(tmp_path, ros_sd):
    p = tmp_path / "g_only.pt"
    save_zip({"g": ros_sd, "d": {}}, p)
    with pytest.raises(CheckpointError, match="without 'g_ema'"):
        convert_generator(p)


def test_not_a_generator(tmp_path):
    p = tmp_path / "other.pt"
    save_zip({"model": {"fc.weight": np.zeros((2, 2), np.float32)}}, p)
    with pytest.raises(CheckpointError, match="no generator found"):
        convert_generator(p)


@pytest.mark.parametrize(
    "edit,match",
    [
        ("drop", r"missing key 'convs.3.conv.modulation.bias'"),
        ("extra", r"unused keys \['convs.3.conv.surprise'\]"),
        ("shape", r"convs.3.conv.modulation.weight \(-> synthesis.b16.conv1.affine.weight\)"),
        ("blur", r"non-separable FIR kernel"),
    ],
)
def test_bad_keys_are_named(tmp_path, ros_sd, edit, match):
    sd = dict(ros_sd)
    if edit == "drop":
        del sd["convs.3.conv.modulation.bias"]
    elif edit == "extra":
        sd["convs.3.conv.surprise"] = np.zeros(3, np.float32)
    elif edit == "shape":
        sd["convs.3.conv.modulation.weight"] = np.zeros((5, 64), np.float32)
    else:
        k = np.zeros((4, 4), np.float32)
        k[0, 3] = 1.0
        k[1, 1] = 1.0
        sd["convs.0.conv.blur.kernel"] = k
    p = tmp_path / "bad.pt"
    save_zip({"g_ema": sd, "latent_avg": np.zeros(64, np.float32)}, p)
    with pytest.raises(CheckpointError, match=match):
        convert_generator(p)


def test_ada_mis_shaped_key(tmp_path, golden_dir):
    from convert_weights.stylegan2 import generator_from_checkpoint

    snap = load_checkpoint(golden_dir / "ada_tiny.pkl")
    fc1 = snap["G_ema"].state["_modules"]["mapping"].state["_modules"]["fc1"]
    fc1.state["_parameters"]["weight"] = np.zeros((64, 65), np.float32)
    with pytest.raises(CheckpointError, match=r"mapping.fc1.weight \(-> mapping.fc1.weight\): expected \(64, 64\)"):
        generator_from_checkpoint(snap, "ada")


def test_folder_roundtrip_and_overwrite(tmp_path, golden_dir, rosinality_tiny):
    g_ref, d = rosinality_tiny
    out = tmp_path / "gen"
    g = convert_generator(golden_dir / "rosinality_tiny.pt", out)
    meta = json.loads((out / "config.json").read_text())
    assert meta["kind"] == "generator" and meta["source"]["sha256"] and meta["config"]["resolution"] == 64
    g2 = load_generator(out)
    assert g2.config == g.config
    for k, v in g.tensors().items():
        np.testing.assert_array_equal(g2.tensors()[k], v)
    np.testing.assert_allclose(nchw(g2.synthesis(d["wplus"])), d["img_a"], atol=1e-4, rtol=0)
    with pytest.raises(FileExistsError, match="overwrite"):
        convert_generator(golden_dir / "rosinality_tiny.pt", out)
    convert_generator(golden_dir / "rosinality_tiny.pt", out, overwrite=True)


def test_load_generator_errors(tmp_path, golden_dir):
    with pytest.raises(CheckpointError, match="no such file"):
        load_generator(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="is a file"):
        load_generator(golden_dir / "rosinality_tiny.pt")
    out = tmp_path / "gen"
    convert_generator(golden_dir / "rosinality_tiny.pt", out)
    (out / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_generator(out)
    cfg = json.loads((out / "config.json").read_text())
    cfg["kind"] = "clip"
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="'clip' model, not a 'generator'"):
        load_generator(out)
    (out / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_generator(out)


def test_tensors_not_matching_config(tmp_path, golden_dir):
    out = tmp_path / "gen"
    convert_generator(golden_dir / "rosinality_tiny.pt", out)
    cfg = json.loads((out / "config.json").read_text())
    cfg["config"]["channels"]["64"] = 8
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"mis-shaped keys .*synthesis.b64"):
        load_generator(out)
