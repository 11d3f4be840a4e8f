"""StyleSpace statistics for global directions: per-channel mean / std and the fs3 table.

Sampling follows StyleCLIP's torch code (``global_torch/manipulate.py``): ``z =
RandomState(5).randn(n, z_dim)``, mapping with ψ 0.7 and **truncation cutoff 8** (W+ rows ≥ 8
are not truncated; the TF version truncated every row), then W+ → S. Mean and (population) std
are accumulated chunk by chunk with Chan's parallel update in float64, so 100 000 codes never
sit in memory. The first ``keep`` codes are kept: they are the base images of the fs3
precompute (upstream's first 100).

A stats folder::

    stats.json   layout (layer names, widths, manipulable flags), sampling settings, and the
                 fingerprint of the generator it belongs to
    stats.npz    mean (C,), std (C,), base (K, C): all layers concatenated in layer order
    fs3.npy      (rows, E) channel relevance, rows = manipulable channels in layer order
    effects.npy  (rows, e, e) where each channel acts in the image (``global precompute``; for masks)
    population.npz  optional: CLIP-labelled samples (``population.py``; ``global precompute --population N``)
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import jax
import numpy as np

from styleclip_jax.editing.global_directions.population import POPULATION_FILE, Population
from styleclip_jax.errors import CheckpointError, InputError
from styleclip_jax.io.files import atomic_write
from styleclip_jax.io.torch_pickle import load_checkpoint

STATS_FORMAT = "styleclip-jax-stylespace-stats"
EFFECTS_FILE = "effects.npy"


@dataclasses.dataclass
class StyleSpaceStats:
    """Flat per-channel statistics over every StyleSpace layer (toRGB included, as upstream)."""

    names: tuple[str, ...]
    widths: tuple[int, ...]
    manipulable: tuple[bool, ...]  # False for toRGB layers
    mean: np.ndarray  # (C_total,)
    std: np.ndarray  # (C_total,)
    base: np.ndarray | None  # (K, C_total) first K sampled codes, or None
    generator: str  # fingerprint of the generator these belong to
    info: dict
    fs3: np.ndarray | None = None  # (rows, E)
    effects: np.ndarray | None = None  # (rows, e, e) spatial effect of each fs3 row's channel
    population: object = None  # ``population.Population``: CLIP-labelled samples, or None

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.widths)])

    @property
    def num_manipulable(self) -> int:
        return int(sum(w for w, m in zip(self.widths, self.manipulable) if m))

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """(…, C_total) -> {layer name: (…, C_l)}."""
        o = self.offsets
        return {n: flat[..., o[i] : o[i + 1]] for i, n in enumerate(self.names)}

    def flatten(self, styles) -> np.ndarray:
        """{layer name: (B, C_l)} or a list in layer order -> (B, C_total)."""
        if isinstance(styles, dict):
            styles = [styles[n] for n in self.names]
        return np.concatenate([np.asarray(s, np.float32) for s in styles], axis=-1)

    def check_generator(self, gen) -> None:
        if self.generator not in gen.lineage():
            raise InputError(
                "these StyleSpace stats were computed for another generator (fingerprint "
                f"{self.generator[:12]}…, this one {gen.fingerprint()[:12]}…); recompute them with "
                "`styleclip-jax global precompute` or import upstream files for this generator"
            )

    def check_clip(self, clip) -> None:
        """fs3 rows are CLIP-space directions: using them with another CLIP is an error. Imported
        upstream tables record no CLIP and cannot be checked."""
        fs3 = self.info.get("fs3")
        made_with = fs3.get("clip") if isinstance(fs3, dict) else None
        if made_with is not None and made_with != clip.fingerprint():
            raise InputError(
                f"these stats' fs3 was computed with another CLIP (fingerprint {made_with[:12]}…, this "
                f"one {clip.fingerprint()[:12]}…); use that CLIP or recompute fs3 with this one"
            )

    # ---- folder I/O ---------------------------------------------------------------------------
    def save(self, out_dir, *, write_fs3: bool = True) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": STATS_FORMAT,
            "names": list(self.names),
            "widths": list(self.widths),
            "manipulable": list(self.manipulable),
            "generator": self.generator,
            "info": self.info,
        }
        arrays = {"mean": self.mean.astype(np.float32), "std": self.std.astype(np.float32)}
        if self.base is not None:
            arrays["base"] = self.base.astype(np.float32)
        atomic_write(out / "stats.npz", lambda p: np.savez(p, **arrays))
        if write_fs3 and self.fs3 is not None:
            atomic_write(out / "fs3.npy", lambda p: np.save(p, self.fs3.astype(np.float32)))
            if self.effects is not None:
                atomic_write(out / EFFECTS_FILE, lambda p: np.save(p, self.effects.astype(np.float16)))
        atomic_write(out / "stats.json", lambda p: Path(p).write_text(json.dumps(meta, indent=2, sort_keys=True)))
        return out

    @classmethod
    def load(cls, path) -> StyleSpaceStats:
        p = Path(path)
        if not (p / "stats.json").is_file() or not (p / "stats.npz").is_file():
            raise InputError(
                f"{p} is not a StyleSpace stats folder (stats.json + stats.npz); make one with "
                "`styleclip-jax global precompute` or `global import`"
            )
        try:
            meta = json.loads((p / "stats.json").read_text())
            arr = np.load(p / "stats.npz", allow_pickle=False)
            arrays = {k: arr[k] for k in arr.files}
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as e:
            raise CheckpointError(f"{p}: unreadable stats ({type(e).__name__}: {e})") from None
        if not isinstance(meta, dict) or meta.get("format") != STATS_FORMAT:
            raise CheckpointError(f"{p}/stats.json is not a styleclip-jax stats file")
        fs3 = load_fs3(p / "fs3.npy") if (p / "fs3.npy").exists() else None
        s = cls(
            tuple(meta["names"]),
            tuple(int(w) for w in meta["widths"]),
            tuple(bool(m) for m in meta["manipulable"]),
            arrays["mean"],
            arrays["std"],
            arrays.get("base"),
            meta["generator"],
            meta.get("info", {}),
        )
        total = int(sum(s.widths))
        if s.mean.shape != (total,) or s.std.shape != (total,):
            raise CheckpointError(f"{p}: mean/std have shapes {s.mean.shape}/{s.std.shape}, layout says ({total},)")
        for name in ("mean", "std", "base"):
            if arrays.get(name) is not None and not np.all(np.isfinite(arrays[name])):
                raise CheckpointError(f"{p}/stats.npz: {name} contains NaN or infinite values")
        if fs3 is not None:
            s.fs3 = check_fs3_rows(fs3, s, str(p / "fs3.npy"))
        if (p / EFFECTS_FILE).exists():
            s.effects = load_effects(p / EFFECTS_FILE)
            if fs3 is None or len(s.effects) != len(fs3):
                raise CheckpointError(
                    f"{p}/{EFFECTS_FILE} has {len(s.effects)} rows but fs3 has "
                    f"{0 if fs3 is None else len(fs3)}; they come from one precompute"
                )
        if (p / POPULATION_FILE).exists():
            s.population = Population.load(p / POPULATION_FILE, int(sum(s.widths)))
            if s.population.info.get("generator") != s.generator:
                raise CheckpointError(f"{p}/{POPULATION_FILE} was sampled from another generator than these stats'")
        return s


def relevance(stats: StyleSpaceStats, dt: np.ndarray, source: str = "fs3", look=None) -> np.ndarray:
    """r = fs3 · Δt over all manipulable channels (rows beyond fs3 are zero, as ``SplitS``);
    ``source="population"``: the CLIP-labelled samples' estimate (``population.py``), conditioned
    on one start image by its ``look`` (N,) (``Population.likeness``) when given."""
    if source == "population":
        return population_of(stats).relevance(dt, look=look)
    if look is not None:
        raise InputError("only the population estimator conditions on the start image (source='population')")
    if stats.fs3 is None:
        raise InputError("these stats have no fs3 table; run `styleclip-jax global precompute` (or import fs3.npy)")
    dt = np.asarray(dt, np.float32)
    if dt.shape != (stats.fs3.shape[1],):
        raise InputError(f"text direction has shape {dt.shape}, fs3 rows have width {stats.fs3.shape[1]}")
    r = np.zeros(stats.num_manipulable, np.float32)
    r[: stats.fs3.shape[0]] = stats.fs3 @ dt
    return r


def population_of(stats: StyleSpaceStats):
    """The stats' population bank, or a one-line error saying how to make one."""
    if stats.population is None:
        raise InputError(
            "these stats have no population bank (population.npz); make one with `styleclip-jax "
            "global precompute` and `population` set (it resumes on an existing stats folder)"
        )
    return stats.population


