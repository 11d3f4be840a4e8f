"""`encoder train`: an e4e encoder for any generator (toy world here), resumable bit for bit."""

import json

import numpy as np
import pytest

from styleclip_jax.cli.main import main
from styleclip_jax.errors import InputError

ARGS = [
    "--widths",
    "8,16,24,32",
    "--units",
    "1,1,1,1",
    "--input-size",
    "32",
    "--batch-size",
    "4",
    "--lr",
    "0.001",
    "--latent-lambda",
    "1",
    "--checkpoint-every",
    "3",
]


@pytest.fixture(scope="module")
def gen_dir():
    from styleclip_jax.toyworld.bundle import weights_dir

    return weights_dir() / "generator"


def _metrics(d):
    return [json.loads(l) for l in (d / "metrics.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss_and_resumes_bit_identically(tmp_path, gen_dir):
    from styleclip_jax.models.e4e import load_encoder

    base = ["encoder", "train", "--generator", str(gen_dir), *ARGS]
    assert main(base + ["--steps", "12", "--out", str(tmp_path / "full")]) == 0
    m = _metrics(tmp_path / "full")
    assert len(m) == 12 and m[-1]["pixel"] < 0.6 * m[0]["pixel"], (m[0], m[-1])
    assert main(base + ["--steps", "6", "--out", str(tmp_path / "half")]) == 0
    assert main(base + ["--steps", "12", "--resume", "--out", str(tmp_path / "half")]) == 0
    assert _metrics(tmp_path / "half") == m  # the same losses, step for step
    a, b = load_encoder(tmp_path / "full" / "encoder"), load_encoder(tmp_path / "half" / "encoder")
    for k, v in a.tensors().items():
        np.testing.assert_array_equal(b.tensors()[k], v, err_msg=k)
    assert a.source["step"] == 12
    # the trained encoder inverts the generator's own samples better than chance: codes -> images
    from styleclip_jax import load_generator

    gen = load_generator(gen_dir)
    w = np.asarray(gen.mapping(np.random.default_rng(5).standard_normal((4, gen.config.z_dim)).astype(np.float32), 0.7))
    x = np.asarray(gen.synthesis(w))
    rec = np.asarray(gen.synthesis(a.encode(x)))
    assert np.mean((rec - x) ** 2) < m[0]["pixel"]


def test_restyle_training_refines_over_its_passes(tmp_path, gen_dir):
    from styleclip_jax import load_generator
    from styleclip_jax.editing.inversion.restyle import restyle_invert
    from styleclip_jax.models.e4e import load_encoder

    argv = ["encoder", "train", "--generator", str(gen_dir), *ARGS, "--restyle", "--iterations", "2"]
    argv += ["--lpips", "random", "--lpips-lambda", "0.8"]  # e4e's weight, on the random-trunk stand-in
    assert main(argv + ["--steps", "10", "--out", str(tmp_path / "rs")]) == 0
    m = _metrics(tmp_path / "rs")
    assert m[-1]["pixel"] < 0.7 * m[0]["pixel"] and m[-1]["lpips"] < m[0]["lpips"], (m[0], m[-1])
    enc = load_encoder(tmp_path / "rs" / "encoder")
    assert (enc.config.iterative, enc.config.fpn_width, enc.config.input_nc) == (True, 0, 6)
    gen = load_generator(gen_dir)
    w = np.asarray(gen.mapping(np.random.default_rng(5).standard_normal((4, gen.config.z_dim)).astype(np.float32), 0.7))
    x = np.asarray(gen.synthesis(w))
    codes, rec = restyle_invert(enc, gen, x, 2)
    assert codes.shape == (2, 4, gen.config.num_ws, gen.config.w_dim)
    assert np.mean((rec - x) ** 2) < m[0]["pixel"]


def test_bad_settings(tmp_path, gen_dir, capsys):
    from styleclip_jax.editing.inversion.training import (
        EncoderTrainConfig,
        encoder_config_for,
    )
    from styleclip_jax.toyworld.bundle import load_world

    base = ["encoder", "train", "--generator", str(gen_dir), "--out", str(tmp_path / "x")]
    with pytest.raises(SystemExit) as e:  # refused while parsing
        main(base + ["--widths", "8,16"])
    assert e.value.code == 2 and "--widths: expected 4 numbers" in capsys.readouterr().err
    assert main(base + ["--id-lambda", "0.5", "--steps", "1", *ARGS[:6]]) == 2
    assert "identity network" in capsys.readouterr().err
    gen = load_world(with_stats=False).generator
    with pytest.raises(InputError, match="multiple of 16"):
        encoder_config_for(gen, input_size=40)
    with pytest.raises(InputError, match="finite"):
        EncoderTrainConfig(lr=float("nan"))


def test_bundled_toy_encoder_inverts_drawn_scenes():
    """The toy world's encoder (trained with `encoder train`, weights/RECORD.md) on scenes drawn by
    world.render, never by the generator: the readers read the reconstruction back as the scene.
    Measured on 256 scenes: colour 100%, size 98.8%, position 100%, background 100%, shape ~46%
    (the generator's own shape fidelity from z is 54%), all five ~45%."""
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.inversion import inversion_report

    tw = load_world(with_stats=False)
    assert tw.encoder is not None
    r = inversion_report(tw, 128, 3000)
    p = r["per_attribute"]
    assert p["colour"] >= 0.95 and p["size"] >= 0.9 and p["position"] >= 0.95 and p["background"] >= 0.95, p
    assert r["all_five"] >= 0.3 and r["pixel_mse"] < 0.05, r["all_five"]


def test_edits_on_inverted_drawn_scenes():
    """evaluate --start inverted: drawn scenes -> encoder -> global colour edits (measured on 16
    held-out scenes: 59.4% success, 51.6% preservation; optimisation 75.0% / 68.8%)."""
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.evaluate import evaluate

    r = evaluate(load_world(), "global", "colour", n=6, seed=1000, start="inverted")
    assert r["start"] == "inverted" and r["edits"] >= 18
    assert r["success_rate"] >= 0.3 and r["clip_gain"] > 0.1, (r["success_rate"], r["clip_gain"])
    with pytest.raises(InputError, match="start must be"):
        evaluate(load_world(with_stats=False), "global", start="photos")


SHARDED = """
import os, sys, json
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax, numpy as np
from styleclip_jax.editing.inversion.training import EncoderTrainConfig, encoder_config_for, init_encoder, train_encoder
from styleclip_jax.models.generators import load_generator
assert jax.device_count() == 2, jax.devices()
gen = load_generator({gen!r})
enc_cfg = encoder_config_for(gen, (8, 16, 24, 32), (1, 1, 1, 1), 32)
cfg = EncoderTrainConfig(steps=3, batch_size=4, lr=1e-3, latent_lambda=1.0)
out = {{}}
for n in (1, 2):
    e = train_encoder(gen, cfg, {tmp!r} + f"/run{{n}}", enc_cfg, devices=n, progress=False)
    logs = [json.loads(l)["loss"] for l in open({tmp!r} + f"/run{{n}}/metrics.jsonl")]
    out[n] = (np.asarray(logs), e.tensors())
dl = float(np.abs(out[1][0] - out[2][0]).max())
init = init_encoder(enc_cfg, gen, cfg.seed).tensors()
flat = lambda t: np.concatenate([np.ravel(np.asarray(t[k])) for k in sorted(t)])
p1, p2, p0 = flat(out[1][1]), flat(out[2][1]), flat(init)
print(json.dumps({{"dloss": dl, "dparam": float(np.abs(p1 - p2).mean()), "moved": float(np.abs(p1 - p0).mean()),
                   "loss": float(out[1][0][0])}}))
"""


def test_data_parallel_training_matches_one_device(tmp_path, gen_dir):
    """Two forced host devices, the batch split between them: the same losses and weights as one device
    (up to float32 reduction order)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    code = SHARDED.format(gen=str(gen_dir), tmp=str(tmp_path))
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=str(repo)),
    )
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    # Adam normalises each gradient, so reduction-order noise on near-zero gradients moves single
    # weights by up to ~lr: compare the mean difference with the mean distance trained (a run on
    # half the batch, or without the sum over devices, differs by the order of that distance)
    assert r["dloss"] <= 1e-5 * max(1.0, r["loss"]), r
    assert r["moved"] > 1e-4 and r["dparam"] <= 1e-3 * r["moved"], r  # measured 7e-10 vs 1.3e-3
