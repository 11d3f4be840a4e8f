"""Property-based tests of the readers (hypothesis): random bytes, mutated valid files (bytes
changed, cut, inserted) and extreme shapes give a correct result or a ``StyleClipError`` (the CLI's
one line, exit 2), never another exception, and never allocate more than ``MEMORY`` (Python and
numpy allocations, traced per example).

Bounds: ``derandomize=True`` (the same examples on every machine), ``EXAMPLES`` per property,
and a deadline per example; the module runs in about 15 s on 2 cores."""

import io
import json
import tracemalloc
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from styleclip_jax.errors import StyleClipError

EXAMPLES = 150
MEMORY = 256 * 2**20  # bytes any one reader may allocate on any input tried here
FUZZ = settings(
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@st.composite
def mutated(draw, base: bytes):
    """``base`` with a few bytes changed, then maybe cut short or with bytes inserted."""
    data = bytearray(base)
    for _ in range(draw(st.integers(0, 8))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    how = draw(st.sampled_from(["keep", "cut", "insert"]))
    if how == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif how == "insert":
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


def inputs(base: bytes):
    """Random bytes, or ``base`` mutated (more often: it reaches deeper into a reader)."""
    return st.one_of(st.binary(max_size=2048), mutated(base), mutated(base))


def _call(fn, *args):
    """``fn(*args)``: its result, or None for a StyleClipError; anything else, or an allocation
    past ``MEMORY``, fails the property."""
    tracemalloc.start()
    try:
        return fn(*args)
    except StyleClipError as e:
        assert "\n" not in str(e).strip(), f"a multi-line error: {e}"
        return None
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= MEMORY, f"{fn.__name__} allocated {peak / 2**20:.0f} MiB"


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# -- checkpoints (zip and legacy torch files, pickles) --


def _small_checkpoint() -> bytes:
    from styleclip_jax.io.torch_write import write_zip

    buf = io.BytesIO()
    write_zip({"a.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(2, np.float16)}, buf)
    return buf.getvalue()


CHECKPOINT = _small_checkpoint()


@FUZZ
@given(data=inputs(CHECKPOINT))
def test_checkpoint_reader(tmp_path, data):
    from styleclip_jax.io.torch_pickle import load_checkpoint

    out = _call(load_checkpoint, _file(tmp_path, "f.pt", data))
    if data == CHECKPOINT:
        np.testing.assert_array_equal(out["a.weight"], np.arange(12, dtype=np.float32).reshape(3, 4))


@FUZZ
@given(data=mutated(b"\x80\x02\x8a\x0al\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19." + bytes(range(64)) * 4))
def test_legacy_checkpoint_header(tmp_path, data):
    from styleclip_jax.io.torch_pickle import load_checkpoint

    _call(load_checkpoint, _file(tmp_path, "f.pth", data))


# -- latents (.npz / .npy) --


def _npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, wplus=np.zeros((2, 4, 8), np.float32), w=np.zeros((2, 8), np.float32))
    return buf.getvalue()


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 4, 8), np.float32))
    return buf.getvalue()


NPZ, NPY = _npz(), _npy()


@FUZZ
@given(data=inputs(NPZ))
def test_latents_npz(tmp_path, data):
    from styleclip_jax.io.latents import read_latent_file

    out = _call(read_latent_file, _file(tmp_path, "l.npz", data))
    if data == NPZ:
        assert out["wplus"].shape == (2, 4, 8)


@FUZZ
@given(data=inputs(NPY))
def test_latents_npy(tmp_path, data):
    from styleclip_jax.io.latents import read_latent_file

    _call(read_latent_file, _file(tmp_path, "l.npy", data))


