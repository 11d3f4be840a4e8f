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
        np.testing.assert_allclose(
            np.asarray(g.mapping(G[f"{c}_z"], psi, cutoff)), G[f"{c}_ws_{key}"], atol=1e-5, rtol=0
        )
    np.testing.assert_allclose(np.asarray(g.mapping(G[f"{c}_z_mix"])), G[f"{c}_ws_mix"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(g.w_avg, G[f"{c}_w_avg"], atol=0, rtol=0)
    for key in ("psi1", "psi07", "psi07_cutoff8", "mix"):
        img = _nchw(g.synthesis(G[f"{c}_ws_{key}"]))
        np.testing.assert_allclose(img, G[f"{c}_img_{key}"], atol=1e-4, rtol=0, err_msg=key)
    # no noise in StyleGAN3: every noise mode gives the same image
    w = G[f"{c}_ws_psi1"]
    np.testing.assert_array_equal(np.asarray(g.synthesis(w, "none")), np.asarray(g.synthesis(w)))


@pytest.mark.parametrize("c", CONFIGS)
def test_a_batch_in_chunks_is_the_batch_at_once(golden, gens, c, monkeypatch):
    """Above ``items_per_pass`` images a batch runs in chunks (lax.map): the same images as the
    golden batch, chunk by chunk and for the remainder."""
    from styleclip_jax.models.stylegan3 import network

    g, G = gens[c], golden[0]
    w = np.concatenate([G[f"{c}_ws_psi1"], G[f"{c}_ws_psi07"], G[f"{c}_ws_mix"]])
    want = np.concatenate([G[f"{c}_img_{k}"] for k in ("psi1", "psi07", "mix")])
    assert len(w) > 2 and len(w) % 2  # chunks of 2 and a remainder
    monkeypatch.setattr(network, "items_per_pass", lambda resolution: 2)
    jax.clear_caches()
    np.testing.assert_allclose(_nchw(g.synthesis(w)), want, atol=1e-4, rtol=0)
    assert network.items_per_pass.__name__ == "<lambda>"  # the chunked path was the one run
    monkeypatch.undo()
    jax.clear_caches()
    assert network.items_per_pass(1024) == 2 and network.items_per_pass(256) == 32


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
    # stylegan3-editing's convention: normalised input, toRGB after its gain; same images
    from styleclip_jax.models.stylegan3 import (
        from_editing_convention,
        to_editing_convention,
    )

    ours = {n: np.asarray(v) for n, v in g.w_to_s(G[f"{c}_ws_psi1"]).items()}
    theirs = to_editing_convention(ours, g.config)
    np.testing.assert_allclose(theirs["input"], G[f"{c}_s_psi1_input_normalized"], atol=1e-6, rtol=0)
    torgb = names[-1]
    np.testing.assert_allclose(theirs[torgb], ours[torgb] * G[f"{c}_torgb_weight_gain"], rtol=1e-6, atol=0)
    back = from_editing_convention(theirs, g.config)
    np.testing.assert_allclose(np.asarray(g.synthesis_s(back)), np.asarray(g.synthesis_s(ours)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("c", CONFIGS)
def test_input_transforms_and_clamp(golden, gens, c):
    from styleclip_jax.models.stylegan3.handle import StyleGAN3

    g, G = gens[c], golden[0]
    np.testing.assert_array_equal(g.transform, G[f"{c}_input_transform_default"])
    tx, ty, angle = G[f"{c}_transform_rot_trans_args"]
    moved = g.with_transform((tx, ty), angle)
    np.testing.assert_allclose(moved.transform, G[f"{c}_transform_rot_trans"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        _nchw(moved.synthesis(G[f"{c}_ws_psi1"])), G[f"{c}_img_psi1_transform_rot_trans"], atol=1e-4, rtol=0
    )
    tensors = g.tensors()
    tensors["synthesis.input.transform"] = G[f"{c}_transform_zoom"]
    zoom = StyleGAN3(g.config, tensors)
    np.testing.assert_allclose(
        _nchw(zoom.synthesis(G[f"{c}_ws_psi1"])), G[f"{c}_img_psi1_transform_zoom"], atol=1e-4, rtol=0
    )
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
    assert (cfg.input_channels, [cfg.input_size] * 2, cfg.input_sampling_rate, cfg.input_bandwidth) == (
        inp["channels"],
        inp["size"],
        inp["sampling_rate"],
        inp["bandwidth"],
    )


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


@pytest.mark.parametrize(
    "damage, match",
    [
        ("missing", "missing key 'synthesis.L3_36_32.bias'"),
        ("extra", r"unused keys \['synthesis.L3_36_32.extra'\]"),
        ("misshaped", "synthesis.L3_36_32.weight"),
        ("filter", "synthesis.L3_36_32.down_filter: stored filter differs"),
        ("source", "not NVIDIA's networks_stylegan3.py"),
        ("kwarg", r"unknown StyleGAN3 init_kwargs \['shiny'\]"),
        ("fixed", "margin_size=12 differs"),
        ("conditional", "conditional generators"),
    ],
)
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


def test_all_three_methods_run_on_stylegan3(tmp_path, gens, clip_tiny):
    """Latent optimisation (W+ and S), mapper training and applying, global directions (stats,
    fs3 over the manipulable channels: neither ``input`` nor toRGB, edits) on the tiny T."""
    from styleclip_jax.editing import (
        MapperTrainConfig,
        OptimizeConfig,
        TextEdit,
        apply_mapper,
        compute_stats,
        global_edit,
        optimize,
        precompute_fs3,
        train_mapper,
    )

    g = gens["T"]
    w = np.asarray(g.mapping(np.random.RandomState(0).randn(2, 64).astype(np.float32), 0.7))
    a = optimize(g, clip_tiny, ["a red face"], w, config=OptimizeConfig(steps=3))
    assert np.isfinite(a.losses["loss"]).all() and not np.allclose(a.final, a.start)
    s = optimize(g, clip_tiny, ["a red face"], w, config=OptimizeConfig(steps=3, space="s"))
    torgb = g.config.layers[-1].name
    for fixed in ("input", torgb):  # geometric and toRGB codes stay put
        np.testing.assert_array_equal(s.final[fixed], s.start[fixed])
    assert not np.allclose(s.final["L5_52_32"], s.start["L5_52_32"])
    cfg = MapperTrainConfig(
        "a red face", steps=2, batch_size=2, id_lambda=0, val_size=2, val_every=2, save_every=2, log_every=1
    )
    run = train_mapper(g, clip_tiny, cfg, tmp_path / "m", latents=np.concatenate([w, w]))
    edit = apply_mapper(g, run.mapper, w, [0.0, 1.0])
    assert edit.images.shape == (2, 2, 64, 64, 3)
    np.testing.assert_allclose(edit.images[:, 0], np.asarray(g.synthesis(w)), atol=1e-5)  # α 0: no edit
    stats = compute_stats(g, n=50, keep=2)
    assert stats.num_manipulable == 360 - 4 - 8 and stats.names[0] == "input" and not stats.manipulable[0]
    # fs3 of the first manipulable layer only (its rows come first; the others count as zero)
    stats.fs3 = precompute_fs3(
        g, clip_tiny, stats, tmp_path / "s", num_images=2, channels_per_chunk=16, layers=["L0_36_32"]
    )
    assert stats.fs3.shape == (32, 512) and np.allclose(np.linalg.norm(stats.fs3, axis=1), 1, atol=1e-4)
    ge = global_edit(g, clip_tiny, stats, w, [TextEdit("face", "smiling face", beta=0.0)], alphas=[0.0, 3.0])
    assert ge.images.shape == (2, 2, 64, 64, 3)
    np.testing.assert_allclose(ge.images[:, 0], np.asarray(g.synthesis(w)), atol=1e-5)
    moved = ge.stats.split(ge.codes[:, 1] - ge.codes[:, 0])
    assert np.any(moved["L0_36_32"]) and not any(np.any(v) for k, v in moved.items() if k != "L0_36_32")


def test_onnx_export_matches_jax(tmp_path, gens, golden):
    from styleclip_jax.export.onnx_export import export_generator, export_global
    from styleclip_jax.export.runtime import OnnxEditor

    g, G = gens["T"], golden[0]  # (R exports too, but its 12×12 radial filters take minutes)
    w = G["T_ws_mix"]
    np.testing.assert_allclose(
        OnnxEditor(export_generator(g, tmp_path / "g.onnx")).run(wplus=w), np.asarray(g.synthesis(w)), atol=1e-4, rtol=0
    )
    c = g.config.num_style_channels
    direction = np.random.default_rng(0).standard_normal(c).astype(np.float32) * 0.2
    s, off, edited = g.w_to_s(w), 0, {}
    for layer in g.config.style_layers:
        edited[layer.name] = np.asarray(s[layer.name]) + 2.0 * direction[off : off + layer.width]
        off += layer.width
    np.testing.assert_allclose(
        OnnxEditor(export_global(g, tmp_path / "gl.onnx")).run(wplus=w, direction=direction, alpha=2.0),
        np.asarray(g.synthesis_s(edited)),
        atol=1e-4,
        rtol=0,
    )


def test_cli_converts_and_generates_with_translate_and_rotate(tmp_path, golden_dir, golden, capsys):
    from styleclip_jax.cli.main import main

    G = golden[0]
    assert main(["convert", "generator", str(golden_dir / "sg3t_tiny.pkl"), str(tmp_path / "t")]) == 0
    np.savez(tmp_path / "w.npz", wplus=G["T_ws_psi1"])
    tx, ty, angle = G["T_transform_rot_trans_args"]
    out = tmp_path / "moved.npz"
    assert (
        main(
            [
                "generate",
                "--generator",
                str(tmp_path / "t"),
                "--latents",
                str(tmp_path / "w.npz"),
                "--translate",
                f"{tx},{ty}",
                "--rotate",
                str(angle),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    np.testing.assert_allclose(_nchw(np.load(out)["images"]), G["T_img_psi1_transform_rot_trans"], atol=1e-4, rtol=0)


def test_fir_vjps_equal_autodiff_of_the_plain_form():
    """The hand-written transposes of the three FIR resamplers against autodiff of a plain
    slice-based form (exact up to float32 summation order)."""
    from jax import lax

    from styleclip_jax.models.stylegan3 import fir

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((2, 23, 19, 3)), jnp.float32)

    def plain(x, f, axis, stride):
        n = (x.shape[axis] - len(f)) // stride + 1
        return sum(
            t * lax.slice_in_dim(x, i, i + stride * (n - 1) + 1, stride=stride, axis=axis) for i, t in enumerate(f)
        )

    def same(fn, ref):
        y, vjp = jax.vjp(fn, x)
        y_ref, vjp_ref = jax.vjp(ref, x)
        g = jnp.asarray(rng.standard_normal(y.shape), jnp.float32)
        np.testing.assert_allclose(np.asarray(y), np.asarray(y_ref), atol=1e-5, rtol=0)
        np.testing.assert_allclose(np.asarray(vjp(g)[0]), np.asarray(vjp_ref(g)[0]), atol=1e-5, rtol=0)

    f = tuple(rng.standard_normal(6).tolist())
    for stride in (1, 2):
        same(lambda x: fir.fir_down(x, f, stride, 2), lambda x: plain(x, f, 2, stride))
    for up, pad in ((2, (9, 8)), (4, (-6, -9)), (2, (-11, -12)), (4, (3, -2))):
        taps = tuple(rng.standard_normal(6 * up).tolist())

        def zero_insert_then_fir(x, taps=taps, up=up, pad=pad):
            u = lax.pad(x, 0.0, [(0, 0, 0), (0, 0, 0), (pad[0], pad[1] + up - 1, up - 1), (0, 0, 0)])
            return plain(u, taps, 2, 1)

        same(lambda x, taps=taps, up=up, pad=pad: fir.fir_up(x, taps, up, pad, 2), zero_insert_then_fir)
    k = tuple(tuple(r) for r in rng.standard_normal((4, 4)).tolist())

    def plain_radial(x):
        n_h, n_w = (23 - 4) // 2 + 1, (19 - 4) // 2 + 1
        return sum(
            k[i][j] * x[:, i : i + 2 * (n_h - 1) + 1 : 2, j : j + 2 * (n_w - 1) + 1 : 2]
            for i in range(4)
            for j in range(4)
        )

    same(lambda x: fir.fir_radial(x, k, 2), plain_radial)
