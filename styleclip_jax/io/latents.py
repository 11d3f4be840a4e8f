"""Reading latents files and writing generator outputs (the latents contract of the CLI). Seeds and
W+ from a latents file for a generator: ``styleclip_jax.models.latents``.

Input files (``--latents``), all read without unpickling code:

* ``.npz`` with ``wplus`` (B, L, D), ``w`` (B, D), ``z`` (B, Z), or StyleSpace codes
  ``s/<layer name>`` (B, C) for every layer;
* ``.npy`` holding one array: (N, L, D) is W+ (StyleCLIP's ``w_plus.npy``), (N, D) is W;
* ``.pt`` / ``.pth`` holding one tensor, read by the code-free torch reader (StyleCLIP's
  ``train_faces.pt`` / ``test_faces.pt``, optimisation's ``--latent_path``): W+ or W by rank.

Precedence: a file that holds more than one kind a command accepts is an error unless ``key``
(``--latents-key``) names the one to use. The one exception is our own ``generate`` output,
W+ latents with the StyleSpace codes they map to: when the codes equal ``w_to_s(wplus)`` the
two describe the same images and W+ is used; edited codes that disagree are an error.
Latents must be floating point and finite; integer, bool and complex arrays are refused.

Output ``.npz``: ``images`` (B, H, W, 3) float32 raw range, ``wplus`` (B, L, D) when known, and
``s/<layer name>`` (B, C) for every style layer; nothing non-finite is written.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.io.files import atomic_write
from styleclip_jax.io.torch_pickle import UNPACK_RATIO, UNPACK_SLACK, load_checkpoint
from styleclip_jax.validation import check_array, check_finite

KINDS = ("wplus", "w", "z", "s")
LATENT_SUFFIXES = (".npz", ".npy", ".pt", ".pth")
MAX_NPY_HEADER = 10_000  # numpy's own limit on a header it parses


def _check_npy_header(f, holds: int, what: str) -> None:
    """Read the ``.npy`` header at ``f`` and refuse it unless it names plain numbers whose data fits
    in the ``holds`` bytes the file has: a header may claim any shape, and numpy allocates what it
    claims before it reads a byte."""
    head = f.read(12)
    if head[:6] != b"\x93NUMPY" or len(head) < 12 or head[6] not in (1, 2, 3) or head[7] != 0:
        raise InputError(f"{what}: not a .npy array (bad magic or version)")
    size = int.from_bytes(head[8:10] if head[6] == 1 else head[8:12], "little")
    if size > MAX_NPY_HEADER:  # numpy reads the whole claimed header before it checks its length
        raise InputError(f"{what}: its .npy header claims {size:,} bytes (at most {MAX_NPY_HEADER})")
    f.seek(0)
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    except Exception as e:  # numpy parses the header with ast: ValueError, SyntaxError, TokenError, ...
        raise InputError(f"{what}: not a readable .npy header ({type(e).__name__})") from None
    if dtype.hasobject:
        raise InputError(f"{what}: holds pickled objects, which are never loaded; save plain arrays")
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need > holds:
        raise InputError(f"{what}: its header claims {shape} {dtype} ({need:,} bytes) but the file holds {holds:,}")


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of a ``.npz`` (never unpickling); a missing or broken file is an InputError."""
    p = _existing_file(path)
    if not zipfile.is_zipfile(p):
        raise InputError(f"{p}: not a .npz archive (no zip structure)")
    try:
        with zipfile.ZipFile(p) as zf:
            members = zf.infolist()
            unpacked, limit = sum(i.file_size for i in members), UNPACK_RATIO * p.stat().st_size + UNPACK_SLACK
            if unpacked > limit:
                raise InputError(f"{p}: the archive declares {unpacked:,} unpacked bytes from {p.stat().st_size:,}")
            for info in members:
                with zf.open(info) as f:
                    _check_npy_header(f, info.file_size, f"{p}: {info.filename}")
        with np.load(p, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except InputError:
        raise
    except ValueError as e:
        if "pickle" in str(e):
            raise InputError(f"{p}: holds pickled objects, which are never loaded; save plain arrays") from None
        raise InputError(f"{p}: not a readable .npz file ({e})") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, NotImplementedError, RuntimeError) as e:
        raise InputError(
            f"{p}: not a readable .npz file ({type(e).__name__}: {' '.join(str(e).split())[:160]})"
        ) from None