def layout_of(gen):
    layers = gen.config.style_layers
    return tuple(l.name for l in layers), tuple(l.width for l in layers), tuple(not l.is_torgb for l in layers)


def compute_stats(
    gen, n: int = 100_000, truncation: float = 0.7, cutoff: int = 8, seed: int = 5, keep: int = 100, batch: int = 1000
) -> StyleSpaceStats:
    """Per-channel mean / std over ``n`` sampled StyleSpace codes (see the module docstring)."""
    from flax import nnx

    if n < 2 or keep < 0 or keep > n:
        raise InputError(f"need n >= 2 samples and 0 <= keep <= n, got n={n}, keep={keep}")
    names, widths, manip = layout_of(gen)
    rs = np.random.RandomState(seed)
    count, mean, m2, base = 0, None, None, []
    psi = np.float32(truncation)

    @jax.jit
    def codes(state, z):
        g = nnx.merge(gen.graphdef, state)
        return jax.numpy.concatenate(g.synthesis.w_to_s(g.map_to_wplus(z, psi, cutoff)), axis=-1)

    for start in range(0, n, batch):
        b = min(batch, n - start)
        z = rs.randn(b, gen.config.z_dim).astype(np.float32)  # same draws as one randn(n, z_dim)
        s = np.asarray(codes(gen.state, z), np.float64)
        if start < keep:
            base.append(s[: keep - start].astype(np.float32))
        bm, bm2 = s.mean(0), ((s - s.mean(0)) ** 2).sum(0)
        if mean is None:
            mean, m2 = bm, bm2
        else:  # Chan et al. parallel update
            delta = bm - mean
            tot = count + b
            mean = mean + delta * b / tot
            m2 = m2 + bm2 + delta**2 * count * b / tot
        count += b
    info = {
        "n": n,
        "truncation": truncation,
        "truncation_cutoff": cutoff,
        "seed": seed,
        "keep": keep,
        "sampling": "z = RandomState(seed).randn(n, z_dim); mapping psi/cutoff as StyleCLIP global_torch",
    }
    return StyleSpaceStats(
        names,
        widths,
        manip,
        mean.astype(np.float32),
        np.sqrt(m2 / count).astype(np.float32),
        np.concatenate(base) if base else None,
        gen.fingerprint(),
        info,
    )


