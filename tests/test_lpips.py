"""LPIPS vs upstream (golden §16: the lpips 0.1.4 package, its real shipped heads on seeded random
torchvision trunks): distances, per-layer terms, taps, maps and gradients through the converter,
at the tolerances the golden README suggests; the converter's refusals."""

import numpy as np
import pytest

from styleclip_jax.cli.main import main
from styleclip_jax.errors import CheckpointError


@pytest.fixture(scope="module")
def g(golden_dir):
    return np.load(golden_dir / "lpips.npz")


@pytest.fixture(scope="module", params=["alex", "vgg"])
def net(request, golden_dir):
    from convert_weights.lpips import convert_lpips

    n = request.param
    return n, convert_lpips(golden_dir / f"lpips_{n}_backbone.pth", golden_dir / f"lpips_{n}_heads.pth")


def nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


def pairs(g):
    x = g["u8_to_input_lut"][g["img_u8"]]
    np.testing.assert_array_equal(x, (g["img_u8"].astype(np.float64) / 127.5 - 1).astype(np.float32))  # im2tensor
    return x[g["pair_index"][:, 0]], x[g["pair_index"][:, 1]]


def test_config_from_shapes(net):
    n, m = net
    assert m.config.net == n
    assert m.config.tap_widths == ((64, 192, 384, 256, 256) if n == "alex" else (64, 128, 256, 512, 512))


def test_distances_and_layers_golden(g, net):
    n, m = net
    x0, x1 = pairs(g)
    np.testing.assert_allclose(m.distance(x0, x1), g[f"{n}_dist"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(m.distance(x1, x0), g[f"{n}_dist_swapped"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(m.per_layer(x0, x1), g[f"{n}_dist_per_layer"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(m.per_layer(x0, x1, heads=False).sum(1), g[f"{n}_dist_baseline"], atol=1e-5, rtol=0)
    lut = g["u8_to_input_lut"]
    a, b = lut[g["in0_64_u8"]], lut[g["in1_64_u8"]]
    np.testing.assert_allclose(m.per_layer(a, b), g[f"{n}_dist64_per_layer"], atol=1e-6, rtol=0)
    # the unsummed maps, before and after upsampling
    maps = m.module().layer_maps(x0[3:], x1[3:])
    plain = m.module().layer_maps(x0[3:], x1[3:], heads=False)
    for k in range(5):
        np.testing.assert_allclose(np.asarray(maps[k]), g[f"{n}_pair3_lin_map_l{k}"][:, 0], atol=5e-6, rtol=0)
        np.testing.assert_allclose(np.asarray(plain[k]), g[f"{n}_pair3_diffsum_map_l{k}"][:, 0], atol=5e-5, rtol=0)
    np.testing.assert_allclose(m.spatial(x0[3:], x1[3:]).sum(1), g[f"{n}_pair3_spatial_map"][:, 0], atol=5e-6)
    np.testing.assert_allclose(m.spatial(a, b), g[f"{n}_spatial64_per_layer"], atol=5e-6, rtol=0)
    np.testing.assert_allclose(m.spatial(a, b, heads=False), g[f"{n}_spatial64_baseline_per_layer"], atol=5e-5)


def test_taps_golden(g, net):
    n, m = net
    lut = g["u8_to_input_lut"]
    taps = m.module().taps(lut[g["in0_64_u8"]])
    for k, t in enumerate(taps):
        np.testing.assert_allclose(np.asarray(t), nhwc(g[f"{n}_feat64_in0_l{k}"]), atol=1e-4, rtol=0)
    if n == "alex":
        for k, t in enumerate(m.module().taps(lut[g["img_u8"][:1]])):
            np.testing.assert_allclose(np.asarray(t), nhwc(g[f"alex_featA256_l{k}"]), atol=1e-4, rtol=0)


def test_gradients_golden(g, net):
    n, m = net
    lut = g["u8_to_input_lut"]
    grad = m.gradient(lut[g["in0_64_u8"]], lut[g["in1_64_u8"]])
    np.testing.assert_allclose(grad, nhwc(g[f"{n}_grad_in0_64"]), atol=2e-8, rtol=0)
    x0, x1 = pairs(g)
    grad, ref = m.gradient(x0[3:], x1[3:]), nhwc(g[f"{n}_grad_in0_pair3"])
    rel = np.linalg.norm(grad - ref) / np.linalg.norm(ref)
    # VGG: float32 max-pool near-ties route a few windows' gradients elsewhere (golden README §16)
    assert rel <= (1e-4 if n == "alex" else 2e-2), rel


def test_converter_refusals_and_cli(golden_dir, tmp_path, capsys):
    from torch_format import save_zip

    from convert_weights.lpips import convert_lpips
    from styleclip_jax.io.torch_pickle import load_checkpoint

    alex, vgg = golden_dir / "lpips_alex_backbone.pth", golden_dir / "lpips_vgg_backbone.pth"
    with pytest.raises(CheckpointError, match="tap 1 has 64 channels|tap 2 has 128"):
        convert_lpips(vgg, golden_dir / "lpips_alex_heads.pth")  # heads of the other trunk
    with pytest.raises(CheckpointError, match="not an lpips head file"):
        convert_lpips(alex, alex)
    with pytest.raises(CheckpointError, match="not a torchvision AlexNet / VGG16"):
        convert_lpips(golden_dir / "lpips_alex_heads.pth", golden_dir / "lpips_alex_heads.pth")
    heads = load_checkpoint(golden_dir / "lpips_alex_heads.pth")
    save_zip({k.replace("model.1", "model.0"): v for k, v in heads.items()}, tmp_path / "nodrop.pth")
    with pytest.raises(CheckpointError, match="without dropout"):
        convert_lpips(alex, tmp_path / "nodrop.pth")
    sd = load_checkpoint(alex)
    save_zip(dict(sd, **{"classifier.1.weight": np.zeros((4, 9), np.float32)}), tmp_path / "full.pth")
    argv = ["convert", "lpips", "--backbone", tmp_path / "full.pth", "--heads", golden_dir / "lpips_alex_heads.pth"]
    assert main([str(a) for a in argv + [tmp_path / "out"]]) == 0  # classifier.* is not LPIPS's
    from styleclip_jax.models.lpips import load_lpips

    assert load_lpips(tmp_path / "out").config.net == "alex"
    assert "converted LPIPS (alex" in capsys.readouterr().out


def test_random_stand_in_is_a_metric_like_distance():
    from styleclip_jax.models.lpips import random_lpips

    m = random_lpips("alex", seed=0)
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    d_same, d_near, d_far = m.distance(a, a), m.distance(a, a + 0.05), m.distance(a, -a)
    np.testing.assert_allclose(d_same, 0, atol=1e-7)
    assert np.all(d_near > 0) and np.all(d_far > 10 * d_near)
