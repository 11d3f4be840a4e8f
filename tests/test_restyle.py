"""ReStyle vs upstream (golden §17: restyle-encoder's own inference_iterative.py on random weights
in the released checkpoint layout, ReStyle-e4e and ReStyle-pSp): the converted encoders step by step
(teacher-forced) and free-running for 5 iterations; the converter's refusals; `invert --iterations`."""

import numpy as np
import pytest
from PIL import Image

from styleclip_jax.cli.main import main
from styleclip_jax.errors import CheckpointError, InputError
from styleclip_jax.models.e4e import preprocess


@pytest.fixture(scope="module")
def g(golden_dir):
    return np.load(golden_dir / "restyle_tiny.npz")


@pytest.fixture(scope="module", params=["e4e", "psp"])
def converted(request, golden_dir, tmp_path_factory):
    from convert_weights.e4e import convert_encoder

    d = tmp_path_factory.mktemp(f"restyle_{request.param}")
    enc, gen = convert_encoder(golden_dir / f"restyle_{request.param}_tiny.pt", d / "enc", generator_out=d / "gen")
    return request.param, enc, gen, d


def nhwc(x):
    return np.moveaxis(x, -3, -1)


def test_config_inferred_from_shapes(converted):
    v, enc, gen, _ = converted
    c = enc.config
    assert (c.kind, c.iterative, c.name, c.fpn_width, c.input_nc) == (v, True, f"restyle-{v}", 0, 6)
    assert c.style_convs == (4,) * 10 and c.style_dim == 32 and set(c.se_reductions) == {4}
    assert "device" not in enc.source  # opts.device ('cuda:0') is not ours


def test_each_iteration_teacher_forced_golden(g, converted):
    from styleclip_jax.editing.inversion.restyle import average_image, face_pool, restyle_step

    v, enc, gen, _ = converted
    x = preprocess(g["x_uint8"])
    np.testing.assert_array_equal(x, nhwc(g["x"]))
    np.testing.assert_allclose(average_image(enc, gen), nhwc(g["avg_image"]), atol=1e-4, rtol=0)
    m = enc.module()
    for t in range(5):
        prev = nhwc(g[f"{v}_enc_in_prev"][t])
        x6 = np.concatenate([x, prev], -1)
        if t == 0:
            np.testing.assert_allclose(x6, nhwc(g["enc_input_iter0"]), atol=1e-4, rtol=0)
        feat = m.features(x6)["c3"]
        np.testing.assert_allclose(np.asarray(feat), nhwc(g[f"{v}_feat16"][t]), atol=2e-4, rtol=0)
        pre = np.stack([np.asarray(s.pre_linear(feat)) for s in m.styles], 1)
        np.testing.assert_allclose(pre, g[f"{v}_style_pre_linear"][t], atol=2e-5, rtol=0)
        np.testing.assert_allclose(np.asarray(m.style_outputs({"c3": feat})), g[f"{v}_style_out"][t], atol=2e-5)
        latent = np.broadcast_to(g["latent_avg"], (2, 10, 32)) if t == 0 else g[f"{v}_codes"][t - 1]
        residual, codes, img = restyle_step(enc, gen, x, prev, latent)
        np.testing.assert_allclose(residual, g[f"{v}_enc_out"][t], atol=2e-5, rtol=0)
        np.testing.assert_allclose(codes, g[f"{v}_codes"][t], atol=5e-5, rtol=0)
        np.testing.assert_allclose(img, nhwc(g[f"{v}_img64"][t]), atol=1e-4, rtol=0)
        pooled = np.asarray(face_pool(img, 256))
        np.testing.assert_allclose(pooled, nhwc(g[f"{v}_img256"][t]), atol=1e-4, rtol=0)


