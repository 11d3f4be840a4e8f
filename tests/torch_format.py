"""Write real torch checkpoint containers (zip and legacy) from numpy, without torch.

Test-only: lets tests craft checkpoints (training checkpoints, mapper checkpoints, legacy
files, malicious pickles) in the exact byte formats torch produces.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

_STORAGE = {
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
            return ("storage", Global("torch", _STORAGE[obj.arr.dtype]), obj.key, "cpu", obj.arr.size)
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
    f = io.BytesIO()
    storages: list = []
    _Writer(f, storages).dump(obj)
    return f.getvalue(), storages


def save_zip(obj, path, prefix: str = "archive") -> None:
    data, storages = dumps_with_tensors(obj)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{prefix}/data.pkl", data)
        zf.writestr(f"{prefix}/byteorder", "little")
        for st in storages:
            zf.writestr(f"{prefix}/data/{st.key}", st.arr.tobytes())
        zf.writestr(f"{prefix}/version", "3\n")


def save_legacy(obj, path) -> None:
    with open(path, "wb") as f:
        for header in (
            0x1950A86A20F9469CFC6C,
            1001,
            {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}},
        ):
            pickle.dump(header, f, protocol=2)
        data, storages = dumps_with_tensors(obj)
        f.write(data)
        pickle.dump([st.key for st in storages], f, protocol=2)
        for st in storages:
            f.write(struct.pack("<q", st.arr.size))
            f.write(st.arr.tobytes())
