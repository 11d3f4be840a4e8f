"""Read PyTorch checkpoints and NVIDIA network pickles without torch and without running code.

Supported containers:
* torch zip checkpoints (``torch.save`` since 1.6): ``<prefix>/data.pkl`` + ``<prefix>/data/<key>``;
* torch legacy checkpoints (magic number, protocol, sys info, object, storage keys, raw data);
* plain pickles (NVIDIA stylegan2-ada ``.pkl`` snapshots), whose tensors are
  ``torch.storage._load_from_bytes(<legacy checkpoint bytes>)``.

Every global the pickle asks for is looked up in an allow-list of *data* constructors
(tensors, storages, ordered dicts, numpy scalars, argparse namespaces, dnnlib EasyDicts,
NVIDIA's persistent-object records). Anything else (``os.system``, ``builtins.eval``, a model
class) raises ``UnsafeCheckpointError`` before it can be called. NVIDIA's persistent objects
carry their module source as a string; it is kept as inert text and never executed.
Tensors come back as numpy arrays.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import pickle
import struct
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from styleclip_jax.errors import CheckpointError, UnsafeCheckpointError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# Size limits, checked before anything is decompressed or allocated. torch zips store tensors
# uncompressed, so a real checkpoint unpacks to about its own size; a zip bomb declares far more.
MAX_FILE_BYTES = 16 << 30  # 16 GiB: larger than any StyleCLIP-era checkpoint
UNPACK_RATIO, UNPACK_SLACK = 4, 64 << 20  # declared unpacked bytes <= 4 x file size + 64 MiB
LEGACY_PROTOCOL = 1001


def _bfloat16():
    import ml_dtypes

    return ml_dtypes.bfloat16


_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
_TORCH_DTYPES = {
    "float32": np.float32,
    "float": np.float32,
    "float64": np.float64,
    "double": np.float64,
    "float16": np.float16,
    "half": np.float16,
    "bfloat16": "bfloat16",
    "int64": np.int64,
    "long": np.int64,
    "int32": np.int32,
    "int": np.int32,
    "int16": np.int16,
    "int8": np.int8,
    "uint8": np.uint8,
    "bool": np.bool_,
}


def _np_dtype(d):
    return np.dtype(_bfloat16()) if d == "bfloat16" else np.dtype(d)


class StorageType:
    """Stands in for ``torch.FloatStorage`` etc.: only carries the element dtype."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = _np_dtype(_STORAGE_DTYPES[name])


class TorchDType:
    def __init__(self, name: str):
        self.name = name
        self.dtype = _np_dtype(_TORCH_DTYPES[name])


class Storage:
    """A flat typed buffer; ``data`` is filled when the bytes are read."""

    def __init__(self, dtype: np.dtype, numel: int | None = None, data: np.ndarray | None = None):
        self.dtype, self.numel, self.data = dtype, numel, data


class TensorRef:
    """A tensor view into a Storage, materialised into numpy once all storages are read."""

    def __init__(self, storage: Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)


class PersistentObject:
    """NVIDIA ``persistence`` record: class name, module source (inert text, hashed) and state."""

    def __init__(self, meta: dict):
        if not isinstance(meta, dict) or "state" not in meta:
            raise UnsafeCheckpointError("malformed persistent object record")
        self.class_name = meta.get("class_name")
        src = (meta.get("module_src") or "").encode("utf-8", "replace")
        self.module_src_sha256 = hashlib.sha256(src).hexdigest()
        # git's blob id of the embedded source: which upstream file (and commit) it is
        self.module_src_blob_sha1 = hashlib.sha1(b"blob %d\0" % len(src) + src).hexdigest()
        self.state = meta["state"]

    def __repr__(self):
        return f"PersistentObject({self.class_name})"


