"""Parity with upstream StyleCLIP-rosinality and NVIDIA stylegan2-ada on the golden files.

Tolerances (issue #2): images atol 1e-4, w and s atol 1e-5, float32 on CPU.
"""

import dataclasses

import numpy as np
import pytest
from conftest import nchw

IMG_ATOL, LAT_ATOL = 1e-4, 1e-5


def assert_styles(styles, d, prefix, n):
    assert len(styles) == n
    for i, s in enumerate(styles.values()):
        np.testing.assert_allclose(
            np.asarray(s), d[f"{prefix}_{i:02d}"], atol=LAT_ATOL, rtol=0, err_msg=f"{prefix}_{i:02d}"
        )


# ---- rosinality (StyleCLIP's vendored copy) ---------------------------------------------------------
def test_rosinality_config_inferred(rosinality_tiny):
    g, d = rosinality_tiny
    c = g.config
    assert c.resolution == 64 and c.w_dim == 64 and c.mapping_dims == (64, 64) and c.num_ws == 10
    assert dict(c.channels) == {4: 64, 8: 64, 16: 32, 32: 32, 64: 16}
    assert [l.width for l in c.style_layers] == list(d["s_layer_dims"])
    assert [l.w_index for l in c.style_layers] == list(d["s_layer_w_index"])
    np.testing.assert_array_equal(g.w_avg, d["latent_avg"])


def test_rosinality_mapping(rosinality_tiny):
    g, d = rosinality_tiny
    wplus = np.asarray(g.mapping(d["z"]))
    np.testing.assert_allclose(wplus[:, 0], d["w"], atol=LAT_ATOL, rtol=0)
    np.testing.assert_allclose(wplus, d["wplus"], atol=LAT_ATOL, rtol=0)


@pytest.mark.parametrize("scenario,latent", [("a", "wplus"), ("c", "wplus_mix")])
def test_rosinality_wplus_images_and_styles(rosinality_tiny, scenario, latent):
    g, d = rosinality_tiny
    img, extra = g.generate(d[latent])
    np.testing.assert_allclose(nchw(img), d[f"img_{scenario}"], atol=IMG_ATOL, rtol=0)
    assert_styles(extra["s"], d, f"s_{scenario}", 14)


def test_rosinality_truncation_b(rosinality_tiny):
    g, d = rosinality_tiny
    wt = g.mapping(d["z"], truncation=0.7)
    np.testing.assert_allclose(np.asarray(wt), d["wplus_trunc"], atol=LAT_ATOL, rtol=0)
    img, extra = g.generate(wt)
    np.testing.assert_allclose(nchw(img), d["img_b"], atol=IMG_ATOL, rtol=0)
    assert_styles(extra["s"], d, "s_b", 14)


def test_rosinality_per_layer_z_mixing(rosinality_tiny):
    g, d = rosinality_tiny
    np.testing.assert_allclose(np.asarray(g.mapping(d["z_mix"])), d["wplus_mix"], atol=LAT_ATOL, rtol=0)


def test_rosinality_stylespace_input_d(rosinality_tiny):
    g, d = rosinality_tiny
    s_d = {l.name: d[f"s_d_{i:02d}"] for i, l in enumerate(g.config.style_layers)}
    np.testing.assert_allclose(nchw(g.synthesis_s(s_d)), d["img_d"], atol=IMG_ATOL, rtol=0)
    # unperturbed codes reproduce the W+ image
    s_c = [d[f"s_c_{i:02d}"] for i in range(14)]
    np.testing.assert_allclose(nchw(g.synthesis_s(s_c)), d["img_c"], atol=IMG_ATOL, rtol=0)


def test_rosinality_two_style_mixing_e(rosinality_tiny):
    g, d = rosinality_tiny
    wa = np.asarray(g.mapping(d["z"], 0.7))
    wb = np.asarray(g.mapping(d["z2"], 0.7))
    mixed = np.concatenate([wa[:, :4], wb[:, 4:]], axis=1)  # inject_index=4
    np.testing.assert_allclose(mixed, d["wplus_e"], atol=LAT_ATOL, rtol=0)
    np.testing.assert_allclose(nchw(g.synthesis(mixed)), d["img_e"], atol=IMG_ATOL, rtol=0)