# ---- upstream files ------------------------------------------------------------------------------
def load_fs3(path) -> np.ndarray:
    """Read an ``fs3.npy`` (ours or upstream's: fp16 or fp32) as float32, never unpickling."""
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise CheckpointError(f"{path}: not a readable .npy array ({e})") from None
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.floating):
        raise CheckpointError(f"{path}: fs3 must be a 2-D float array (channels, clip_dim), got {a.dtype} {a.shape}")
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        raise CheckpointError(f"{path}: fs3 contains NaN or infinite values")
    return a


def load_effects(path) -> np.ndarray:
    """Read effect maps (rows, e, e): finite, >= 0, never unpickling."""
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise CheckpointError(f"{path}: not a readable .npy array ({e})") from None
    if a.ndim != 3 or a.shape[1] != a.shape[2] or not np.issubdtype(a.dtype, np.floating):
        raise CheckpointError(f"{path}: effect maps must be a float array (channels, e, e), got {a.dtype} {a.shape}")
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)) or a.min() < 0:
        raise CheckpointError(f"{path}: effect maps must be finite and >= 0")
    return a


def check_fs3_rows(fs3: np.ndarray, stats: StyleSpaceStats, what: str) -> np.ndarray:
    """Upstream tolerates fewer rows than manipulable channels (5376 of 6048 for FFHQ) and treats
    the rest as zero (``SplitS``); more rows than channels is an error."""
    n = stats.num_manipulable
    if fs3.shape[0] > n:
        raise CheckpointError(
            f"{what}: fs3 has {fs3.shape[0]} rows but this generator has only {n} manipulable "
            "(non-toRGB) StyleSpace channels"
        )
    norms = np.linalg.norm(fs3, axis=1)
    off = int(np.sum(np.abs(norms - 1.0) > 2e-2))  # fp16 tables are unit up to ~1e-3
    if off:
        raise CheckpointError(
            f"{what}: {off} of {fs3.shape[0]} fs3 rows are not unit vectors (norms "
            f"{norms.min():.3g}..{norms.max():.3g}); not a channel-relevance table"
        )
    return fs3


def import_upstream(gen, fs3_path, s_mean_std_path=None, **stats_kw) -> StyleSpaceStats:
    """Stats for ``gen`` from upstream files: ``fs3.npy`` plus the ``S_mean_std`` pickle (read by
    the code-free reader); without the pickle, mean/std are sampled here."""
    if s_mean_std_path is None:
        stats = compute_stats(gen, **{"keep": 0, **stats_kw})  # editing needs no base codes
    else:
        obj = load_checkpoint(s_mean_std_path)
        names, widths, manip = layout_of(gen)
        if (
            not isinstance(obj, (list, tuple))
            or len(obj) != 2
            or any(not isinstance(x, (list, tuple)) or len(x) != len(names) for x in obj)
        ):
            raise CheckpointError(
                f"{s_mean_std_path}: expected [26 mean arrays, 26 std arrays] (one per StyleSpace "
                f"layer; this generator has {len(names)})"
            )
        for which, arrs in zip(("mean", "std"), obj):
            for name, w, a in zip(names, widths, arrs):
                if np.asarray(a).reshape(-1).shape != (w,):
                    raise CheckpointError(
                        f"{s_mean_std_path}: {which} of {name} has shape {np.shape(a)}, expected ({w},)"
                    )
        flat = [np.concatenate([np.asarray(a, np.float32).reshape(-1) for a in arrs]) for arrs in obj]
        stats = StyleSpaceStats(
            names,
            widths,
            manip,
            flat[0],
            flat[1],
            None,
            gen.fingerprint(),
            {"source": f"upstream S_mean_std {Path(s_mean_std_path).name}"},
        )
    stats.fs3 = check_fs3_rows(load_fs3(fs3_path), stats, str(fs3_path))
    stats.info["fs3"] = f"upstream {Path(fs3_path).name}"
    return stats
