"""Reading latents files and writing generator outputs (the latents contract of the CLI).

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
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from styleclip_jax.errors import InputError, NonFiniteError, OutputExistsError
from styleclip_jax.io.files import atomic_write
from styleclip_jax.validation import check_array

KINDS = ("wplus", "w", "z", "s")
LATENT_SUFFIXES = (".npz", ".npy", ".pt", ".pth")


def parse_seeds(text: str, flag: str = "seeds") -> list[int]:
    """'0-7' / '1,5,9' / '0-3,10' -> list of ints (``flag`` names the option in errors)."""
    seeds: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise InputError(f"`{flag}` must look like '0-7' or '1,5,9', got {text!r}") from None
    if not seeds or any(s < 0 or s >= 2**32 for s in seeds):
        raise InputError(f"`{flag}` must name whole numbers in [0, 2^32), got {text!r}")
    return seeds


def z_from_seeds(seeds, z_dim: int) -> np.ndarray:
    """NVIDIA's convention: ``RandomState(seed).randn(z_dim)`` per seed -> (B, z_dim) float32."""
    return np.stack([np.random.RandomState(s).randn(z_dim) for s in seeds]).astype(np.float32)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of a ``.npz`` (never unpickling); a missing or broken file is an InputError."""
    p = _existing_file(path)
    if not zipfile.is_zipfile(p):
        raise InputError(f"{p}: not a .npz archive (no zip structure)")
    try:
        with np.load(p, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as e:
        if "pickle" in str(e):
            raise InputError(f"{p}: holds pickled objects, which are never loaded; save plain arrays") from None
        raise InputError(f"{p}: not a readable .npz file ({e})") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise InputError(f"{p}: not a readable .npz file ({e})") from None


def read_latent_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a latents file by name: ``.npz`` as stored; ``.npy`` / ``.pt`` as 'wplus' or 'w'
    by rank (3 or 2)."""
    p = _existing_file(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return read_npz(p)
    if suffix == ".npy":
        with p.open("rb") as f:
            if f.read(6) != b"\x93NUMPY":
                raise InputError(f"{p}: not a .npy file (bad magic)")
        try:
            a = np.load(p, allow_pickle=False)
        except ValueError as e:
            raise InputError(f"{p}: not a readable .npy array of numbers ({' '.join(str(e).split())[:200]})") from None
        except (OSError, EOFError) as e:
            raise InputError(f"{p}: truncated or unreadable .npy file ({e})") from None
    elif suffix in (".pt", ".pth"):
        from styleclip_jax.io.torch_pickle import load_checkpoint

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
    present = [k for k in KINDS if (k in files if k != "s" else bool(s_keys))]
    usable = [k for k in present if k in accept]
    if key is not None:
        if key not in usable:
            raise InputError(f"{p}: `latents_key` {key} is not among the usable kinds in this file {usable}")
        kind = key
    elif not usable:
        raise InputError(f"{p}: found arrays {sorted(files)}; expected "
                         + " or ".join(_describe(k, cfg) for k in accept))
    else:
        kind = usable[0]
    out = _checked(p, kind, files, s_keys, cfg)
    others = [k for k in present if k != kind and (k in accept or k == "s")] if key is None else []
    if others == ["s"] and kind == "wplus" and _styles_match(gen, out, _checked(p, "s", files, s_keys, cfg)):
        others = []                                     # our own generate output: the same images twice
    if others:
        raise InputError(f"{p} holds {kind!r} and {others} latents that differ; pass `latents_key` "
                         f"{'|'.join([kind] + [o for o in others if o in accept])} to say which to use")
    return kind, out


def _describe(kind: str, cfg) -> str:
    return {"wplus": f"'wplus' (B,{cfg.num_ws},{cfg.w_dim})", "w": f"'w' (B,{cfg.w_dim})",
            "z": f"'z' (B,{cfg.z_dim})", "s": "'s/<layer name>' codes"}[kind]


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
    return all(np.shape(styles[n]) == np.shape(ref[n]) and np.allclose(styles[n], np.asarray(ref[n]), atol=1e-4)
               for n in styles)


def wplus_from_source(gen, *, seeds: str | None = None, latents: str | os.PathLike | None = None,
                      truncation: float = 1.0, what: str = "this command", key: str | None = None) -> np.ndarray:
    """W+ (B, L, D) from ``--seeds`` (mapped at ``truncation``) or a latents file (wplus or w)."""
    if (seeds is None) == (latents is None):
        raise InputError(f"{what} needs exactly one of `seeds` or `latents`")
    if seeds is not None:
        return np.asarray(gen.mapping(z_from_seeds(parse_seeds(seeds), gen.config.z_dim), truncation))
    _, w = read_latents(latents, gen, accept=("wplus", "w"), key=key)
    return gen.as_wplus(w)


def invert_for(gen, images, encoder, align: bool = False):
    """Photos -> ``faces.photos.Inversion`` (W+ for ``gen``) through the encoder folder ``encoder``."""
    if encoder is None:
        raise InputError("`images` needs `encoder` (an e4e folder from `styleclip-jax convert encoder`)")
    from styleclip_jax.faces.photos import check_encoder_fits, invert_photos
    from styleclip_jax.models.e4e import load_encoder

    enc = load_encoder(encoder)
    check_encoder_fits(enc, gen)
    return invert_photos(images, enc, align)


def check_output_path(path: str | os.PathLike, overwrite: bool, suffixes=(".png", ".npz"),
                      sidecars: Sequence[str] = ()) -> Path:
    """``path`` checked before any work: its suffix, and that neither it nor its ``sidecars``
    (suffixes appended to the name, e.g. '.json') exist unless ``overwrite``."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise InputError(f"`out` must end with one of {suffixes}, got {p.name!r}")
    if p.is_dir():
        raise InputError(f"`out` {p} is a folder; name a file ending with one of {suffixes}")
    for f in [p] + [Path(str(p) + s) for s in sidecars]:
        if f.exists() and not overwrite:
            raise OutputExistsError(f"{f} exists; pass `overwrite=True` to replace it")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def check_finite(name: str, a) -> np.ndarray:
    """``a`` as numpy, or NonFiniteError: nothing with NaN or infinity is written."""
    a = np.asarray(a)
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        raise NonFiniteError(f"{name} holds {int(np.sum(~np.isfinite(a)))} NaN or infinite value(s); nothing "
                             "was written (check the weights and the numeric options)")
    return a


def write_npz(path: str | os.PathLike, images, wplus=None, styles: Mapping[str, np.ndarray] | None = None,
              **extra) -> None:
    arrays = {"images": np.asarray(images, np.float32)}
    if wplus is not None:
        arrays["wplus"] = np.asarray(wplus, np.float32)
    for name, s in (styles or {}).items():
        arrays[f"s/{name}"] = np.asarray(s, np.float32)
    arrays.update({k: np.asarray(v) for k, v in extra.items()})
    for k, v in arrays.items():
        if k != "alpha":                         # alpha NaN marks "original" columns on purpose
            check_finite(f"output {k}", v)
    atomic_write(path, lambda tmp: np.savez(tmp, **arrays))
