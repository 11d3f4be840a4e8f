"""The e4e encoder vs upstream (golden e4e_tiny: encoder4editing's own code on random weights in
the real e4e_ffhq_encode.pt layout), the converter's refusals, and `styleclip-jax invert`."""

import numpy as np
import pytest
from PIL import Image

from styleclip_jax.cli.main import main
from styleclip_jax.errors import CheckpointError, UnsafeCheckpointError
from styleclip_jax.models.e4e import preprocess


@pytest.fixture(scope="module")
def g(golden_dir):
    return np.load(golden_dir / "e4e_tiny.npz")


@pytest.fixture(scope="module")
def converted(golden_dir, tmp_path_factory):
    from convert_weights.e4e import convert_encoder

    d = tmp_path_factory.mktemp("e4e")
    enc, gen = convert_encoder(golden_dir / "e4e_tiny.pt", d / "enc", generator_out=d / "gen")
    return enc, gen, d


def nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


def test_config_inferred_from_shapes(converted):
    c = converted[0].config
    assert c.kind == "e4e" and c.num_styles == 10 and c.style_dim == 32 and c.fpn_width == 48
    assert c.taps == (6, 20, 23) and c.style_convs == (4, 4, 4, 5, 5, 5, 5, 6, 6, 6)
    assert [u[1] for u in c.units if u[2] == 2] == [8, 16, 32, 48] and set(c.se_reductions) == {4}


def test_features_codes_and_images_golden(g, converted):
    enc, gen, _ = converted
    x = preprocess(g["x_uint8"])
    np.testing.assert_array_equal(x, nhwc(g["x"]))  # upstream's transform, bit-exact
    m = enc.module()
    f = m.features(x)
    for k in ("c1", "c2", "c3", "p2", "p1"):
        np.testing.assert_allclose(np.asarray(f[k]), nhwc(g[k]), atol=5e-5, rtol=0, err_msg=k)
    np.testing.assert_allclose(np.asarray(f["stage1"])[:1], nhwc(g["stage1_img0"]), atol=5e-5, rtol=0)
    pre = np.stack(
        [np.asarray(s.pre_linear(f["c3"] if i < 3 else f["p2"] if i < 7 else f["p1"])) for i, s in enumerate(m.styles)],
        axis=1,
    )
    np.testing.assert_allclose(pre, g["style_pre_linear"], atol=2e-5, rtol=0)
    raw = np.asarray(m(x, add_latent_avg=False))
    np.testing.assert_allclose(raw, g["codes_raw"], atol=2e-5, rtol=0)
    np.testing.assert_allclose(raw[:, 0], g["w0"], atol=2e-5, rtol=0)
    np.testing.assert_allclose(raw[:, 1:] - raw[:, :1], g["deltas"], atol=2e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(m(x, 0, add_latent_avg=False)), g["codes_raw_stage0"], atol=2e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(m(x, 4, add_latent_avg=False)), g["codes_raw_stage4"], atol=2e-5, rtol=0)
    codes = enc.encode(x)
    np.testing.assert_allclose(codes, g["codes"], atol=2e-5, rtol=0)  # what StyleCLIP saves
    np.testing.assert_allclose(enc.tensors()["latent_avg"], g["latent_avg"], atol=0)
    # the decoder is our rosinality generator: images from the codes, and the latent-avg variants
    np.testing.assert_allclose(np.asarray(gen.synthesis(codes)), nhwc(g["img64"]), atol=5e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(gen.synthesis(g["codes_mix"])), nhwc(g["img_mix64"]), atol=5e-5, rtol=0)
    distinct = raw + g["latent_avg_distinct"][None]
    np.testing.assert_allclose(distinct, g["codes_distinct_avg"], atol=2e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(gen.synthesis(distinct)), nhwc(g["img_distinct_avg64"]), atol=5e-5, rtol=0)
    pooled = np.repeat(np.repeat(np.asarray(gen.synthesis(codes)), 4, 1), 4, 2)  # face_pool 64 -> 256
    np.testing.assert_allclose(pooled, nhwc(g["img_pooled256"]), atol=5e-5, rtol=0)