class EasyDict(dict):
    """dnnlib.EasyDict stand-in (a dict with attribute access)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class SafeNamespace(types.SimpleNamespace):
    """argparse.Namespace stand-in (rosinality training checkpoints store ``args``)."""


class TorchModuleRecord:
    """Stand-in for a plain ``torch.nn`` module pickled inside a network: holds its ``__dict__``."""

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {"state": state})


_module_records: dict[str, type] = {}


def _module_record(module: str, name: str) -> type:
    key = f"{module}.{name}"
    if key not in _module_records:
        _module_records[key] = type(name, (TorchModuleRecord,), {"torch_class": key})
    return _module_records[key]


def _rebuild_tensor(storage, storage_offset, size, stride, *_):
    if not isinstance(storage, Storage):
        raise UnsafeCheckpointError("tensor rebuilt from something that is not a storage")
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor, _rebuild_parameter):
        raise UnsafeCheckpointError("_rebuild_from_type_v2 with a non-tensor rebuild function")
    return func(*args)


def _codecs_encode(text, encoding="utf-8"):
    if encoding not in ("latin1", "latin-1"):
        raise UnsafeCheckpointError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _np_reconstruct(cls, shape, dtype):
    if cls is not np.ndarray:
        raise UnsafeCheckpointError(f"numpy _reconstruct of {cls!r}")
    return np.ndarray.__new__(cls, shape, dtype)


def _copyreg_reconstructor(cls, base, state):
    if not (isinstance(cls, type) and issubclass(cls, TorchModuleRecord)) or base is not object:
        raise UnsafeCheckpointError(f"copyreg._reconstructor of {cls!r}")
    return cls.__new__(cls)


def _np_scalar(dtype, data=None):
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise UnsafeCheckpointError("numpy object scalar")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str, storages: dict | None = None, zip_reader=None):
        super().__init__(file)
        self._source = source
        self._storages = storages if storages is not None else {}
        self._zip_reader = zip_reader

    def find_class(self, module: str, name: str) -> Any:
        allowed = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
            ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
            ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
            ("torch.nn.parameter", "Parameter"): "Parameter",
            ("torch", "Tensor"): "Tensor",
            ("torch", "Size"): tuple,
            ("torch.storage", "_load_from_bytes"): self._load_from_bytes,
            ("argparse", "Namespace"): SafeNamespace,
            ("dnnlib.util", "EasyDict"): EasyDict,
            ("dnnlib", "EasyDict"): EasyDict,
            ("torch_utils.persistence", "_reconstruct_persistent_obj"): PersistentObject,
            ("numpy", "dtype"): np.dtype,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy.core.multiarray", "scalar"): _np_scalar,
            ("numpy._core.multiarray", "scalar"): _np_scalar,
            ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
            ("_codecs", "encode"): _codecs_encode,
            ("copyreg", "_reconstructor"): _copyreg_reconstructor,
            ("builtins", "set"): set,
            ("builtins", "frozenset"): frozenset,
            ("builtins", "slice"): slice,
            ("builtins", "complex"): complex,
            ("builtins", "object"): object,
        }
        if (module, name) in allowed:
            return allowed[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return StorageType(name)
        if module == "torch" and name in _TORCH_DTYPES:
            return TorchDType(name)
        if module == "torch" and name == "device":
            return lambda *a: "device:" + ":".join(map(str, a))
        if (module.startswith("torch.nn.modules.") and name[:1].isupper()) or module.startswith("__torch__"):
            # plain torch.nn modules and TorchScript classes: inert attribute records, never code
            return _module_record(module, name)
        raise UnsafeCheckpointError(
            f"{self._source}: refused to load `{module}.{name}`: the file asks to run code that is not plain "
            f"tensor data. Nothing from the file was executed."
        )

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage" or len(pid) < 5:
            raise CheckpointError(f"{self._source}: unsupported persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        dtype = storage_type.dtype if isinstance(storage_type, (StorageType, TorchDType)) else None
        if dtype is None:
            raise CheckpointError(f"{self._source}: unsupported storage type {storage_type!r}")
        if len(pid) > 5 and pid[5] is not None:
            raise CheckpointError(f"{self._source}: storage views (legacy view_metadata) are not supported")
        if key not in self._storages:
            st = Storage(dtype, int(numel))
            if self._zip_reader is not None:
                st.data = self._zip_reader(key, dtype, int(numel))
            self._storages[key] = st
        return self._storages[key]

    def _load_from_bytes(self, data: bytes):
        if not isinstance(data, (bytes, bytearray)):
            raise UnsafeCheckpointError("_load_from_bytes with non-bytes argument")
        return _load_legacy(io.BytesIO(data), f"{self._source} (embedded storage)", materialise=False)


# ---- materialisation ---------------------------------------------------------------------------
def _to_numpy(t: TensorRef, source: str) -> np.ndarray:
    data = t.storage.data
    if data is None:
        raise CheckpointError(f"{source}: tensor data missing (truncated file?)")
    if any(s == 0 for s in t.size):
        return np.zeros(t.size, dtype=data.dtype)
    last = t.offset + sum((s - 1) * st for s, st in zip(t.size, t.stride))
    if t.offset < 0 or last >= data.size or any(st < 0 for st in t.stride):
        raise CheckpointError(
            f"{source}: tensor of shape {t.size} does not fit its storage of {data.size} "
            f"elements (corrupt or truncated file)"
        )
    view = np.lib.stride_tricks.as_strided(
        data[t.offset :], shape=t.size, strides=tuple(st * data.itemsize for st in t.stride)
    )
    return np.array(view, copy=True)


def _materialise(obj, source: str, memo: dict | None = None):
    memo = {} if memo is None else memo
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, TensorRef):
        out = _to_numpy(obj, source)
    elif isinstance(obj, dict):
        for k in list(obj.keys()):
            obj[k] = _materialise(obj[k], source, memo)
        out = obj
    elif isinstance(obj, list):
        obj[:] = [_materialise(v, source, memo) for v in obj]
        out = obj
    elif isinstance(obj, tuple):
        out = type(obj)(_materialise(v, source, memo) for v in obj) if type(obj) is tuple else obj
    elif isinstance(obj, PersistentObject):
        obj.state = _materialise(obj.state, source, memo)
        out = obj
    elif isinstance(obj, (SafeNamespace, TorchModuleRecord)):
        for k, v in vars(obj).items():
            setattr(obj, k, _materialise(v, source, memo))
        out = obj
    else:
        out = obj
    memo[id(obj)] = out
    return out


# ---- containers ----------------------------------------------------------------------------------
def _wrap_errors(source: str):
    class _Ctx:
        def __enter__(self):
            return self

        def __exit__(self, et, ev, tb):
            if et is None or issubclass(et, CheckpointError):
                return False
            if issubclass(
                et,
                (
                    pickle.UnpicklingError,
                    EOFError,
                    struct.error,
                    zipfile.BadZipFile,
                    KeyError,
                    ValueError,
                    TypeError,
                    AttributeError,
                    IndexError,
                    UnicodeDecodeError,
                    MemoryError,
                    OverflowError,
                    RecursionError,
                ),
            ):
                raise CheckpointError(
                    f"{source}: not a readable PyTorch checkpoint or pickle, or the file is "
                    f"corrupt/truncated ({et.__name__}: {ev})"
                ) from None
            return False

    return _Ctx()


def _load_legacy(f, source: str, materialise: bool = True):
    magic = _RestrictedUnpickler(f, source).load()
    if magic != LEGACY_MAGIC:
        raise CheckpointError(f"{source}: not a PyTorch legacy checkpoint (bad magic number)")
    proto = _RestrictedUnpickler(f, source).load()
    if proto != LEGACY_PROTOCOL:
        raise CheckpointError(f"{source}: unsupported PyTorch legacy protocol {proto!r}")
    sys_info = _RestrictedUnpickler(f, source).load()
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise CheckpointError(f"{source}: big-endian legacy checkpoints are not supported")
    storages: dict[str, Storage] = {}
    result = _RestrictedUnpickler(f, source, storages).load()
    keys = _RestrictedUnpickler(f, source).load()
    for key in keys:
        st = storages.get(str(key))
        if st is None:
            raise CheckpointError(f"{source}: storage {key!r} listed but never referenced")
        head = f.read(8)
        if len(head) != 8:
            raise CheckpointError(f"{source}: truncated file (storage {key} header missing)")
        (numel,) = struct.unpack("<q", head)
        nbytes = numel * st.dtype.itemsize
        if numel < 0 or (st.numel is not None and numel != st.numel) or nbytes > _remaining(f):
            raise CheckpointError(f"{source}: corrupt storage {key} (size {numel}, expected {st.numel})")
        buf = f.read(nbytes)
        if len(buf) != nbytes:
            raise CheckpointError(f"{source}: truncated file (storage {key} has {len(buf)} of {nbytes} bytes)")
        st.data = np.frombuffer(buf, dtype=st.dtype).copy()
    missing = [k for k, st in storages.items() if st.data is None]
    if missing:
        raise CheckpointError(f"{source}: storages {missing[:5]} have no data (truncated file?)")
    return _materialise(result, source) if materialise else result


def _load_zip(path: Path, source: str):
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        unpacked, limit = sum(i.file_size for i in zf.infolist()), UNPACK_RATIO * path.stat().st_size + UNPACK_SLACK
        if unpacked > limit:
            raise CheckpointError(
                f"{source}: the archive declares {unpacked:,} unpacked bytes from a "
                f"{path.stat().st_size:,}-byte file (limit {limit:,}); refusing a likely zip bomb"
            )
        pkl = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise CheckpointError(f"{source}: zip file without a single data.pkl: not a torch checkpoint")
        prefix = pkl[0][: -len("data.pkl")]
        order = "little"
        if prefix + "byteorder" in names:
            order = zf.read(prefix + "byteorder").decode().strip()

        def read_storage(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
            name = f"{prefix}data/{key}"
            if name not in names:
                raise CheckpointError(f"{source}: storage {name} missing from the archive")
            if zf.getinfo(name).file_size < numel * dtype.itemsize:
                raise CheckpointError(
                    f"{source}: storage {key} truncated ({zf.getinfo(name).file_size} bytes for {numel} elements)"
                )
            raw = zf.read(name)
            if len(raw) < numel * dtype.itemsize:
                raise CheckpointError(f"{source}: storage {key} truncated ({len(raw)} bytes)")
            arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<" if order == "little" else ">"), count=numel)
            return arr.astype(dtype)

        obj = _RestrictedUnpickler(io.BytesIO(zf.read(pkl[0])), source, zip_reader=read_storage).load()
        return _materialise(obj, source)


def load_checkpoint(path: str | os.PathLike) -> Any:
    """Load a ``.pt``/``.pth``/``.pkl`` file into numpy arrays and plain containers, safely.

    Raises:
      CheckpointError: missing, empty, truncated, corrupt or non-checkpoint file.
      UnsafeCheckpointError: the pickle references anything but tensor data (nothing is run).
    """
    p = Path(path)
    source = str(p)
    if not p.exists():
        raise CheckpointError(f"{source}: no such file")
    if p.is_dir():
        raise CheckpointError(f"{source} is a folder, expected a checkpoint file")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{source}: empty file")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise CheckpointError(f"{source}: {p.stat().st_size:,} bytes is over the {MAX_FILE_BYTES:,}-byte limit")
    with _wrap_errors(source):
        if zipfile.is_zipfile(p):
            return _load_zip(p, source)
        # In memory: a length field in the pickle can then never ask the OS for more than the file holds.
        f = io.BytesIO(p.read_bytes())
        head = f.read(16)
        f.seek(0)
        if head[:2] == b"\x80\x02" and head[2:3] == b"\x8a":
            return _load_legacy(f, source)
        if not head.startswith(b"\x80"):
            raise CheckpointError(f"{source}: not a PyTorch checkpoint or pickle (unrecognised header)")
        return _materialise(_RestrictedUnpickler(f, source).load(), source)


def _remaining(f: io.BytesIO) -> int:
    return len(f.getbuffer()) - f.tell()


def module_state_dict(obj: PersistentObject | TorchModuleRecord, prefix: str = "") -> dict[str, np.ndarray]:
    """Flatten a pickled module's ``_parameters``/``_buffers``/``_modules`` into a state dict."""
    state = obj.state if isinstance(obj, PersistentObject) else vars(obj)
    if not isinstance(state, dict):
        raise CheckpointError(f"module {prefix or '<root>'} has no state dict")
    out: dict[str, np.ndarray] = {}
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if value is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(value, np.ndarray):
                raise CheckpointError(f"{prefix}{name} is not a tensor ({type(value).__name__})")
            out[prefix + name] = value
    for name, sub in (state.get("_modules") or {}).items():
        if sub is None:
            continue
        if not isinstance(sub, (PersistentObject, TorchModuleRecord)):
            raise CheckpointError(f"submodule {prefix}{name} is not a module record ({type(sub).__name__})")
        out.update(module_state_dict(sub, f"{prefix}{name}."))
    return out


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
