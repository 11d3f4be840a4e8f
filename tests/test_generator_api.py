"""The StyleGAN2 handle: input checks, noise modes, W vs W+, and a full-size 1024 config-f run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from styleclip_jax import GeneratorConfig, InputError
from styleclip_jax.models.stylegan2.random_init import random_generator


@pytest.fixture(scope="module")
def small():
    cfg = GeneratorConfig.rosinality(32, style_dim=32, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8})
    return random_generator(cfg, seed=3)


def test_w_equals_repeated_wplus(small):
    w = np.random.default_rng(0).standard_normal((2, 32)).astype(np.float32)
    a = np.asarray(small.synthesis(w))
    b = np.asarray(small.synthesis(np.repeat(w[:, None], small.config.num_ws, axis=1)))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 32, 32, 3)


def test_noise_modes(small):
    w = small.mapping(np.ones((2, 32), np.float32))
    const = np.asarray(small.synthesis(w))
    none = np.asarray(small.synthesis(w, noise_mode="none"))
    r1 = np.asarray(small.synthesis(w, noise_mode="random", key=jax.random.key(1)))
    r1b = np.asarray(small.synthesis(w, noise_mode="random", key=jax.random.key(1)))
    r2 = np.asarray(small.synthesis(w, noise_mode="random", key=jax.random.key(2)))
    np.testing.assert_array_equal(r1, r1b)
    for a, b in [(const, none), (const, r1), (r1, r2)]:
        assert np.abs(a - b).max() > 1e-3
    with pytest.raises(InputError, match="explicit key"):
        small.synthesis(w, noise_mode="random")
    with pytest.raises(InputError, match="noise_mode"):
        small.synthesis(w, noise_mode="fresh")


def test_truncation_psi0_gives_average(small):
    w = np.asarray(small.mapping(np.random.default_rng(1).standard_normal((3, 32)).astype(np.float32), 0.0))
    np.testing.assert_allclose(w, np.broadcast_to(small.w_avg, w.shape), atol=1e-6)
    w_cut = np.asarray(small.mapping(np.ones((1, 32), np.float32), 0.0, cutoff=2))
    np.testing.assert_allclose(w_cut[0, :2], np.broadcast_to(small.w_avg, (2, 32)), atol=1e-6)
    assert np.abs(w_cut[0, 2:] - small.w_avg).max() > 1e-3


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros((2, 5, 32), np.float32), r"wplus must have shape \(B, 8, 32\), got \(2, 5, 32\)"),
        (np.zeros((2, 31), np.float32), r"w must have shape \(B, 32\)"),
        (np.full((1, 8, 32), np.nan, np.float32), "NaN"),
        (np.zeros((0, 8, 32), np.float32), "empty"),
        ("text", "float array"),
    ],
)
def test_bad_latents(small, bad, match):
    with pytest.raises(InputError, match=match):
        small.synthesis(bad)


def test_bad_stylespace(small):
    s = {k: np.asarray(v) for k, v in small.w_to_s(np.zeros((1, 8, 32), np.float32)).items()}
    first = small.config.style_names[0]
    with pytest.raises(InputError, match="missing layers"):
        small.synthesis_s({k: v for k, v in s.items() if k != first})
    bad = dict(s)
    bad[first] = np.zeros((1, 3), np.float32)
    with pytest.raises(InputError, match=rf"{first} must have shape \(B, 16\)"):
        small.synthesis_s(bad)
    bad[first] = np.zeros((2, 16), np.float32)
    with pytest.raises(InputError, match="batch size"):
        small.synthesis_s(bad)
    with pytest.raises(InputError, match=r"z must have shape"):
        small.mapping(np.zeros((2, 7), np.float32))


def test_config_serialisation_roundtrip():
    cfg = GeneratorConfig.ffhq_config_f()
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown generator config fields"):
        GeneratorConfig.from_dict({**cfg.to_dict(), "fused": True})
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig.rosinality(48)


def test_config_f_1024_layout():
    cfg = GeneratorConfig.ffhq_config_f(1024)
    layers = cfg.style_layers
    assert cfg.num_ws == 18 and len(layers) == 26
    assert sum(l.width for l in layers) == 9088
    assert sum(l.width for l in layers if not l.is_torgb) == 6048
    assert [i for i, l in enumerate(layers) if not l.is_torgb] == [
        0,
        2,
        3,
        5,
        6,
        8,
        9,
        11,
        12,
        14,
        15,
        17,
        18,
        20,
        21,
        23,
        24,
    ]
    assert layers[25].name == "toRGB_resolution_1024" and layers[25].w_index == 17 and layers[25].width == 32


def test_config_f_1024_forward_and_grad():
    """Full-size random config-f generator: forward, and d(loss)/d(W+) checked by finite differences."""
    g = random_generator(GeneratorConfig.ffhq_config_f(1024), seed=0)
    n_params = sum(int(np.prod(v.shape)) for v in g.tensors().values())
    assert 30_000_000 < n_params < 34_000_000
    wplus = np.asarray(g.mapping(np.random.RandomState(0).randn(1, 512).astype(np.float32), 0.7))
    module_state, graphdef = g.state, g.graphdef
    probe = jax.random.normal(jax.random.key(0), (1, 1024, 1024, 3))

    def loss(state, w):
        img = nnx.merge(graphdef, state).synthesis(nnx.merge(graphdef, state).synthesis.w_to_s(w))
        return jnp.mean(img * probe), img

    (val, img), grad = jax.jit(jax.value_and_grad(loss, argnums=1, has_aux=True))(module_state, wplus)
    img, grad = np.asarray(img), np.asarray(grad)
    assert img.shape == (1, 1024, 1024, 3) and np.isfinite(img).all() and img.std() > 0.05
    assert grad.shape == (1, 18, 512) and np.isfinite(grad).all()
    assert np.abs(grad).max() > 0 and (np.abs(grad).sum(axis=2) > 0).all()  # every W+ row matters
    v = np.random.default_rng(1).standard_normal(wplus.shape).astype(np.float32)
    v /= np.linalg.norm(v)
    f = jax.jit(lambda w: loss(module_state, w)[0])
    eps = 1e-2
    fd = (float(f(wplus + eps * v)) - float(f(wplus - eps * v))) / (2 * eps)
    ad = float(np.sum(grad * v))
    assert abs(fd - ad) <= 0.05 * abs(ad) + 1e-6, (fd, ad)
    # the handle's batch-1 inference folds style and demodulation into the kernels: same image
    folded = np.asarray(g.synthesis(wplus))
    np.testing.assert_allclose(folded, img, atol=2e-4, rtol=0)
    assert np.abs(folded - img).mean() < 2e-6


def test_batch1_folded_kernels_equal_the_scaled_form(small):
    """``fold_batch1`` (inference, B = 1) against the scaled form, for every noise mode and for S codes."""
    w = np.asarray(small.mapping(np.random.RandomState(4).randn(3, 32).astype(np.float32), 0.7))
    module = small.module()
    for i in range(3):
        styles = module.synthesis.w_to_s(jnp.asarray(w[i : i + 1]))
        for mode in ("const", "none"):
            ref = jax.jit(lambda s, m=mode: module.synthesis(s, noise_mode=m))(styles)
            got = jax.jit(lambda s, m=mode: module.synthesis(s, noise_mode=m, fold_batch1=True))(styles)
            np.testing.assert_allclose(np.asarray(got), np.asarray(ref), atol=2e-5, rtol=0)
        np.testing.assert_allclose(
            np.asarray(small.synthesis(w[i : i + 1])), np.asarray(small.synthesis(w)[i : i + 1]), atol=2e-5, rtol=0
        )


def test_bf16_synthesis_is_close_and_leaves_float32_alone(rosinality_tiny, clip_tiny):
    """dtype="bfloat16": the same weights and fingerprint, images within a bf16 budget of float32
    (golden rosinality_tiny), float32 images, finite W+ gradients through the methods' own code
    (CLIP in bf16 too), and the float32 handle still equal to the golden."""
    from styleclip_jax.editing import OptimizeConfig, optimize
    from styleclip_jax.models.clip import CLIPModel
    from styleclip_jax.models.stylegan2 import StyleGAN2

    gen, d = rosinality_tiny
    g16 = StyleGAN2(gen.config, gen.tensors(), gen.source, dtype="bfloat16")
    assert g16.fingerprint() == gen.fingerprint() and g16.module().synthesis.compute_dtype == "bfloat16"
    w = np.asarray(gen.mapping(np.random.default_rng(1).standard_normal((4, gen.config.z_dim)).astype(np.float32), 0.7))
    a, b = np.asarray(gen.synthesis(w)), np.asarray(g16.synthesis(w))
    assert b.dtype == np.float32
    psnr = 10 * np.log10(4.0 / np.mean((a - b) ** 2))
    assert 30.0 < psnr < 90.0, psnr  # bf16 really ran (not exact), and stayed close
    c16 = CLIPModel(clip_tiny.config, clip_tiny.tensors(), dtype="bfloat16")
    cfg = OptimizeConfig(steps=3, lr=0.05)
    r32 = optimize(gen, clip_tiny, "a smiling face", w[:2], config=cfg)
    r16 = optimize(g16, c16, "a smiling face", w[:2], config=cfg)
    assert np.all(np.isfinite(r16.final)) and r16.final.dtype == np.float32
    np.testing.assert_allclose(r16.losses["clip"], r32.losses["clip"], atol=5e-3)
    moved32, moved16 = r32.final - r32.start, r16.final - r16.start
    cos = np.sum(moved32 * moved16) / np.linalg.norm(moved32) / np.linalg.norm(moved16)
    assert cos > 0.9, cos
    with pytest.raises(InputError, match="dtype must be one of"):
        StyleGAN2(gen.config, gen.tensors(), dtype="float16")