def test_psp_is_not_taken_for_e4e_and_bad_files_are_refused(tmp_path, g, golden_dir):
    from torch_format import Global, save_zip

    from convert_weights.e4e import convert_encoder
    from styleclip_jax.io.torch_pickle import load_checkpoint

    ck = load_checkpoint(golden_dir / "e4e_tiny.pt")
    psp = dict(ck, opts=dict(ck["opts"], encoder_type="GradualStyleEncoder"))
    save_zip(psp, tmp_path / "psp.pt")
    enc, _ = convert_encoder(tmp_path / "psp.pt")
    assert enc.config.kind == "psp"
    raw = np.asarray(enc.module()(preprocess(g["x_uint8"]), add_latent_avg=False))
    want = np.concatenate([g["w0"][:, None], g["deltas"]], axis=1)  # pSp: style_i(features), no w0 added
    np.testing.assert_allclose(raw, want, atol=2e-5, rtol=0)
    save_zip(dict(ck, opts=dict(ck["opts"], encoder_type="SingleStyleCodeEncoder")), tmp_path / "single.pt")
    with pytest.raises(CheckpointError, match="encoder_type 'SingleStyleCodeEncoder' is not supported"):
        convert_encoder(tmp_path / "single.pt")
    sd = dict(ck["state_dict"])
    sd.pop("encoder.styles.3.linear.bias")
    save_zip(dict(ck, state_dict=sd), tmp_path / "miss.pt")
    with pytest.raises(CheckpointError, match="missing key 'styles.3.linear.bias'"):
        convert_encoder(tmp_path / "miss.pt")
    save_zip(dict(ck, opts=dict(ck["opts"], stylegan_size=1024)), tmp_path / "size.pt")
    with pytest.raises(CheckpointError, match="stylegan_size 1024 needs 18"):
        convert_encoder(tmp_path / "size.pt")
    with pytest.raises(CheckpointError, match="rosinality"):
        convert_encoder(golden_dir / "rosinality_tiny.pt")
    save_zip({"state_dict": {"x": Global("os", "system")}}, tmp_path / "evil.pt")
    with pytest.raises(UnsafeCheckpointError):
        convert_encoder(tmp_path / "evil.pt")


