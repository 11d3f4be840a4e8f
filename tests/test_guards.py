"""The hostile-tester cases of issue #22, one test per numbered finding: each repro is now a clear
error (exit 2, one line) or a correct result."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from styleclip_jax.cli.main import main
from styleclip_jax.errors import CheckpointError, JobFolderError, NonFiniteError

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "styleclip_jax" / "toyworld" / "weights"
GEN, CLIP, STATS = TOY / "generator", TOY / "clip", TOY / "global"


def run(argv, capsys):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err
    return rc, err


def last_line_error(rc, err, *needles):
    assert rc == 2 and "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("styleclip-jax: error: ") and all(n in last for n in needles), err


def one_line_error(rc, err, *needles):
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)


@pytest.fixture(scope="module")
def toy():
    from styleclip_jax import load_clip, load_generator

    return load_generator(GEN), load_clip(CLIP)


@pytest.fixture(scope="module")
def other_clip(tmp_path_factory):
    """The toy CLIP with one weight nudged: another CLIP, same shapes."""
    from safetensors.numpy import load_file, save_file

    d = tmp_path_factory.mktemp("clip2") / "clip"
    shutil.copytree(CLIP, d)
    t = load_file(str(CLIP / "model.safetensors"))
    k = sorted(t)[0]
    t[k] = t[k] + np.float32(1e-3)
    save_file(t, str(d / "model.safetensors"))
    return d


# ---- 2. global-direction tables never mix CLIPs, and are locked --------------------------------
def test_2_fs3_tables_refuse_another_clip_and_a_second_writer(tmp_path, toy, other_clip, capsys):
    from styleclip_jax import load_clip
    from styleclip_jax.editing.global_directions.relevance import precompute_fs3
    from styleclip_jax.editing.global_directions.stats import (
        StyleSpaceStats,
        compute_stats,
    )
    from styleclip_jax.io.jobs import LOCK_FILE

    gen, clip = toy
    stats = compute_stats(gen, n=20, keep=2)
    kw = dict(num_images=2, channels_per_chunk=4, image_batch=4, channel_subset={stats.names[0]: [0, 1, 2, 3, 4]})

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        precompute_fs3(gen, clip, stats, tmp_path / "p", progress=stop, **kw)
    assert not (tmp_path / "p" / LOCK_FILE).exists()  # released on the way out
    with pytest.raises(JobFolderError, match="other clip"):  # resume with another CLIP
        precompute_fs3(gen, load_clip(other_clip), stats, tmp_path / "p", **kw)
    # a live second writer holds the lock: refused, naming it
    (tmp_path / "p" / LOCK_FILE).write_text(
        json.dumps({"pid": os.getppid(), "host": os.uname().nodename, "started": "now"})
    )
    with pytest.raises(JobFolderError, match=f"in use by another run \\(pid {os.getppid()}"):
        precompute_fs3(gen, clip, stats, tmp_path / "p", **kw)
    # a stale lock (its process is gone) is taken over and the run finishes
    (tmp_path / "p" / LOCK_FILE).write_text(json.dumps({"pid": 2**22 + 12345, "host": os.uname().nodename}))
    rows = precompute_fs3(gen, clip, stats, tmp_path / "p", **kw)
    assert rows.shape[0] == 5 and not (tmp_path / "p" / LOCK_FILE).exists()
    # global edit checks the CLIP the stats were made with
    st = StyleSpaceStats.load(STATS)
    st.info["fs3"] = {"clip": clip.fingerprint()}
    st.save(tmp_path / "stats")
    base = [
        "global",
        "edit",
        "--generator",
        GEN,
        "--stats",
        tmp_path / "stats",
        "--neutral",
        "object",
        "--target",
        "green object",
        "--seeds",
        "0",
    ]
    one_line_error(*run(base + ["--clip", other_clip, "--out", tmp_path / "x.png"], capsys), "another CLIP")
    assert run(base + ["--clip", CLIP, "--out", tmp_path / "ok.png"], capsys)[0] == 0


# ---- 3. mapper training folders: one writer, failed runs resumable or clearable -----------------
def test_3_mapper_folders_locked_resumable_and_clearable(tmp_path, capsys):
    from styleclip_jax.io.jobs import LOCK_FILE

    out = tmp_path / "run"
    base = [
        "mapper",
        "train",
        "--generator",
        GEN,
        "--clip",
        CLIP,
        "--description",
        "a green object",
        "--id-lambda",
        "0",
        "--mapper-type",
        "single",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--val-size",
        "0",
        "--log-every",
        "1",
        "--save-every",
        "1",
        "--out",
        out,
    ]
    out.mkdir()
    (out / "train_config.json").write_text("{}")  # a run killed before any step
    (out / LOCK_FILE).write_text(json.dumps({"pid": os.getppid(), "host": os.uname().nodename}))
    one_line_error(*run(base + ["--resume"], capsys), "in use by another run")
    (out / LOCK_FILE).unlink()
    one_line_error(*run(base, capsys), "--overwrite")  # the flag it names exists
    one_line_error(*run(base + ["--resume"], capsys), "differ from the original run")
    assert run(base + ["--overwrite"], capsys)[0] == 0
    assert (out / "mapper" / "model.safetensors").exists() and not (out / LOCK_FILE).exists()
    # stopped before its first checkpoint: --resume starts over instead of failing
    shutil.rmtree(out / "checkpoints")
    assert run(base + ["--resume"], capsys)[0] == 0
    # --overwrite never clears a folder that is not a training run
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    one_line_error(*run(base[:-1] + [tmp_path / "mine", "--overwrite"], capsys), "not a mapper training folder")
    assert (tmp_path / "mine" / "thesis.tex").exists()


# ---- 4. non-finite weights and numeric flags ------------------------------------------------------
def test_4_nan_weights_and_flags_are_refused(tmp_path, golden_dir, capsys):
    from torch_format import save_zip

    from styleclip_jax.io.torch_pickle import load_checkpoint

    ck = load_checkpoint(golden_dir / "rosinality_tiny.pt")
    ck["g_ema"]["convs.0.conv.weight"][0, 0, 0, 0, 0] = np.nan
    save_zip(ck, tmp_path / "nan.pt")
    one_line_error(
        *run(["convert", "generator", tmp_path / "nan.pt", tmp_path / "g"], capsys), "convs.0.conv.weight", "NaN"
    )
    assert not (tmp_path / "g").exists()
    ck["g_ema"]["convs.0.conv.weight"] = np.ones_like(ck["g_ema"]["convs.0.conv.weight"], dtype=np.int64)
    save_zip(ck, tmp_path / "int.pt")
    one_line_error(*run(["convert", "generator", tmp_path / "int.pt", tmp_path / "g"], capsys), "dtype int64")
    for flag, value in (("--truncation", "nan"), ("--truncation-cutoff", "-1"), ("--batch-size", "0")):
        one_line_error(
            *run(["generate", "--generator", GEN, "--seeds", "0", flag, value, "--out", tmp_path / "a.png"], capsys),
            flag,
        )
    one_line_error(
        *run(
            [
                "edit",
                "optimize",
                "--generator",
                GEN,
                "--clip",
                CLIP,
                "--text",
                "a",
                "--seeds",
                "0",
                "--lr",
                "1e30",
                "--out",
                tmp_path / "o",
            ],
            capsys,
        ),
        "--lr",
    )
    one_line_error(
        *run(["export", "generator", "--generator", GEN, "--opset", "99", "--out", tmp_path / "m.onnx"], capsys),
        "--opset",
    )
    # and outputs: an edit that overflows to NaN is never written
    w = np.full((1, 8, 128), 3e38, np.float32)
    np.savez(tmp_path / "huge.npz", wplus=w)
    one_line_error(
        *run(["generate", "--generator", GEN, "--latents", tmp_path / "huge.npz", "--out", tmp_path / "h.npz"], capsys),
        "NaN or infinite",
    )
    assert not (tmp_path / "h.npz").exists()


# ---- 5. inputs that used to be ignored ------------------------------------------------------------
def test_5_latents_precedence_and_dtypes(tmp_path, toy, capsys):
    gen, _ = toy
    out = tmp_path / "g.npz"
    assert run(["generate", "--generator", GEN, "--seeds", "0-1", "--out", out], capsys)[0] == 0
    # our own output (W+ and the codes it maps to) is unambiguous
    assert run(["generate", "--generator", GEN, "--latents", out, "--out", tmp_path / "a.npz"], capsys)[0] == 0
    np.testing.assert_allclose(np.load(tmp_path / "a.npz")["images"], np.load(out)["images"], atol=1e-5)
    # edited codes next to the W+: an error naming the flag, and each choice does what it says
    d = dict(np.load(out))
    name = sorted(k for k in d if k.startswith("s/"))[0]
    d[name] = d[name] + 3.0
    np.savez(tmp_path / "edited.npz", **d)
    one_line_error(
        *run(
            ["generate", "--generator", GEN, "--latents", tmp_path / "edited.npz", "--out", tmp_path / "b.npz"], capsys
        ),
        "--latents-key",
    )
    assert (
        run(
            [
                "generate",
                "--generator",
                GEN,
                "--latents",
                tmp_path / "edited.npz",
                "--latents-key",
                "s",
                "--out",
                tmp_path / "s.npz",
            ],
            capsys,
        )[0]
        == 0
    )
    s_img = np.load(tmp_path / "s.npz")["images"]
    want = np.asarray(gen.synthesis_s({k[2:]: v for k, v in d.items() if k.startswith("s/")}))
    np.testing.assert_allclose(s_img, want, atol=1e-5)
    assert np.abs(s_img - d["images"]).max() > 1e-3
    # integer, bool and complex latents are refused, not cast
    for dt in (np.int32, np.bool_, np.complex64):
        np.savez(tmp_path / "t.npz", wplus=np.zeros((1, 8, 128), dt))
        one_line_error(
            *run(
                ["generate", "--generator", GEN, "--latents", tmp_path / "t.npz", "--out", tmp_path / "c.npz"], capsys
            ),
            "floating point",
        )
    # free generation takes no seeds
    one_line_error(
        *run(
            [
                "edit",
                "optimize",
                "--generator",
                GEN,
                "--clip",
                CLIP,
                "--text",
                "a",
                "--mode",
                "free_generation",
                "--seeds",
                "0",
                "--out",
                tmp_path / "o",
            ],
            capsys,
        ),
        "free_generation",
    )


def test_5_run_onnx_refuses_inputs_its_graph_does_not_take(tmp_path, capsys):
    pytest.importorskip("jax2onnx")
    m = tmp_path / "g.onnx"
    assert run(["export", "generator", "--generator", GEN, "--out", m], capsys)[0] == 0
    assert "onnx_ir" not in capsys.readouterr().err  # 10: no export chatter
    np.savez(tmp_path / "w.npz", wplus=np.zeros((2, 8, 128), np.float32))
    base = ["run-onnx", "--model", m, "--latents", tmp_path / "w.npz", "--cpu", "--out", tmp_path / "o.npz"]
    one_line_error(*run(base + ["--alpha", "2"], capsys), "--alpha")
    one_line_error(*run(base + ["--psi", "0.5"], capsys), "--psi")
    np.savez(tmp_path / "w0.npz", wplus=np.zeros((0, 8, 128), np.float32))  # 8: a batch of 0
    one_line_error(
        *run(
            ["run-onnx", "--model", m, "--latents", tmp_path / "w0.npz", "--cpu", "--out", tmp_path / "o.npz"], capsys
        ),
        "empty batch",
    )
    assert run(base, capsys)[0] == 0


# ---- 6. outputs are neither stale nor silently overwritten ----------------------------------------
def test_6_overwrite_clears_old_frames_and_sidecars_are_guarded(tmp_path, capsys):
    base = [
        "edit",
        "optimize",
        "--generator",
        GEN,
        "--clip",
        CLIP,
        "--text",
        "a green object",
        "--seeds",
        "0",
        "--steps",
        "4",
        "--out",
        tmp_path / "o",
    ]
    assert run(base + ["--snapshot-every", "1", "--gif"], capsys)[0] == 0
    assert len(list((tmp_path / "o" / "frames").glob("*.png"))) == 5
    assert run(base + ["--overwrite"], capsys)[0] == 0
    assert not (tmp_path / "o" / "frames").exists() and not (tmp_path / "o" / "trajectory.gif").exists()
    assert "wplus_snapshots" not in np.load(tmp_path / "o" / "result.npz").files
    side = tmp_path / "e.npz.json"
    side.write_text("mine")
    one_line_error(
        *run(
            [
                "global",
                "edit",
                "--generator",
                GEN,
                "--clip",
                CLIP,
                "--stats",
                STATS,
                "--neutral",
                "object",
                "--target",
                "green object",
                "--seeds",
                "0",
                "--out",
                tmp_path / "e.npz",
            ],
            capsys,
        ),
        "e.npz.json exists",
    )
    assert side.read_text() == "mine" and not (tmp_path / "e.npz").exists()


# ---- 7. messages that point the right way ---------------------------------------------------------
def test_7_messages_name_the_real_problem(tmp_path, golden_dir, capsys):
    from convert_weights.clip import openai_config, openai_state_dict, openai_to_ours
    from convert_weights.stylegan2 import generator_from_checkpoint
    from styleclip_jax.io.torch_pickle import PersistentObject, load_checkpoint

    base = ["edit", "optimize", "--generator", GEN, "--clip", CLIP, "--seeds", "0", "--out", tmp_path / "o"]
    rc, err = run(base + ["--text", "word " * 90], capsys)
    one_line_error(rc, err, "too long")
    assert "--truncate" not in err
    one_line_error(*run(base + ["--text", "a", "--rows", "4-x"], capsys), "--rows")
    # a missing ADA weight is named, not reported as a resolution mismatch
    ada = load_checkpoint(golden_dir / "ada_tiny.pkl")
    g = ada["G_ema"]
    assert isinstance(g, PersistentObject)
    sd = g.state["_modules"]["synthesis"].state["_modules"]["b32"].state["_modules"]["conv0"].state["_parameters"]
    del sd["weight"]
    with pytest.raises(CheckpointError, match="missing key 'synthesis.b32.conv0.weight'"):
        generator_from_checkpoint(ada, "ada")
    # a CLIP missing one key names that key, not 35 'unused' ones
    clip_sd = openai_state_dict(load_checkpoint(golden_dir / "clip_tiny_openai.pt"), "clip")
    clip_sd.pop("transformer.resblocks.1.attn.in_proj_weight")
    with pytest.raises(CheckpointError) as e:
        openai_to_ours(clip_sd, openai_config(clip_sd, "clip"), "clip")
    assert "missing keys ['transformer.resblocks.1.attn.in_proj.kernel']" in str(e.value)
    assert "unused" not in str(e.value)
    # a folder as --latents, random bytes as .npz
    (tmp_path / "d.npz").mkdir()
    one_line_error(
        *run(["generate", "--generator", GEN, "--latents", tmp_path / "d.npz", "--out", tmp_path / "x.png"], capsys),
        "is a folder",
    )
    (tmp_path / "r.npz").write_bytes(np.random.default_rng(0).bytes(1000))
    rc, err = run(
        ["generate", "--generator", GEN, "--latents", tmp_path / "r.npz", "--out", tmp_path / "x.png"], capsys
    )
    one_line_error(rc, err, "not a .npz archive")
    assert "allow_pickle" not in err


# ---- 8. what used to end in a traceback ------------------------------------------------------------
def test_8_former_tracebacks(tmp_path, toy, capsys, monkeypatch):
    gen, _ = toy
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):  # root ignores permission bits: use a path under a file instead
        ro = tmp_path / "afile"
        ro.write_text("x")
    one_line_error(*run(["generate", "--generator", GEN, "--seeds", "0", "--out", ro / "x.png"], capsys))
    # upstream latent files: w_plus.npy (N, 18, 512)-style and a torch tensor file
    w = np.asarray(gen.mapping(np.random.default_rng(0).standard_normal((2, 128)).astype(np.float32)))
    np.save(tmp_path / "w_plus.npy", w)
    from torch_format import save_zip

    save_zip(w, tmp_path / "test_faces.pt")
    for f in ("w_plus.npy", "test_faces.pt"):
        assert (
            run(["generate", "--generator", GEN, "--latents", tmp_path / f, "--out", tmp_path / f"{f}.npz"], capsys)[0]
            == 0
        )
        np.testing.assert_allclose(np.load(tmp_path / f"{f}.npz")["wplus"], w, atol=0)
    # a decompression bomb: 9000 x 9000 pixels in a small file, refused before decoding
    Image.new("L", (9000, 9000)).save(tmp_path / "bomb.png", optimize=True)
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    one_line_error(
        *run(["embed", "--clip", CLIP, "--image", tmp_path / "bomb.png", "--out", tmp_path / "e.npz"], capsys),
        "pixel limit",
    )
    # a non-finite training loss: NonFiniteError -> exit 2, not FloatingPointError's traceback (the
    # progress bar has started by then, so the error is the last line)
    from safetensors.numpy import load_file, save_file

    shutil.copytree(GEN, tmp_path / "overflow")  # finite weights whose images overflow to inf
    t = load_file(str(GEN / "model.safetensors"))
    for k in t:
        if k.endswith("torgb.bias"):
            t[k] = np.full_like(t[k], 3e38)
    save_file(t, str(tmp_path / "overflow" / "model.safetensors"))
    last_line_error(
        *run(
            [
                "mapper",
                "train",
                "--generator",
                tmp_path / "overflow",
                "--clip",
                CLIP,
                "--description",
                "a",
                "--id-lambda",
                "0",
                "--mapper-type",
                "single",
                "--steps",
                "2",
                "--val-size",
                "0",
                "--out",
                tmp_path / "t",
            ],
            capsys,
        ),
        "non-finite",
    )
    # Ctrl-C: exit 130 with one line
    import styleclip_jax.cli.generate as g

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(g, "load_generator", interrupt)
    rc, err = run(["generate", "--generator", GEN, "--seeds", "0", "--out", tmp_path / "k.png"], capsys)
    assert rc == 130 and err.strip() == "styleclip-jax: interrupted", err


def test_8_library_errors_share_one_family():
    from styleclip_jax.errors import ConfigError, OutputExistsError, StyleClipError
    from styleclip_jax.models.mapper.network import MapperConfig

    with pytest.raises(ConfigError):
        MapperConfig(kind="nope", latent_dim=4, num_ws=4)
    for cls in (ConfigError, OutputExistsError, NonFiniteError, JobFolderError):
        assert issubclass(cls, StyleClipError)
    assert issubclass(NonFiniteError, FloatingPointError) and issubclass(OutputExistsError, FileExistsError)


# ---- 9. zip bombs and pickles are sized before they are unpacked ----------------------------------
def test_9_zip_bomb_is_refused_before_decompression(tmp_path):
    from styleclip_jax.io.torch_pickle import load_checkpoint

    p = tmp_path / "bomb.pt"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        with z.open("archive/data/0", "w") as f:
            chunk = bytes(1 << 20)
            for _ in range(200):  # 200 MiB of zeros in ~200 KB
                f.write(chunk)
    assert p.stat().st_size < 1_000_000
    with pytest.raises(CheckpointError, match="zip bomb"):
        load_checkpoint(p)
    # a plain pickle whose length field claims more bytes than the file holds
    q = tmp_path / "liar.pkl"
    q.write_bytes(b"\x80\x04\x8e" + (2**40).to_bytes(8, "little") + b"abc")
    with pytest.raises(CheckpointError, match="corrupt/truncated"):
        load_checkpoint(q)


# ---- 10. the smaller ones ---------------------------------------------------------------------------
def test_10_permissions_help_defaults_and_quiet_imports(tmp_path, golden_dir, capsys):
    old = os.umask(0o022)
    try:
        assert main(["convert", "generator", str(golden_dir / "rosinality_tiny.pt"), str(tmp_path / "g")]) == 0
    finally:
        os.umask(old)
    for f in ("config.json", "model.safetensors"):
        assert (tmp_path / "g" / f).stat().st_mode & 0o777 == 0o644
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    assert "(default: 8)" in capsys.readouterr().out
    # the tokenizer, where torch cannot be imported, says nothing about PyTorch
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from styleclip_jax.models.clip.tokenizer import tokenize; tokenize('a face')"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert p.returncode == 0 and "PyTorch" not in p.stderr, p.stderr
