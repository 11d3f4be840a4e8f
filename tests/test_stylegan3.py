"""StyleGAN3 (T and R) against the upstream code's outputs (golden sg3_tiny.*, README §14):
mapping, images, StyleSpace, images from codes, edits, input transforms, the clamp, the layer
geometry (tiny and full size), and the converter's refusals."""

import copy
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from styleclip_jax.errors import CheckpointError

CONFIGS = ("T", "R")


@pytest.fixture(scope="module")
def golden(golden_dir):
    return np.load(golden_dir / "sg3_tiny.npz"), json.loads((golden_dir / "sg3_tiny_meta.json").read_text())


@pytest.fixture(scope="module")
def snapshots(golden_dir):
    from styleclip_jax.io.torch_pickle import load_checkpoint

    return {c: load_checkpoint(golden_dir / f"sg3{c.lower()}_tiny.pkl") for c in CONFIGS}


@pytest.fixture(scope="module")
def gens(snapshots):
    from convert_weights.stylegan2 import generator_from_checkpoint

    return {c: generator_from_checkpoint(snapshots[c], f"sg3{c.lower()}_tiny.pkl") for c in CONFIGS}


def _nchw(img):
    return np.asarray(img).transpose(0, 3, 1, 2)


@pytest.mark.parametrize("c", CONFIGS)
def test_mapping_and_images(golden, gens, c):
    g, G = gens[c], golden[0]
    assert type(g).__name__ == "StyleGAN3" and g.config.kind == c
    for psi, cutoff, key in ((1.0, None, "psi1"), (0.7, None, "psi07"), (0.7, 8, "psi07_cutoff8")):
        np.testing.assert_allclose(np.asarray(g.mapping(G[f"{c}_z"], psi, cutoff)), G[f"{c}_ws_{key}"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(g.mapping(G[f"{c}_z_mix"])), G[f"{c}_ws_mix"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(g.w_avg, G[f"{c}_w_avg"], atol=0, rtol=0)
    for key in ("psi1", "psi07", "psi07_cutoff8", "mix"):
        img = _nchw(g.synthesis(G[f"{c}_ws_{key}"]))
        np.testing.assert_allclose(img, G[f"{c}_img_{key}"], atol=1e-4, rtol=0, err_msg=key)
    # no noise in StyleGAN3: every noise mode gives the same image
    w = G[f"{c}_ws_psi1"]
    np.testing.assert_array_equal(np.asarray(g.synthesis(w, "none")), np.asarray(g.synthesis(w)))


@pytest.mark.parametrize("c", CONFIGS)
def test_stylespace_codes_images_and_edits(golden, gens, c):
    g, G = gens[c], golden[0]
    names = [str(n) for n in G[f"{c}_s_layer_names"]]
    assert list(g.config.style_names) == names
    assert [l.width for l in g.config.style_layers] == list(G[f"{c}_s_layer_dims"])
    assert [l.w_index for l in g.config.style_layers] == list(G[f"{c}_s_layer_w_index"])
    for key in ("psi1", "psi07", "mix"):
        s = g.w_to_s(G[f"{c}_ws_{key}"])
        for i, n in enumerate(names):
            np.testing.assert_allclose(np.asarray(s[n]), G[f"{c}_s_{key}_{i:02d}"], atol=1e-5, rtol=0, err_msg=n)
    mix = {n: G[f"{c}_s_mix_{i:02d}"] for i, n in enumerate(names)}
    np.testing.assert_allclose(_nchw(g.synthesis_s(mix)), G[f"{c}_img_from_s_mix"], atol=1e-4, rtol=0)
    for e in ("edit0", "edit1"):
        edited = dict(mix, **{str(G[f"{c}_{e}_layer_name"]): G[f"{c}_{e}_s"]})
        np.testing.assert_allclose(_nchw(g.synthesis_s(edited)), G[f"{c}_img_{e}"], atol=1e-4, rtol=0, err_msg=e)
    # the stylegan3-editing convention is one normalisation away from ours
    t = np.asarray(g.w_to_s(G[f"{c}_ws_psi1"])["input"])
    np.testing.assert_allclose(t / np.linalg.norm(t[:, :2], axis=1, keepdims=True), G[f"{c}_s_psi1_input_normalized"],
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize("c", CONFIGS)
def test_input_transforms_and_clamp(golden, gens, c):
    from styleclip_jax.models.stylegan3.handle import StyleGAN3

    g, G = gens[c], golden[0]
    np.testing.assert_array_equal(g.transform, G[f"{c}_input_transform_default"])
    tx, ty, angle = G[f"{c}_transform_rot_trans_args"]
    moved = g.with_transform((tx, ty), angle)
    np.testing.assert_allclose(moved.transform, G[f"{c}_transform_rot_trans"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(_nchw(moved.synthesis(G[f"{c}_ws_psi1"])), G[f"{c}_img_psi1_transform_rot_trans"],
                               atol=1e-4, rtol=0)
    tensors = g.tensors()
    tensors["synthesis.input.transform"] = G[f"{c}_transform_zoom"]
    zoom = StyleGAN3(g.config, tensors)
    np.testing.assert_allclose(_nchw(zoom.synthesis(G[f"{c}_ws_psi1"])), G[f"{c}_img_psi1_transform_zoom"],
                               atol=1e-4, rtol=0)
    clamped = StyleGAN3(type(g.config)(**{**g.config.to_dict(), "conv_clamp": 0.5}), g.tensors())
    img = _nchw(clamped.synthesis(G[f"{c}_ws_psi1"]))
    np.testing.assert_allclose(img, G[f"{c}_img_psi1_clamp0p5"], atol=1e-4, rtol=0)
    assert np.abs(img).max() <= 0.125 + 1e-7


def _table_matches(cfg, table):
    rows = [r for r in table if r.get("name") != "input"]
    assert len(rows) == len(cfg.layers) == 15
    for geo, row in zip(cfg.layers, rows):
        for k, v in row.items():
            if not hasattr(geo, k):
                continue
            mine = getattr(geo, k)
            if isinstance(v, list):
                mine = list(mine) if isinstance(mine, tuple) else [mine] * len(v)
            if isinstance(v, float):
                assert abs(mine - v) <= 1e-9 * max(1.0, abs(v)), (geo.name, k, mine, v)
            else:
                assert mine == v, (geo.name, k, mine, v)
    inp = table[0]
    assert (cfg.input_channels, [cfg.input_size] * 2, cfg.input_sampling_rate, cfg.input_bandwidth) == \
        (inp["channels"], inp["size"], inp["sampling_rate"], inp["bandwidth"])


def test_layer_geometry_tiny_and_full_size(golden, gens):
    from styleclip_jax.models.stylegan3.config import SG3Config

    meta = golden[1]
    for c in CONFIGS:
        _table_matches(gens[c].config, meta["configs"][c]["layer_table"])
    full = meta["real_size_layer_tables"]
    (t_key,) = [k for k in full if k.startswith("stylegan3-t-1024")]
    (r_key,) = [k for k in full if k.startswith("stylegan3-r-1024")]
    _table_matches(SG3Config.t_config(1024), full[t_key])
    _table_matches(SG3Config.r_config(1024), full[r_key])
    assert SG3Config.t_config(1024).num_style_channels == 4950 and SG3Config.r_config(1024).num_style_channels == 9894


def test_folder_roundtrip_and_dispatch(tmp_path, golden_dir, golden, gens):
    from convert_weights.stylegan2 import convert_generator
    from styleclip_jax import load_generator

    convert_generator(golden_dir / "sg3r_tiny.pkl", tmp_path / "r")
    g = load_generator(tmp_path / "r")
    assert type(g).__name__ == "StyleGAN3" and g.fingerprint() != gens["T"].fingerprint()
    assert g.source["module_src_blob_sha1"].startswith("ab1a708d")
    w = golden[0]["R_ws_psi07"]
    np.testing.assert_array_equal(np.asarray(g.synthesis(w)), np.asarray(gens["R"].synthesis(w)))


def _g_ema(snap):
    snap = copy.deepcopy(snap)
    return snap, snap["G_ema"]


def _layer(g_ema, name):
    return g_ema.state["_modules"]["synthesis"].state["_modules"][name].state


@pytest.mark.parametrize("damage, match", [
    ("missing", "missing key 'synthesis.L3_36_32.bias'"),
    ("extra", r"unused keys \['synthesis.L3_36_32.extra'\]"),
    ("misshaped", "synthesis.L3_36_32.weight"),
    ("filter", "synthesis.L3_36_32.down_filter: stored filter differs"),
    ("source", "not NVIDIA's networks_stylegan3.py"),
    ("kwarg", r"unknown StyleGAN3 init_kwargs \['shiny'\]"),
    ("fixed", "margin_size=12 differs"),
    ("conditional", "conditional generators"),
])
def test_converter_refuses_damaged_snapshots(snapshots, damage, match):
    from convert_weights.stylegan2 import generator_from_checkpoint

    snap, g = _g_ema(snapshots["T"])
    layer = _layer(g, "L3_36_32")
    if damage == "missing":
        del layer["_parameters"]["bias"]
    elif damage == "extra":
        layer["_buffers"]["extra"] = np.zeros(3, np.float32)
    elif damage == "misshaped":
        layer["_parameters"]["weight"] = np.zeros((32, 32, 3, 2), np.float32)
    elif damage == "filter":
        layer["_buffers"]["down_filter"] = layer["_buffers"]["down_filter"] * 1.01
    elif damage == "source":
        g.module_src_blob_sha1 = "0" * 40
    elif damage == "kwarg":
        g.state["_init_kwargs"]["shiny"] = True
    elif damage == "fixed":
        g.state["_init_kwargs"]["margin_size"] = 12
    elif damage == "conditional":
        g.state["_init_kwargs"]["c_dim"] = 4
    with pytest.raises(CheckpointError, match=match):
        generator_from_checkpoint(snap, "sg3t_tiny.pkl")


def test_modified_source_converts_when_allowed(snapshots, golden):
    from convert_weights.stylegan2 import generator_from_checkpoint

    snap, g = _g_ema(snapshots["T"])
    g.module_src_blob_sha1 = "0" * 40
    gen = generator_from_checkpoint(snap, "fork.pkl", allow_modified_source=True)
    assert gen.source["module_src_blob_sha1"] == "0" * 40


def test_full_size_t1024_forward_and_gradient():
    """A random full-size StyleGAN3-T 1024 runs forward, and its gradient w.r.t. W+ is finite and
    reaches every row (checked against a finite difference along a random direction)."""
    from styleclip_jax.models.stylegan3.config import SG3Config
    from styleclip_jax.models.stylegan3.random_init import random_generator

    g = random_generator(SG3Config.t_config(1024), seed=0, calibrate=1)
    assert 20_000_000 < sum(int(np.prod(v.shape)) for v in g.tensors().values()) < 30_000_000
    w = jnp.asarray(g.mapping(np.random.RandomState(0).randn(1, 512).astype(np.float32), 0.7))
    graphdef, state = g.graphdef, g.state
    probe = jax.random.normal(jax.random.key(0), (1, 1024, 1024, 3))

    def loss(w):
        m = nnx.merge(graphdef, state)
        return jnp.mean(m.synthesis(m.synthesis.w_to_s(w)) * probe)

    value, grad = jax.jit(jax.value_and_grad(loss))(w)
    grad = np.asarray(grad)
    assert np.isfinite(float(value)) and grad.shape == (1, 16, 512) and np.isfinite(grad).all()
    assert (np.abs(grad).sum(axis=2) > 0).all()
    v = np.random.default_rng(1).standard_normal(w.shape).astype(np.float32)
    v /= np.linalg.norm(v)
    f = jax.jit(loss)
    eps = 1e-2
    fd = (float(f(w + eps * v)) - float(f(w - eps * v))) / (2 * eps)
    ad = float(np.sum(grad * v))
    assert abs(fd - ad) <= 0.05 * abs(ad) + 1e-6, (fd, ad)