def test_free_running_five_iterations_golden(g, converted):
    from styleclip_jax.editing.inversion.restyle import restyle_invert

    v, enc, gen, _ = converted
    codes, img = restyle_invert(enc, gen, preprocess(g["x_uint8"]), 5)
    np.testing.assert_allclose(codes, g[f"{v}_codes"], atol=5e-5, rtol=0)
    np.testing.assert_allclose(img, nhwc(g[f"{v}_img64"][-1]), atol=1e-4, rtol=0)
    one, _ = restyle_invert(enc, gen, preprocess(g["x_uint8"][:1]), 2)  # batch 1, fewer iterations
    np.testing.assert_allclose(one, g[f"{v}_codes"][:2, :1], atol=5e-5, rtol=0)


def test_face_pool_is_torch_adaptive_average():
    from styleclip_jax.editing.inversion.restyle import face_pool
    from styleclip_jax.models.idnet.loss import adaptive_pool_matrix

    x = np.random.default_rng(0).standard_normal((1, 8, 8, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(face_pool(x, 4)), x.reshape(1, 4, 2, 4, 2, 2).mean((2, 4)), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(face_pool(x, 16)), x.repeat(2, 1).repeat(2, 2))
    m = adaptive_pool_matrix(5, 3)  # uneven windows overlap, as torch's: [0,2), [1,4), [3,5)
    np.testing.assert_allclose(m, [[0.5, 0.5, 0, 0, 0], [0, 1 / 3, 1 / 3, 1 / 3, 0], [0, 0, 0, 0.5, 0.5]])
    y = np.random.default_rng(1).standard_normal((1, 5, 5, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(face_pool(y, 3)), np.einsum("ih,bhwc,jw->bijc", m, y, m), atol=1e-6)


def test_types_that_disagree_with_the_weights_are_refused(golden_dir, tmp_path):
    from torch_format import save_zip

    from convert_weights.e4e import convert_encoder
    from styleclip_jax.io.torch_pickle import load_checkpoint

    ck = load_checkpoint(golden_dir / "restyle_e4e_tiny.pt")
    save_zip(dict(ck, opts=dict(ck["opts"], encoder_type="Encoder4Editing")), tmp_path / "as_e4e.pt")
    with pytest.raises(CheckpointError, match="ReStyle weights under another type"):
        convert_encoder(tmp_path / "as_e4e.pt")
    e4e = load_checkpoint(golden_dir / "e4e_tiny.pt")
    save_zip(dict(e4e, opts=dict(e4e["opts"], encoder_type="ProgressiveBackboneEncoder")), tmp_path / "as_rs.pt")
    with pytest.raises(CheckpointError, match="e4e / pSp weights under another type"):
        convert_encoder(tmp_path / "as_rs.pt")
    enc, _ = convert_encoder(golden_dir / "restyle_psp_tiny.pt")
    with pytest.raises(InputError, match="restyle-psp encoder: it inverts iteratively"):
        enc.encode(np.zeros((1, 256, 256, 3), np.float32))


def test_invert_cli_iterates_and_refuses(g, golden_dir, tmp_path, capsys):
    d = tmp_path
    ck = str(golden_dir / "restyle_e4e_tiny.pt")
    assert main(["convert", "encoder", ck, str(d / "enc"), "--generator-out", str(d / "gen")]) == 0
    assert "converted restyle-e4e encoder" in capsys.readouterr().out
    Image.fromarray(g["x_uint8"][0]).save(tmp_path / "a.png")
    base = ["invert", "--encoder", str(d / "enc"), "--images", str(tmp_path / "a.png")]
    assert main(base + ["--generator", str(d / "gen"), "--iterations", "3", "--out", str(tmp_path / "w.npz")]) == 0
    w = np.load(tmp_path / "w.npz")["wplus"]
    np.testing.assert_allclose(w[0], g["e4e_codes"][2, 0], atol=5e-5, rtol=0)
    assert main(base + ["--out", str(tmp_path / "x.npz")]) == 2
    assert "inverts iteratively with its generator: give --generator" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_export_refuses_an_iterative_encoder(converted, tmp_path, capsys):
    v, _, _, d = converted
    assert main(["export", "encoder", "--encoder", str(d / "enc"), "--out", str(tmp_path / f"{v}.onnx")]) == 2
    assert f"restyle-{v} encoder: it inverts iteratively" in capsys.readouterr().err
    assert not (tmp_path / f"{v}.onnx").exists()
