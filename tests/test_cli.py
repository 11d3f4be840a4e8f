"""``styleclip-jax convert generator`` and ``generate``, checked from the outside through files."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import nchw
from PIL import Image

from styleclip_jax.cli.main import main
from styleclip_jax.models.latents import z_from_seeds


@pytest.fixture(scope="module")
def gen_dir(tmp_path_factory, golden_dir):
    out = tmp_path_factory.mktemp("cli") / "gen"
    assert main(["convert", "generator", str(golden_dir / "rosinality_tiny.pt"), str(out)]) == 0
    return out


def test_generate_npz_from_wplus_matches_golden(tmp_path, gen_dir, golden_dir):
    d = np.load(golden_dir / "rosinality_tiny.npz")
    lat = tmp_path / "lat.npz"
    np.savez(lat, wplus=d["wplus_mix"])
    out = tmp_path / "out.npz"
    assert (
        main(["generate", "--generator", str(gen_dir), "--latents", str(lat), "--out", str(out), "--batch-size", "2"])
        == 0
    )
    r = np.load(out)
    assert r["images"].shape == (3, 64, 64, 3) and r["images"].dtype == np.float32
    np.testing.assert_allclose(nchw(r["images"]), d["img_c"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(r["wplus"], d["wplus_mix"], atol=1e-6)
    for i, name in enumerate(["conv1_resolution_4", "toRGB_resolution_4", "conv0_resolution_8"]):
        np.testing.assert_allclose(r[f"s/{name}"], d[f"s_c_{i:02d}"], atol=1e-5, rtol=0)
    assert len([k for k in r.files if k.startswith("s/")]) == 14
    # feeding the S codes back reproduces the images
    s_in = tmp_path / "s.npz"
    np.savez(s_in, **{k: r[k] for k in r.files if k.startswith("s/")})
    out2 = tmp_path / "out2.npz"
    assert main(["generate", "--generator", str(gen_dir), "--latents", str(s_in), "--out", str(out2)]) == 0
    np.testing.assert_allclose(np.load(out2)["images"], r["images"], atol=1e-5)


def test_generate_seeds_truncation_and_png(tmp_path, gen_dir):
    from styleclip_jax import load_generator

    out = tmp_path / "seeds.npz"
    assert (
        main(["generate", "--generator", str(gen_dir), "--seeds", "0-2,7", "--truncation", "0.7", "--out", str(out)])
        == 0
    )
    g = load_generator(gen_dir)
    want = np.asarray(g.synthesis(g.mapping(z_from_seeds([0, 1, 2, 7], 64), 0.7)))
    np.testing.assert_allclose(np.load(out)["images"], want, atol=1e-5)
    png = tmp_path / "grid.png"
    assert main(["generate", "--generator", str(gen_dir), "--seeds", "0-4", "--nrow", "3", "--out", str(png)]) == 0
    assert Image.open(png).size == (3 * 66 + 2, 2 * 66 + 2)


def test_generate_refuses_overwrite_and_bad_inputs(tmp_path, gen_dir, capsys):
    out = tmp_path / "x.png"
    out.write_bytes(b"keep")
    assert main(["generate", "--generator", str(gen_dir), "--seeds", "0", "--out", str(out)]) == 2
    assert out.read_bytes() == b"keep" and "--overwrite" in capsys.readouterr().err
    assert main(["generate", "--generator", str(gen_dir), "--seeds", "0", "--out", str(out), "--overwrite"]) == 0
    bad = tmp_path / "bad.npz"
    np.savez(bad, wplus=np.full((1, 10, 64), np.nan, np.float32))
    assert main(["generate", "--generator", str(gen_dir), "--latents", str(bad), "--out", str(tmp_path / "y.npz")]) == 2
    assert "NaN" in capsys.readouterr().err
    np.savez(bad, other=np.zeros(3))
    assert main(["generate", "--generator", str(gen_dir), "--latents", str(bad), "--out", str(tmp_path / "y.npz")]) == 2
    assert "expected 'wplus'" in capsys.readouterr().err
    assert main(["generate", "--generator", str(gen_dir), "--seeds", "3-1", "--out", str(tmp_path / "y.npz")]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert (
        main(["generate", "--generator", str(tmp_path / "nope"), "--seeds", "0", "--out", str(tmp_path / "y.npz")]) == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert main(["convert", "generator", str(bad), str(tmp_path / "g2")]) == 2
    assert "data.pkl: not a torch checkpoint" in capsys.readouterr().err


def test_console_script_runs(tmp_path, golden_dir):
    out = tmp_path / "g"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "styleclip_jax.cli.main",
            "convert",
            "generator",
            str(golden_dir / "ada_tiny.pkl"),
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "stylegan2-ada generator: 32px" in r.stdout and (out / "model.safetensors").exists()


def test_convert_clip_idnet_and_embed(tmp_path, golden_dir):
    d = np.load(golden_dir / "clip_tiny_openai.npz")
    assert main(["convert", "clip", str(golden_dir / "clip_tiny_openai.pt"), str(tmp_path / "clip")]) == 0
    out = tmp_path / "t.npz"
    assert (
        main(
            [
                "embed",
                "--clip",
                str(tmp_path / "clip"),
                "--text",
                str(d["prompts"][0]),
                str(d["prompts"][1]),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    r = np.load(out)
    np.testing.assert_array_equal(r["tokens"], d["tokens"][:2])
    np.testing.assert_allclose(r["text_features"], d["text_features"][:2], atol=1e-5, rtol=0)
    img = tmp_path / "src.png"
    Image.fromarray(d["image_src_1"]).save(img)
    out = tmp_path / "i.npz"
    assert main(["embed", "--clip", str(tmp_path / "clip"), "--image", str(img), "--out", str(out)]) == 0
    np.testing.assert_allclose(np.load(out)["image_features"], d["image_features"][1:2], atol=1e-5, rtol=0)
    assert main(["embed", "--clip", str(tmp_path / "clip"), "--text", "", "--out", str(tmp_path / "e.npz")]) == 2
    assert (
        main(
            [
                "embed",
                "--clip",
                str(tmp_path / "clip"),
                "--image",
                str(tmp_path / "none.png"),
                "--out",
                str(tmp_path / "e.npz"),
            ]
        )
        == 2
    )
    assert main(["convert", "idnet", str(golden_dir / "irse50_tiny.pth"), str(tmp_path / "idnet")]) == 0
    assert (tmp_path / "idnet" / "model.safetensors").exists()
    assert main(["convert", "idnet", str(golden_dir / "clip_tiny_openai.pt"), str(tmp_path / "idnet2")]) == 2


def test_edit_optimize(tmp_path, gen_dir, golden_dir):
    assert main(["convert", "clip", str(golden_dir / "clip_tiny_openai.pt"), str(tmp_path / "clip")]) == 0
    o = np.load(golden_dir / "optimization_tiny.npz")
    lat = tmp_path / "lat.npz"
    np.savez(lat, wplus=o["latent_init"])
    out = tmp_path / "opt"
    args = [
        "edit",
        "optimize",
        "--generator",
        str(gen_dir),
        "--clip",
        str(tmp_path / "clip"),
        "--text",
        str(o["description"]),
        "--latents",
        str(lat),
        "--steps",
        "30",
        "--snapshot-every",
        "10",
        "--gif",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    r = np.load(out / "result.npz")
    np.testing.assert_allclose(r["wplus"][0], o["latents_all"][30], atol=2e-2)
    np.testing.assert_allclose(r["loss_loss"][:, 0], o["loss_per_step"], atol=1e-3)
    assert r["wplus_snapshots"].shape == (3, 1, 10, 64)
    assert Image.open(out / "before_after.png").size == (2 * 66 + 2, 66 + 2)
    assert Image.open(out / "trajectory.gif").n_frames == 4 and len(list((out / "frames").iterdir())) == 4
    assert main(args) == 2  # refuses to overwrite
    bad = [
        "edit",
        "optimize",
        "--generator",
        str(gen_dir),
        "--clip",
        str(tmp_path / "clip"),
        "--text",
        "",
        "--seeds",
        "0",
        "--steps",
        "2",
        "--out",
        str(tmp_path / "x"),
    ]
    assert main(bad) == 2 and not (tmp_path / "x").exists()
    rows = [
        "edit",
        "optimize",
        "--generator",
        str(gen_dir),
        "--clip",
        str(tmp_path / "clip"),
        "--text",
        "a face",
        "--latents",
        str(lat),
        "--steps",
        "3",
        "--rows",
        "6-9",
        "--tie-rows",
        "--out",
        str(tmp_path / "rows"),
    ]
    assert main(rows) == 0
    r = np.load(tmp_path / "rows" / "result.npz")
    delta = r["wplus"][0] - o["latent_init"][0]
    np.testing.assert_array_equal(delta[:6], 0.0)
    assert np.abs(delta[6]).max() > 0 and np.allclose(delta[6:], delta[6], atol=1e-6)
    assert main(rows[:-1] + [str(tmp_path / "r2")] + ["--rows", "8-12"]) == 2 and not (tmp_path / "r2").exists()


def test_mapper_convert_and_apply(tmp_path, golden_dir):
    import json

    from styleclip_jax import GeneratorConfig
    from styleclip_jax.models.stylegan2.random_init import random_generator

    assert main(["convert", "mapper", str(golden_dir / "mapper_tiny.pt"), str(tmp_path / "m")]) == 0
    assert json.loads((tmp_path / "m" / "config.json").read_text())["kind"] == "mapper"
    # the tiny golden generator has 10 W+ rows: apply must refuse it; a narrow random 1024 generator
    # (18 rows x 512, 4 channels per layer) takes the real-size mapper
    assert main(["convert", "generator", str(golden_dir / "rosinality_tiny.pt"), str(tmp_path / "g")]) == 0
    d = np.load(golden_dir / "mapper_tiny.npz")
    np.savez(tmp_path / "w.npz", wplus=d["w"])
    assert (
        main(
            [
                "mapper",
                "apply",
                "--mapper",
                str(tmp_path / "m"),
                "--generator",
                str(tmp_path / "g"),
                "--latents",
                str(tmp_path / "w.npz"),
                "--out",
                str(tmp_path / "x.npz"),
            ]
        )
        == 2
    )
    cfg = GeneratorConfig.rosinality(
        1024, style_dim=512, n_mlp=1, channels={r: 4 for r in (4, 8, 16, 32, 64, 128, 256, 512, 1024)}
    )
    random_generator(cfg).save(tmp_path / "g1024")
    out = tmp_path / "edit.npz"
    assert (
        main(
            [
                "mapper",
                "apply",
                "--mapper",
                str(tmp_path / "m"),
                "--generator",
                str(tmp_path / "g1024"),
                "--latents",
                str(tmp_path / "w.npz"),
                "--alpha",
                "0",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    r = np.load(out)
    assert r["images"].shape == (4, 1024, 1024, 3)
    np.testing.assert_allclose(r["wplus"][0], d["w"][0], atol=0)
    np.testing.assert_allclose(r["wplus"][1], d["w_hat"][0], atol=1e-5)
    np.testing.assert_allclose(r["wplus"][3], d["w_hat"][1], atol=1e-5)


def test_mapper_train_resume_and_apply(tmp_path, gen_dir, golden_dir):
    assert main(["convert", "clip", str(golden_dir / "clip_tiny_openai.pt"), str(tmp_path / "clip")]) == 0
    base = [
        "mapper",
        "train",
        "--generator",
        str(gen_dir),
        "--clip",
        str(tmp_path / "clip"),
        "--description",
        "a smiling face",
        "--id-lambda",
        "0",
        "--batch-size",
        "2",
        "--log-every",
        "2",
        "--val-every",
        "2",
        "--save-every",
        "2",
        "--val-size",
        "2",
        "--out",
        str(tmp_path / "exp"),
    ]
    assert main(base + ["--steps", "2"]) == 0
    assert main(base + ["--steps", "2"]) == 2  # refuses to reuse the folder without --resume
    assert main(base + ["--steps", "4", "--resume"]) == 0
    lines = (tmp_path / "exp" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4
    assert (
        main(
            [
                "mapper",
                "train",
                "--generator",
                str(gen_dir),
                "--clip",
                str(tmp_path / "clip"),
                "--description",
                "x",
                "--out",
                str(tmp_path / "e2"),
            ]
        )
        == 2
    )  # id_lambda 0.1 without --idnet: clear error
    out = tmp_path / "grid.png"
    assert (
        main(
            [
                "mapper",
                "apply",
                "--mapper",
                str(tmp_path / "exp" / "mapper"),
                "--generator",
                str(gen_dir),
                "--seeds",
                "0-1",
                "--alpha",
                "0",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert Image.open(out).size == (3 * 66 + 2, 2 * 66 + 2)


def test_ui_refuses_an_address_it_cannot_listen_on(capsys):
    import socket

    assert main(["ui", "--host", "256.1.1.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--host '256.1.1.1'" in err[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot listen on --host 127.0.0.1 --port {port}" in err[0]


def test_size_like_flags_have_upper_bounds(tmp_path, capsys):
    toy = "styleclip_jax/toyworld/weights/generator"
    cases = [
        (["align", "x.png", "--out", str(tmp_path / "a"), "--size", "1000000"], "at most 8192"),
        (["generate", "--generator", toy, "--seeds", "0-99999999", "--out", str(tmp_path / "g.png")], "at most 65536"),
        (
            ["generate", "--generator", toy, "--seeds", ",".join(["1"] * 70000), "--out", str(tmp_path / "h.png")],
            "65536",
        ),
        (
            ["encoder", "train", "--generator", toy, "--input-size", "100000", "--out", str(tmp_path / "e")],
            "at most 1024",
        ),
    ]
    for argv, says in cases:
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own one-line exit
            rc = e.code
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and says in err[0], (argv[:2], err)
    assert not any(tmp_path.iterdir())  # refused before anything was made


def test_precompute_refuses_before_making_a_folder(tmp_path, capsys):
    toy = "styleclip_jax/toyworld/weights"
    base = ["global", "precompute", "--generator", f"{toy}/generator", "--clip", f"{toy}/clip", "--out"]
    cases = [
        (["--layers", "bogus", "--n-stats", "100", "--images", "4"], "unknown or toRGB layers ['bogus']"),
        (["--n-stats", "10", "--images", "100"], "0 <= --images <= --n-stats"),
        (["--population", "1", "--n-stats", "100", "--images", "4"], "--population needs at least 2"),
    ]
    for i, (extra, says) in enumerate(cases):
        assert main(base + [str(tmp_path / str(i)), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err
        assert not (tmp_path / str(i)).exists()  # so the corrected rerun needs no --overwrite