def read_latent_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a latents file by name: ``.npz`` as stored; ``.npy`` / ``.pt`` as 'wplus' or 'w'
    by rank (3 or 2)."""
    p = _existing_file(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return read_npz(p)
    if suffix == ".npy":
        with p.open("rb") as f:
            _check_npy_header(f, p.stat().st_size, str(p))
        try:
            a = np.load(p, allow_pickle=False)
        except ValueError as e:
            raise InputError(f"{p}: not a readable .npy array of numbers ({' '.join(str(e).split())[:200]})") from None
        except (OSError, EOFError) as e:
            raise InputError(f"{p}: truncated or unreadable .npy file ({e})") from None
    elif suffix in (".pt", ".pth"):
        a = load_checkpoint(p)
        if not isinstance(a, np.ndarray):
            raise InputError(f"{p}: expected one tensor (N, L, D) or (N, D), found a {type(a).__name__}")
    else:
        raise InputError(f"{p}: latents must be a {', '.join(LATENT_SUFFIXES)} file")
    by_rank = {3: "wplus", 2: "w"}
    if a.ndim not in by_rank:
        raise InputError(f"{p}: expected W+ (N, L, D) or W (N, D) latents, got shape {a.shape}")
    return {by_rank[a.ndim]: a}


def _existing_file(path) -> Path:
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p} is a folder; expected a latents file ({', '.join(LATENT_SUFFIXES)})")
    if not p.is_file():
        raise InputError(f"latents file {p} does not exist")
    return p


def _latent(a, name: str, shape) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind != "f":
        raise InputError(f"{name} has dtype {a.dtype}; latents must be floating point")
    return check_array(a, name, shape)


def read_latents(path: str | os.PathLike, gen, accept: Sequence[str] = KINDS, key: str | None = None):
    """Return ('wplus'|'w'|'z', array) or ('s', {name: array}) from a latents file, checked.

    Args:
      gen: the generator handle the latents are for (shapes; W+/S consistency).
      accept: the kinds the calling command can use.
      key: which kind to use when the file holds several (``--latents-key``).
    """
    p = Path(path)
    cfg = gen.config
    files = read_latent_file(p)
    s_keys = {k[2:]: v for k, v in files.items() if k.startswith("s/")}
    kind, others = choose_kind(p, files, accept, key, " or ".join(_describe(k, cfg) for k in accept))
    out = _checked(p, kind, files, s_keys, cfg)
    if others == ["s"] and kind == "wplus" and _styles_match(gen, out, _checked(p, "s", files, s_keys, cfg)):
        others = []  # our own generate output: the same images twice
    _refuse_ambiguous(p, kind, others, accept)
    return kind, out


def read_latents_unchecked(path: str | os.PathLike, accept: Sequence[str], key: str | None = None):
    """('wplus'|'w'|'z', array) from a latents file where no generator is at hand (ONNX serving):
    the same choice of kind as ``read_latents``, shapes left to the graph; W+ beside StyleSpace codes
    needs ``key``, since their agreement cannot be checked without the generator."""
    p = Path(path)
    files = read_latent_file(p)
    kind, others = choose_kind(p, files, accept, key, " or ".join(map(repr, accept)))
    _refuse_ambiguous(p, kind, others, accept)
    a = np.asarray(files[kind])
    if a.dtype.kind != "f":
        raise InputError(f"{p}:{kind} has dtype {a.dtype}; latents must be floating point")
    return kind, check_finite(f"{p.name}:{kind}", a)


def choose_kind(p: Path, files, accept: Sequence[str], key: str | None, expected: str) -> tuple[str, list[str]]:
    """(the kind to read, the other kinds present that could compete with it): ``key`` when given,
    else the first usable of ``KINDS``; ``expected`` describes the accepted kinds in the error."""
    has_s = any(k.startswith("s/") for k in files)
    present = [k for k in KINDS if (k in files if k != "s" else has_s)]
    usable = [k for k in present if k in accept]
    if key is not None:
        if key not in usable:
            raise InputError(f"{p}: `latents_key` {key} is not among the usable kinds in this file {usable}")
        return key, []
    if not usable:
        raise InputError(f"{p}: found arrays {sorted(files)}; expected {expected}")
    kind = usable[0]
    return kind, [k for k in present if k != kind and (k in accept or k == "s")]


def _refuse_ambiguous(p: Path, kind: str, others: list[str], accept: Sequence[str]) -> None:
    if others:
        raise InputError(
            f"{p} holds {kind!r} and {others} latents that differ; pass `latents_key` "
            f"{'|'.join([kind] + [o for o in others if o in accept])} to say which to use"
        )


def _describe(kind: str, cfg) -> str:
    return {
        "wplus": f"'wplus' (B,{cfg.num_ws},{cfg.w_dim})",
        "w": f"'w' (B,{cfg.w_dim})",
        "z": f"'z' (B,{cfg.z_dim})",
        "s": "'s/<layer name>' codes",
    }[kind]


def _checked(p: Path, kind: str, files, s_keys, cfg):
    if kind == "s":
        missing = [l.name for l in cfg.style_layers if l.name not in s_keys]
        if missing:
            raise InputError(f"{p}: StyleSpace codes for layers {missing} are missing")
        return {l.name: _latent(s_keys[l.name], f"{p.name}:s/{l.name}", (None, l.width)) for l in cfg.style_layers}
    shape = {"wplus": (None, cfg.num_ws, cfg.w_dim), "w": (None, cfg.w_dim), "z": (None, cfg.z_dim)}[kind]
    return _latent(files[kind], f"{p.name}:{kind}", shape)


def _styles_match(gen, wplus: np.ndarray, styles: dict) -> bool:
    ref = gen.w_to_s(wplus)
    return all(
        np.shape(styles[n]) == np.shape(ref[n]) and np.allclose(styles[n], np.asarray(ref[n]), atol=1e-4)
        for n in styles
    )


def write_npz(
    path: str | os.PathLike, images, wplus=None, styles: Mapping[str, np.ndarray] | None = None, **extra
) -> None:
    arrays = {"images": np.asarray(images, np.float32)}
    if wplus is not None:
        arrays["wplus"] = np.asarray(wplus, np.float32)
    for name, s in (styles or {}).items():
        arrays[f"s/{name}"] = np.asarray(s, np.float32)
    arrays.update({k: np.asarray(v) for k, v in extra.items()})
    for k, v in arrays.items():
        if k != "alpha":  # alpha NaN marks "original" columns on purpose
            check_finite(f"output {k}", v)
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays))
