"""``styleclip-jax convert generator`` and ``generate``, checked from the outside through files."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import nchw
from styleclip_jax.cli.main import main
from styleclip_jax.latents_io import z_from_seeds


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
    assert main(["generate", "--generator", str(gen_dir), "--latents", str(lat), "--out", str(out),
                 "--batch-size", "2"]) == 0
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
    assert main(["generate", "--generator", str(gen_dir), "--seeds", "0-2,7", "--truncation", "0.7",
                 "--out", str(out)]) == 0
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
    assert main(["generate", "--generator", str(tmp_path / "nope"), "--seeds", "0", "--out", str(tmp_path / "y.npz")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["convert", "generator", str(bad), str(tmp_path / "g2")]) == 2
    assert "data.pkl: not a torch checkpoint" in capsys.readouterr().err


def test_console_script_runs(tmp_path, golden_dir):
    out = tmp_path / "g"
    r = subprocess.run([sys.executable, "-m", "styleclip_jax.cli.main", "convert", "generator",
                        str(golden_dir / "ada_tiny.pkl"), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "stylegan2-ada generator: 32px" in r.stdout and (out / "model.safetensors").exists()