def test_invert_cli(tmp_path, g, converted, capsys, golden_dir):
    g_dir = golden_dir
    _, _, d = converted
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, name in enumerate(g["ffhq_names"]):
        Image.fromarray(g["x_uint8"][i]).save(photos / f"{str(name)[:-4]}.png")
    out = tmp_path / "w.npz"
    assert (
        main(
            [
                "invert",
                "--encoder",
                str(d / "enc"),
                "--images",
                str(photos),
                "--generator",
                str(d / "gen"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    r = np.load(out)
    assert list(r["files"]) == ["0.png", "1.png"]
    np.testing.assert_allclose(r["wplus"], g["codes"], atol=2e-5, rtol=0)
    np.testing.assert_allclose(r["images"], nhwc(g["img64"]), atol=5e-5, rtol=0)
    # the inversion feeds every method: e.g. generate from it
    assert (
        main(
            [
                "generate",
                "--generator",
                str(d / "gen"),
                "--latents",
                str(out),
                "--latents-key",
                "wplus",
                "--out",
                str(tmp_path / "again.npz"),
            ]
        )
        == 0
    )
    np.testing.assert_allclose(np.load(tmp_path / "again.npz")["images"], r["images"], atol=1e-5)
    # photos straight into every method: generate, mapper-free global edit and optimisation need
    # only --images and --encoder (the edit starts from the inversion)
    assert (
        main(
            [
                "generate",
                "--generator",
                str(d / "gen"),
                "--images",
                str(photos),
                "--encoder",
                str(d / "enc"),
                "--out",
                str(tmp_path / "from_photos.npz"),
            ]
        )
        == 0
    )
    np.testing.assert_allclose(np.load(tmp_path / "from_photos.npz")["wplus"], g["codes"], atol=2e-5, rtol=0)
    assert main(["convert", "clip", str(g_dir / "clip_tiny_openai.pt"), str(tmp_path / "clip")]) == 0
    assert (
        main(
            [
                "edit",
                "optimize",
                "--generator",
                str(d / "gen"),
                "--clip",
                str(tmp_path / "clip"),
                "--text",
                "a smiling face",
                "--images",
                str(photos / "1.png"),
                "--encoder",
                str(d / "enc"),
                "--steps",
                "2",
                "--out",
                str(tmp_path / "opt"),
            ]
        )
        == 0
    )
    np.testing.assert_allclose(np.load(tmp_path / "opt" / "result.npz")["wplus_start"], g["codes"][1:], atol=2e-5)
    rc = main(["generate", "--generator", str(d / "gen"), "--images", str(photos), "--out", str(tmp_path / "x.npz")])
    assert rc == 2 and "--images needs --encoder" in capsys.readouterr().err
    assert (
        main(
            [
                "invert",
                "--encoder",
                str(d / "enc"),
                "--images",
                str(photos / "0.png"),
                "--generator",
                str(d / "gen"),
                "--out",
                str(tmp_path / "grid.png"),
            ]
        )
        == 0
    )
    assert Image.open(tmp_path / "grid.png").size == (2 * 66 + 2, 66 + 2)
    # photos of any size and kind are read as a person sees them, then resized as upstream does
    Image.fromarray(g["x_uint8"][0]).convert("L").resize((300, 200)).save(tmp_path / "gray.png")
    assert (
        main(
            [
                "invert",
                "--encoder",
                str(d / "enc"),
                "--images",
                str(tmp_path / "gray.png"),
                "--out",
                str(tmp_path / "gray.npz"),
            ]
        )
        == 0
    )
    assert np.load(tmp_path / "gray.npz")["wplus"].shape == (1, 10, 32)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    assert (
        main(
            [
                "invert",
                "--encoder",
                str(d / "enc"),
                "--images",
                str(tmp_path / "broken.png"),
                "--out",
                str(tmp_path / "b.npz"),
            ]
        )
        == 2
    )
    assert "broken.png" in capsys.readouterr().err and not (tmp_path / "b.npz").exists()
    assert main(["invert", "--encoder", str(d / "enc"), "--images", str(photos), "--out", str(tmp_path / "n.png")]) == 2
    assert "--generator" in capsys.readouterr().err


def test_photo_to_edited_photo_with_paste_back(tmp_path, converted, golden_dir, capsys):
    """One command from a photo to the photo with its face replaced by the generator's edit:
    detect, align, invert, generate, paste back (tiny random e4e: the face changes, the canvas not)."""
    _, _, d = converted
    m = np.load(golden_dir / "mtcnn_faces.npz")
    photo = m["img_d_ffhq3_small_on_canvas"]
    Image.fromarray(photo).save(tmp_path / "me.png")
    base = [
        "generate",
        "--generator",
        str(d / "gen"),
        "--images",
        str(tmp_path / "me.png"),
        "--encoder",
        str(d / "enc"),
        "--out",
        str(tmp_path / "g.npz"),
    ]
    assert main(base + ["--align", "--paste-back", str(tmp_path / "back")]) == 0
    back = np.asarray(Image.open(tmp_path / "back" / "me.png"))
    assert back.shape == photo.shape
    x1, y1, x2, y2 = (int(v) for v in m["det_d_ffhq3_small_on_canvas_boxes"][0])
    assert np.abs(back.astype(int) - photo)[y1 + 20 : y2 - 20, x1 + 20 : x2 - 20].mean() > 10
    np.testing.assert_array_equal(back[:, :300], photo[:, :300])  # the canvas left of the face
    rc = main(base[:-1] + [str(tmp_path / "g2.npz"), "--paste-back", str(tmp_path / "b2")])
    assert rc == 2 and "--paste-back needs --images and --align" in capsys.readouterr().err


def test_refine_moves_the_reconstruction_toward_the_photo(tmp_path, g, converted, capsys):
    from styleclip_jax.editing.inversion.core import photos_at, refine_inversion

    enc, gen, d = converted
    w = enc.encode(preprocess(g["x_uint8"]))
    target = photos_at(list(g["x_uint8"]), gen.config.resolution)
    w2, losses = refine_inversion(gen, w, target, steps=30, lr=0.05)
    assert losses.shape == (30, 2) and np.all(losses[-1] < 0.8 * losses[0]), losses[[0, -1]]

    def err(v):
        return np.mean((np.asarray(gen.synthesis(v)) - target) ** 2, axis=(1, 2, 3))

    np.testing.assert_allclose(err(w), losses[0], rtol=1e-4)  # loss 0 is the encoder's error
    assert np.all(err(w2) < losses[-1] * 1.01)
    # with LPIPS the loss is pixel MSE + LPIPS (weight 1), and both fall
    from styleclip_jax.models.lpips import random_lpips

    lp = random_lpips("alex", 0)
    w3, l3 = refine_inversion(gen, w, target, steps=10, lr=0.05, lpips=lp)
    before = lp.distance(np.asarray(gen.synthesis(w)), target)
    np.testing.assert_allclose(l3[0], err(w) + before, rtol=1e-4)
    assert np.all(lp.distance(np.asarray(gen.synthesis(w3)), target) < before)
    photos = tmp_path / "p"
    photos.mkdir()
    Image.fromarray(g["x_uint8"][0]).save(photos / "0.png")
    assert (
        main(
            [
                "invert",
                "--encoder",
                str(d / "enc"),
                "--images",
                str(photos),
                "--generator",
                str(d / "gen"),
                "--refine",
                "5",
                "--out",
                str(tmp_path / "r.npz"),
            ]
        )
        == 0
    )
    assert "refined 5 steps" in capsys.readouterr().out
    assert (
        main(
            [
                "invert",
                "--encoder",
                str(d / "enc"),
                "--images",
                str(photos),
                "--refine",
                "5",
                "--out",
                str(tmp_path / "r2.npz"),
            ]
        )
        == 2
    )
    assert "--refine and --pti work on the reconstruction: give --generator" in capsys.readouterr().err


NO_JAX = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('jax', 'jaxlib', 'flax', 'torch'):
            raise ImportError(f'{name} refused')
sys.meta_path.insert(0, Block())
from styleclip_jax.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_onnx_encoder_and_photo_to_edit_graph(tmp_path, g, converted, capsys):
    """export encoder / photo-edit, then run-onnx where JAX cannot even be imported."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("jax2onnx")
    from conftest import random_mapper

    enc, gen, d = converted
    mapper = random_mapper(32, 10, 1)
    mapper.save(tmp_path / "mapper")
    assert main(["export", "encoder", "--encoder", str(d / "enc"), "--out", str(tmp_path / "enc.onnx")]) == 0
    assert (
        main(
            [
                "export",
                "photo-edit",
                "--encoder",
                str(d / "enc"),
                "--mapper",
                str(tmp_path / "mapper"),
                "--generator",
                str(d / "gen"),
                "--out",
                str(tmp_path / "edit.onnx"),
            ]
        )
        == 0
    )
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(g["x_uint8"][i]).save(photos / f"{i}.png")
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo))
    for model, out, extra in (("enc.onnx", "w.npz", []), ("edit.onnx", "e.npz", ["--alpha", "2"])):
        p = subprocess.run(
            [
                sys.executable,
                "-c",
                NO_JAX,
                "run-onnx",
                "--model",
                str(tmp_path / model),
                "--images",
                str(photos),
                "--cpu",
                "--out",
                str(tmp_path / out),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert p.returncode == 0, p.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "w.npz")["wplus"], g["codes"], atol=2e-5, rtol=0)
    want = np.asarray(gen.synthesis(mapper.apply(enc.encode(preprocess(g["x_uint8"])), 2.0)))
    np.testing.assert_allclose(np.load(tmp_path / "e.npz")["images"], want, atol=1e-4, rtol=0)
    rc = main(
        [
            "run-onnx",
            "--model",
            str(tmp_path / "enc.onnx"),
            "--images",
            str(photos),
            "--cpu",
            "--out",
            str(tmp_path / "w.png"),
        ]
    )
    assert rc == 2 and "write a .npz" in capsys.readouterr().err
    rc = main(
        [
            "run-onnx",
            "--model",
            str(tmp_path / "enc.onnx"),
            "--latents",
            str(tmp_path / "w.npz"),
            "--cpu",
            "--out",
            str(tmp_path / "w2.npz"),
        ]
    )
    assert rc == 2 and "give --images" in capsys.readouterr().err


def test_a_one_pixel_photo_is_refused(converted, tmp_path, capsys):
    _, _, d = converted
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "dot.png")
    argv = [
        "invert",
        "--encoder",
        str(d / "enc"),
        "--images",
        str(tmp_path / "dot.png"),
        "--out",
        str(tmp_path / "w.npz"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "1x1 photo is too small" in err[0] and not (tmp_path / "w.npz").exists()
