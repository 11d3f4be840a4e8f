"""Write PyTorch checkpoints from numpy, without torch: the zip container ``torch.save`` makes
(``archive/data.pkl`` at pickle protocol 2 with storages as persistent ids, ``archive/data/<k>``,
``byteorder``, ``version``), holding only what ``torch.load(weights_only=True)`` accepts: dicts,
OrderedDicts, lists, numbers, strings and tensors rebuilt by ``torch._utils._rebuild_tensor_v2``.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import numpy as np

from styleclip_jax.io.files import atomic_write

STORAGE_TYPES = {
    np.dtype(np.float32): "FloatStorage",
    np.dtype(np.float16): "HalfStorage",
    np.dtype(np.int64): "LongStorage",
    np.dtype(np.float64): "DoubleStorage",
}


class Global:
    """Pickled as ``GLOBAL module name`` (callable so it can be a reduce function)."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *a):  # pragma: no cover - never called, only pickled
        raise RuntimeError


class _Storage:
    def __init__(self, key: str, arr: np.ndarray):
        self.key, self.arr = key, arr


class _Writer(pickle._Pickler):
    def __init__(self, f, storages: list):
        super().__init__(f, protocol=2)
        self.storages = storages

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            self.memoize(obj)
            return
        return super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", Global("torch", STORAGE_TYPES[obj.arr.dtype]), obj.key, "cpu", obj.arr.size)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            arr = np.ascontiguousarray(obj)
            st = _Storage(str(len(self.storages)), arr.reshape(-1))
            self.storages.append(st)
            stride = tuple(s // arr.itemsize for s in arr.strides) if arr.ndim else ()
            return (
                Global("torch._utils", "_rebuild_tensor_v2"),
                (st, 0, tuple(arr.shape), stride, False, collections.OrderedDict()),
            )
        return NotImplemented


def dumps_with_tensors(obj) -> tuple[bytes, list]:
    """(pickle bytes, storages) of ``obj`` with numpy arrays as torch tensors."""
    f = io.BytesIO()
    storages: list = []
    _Writer(f, storages).dump(obj)
    return f.getvalue(), storages


def write_zip(obj, f, prefix: str = "archive") -> None:
    data, storages = dumps_with_tensors(obj)
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr(f"{prefix}/data.pkl", data)
        zf.writestr(f"{prefix}/byteorder", "little")
        for st in storages:
            zf.writestr(f"{prefix}/data/{st.key}", st.arr.tobytes())
        zf.writestr(f"{prefix}/version", "3\n")


def save_torch(obj, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)`` for dicts of numpy arrays (written atomically)."""

    def write(p):
        with open(p, "wb") as f:
            write_zip(obj, f)

    atomic_write(path, write)
