"""Mapper training: resume equals an uninterrupted run, sharded equals one device, CLIP loss falls."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from styleclip_jax import InputError
from styleclip_jax.editing.mapper.core import MapperTrainConfig, init_mapper_tensors
from styleclip_jax.editing.mapper.run import train_mapper
from styleclip_jax.models.handle import flat_tensors
from styleclip_jax.models.mapper.handle import load_mapper

REPO = Path(__file__).resolve().parents[1]


def _cfg(**kw):
    base = dict(
        description="a person with purple hair",
        steps=6,
        batch_size=2,
        id_lambda=0.0,
        log_every=3,
        val_every=6,
        save_every=3,
        val_size=2,
        val_batch_size=2,
        seed=3,
    )
    base.update(kw)
    return MapperTrainConfig(**base)


def _latents(gen, n=10):
    z = np.random.default_rng(0).standard_normal((n, gen.config.z_dim)).astype(np.float32)
    return np.asarray(gen.mapping(z, 0.7))


def _lines(path):
    return [json.loads(l) for l in Path(path).read_text().splitlines() if l]


def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path, rosinality_tiny, clip_tiny):
    gen, _ = rosinality_tiny
    lat = _latents(gen)
    full = train_mapper(gen, clip_tiny, _cfg(), tmp_path / "full", latents=lat, progress=False)

    def stop_at_3(step, metrics):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_mapper(gen, clip_tiny, _cfg(), tmp_path / "cut", latents=lat, progress=False, on_chunk=stop_at_3)
    assert sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir() if p.name.isdigit()) == ["3"]
    resumed = train_mapper(gen, clip_tiny, _cfg(), tmp_path / "cut", latents=lat, progress=False, resume=True)
    assert resumed.step == 6 and len(resumed.metrics["loss"]) == 3
    a, b = flat_tensors(full.mapper.state), flat_tensors(resumed.mapper.state)
    init = init_mapper_tensors(full.mapper.config, 3)
    assert max(np.abs(a[k] - init[k]).max() for k in a) > 1e-4  # training moved the weights
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    np.testing.assert_array_equal(full.metrics["loss"][3:], resumed.metrics["loss"])
    assert _lines(tmp_path / "full" / "metrics.jsonl") == _lines(tmp_path / "cut" / "metrics.jsonl")
    assert [r["step"] for r in _lines(tmp_path / "cut" / "metrics.jsonl")] == [1, 2, 3, 4, 5, 6]
    # the trained mapper folder loads and edits; training actually changed the parameters
    m = load_mapper(tmp_path / "cut" / "mapper")
    assert m.source["step"] == 6 and m.source["description"] == "a person with purple hair"
    assert np.asarray(m.apply(lat[:2])).shape == lat[:2].shape
    assert (tmp_path / "cut" / "val" / "000006.png").exists()


def test_resume_refuses_changed_settings_and_overwrite(tmp_path, rosinality_tiny, clip_tiny):
    gen, _ = rosinality_tiny
    lat = _latents(gen)  # same data path as the resume test: its compiles are reused
    train_mapper(gen, clip_tiny, _cfg(steps=3, val_every=3), tmp_path / "run", latents=lat, progress=False)
    with pytest.raises(FileExistsError, match="not empty"):
        train_mapper(gen, clip_tiny, _cfg(steps=3), tmp_path / "run", progress=False)
    with pytest.raises(InputError, match="train.lr"):
        train_mapper(gen, clip_tiny, _cfg(steps=6, lr=0.1), tmp_path / "run", latents=lat, progress=False, resume=True)
    with pytest.raises(InputError, match="does not exist"):
        train_mapper(gen, clip_tiny, _cfg(), tmp_path / "nope", progress=False, resume=True)
    # more steps may be asked for on resume
    r = train_mapper(
        gen, clip_tiny, _cfg(steps=6, val_every=3), tmp_path / "run", latents=lat, progress=False, resume=True
    )
    assert r.step == 6 and len(r.metrics["loss"]) == 3


def test_bad_training_inputs(tmp_path, rosinality_tiny, clip_tiny):
    gen, _ = rosinality_tiny
    with pytest.raises(InputError, match="non-empty `description`"):
        _cfg(description="  ")
    with pytest.raises(InputError, match="identity network"):
        train_mapper(gen, clip_tiny, _cfg(id_lambda=0.1), tmp_path / "a", progress=False)
    with pytest.raises(InputError, match="optimizer"):
        _cfg(optimizer="sgd")
    with pytest.raises(InputError, match="leave 1 for training"):
        train_mapper(gen, clip_tiny, _cfg(val_size=2), tmp_path / "b", latents=_latents(gen, 3), progress=False)
    with pytest.raises(InputError, match=r"wplus must have shape \(B, 10, 64\)"):
        train_mapper(gen, clip_tiny, _cfg(), tmp_path / "c", latents=np.zeros((4, 18, 512), np.float32), progress=False)
    with pytest.raises(InputError, match="devices must be in"):
        train_mapper(gen, clip_tiny, _cfg(), tmp_path / "d", progress=False, devices=64)


def test_training_lowers_heldout_clip_loss(tmp_path, rosinality_tiny, clip_tiny):
    """A tiny end-to-end run (tiny generator + tiny CLIP, latents sampled on the fly): the CLIP loss
    on held-out latents falls. Adam (upstream's --optim_name adam); Ranger's rectified warm-up is
    too slow to show in 40 steps."""
    gen, _ = rosinality_tiny
    cfg = _cfg(
        steps=40,
        batch_size=4,
        optimizer="adam",
        log_every=20,
        val_every=40,
        save_every=40,
        val_size=4,
        val_batch_size=4,
    )
    r = train_mapper(gen, clip_tiny, cfg, tmp_path / "run", progress=False)
    before, after = r.val[0]["clip"], r.val[-1]["clip"]
    assert r.val[0]["step"] == 0 and r.val[-1]["step"] == 40
    assert after < before - 0.01, (before, after)
    assert (tmp_path / "run" / "best_mapper" / "model.safetensors").exists()


SHARDED = textwrap.dedent("""
    import os, sys, json
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, numpy as np
    sys.path.insert(0, {tests!r})
    from convert_weights import convert_generator
    from convert_weights.clip import convert_clip
    from styleclip_jax.editing.mapper.core import MapperTrainConfig, init_mapper_tensors
    from styleclip_jax.editing.mapper.run import train_mapper
    from styleclip_jax.models.handle import flat_tensors
    assert jax.device_count() == 4, jax.devices()
    g = convert_generator({golden!r} + "/rosinality_tiny.pt")
    c = convert_clip({golden!r} + "/clip_tiny_openai.pt")
    cfg = MapperTrainConfig(description="a smiling face", steps=4, batch_size=4, id_lambda=0.0, log_every=2,
                            val_every=4, save_every=2, val_size=0, seed=1)
    out = {{}}
    for n in (1, 4):
        r = train_mapper(g, c, cfg, {tmp!r} + f"/run{{n}}", devices=n, progress=False)
        out[n] = (r.metrics["loss"], flat_tensors(r.mapper.state))
    dl = float(np.abs(out[1][0] - out[4][0]).max())
    dp = max(float(np.abs(out[1][1][k] - out[4][1][k]).max()) for k in out[1][1])
    scale = max(float(np.abs(v).max()) for v in out[1][1].values())
    print(json.dumps({{"dloss": dl, "dparam": dp, "scale": scale}}))
""")


def test_sharded_step_matches_one_device(tmp_path, golden_dir):
    """With 4 forced host devices, the batch-sharded run gives the 1-device losses and parameters."""
    code = SHARDED.format(tests=str(REPO / "tests"), golden=str(golden_dir), tmp=str(tmp_path))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["dloss"] <= 1e-5, res
    # raw equalised-lr weights are ~N(0, 100); 1e-5 relative to their scale is a few float32 ulp
    assert res["dparam"] <= 1e-5 * res["scale"], res