@FUZZ
@given(shape=st.lists(st.integers(0, 2**40), min_size=0, max_size=4), fortran=st.booleans())
def test_npy_headers_claiming_any_shape(tmp_path, shape, fortran):
    """A header may claim any shape; the bytes behind it are few: refused, never allocated."""
    from styleclip_jax.io.latents import read_latent_file

    header = {"descr": "<f4", "fortran_order": fortran, "shape": tuple(shape)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    _call(read_latent_file, _file(tmp_path, "l.npy", buf.getvalue() + bytes(256)))
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("wplus.npy", buf.getvalue() + bytes(256))
    _call(read_latent_file, _file(tmp_path, "l.npz", z.getvalue()))


# -- images --


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


PNG, JPEG = _png(), _jpeg()


@FUZZ
@given(data=st.one_of(inputs(PNG), mutated(JPEG)))
def test_image_reader(tmp_path, data):
    from styleclip_jax.io.images import read_image

    out = _call(read_image, _file(tmp_path, "i.png", data))
    if out is not None:
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    if data == PNG:
        np.testing.assert_array_equal(out, np.arange(48, dtype=np.uint8).reshape(4, 4, 3))


@FUZZ
@given(w=st.integers(1, 2**31 - 1), h=st.integers(1, 2**31 - 1))
def test_png_headers_claiming_any_size(tmp_path, w, h):
    """A PNG whose header claims w x h (the pixel data says otherwise): no allocation of w x h."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = PNG[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + PNG[33:]
    from styleclip_jax.io.images import read_image

    _call(read_image, _file(tmp_path, "i.png", data))


# -- faces.json (paste-back) --

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=16,
)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70)
quads = st.lists(st.lists(numbers, min_size=0, max_size=3), min_size=0, max_size=5) | json_values
faces_files = st.one_of(
    json_values,
    st.builds(
        lambda quad, crop, extra: [{"image": "photo.png", "faces": [dict({"quad": quad, "crop": crop}, **extra)]}],
        quads,
        st.text(max_size=12) | json_values,
        st.dictionaries(st.text(max_size=6), json_values, max_size=2),
    ),
    st.builds(lambda faces: [{"image": "photo.png", "faces": faces}], json_values),
)


@pytest.fixture(scope="module")
def photo_and_crop(tmp_path_factory):
    d = tmp_path_factory.mktemp("paste")
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(d / "photo.png")
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(d / "crop.png")
    return d


@FUZZ
@given(report=faces_files, face=st.integers(-3, 3))
def test_faces_json(tmp_path, photo_and_crop, report, face):
    from styleclip_jax.faces.photos import paste_back_photo

    faces = tmp_path / "faces.json"
    faces.write_text(json.dumps(report))
    out = _call(paste_back_photo, photo_and_crop / "photo.png", photo_and_crop / "crop.png", faces, face)
    if out is not None:
        assert out.shape == (64, 64, 3) and out.dtype == np.uint8


@FUZZ
@given(data=inputs(b'[{"image": "photo.png", "faces": [{"quad": [[0, 0], [0, 40], [40, 40], [40, 0]]}]}]'))
def test_faces_json_bytes(tmp_path, photo_and_crop, data):
    from styleclip_jax.faces.photos import paste_back_photo

    faces = _file(tmp_path, "faces.json", data)
    _call(paste_back_photo, photo_and_crop / "photo.png", photo_and_crop / "crop.png", faces, 0)


# -- ONNX models and their inputs (run-onnx) --


def _onnx(inputs_meta: str = '[{"name": "wplus", "shape": ["B", 4, 8]}]') -> bytes:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("wplus", TensorProto.FLOAT, ["B", 4, 8])
    y = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["B", 4, 8])
    model = helper.make_model(
        helper.make_graph([helper.make_node("Identity", ["wplus"], ["image"])], "g", [x], [y]),
        opset_imports=[helper.make_opsetid("", 18)],
    )
    model.ir_version = 8
    for k, v in {"styleclip_jax.kind": "generator", "styleclip_jax.inputs": inputs_meta}.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    return model.SerializeToString()


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    return _onnx()


@FUZZ
@given(data=st.data())
def test_onnx_model_file(tmp_path, onnx_model, data):
    from styleclip_jax.export.runtime import OnnxEditor

    blob = data.draw(inputs(onnx_model))
    _call(OnnxEditor, _file(tmp_path, "m.onnx", blob), ["CPUExecutionProvider"])


@FUZZ
@given(meta=st.text(max_size=40) | json_values.map(json.dumps))
def test_onnx_metadata(tmp_path, onnx_model, meta):
    from styleclip_jax.export.runtime import OnnxEditor

    _call(OnnxEditor, _file(tmp_path, "m.onnx", _onnx(meta)), ["CPUExecutionProvider"])


@FUZZ
@given(
    shape=st.lists(st.integers(0, 9), max_size=4),
    dtype=st.sampled_from(["float32", "float64", "float16", "int32", "uint8", "bool", "complex64", "object"]),
    fill=st.sampled_from([0.0, np.nan, np.inf, 1e38]),
)
def test_onnx_inputs(tmp_path_factory, onnx_model, shape, dtype, fill):
    from styleclip_jax.export.runtime import OnnxEditor

    path = tmp_path_factory.getbasetemp() / "fuzz_model.onnx"
    if not path.exists():
        path.write_bytes(onnx_model)
    editor = OnnxEditor(path, ["CPUExecutionProvider"])
    with np.errstate(over="ignore", invalid="ignore"):  # 1e38 and NaN cast to small types, on purpose
        x = np.full(shape, fill).astype(dtype) if dtype != "object" else np.full(shape, "x", dtype=object)
    out = _call(lambda: editor.run(wplus=x))
    if out is not None:
        assert out.shape == x.shape and np.all(np.isfinite(out))
