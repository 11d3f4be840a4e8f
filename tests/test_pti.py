"""Pivotal tuning (PTI): no golden exists, so these are properties on the toy world's generator
with the seeded random LPIPS stand-in: the reconstruction improves, only synthesis weights move, the
tuned folder stores just those over its base (fingerprint checked), early stop, resume bit for bit,
and the photo path through the CLI."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from styleclip_jax.cli.main import main
from styleclip_jax.editing.inversion.config import PTIConfig
from styleclip_jax.errors import CheckpointError, InputError

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "styleclip_jax" / "toyworld" / "weights"
FAST = PTIConfig(steps=4, lr=1e-3, lpips_threshold=0.0)


@pytest.fixture(scope="module")
def setup():
    from styleclip_jax.models.generators import load_generator
    from styleclip_jax.models.lpips import random_lpips
    from styleclip_jax.toyworld import world
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.inversion import encode_scenes

    tw = load_world(with_stats=False)
    _, scenes = world.sample_numpy(5, 2)
    return load_generator(TOY / "generator"), random_lpips("alex", 0), encode_scenes(tw, scenes), scenes


def test_tuning_improves_the_reconstruction_and_only_synthesis_moves(setup, tmp_path):
    from styleclip_jax.editing.inversion.pti import tune
    from styleclip_jax.models.generators import load_generator

    gen, lp, w, x = setup
    tuned, rep = tune(gen, TOY / "generator", w[:1], x[:1], FAST, tmp_path / "run", lp)
    assert rep["steps"] == 4 and rep["stopped_at"] == -1
    assert rep["l2_after"][0] < 0.8 * rep["l2_before"][0] and rep["lpips_after"][0] < rep["lpips_before"][0]
    base, new = gen.tensors(), tuned.tensors()
    moved = sorted(k for k in base if not np.array_equal(base[k], new[k]))
    assert moved and all(k.startswith("synthesis.") for k in moved)
    assert not any("noise_const" in k for k in moved)  # buffers are the base's, as upstream's
    folder = tmp_path / "run" / "generator"
    meta = json.loads((folder / "config.json").read_text())
    assert meta["kind"] == "tuned-generator" and meta["config"]["tensors"] == moved
    assert meta["config"]["base"]["fingerprint"] == gen.fingerprint()
    again = load_generator(folder)
    assert again.fingerprint() == tuned.fingerprint() != gen.fingerprint()
    assert again.lineage() == (tuned.fingerprint(), gen.fingerprint())
    np.testing.assert_array_equal(np.asarray(again.synthesis(w[:1])), np.asarray(tuned.synthesis(w[:1])))


def test_early_stop_and_batches(setup, tmp_path):
    from styleclip_jax.editing.inversion.pti import tune

    gen, lp, w, x = setup
    # upstream checks LPIPS before the update: under the threshold at once, nothing moves
    tuned, rep = tune(gen, TOY / "generator", w[:1], x[:1], dataclasses.replace(FAST, lpips_threshold=1.0),
                      tmp_path / "stop", lp)  # fmt: skip
    assert (
        rep["stopped_at"] == 0
        and rep["steps"] == 4
        and tuned.fingerprint() != ""
        and rep["l2_after"] == rep["l2_before"]
    )
    # several photos: one update per photo per step (upstream multi-id), or batched updates
    one, r1 = tune(gen, TOY / "generator", w, x, dataclasses.replace(FAST, steps=2), tmp_path / "multi", lp)
    two, r2 = tune(gen, TOY / "generator", w, x, dataclasses.replace(FAST, steps=2, batch=2), tmp_path / "batch", lp)
    assert one.fingerprint() != two.fingerprint()
    for r in (r1, r2):
        assert np.mean(r["l2_after"]) < np.mean(r["l2_before"])
    loc, r3 = tune(gen, TOY / "generator", w[:1], x[:1], dataclasses.replace(FAST, steps=2, locality=True),
                   tmp_path / "loc", lp)  # fmt: skip
    assert np.all(np.isfinite(r3["l2_after"])) and loc.fingerprint() != one.fingerprint()


def test_resume_is_bit_identical_and_refuses_other_inputs(setup, tmp_path):
    from styleclip_jax.editing.inversion.pti import tune

    gen, lp, w, x = setup
    straight, _ = tune(gen, TOY / "generator", w[:1], x[:1], FAST, tmp_path / "a", lp)
    tune(gen, TOY / "generator", w[:1], x[:1], dataclasses.replace(FAST, steps=2), tmp_path / "b", lp,
         checkpoint_every=1)  # fmt: skip
    resumed, _ = tune(gen, TOY / "generator", w[:1], x[:1], FAST, tmp_path / "b", lp, resume=True)
    assert resumed.fingerprint() == straight.fingerprint()
    with pytest.raises(InputError, match="pivots differ"):
        tune(gen, TOY / "generator", w[1:], x[:1], FAST, tmp_path / "b", lp, resume=True)
    with pytest.raises(InputError, match="needs an LPIPS folder"):
        tune(gen, TOY / "generator", w[:1], x[:1], FAST, tmp_path / "c")


def test_a_tuned_folder_refuses_another_base(setup, tmp_path):
    from safetensors.numpy import load_file, save_file

    from styleclip_jax.editing.inversion.pti import tune
    from styleclip_jax.models.generators import load_generator

    gen, lp, w, x = setup
    base = tmp_path / "base"
    shutil.copytree(TOY / "generator", base)
    tune(gen, base, w[:1], x[:1], dataclasses.replace(FAST, steps=1), tmp_path / "run", lp)
    t = load_file(str(base / "model.safetensors"))
    t["w_avg"] = t["w_avg"] + 1
    save_file(t, str(base / "model.safetensors"))
    with pytest.raises(CheckpointError, match="tuned from another generator"):
        load_generator(tmp_path / "run" / "generator")
    shutil.rmtree(base)
    with pytest.raises(CheckpointError, match="its base generator is gone"):
        load_generator(tmp_path / "run" / "generator")


def test_photo_commands_tune_then_edit(setup, tmp_path, capsys):
    _, _, _, x = setup
    for i, img in enumerate(x):
        Image.fromarray(np.uint8(np.clip(np.rint((img + 1) * 127.5), 0, 255))).save(tmp_path / f"s{i}.png")
    photos = [str(tmp_path / "s0.png"), str(tmp_path / "s1.png")]
    common = ["--encoder", str(TOY / "encoder"), "--images", *photos, "--lpips", "random"]
    argv = ["invert", "--generator", str(TOY / "generator"), *common, "--pti", "3", "--out", str(tmp_path / "w.npz")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "PTI 3 steps" in out and "LPIPS" in out and (tmp_path / "w.npz.pti" / "generator" / "config.json").exists()
    # the tuned folder is a generator for every command; the base's StyleSpace stats still apply
    tuned = str(tmp_path / "w.npz.pti" / "generator")
    edit = ["global", "edit", "--generator", tuned, "--clip", str(TOY / "clip"), "--stats", str(TOY / "global")]
    edit += ["--latents", str(tmp_path / "w.npz"), "--neutral", "an object", "--target", "a red object"]
    assert main(edit + ["--alpha", "4", "--out", str(tmp_path / "e.png")]) == 0
    # one call: invert, tune, edit
    one = ["global", "edit", "--generator", str(TOY / "generator"), "--clip", str(TOY / "clip")]
    one += ["--stats", str(TOY / "global"), *common, "--pti", "2", "--neutral", "an object", "--target", "a red object"]
    assert main(one + ["--alpha", "4", "--out", str(tmp_path / "one.png")]) == 0
    assert "PTI 2 steps" in capsys.readouterr().out and (tmp_path / "one.png.pti" / "generator").is_dir()
    # refusals: PTI without photos, without a generator to tune
    bad = ["generate", "--generator", str(TOY / "generator"), "--seeds", "0", "--pti", "2"]
    assert main(bad + ["--out", str(tmp_path / "g.png")]) == 2
    assert "--pti tunes the generator on photos" in capsys.readouterr().err
    assert main(["invert", *common, "--pti", "2", "--out", str(tmp_path / "v.npz")]) == 2
    assert "give --generator" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "v.npz").exists()