def test_rosinality_noise_buffers(rosinality_tiny):
    g, d = rosinality_tiny
    t = g.tensors()
    names = ["synthesis.b4.conv1"] + [f"synthesis.b{r}.conv{k}" for r in (8, 16, 32, 64) for k in (0, 1)]
    for i, n in enumerate(names):
        np.testing.assert_array_equal(t[f"{n}.noise_const"], d[f"noise_{i}"][0, 0])


# ---- NVIDIA stylegan2-ada --------------------------------------------------------------------------
def test_ada_takes_g_ema_not_g(ada_tiny, golden_dir):
    from styleclip_jax.io.torch_pickle import load_checkpoint, module_state_dict

    g, d = ada_tiny
    np.testing.assert_array_equal(g.w_avg, d["w_avg"])
    snap = load_checkpoint(golden_dir / "ada_tiny.pkl")
    ema = module_state_dict(snap["G_ema"])["mapping.fc0.weight"]
    other = module_state_dict(snap["G"])["mapping.fc0.weight"]
    assert not np.allclose(ema, other)
    np.testing.assert_array_equal(g.tensors()["mapping.fc0.weight"], ema.T)
    assert g.config.conv_clamp == 256.0 and g.config.demod_weight_gain is False


@pytest.mark.parametrize("name,psi,cutoff", [("psi1", 1.0, None), ("psi07", 0.7, None), ("psi07_cutoff4", 0.7, 4)])
def test_ada_truncation_images_styles(ada_tiny, name, psi, cutoff):
    g, d = ada_tiny
    ws = g.mapping(d["z"], psi, cutoff)
    np.testing.assert_allclose(np.asarray(ws), d[f"ws_{name}"], atol=LAT_ATOL, rtol=0)
    img, extra = g.generate(d[f"ws_{name}"])
    np.testing.assert_allclose(nchw(img), d[f"img_{name}"], atol=IMG_ATOL, rtol=0)
    assert_styles(extra["s"], d, f"styles_{name}", 11)


def test_ada_mixing(ada_tiny):
    g, d = ada_tiny
    np.testing.assert_allclose(np.asarray(g.mapping(d["z_mix"])), d["ws_mix"], atol=LAT_ATOL, rtol=0)
    img, extra = g.generate(d["ws_mix"])
    np.testing.assert_allclose(nchw(img), d["img_mix"], atol=IMG_ATOL, rtol=0)
    assert_styles(extra["s"], d, "styles_mix", 11)


def test_ada_noise_none_and_nonfused(ada_tiny):
    g, d = ada_tiny
    np.testing.assert_allclose(
        nchw(g.synthesis(d["ws_psi1"], noise_mode="none")), d["img_psi1_noise_none"], atol=IMG_ATOL, rtol=0
    )
    np.testing.assert_allclose(nchw(g.synthesis(d["ws_psi1"])), d["img_psi1_nonfused"], atol=IMG_ATOL, rtol=0)


def test_ada_conv_clamp(ada_tiny):
    from styleclip_jax import StyleGAN2

    g, d = ada_tiny
    clamped = StyleGAN2(dataclasses.replace(g.config, conv_clamp=0.5), g.tensors())
    out = nchw(clamped.synthesis(d["ws_psi1"]))
    np.testing.assert_allclose(out, d["img_psi1_clamp0p5"], atol=IMG_ATOL, rtol=0)
    assert np.abs(out - d["img_psi1"]).max() > 0.5  # the clamp really bites


def test_ada_style_layer_table(ada_tiny):
    g, d = ada_tiny
    assert [l.width for l in g.config.style_layers] == list(d["style_layer_dims"])
    assert [l.w_index for l in g.config.style_layers] == list(d["style_layer_w_index"])
    assert [l.module + ".affine" for l in g.config.style_layers] == list(d["style_layer_names"])
