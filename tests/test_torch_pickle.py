"""The restricted reader: real formats load, hostile or broken files are refused clearly."""

import argparse
import collections
import os
import pickle
import zipfile

import numpy as np
import pytest
from torch_format import Global, dumps_with_tensors, save_legacy, save_zip

from styleclip_jax.errors import CheckpointError, UnsafeCheckpointError
from styleclip_jax.io.torch_pickle import load_checkpoint


def _tensors():
    rng = np.random.default_rng(0)
    return collections.OrderedDict(
        a=rng.standard_normal((3, 4)).astype(np.float32),
        b=rng.standard_normal(5).astype(np.float16),
        c=np.asarray(7, np.int64),
        t=np.asfortranarray(rng.standard_normal((4, 3)).astype(np.float32)),
    )


@pytest.mark.parametrize("writer", [save_zip, save_legacy])
def test_roundtrip_formats(tmp_path, writer):
    obj = {"sd": _tensors(), "args": argparse.Namespace(size=64, lr=0.1), "meta": [1, "x", (2.5, None)]}
    p = tmp_path / "ck.pt"
    writer(obj, p)
    back = load_checkpoint(p)
    for k, v in obj["sd"].items():
        assert back["sd"][k].dtype == v.dtype
        np.testing.assert_array_equal(back["sd"][k], v)
    assert back["args"].size == 64 and back["args"].lr == 0.1
    assert back["meta"] == [1, "x", (2.5, None)]


def test_golden_files_load_without_torch(golden_dir):
    sd = load_checkpoint(golden_dir / "rosinality_tiny.pt")["g_ema"]
    assert len(sd) == 87 and sd["input.input"].shape == (1, 64, 4, 4)
    snap = load_checkpoint(golden_dir / "ada_tiny.pkl")
    assert set(snap) == {"training_set_kwargs", "G", "D", "G_ema", "augment_pipe"}
    assert snap["G_ema"].class_name == "Generator"


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pt_that_runs_a_command_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pt"
    # a real zip checkpoint whose state dict smuggles an os.system call next to a tensor
    save_zip({"g_ema": {"style.1.weight": np.zeros((2, 2), np.float32), "x": _RunsCommand(marker)}}, p)
    with pytest.raises(UnsafeCheckpointError, match=r"system.*Nothing from the file was executed"):
        load_checkpoint(p)
    assert not marker.exists()


def test_legacy_pt_that_runs_a_command_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil_legacy.pt"
    save_legacy({"g_ema": _RunsCommand(marker)}, p)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(p)
    assert not marker.exists()


def test_pkl_that_runs_a_command_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"G_ema": _RunsCommand(marker)}, protocol=4))
    with pytest.raises(UnsafeCheckpointError, match="system"):
        load_checkpoint(p)
    assert not marker.exists()


class _PersistentLike:
    def __init__(self, src):
        self.src = src

    def __reduce__(self):
        meta = dict(type="class", version=6, module_src=self.src, class_name="Generator", state={"_modules": {}})
        return (Global("torch_utils.persistence", "_reconstruct_persistent_obj"), (meta,))


def test_nvidia_pickle_module_source_is_never_executed(tmp_path):
    """NVIDIA snapshots embed their module source; we keep it as inert text, even hostile source."""
    marker = tmp_path / "pwned"
    p = tmp_path / "evil_persistent.pkl"
    p.write_bytes(dumps_with_tensors({"G_ema": _PersistentLike(f"import os\nos.system('touch {marker}')\n")})[0])
    obj = load_checkpoint(p)
    assert obj["G_ema"].class_name == "Generator"
    assert len(obj["G_ema"].module_src_sha256) == 64
    assert not marker.exists()


def test_builtins_eval_refused(tmp_path):
    p = tmp_path / "eval.pkl"
    p.write_bytes(b"\x80\x02cbuiltins\neval\nX\x07\x00\x00\x00print()\x85R.")
    with pytest.raises(UnsafeCheckpointError, match="builtins.eval"):
        load_checkpoint(p)


def test_empty_missing_folder_and_text(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty file"):
        load_checkpoint(empty)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)
    txt = tmp_path / "notes.pt"
    txt.write_text("hello, I am not a checkpoint\n")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(txt)
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(CheckpointError, match="data.pkl"):
        load_checkpoint(z)


@pytest.mark.parametrize("name", ["rosinality_tiny.pt", "ada_tiny.pkl"])
@pytest.mark.parametrize("frac", [0.02, 0.5, 0.97])
def test_truncated_golden_files(tmp_path, golden_dir, name, frac):
    data = (golden_dir / name).read_bytes()
    p = tmp_path / name
    p.write_bytes(data[: int(len(data) * frac)])
    with pytest.raises(CheckpointError):
        load_checkpoint(p)


def test_truncated_legacy_storage(tmp_path):
    p = tmp_path / "legacy.pt"
    save_legacy({"w": np.ones((64, 64), np.float32)}, p)
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(p)
