"""Multi-process runs (``--coordinator/--num-processes/--process-id``, jax.distributed with gloo
on CPU): two local processes, one CPU device each, give what one process gives, for mapper
training, encoder training and the fs3 precompute (on the bundled toy world)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "styleclip_jax.cli.main"]


def _env():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    return env


def _port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _one(args):
    p = subprocess.run(CLI + args, capture_output=True, text=True, env=_env(), timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]


def _two(args):
    port = _port()
    procs = [
        subprocess.Popen(
            CLI + args + ["--coordinator", f"localhost:{port}", "--num-processes", "2", "--process-id", str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    for i, (p, (_, err)) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, err[-3000:]
        assert f"process {i} of 2: 1 local of 2 devices" in err, err[-2000:]


@pytest.fixture(scope="module")
def world():
    from styleclip_jax.toyworld.bundle import weights_dir

    return weights_dir()


def _losses(folder: Path):
    return np.asarray([json.loads(l)["loss"] for l in (folder / "metrics.jsonl").read_text().splitlines()])


def test_mapper_training_on_two_processes_equals_one(tmp_path, world):
    from styleclip_jax.models.mapper.handle import LatentMapperModel

    args = [
        "mapper",
        "train",
        "--generator",
        str(world / "generator"),
        "--clip",
        str(world / "clip"),
        "--description",
        "a red object",
        "--steps",
        "4",
        "--batch-size",
        "2",
        "--val-size",
        "0",
        "--id-lambda",
        "0",
        "--no-fine",
        "--log-every",
        "2",
        "--save-every",
        "2",
        "--seed",
        "3",
    ]
    _one(args + ["--out", str(tmp_path / "one"), "--devices", "1"])
    _two(args + ["--out", str(tmp_path / "two")])
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(a) == len(b) == 4  # one writer: each step logged once
    np.testing.assert_allclose(b, a, atol=1e-5)
    ta = LatentMapperModel.load(tmp_path / "one" / "mapper").tensors()
    tb = LatentMapperModel.load(tmp_path / "two" / "mapper").tensors()
    scale = max(float(np.abs(v).max()) for v in ta.values())
    assert max(float(np.abs(ta[k] - tb[k]).max()) for k in ta) <= 1e-5 * scale
    assert not (tmp_path / "two" / ".lock").exists()


def test_encoder_training_on_two_processes_equals_one(tmp_path, world):
    from styleclip_jax.models.e4e import load_encoder

    args = [
        "encoder",
        "train",
        "--generator",
        str(world / "generator"),
        "--widths",
        "8,16,24,32",
        "--units",
        "1,1,1,1",
        "--input-size",
        "32",
        "--batch-size",
        "2",
        "--lr",
        "0.001",
        "--latent-lambda",
        "1",
        "--steps",
        "3",
        "--checkpoint-every",
        "2",
    ]
    _one(args + ["--out", str(tmp_path / "one"), "--devices", "1"])
    _two(args + ["--out", str(tmp_path / "two")])
    a, b = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(a) == len(b) == 3
    np.testing.assert_allclose(b, a, rtol=1e-5)
    ta, tb = load_encoder(tmp_path / "one" / "encoder").tensors(), load_encoder(tmp_path / "two" / "encoder").tensors()
    diff = np.mean([float(np.abs(np.asarray(ta[k]) - np.asarray(tb[k])).mean()) for k in ta])
    assert diff <= 1e-7, diff  # Adam moved weights by ~1e-3 (test_encoder_training)


def test_fs3_precompute_on_two_processes_equals_one(tmp_path, world):
    args = [
        "global",
        "precompute",
        "--generator",
        str(world / "generator"),
        "--clip",
        str(world / "clip"),
        "--n-stats",
        "300",
        "--images",
        "2",
        "--chunk",
        "32",
        "--image-batch",
        "16",
    ]
    _one(args + ["--out", str(tmp_path / "one")])
    _two(args + ["--out", str(tmp_path / "two")])
    a, b = np.load(tmp_path / "one" / "fs3.npy"), np.load(tmp_path / "two" / "fs3.npy")
    assert a.shape == b.shape and a.shape[0] > 100
    np.testing.assert_allclose(b, a, atol=1e-6)
    parts = sorted(p.name for p in (tmp_path / "two" / "fs3_parts").glob("*.npy"))
    assert parts == sorted(p.name for p in (tmp_path / "one" / "fs3_parts").glob("*.npy"))
