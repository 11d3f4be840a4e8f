"""``precompute()``: the whole global-directions job in one folder (StyleSpace stats, then fs3).

Folder: ``stats.json`` / ``stats.npz`` (mean, std, the kept base codes), ``fs3_parts/`` (one file
per chunk of channels, with the manifest of what the rows depend on), ``fs3.npy`` at the end. The
folder is locked for the run; ``resume`` keeps the stats and every finished part, and refuses
other settings or models by name; ``overwrite`` clears only a folder of this kind.
"""

from __future__ import annotations

from pathlib import Path

from styleclip_jax.editing.global_directions.relevance import ALPHA, precompute_fs3
from styleclip_jax.editing.global_directions.stats import StyleSpaceStats, compute_stats
from styleclip_jax.errors import InputError
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.jobs import clear_job_folder, job_lock
from styleclip_jax.parallel.distributed import barrier, is_primary

STATS_FILE = "stats.json"


def precompute(
    gen,
    clip,
    out,
    *,
    n_stats: int = 100_000,
    truncation: float = 0.7,
    truncation_cutoff: int = 8,
    num_images: int = 100,
    channels_per_chunk: int = 16,
    image_batch: int = 8,
    devices: int | None = None,
    layers=None,
    resume: bool = False,
    overwrite: bool = False,
    progress=None,
    log=print,
) -> StyleSpaceStats:
    """Stats over ``n_stats`` sampled codes, then fs3 over ``num_images`` base images per channel.

    Returns the stats with ``fs3`` set (the full table unless ``layers`` restricts it). ``log``
    receives one line per phase. Multi-process runs: every process calls this with the same
    arguments (``styleclip_jax.parallel.distributed``); process 0 writes the shared files.
    """
    out = Path(out)
    if resume and overwrite:
        raise InputError("`resume` and `overwrite` exclude each other")
    check_settings(gen, n_stats, num_images, layers)  # everything checkable, before a folder exists
    if overwrite:
        if is_primary():
            clear_job_folder(out, STATS_FILE, "global precompute")
    elif not resume:
        refuse_nonempty_dir(out, overwrite=False)
    barrier("precompute-checked")  # every process has checked the folder before any writes
    with job_lock(out):
        stats = _stats(
            gen,
            out,
            resume,
            log,
            n=n_stats,
            truncation=truncation,
            truncation_cutoff=truncation_cutoff,
            keep=num_images,
        )
        return _fs3(gen, clip, stats, out, num_images, channels_per_chunk, image_batch, devices, layers, progress)


def check_settings(gen, n_stats: int, num_images: int, layers=None) -> None:
    """What ``precompute`` would refuse later, refused first: sample counts and layer names."""
    if n_stats < 2 or not 0 <= num_images <= n_stats:
        raise InputError(f"need `n_stats` >= 2 and 0 <= `images` <= `n_stats`, got {n_stats} and {num_images}")
    if layers is not None:
        known = {l.name for l in gen.config.style_layers if not l.is_torgb}
        bad = sorted(set(layers) - known)
        if bad:
            raise InputError(
                f"unknown or toRGB layers {bad}; the generator's StyleSpace layers are {sorted(known)[:8]} …"
            )


def _stats(gen, out: Path, resume: bool, log, **settings) -> StyleSpaceStats:
    info = {
        "n": settings["n"],
        "truncation": settings["truncation"],
        "truncation_cutoff": settings["truncation_cutoff"],
        "keep": settings["keep"],
    }
    if resume and (out / STATS_FILE).exists():
        stats = StyleSpaceStats.load(out)
        stats.check_generator(gen)
        changed = {k: (stats.info.get(k), v) for k, v in info.items() if stats.info.get(k) != v}
        if changed:
            raise InputError(f"cannot resume {out}: settings differ from the original run {changed}")
        log(f"resuming: stats from {out}")
        return stats
    log(f"sampling {settings['n']} StyleSpace codes for mean/std ...")
    stats = compute_stats(
        gen,
        n=settings["n"],
        truncation=settings["truncation"],
        cutoff=settings["truncation_cutoff"],
        keep=settings["keep"],
    )
    if is_primary():
        stats.save(out)
    return stats


def _fs3(gen, clip, stats, out: Path, num_images, channels_per_chunk, image_batch, devices, layers, progress):
    fs3 = precompute_fs3(
        gen,
        clip,
        stats,
        out,
        num_images=num_images,
        channels_per_chunk=channels_per_chunk,
        image_batch=image_batch,
        devices=devices,
        layers=layers,
        progress=progress,
    )
    if layers is None and is_primary():
        stats.info["fs3"] = {
            "num_images": num_images,
            "clip": clip.fingerprint(),
            "alpha": ALPHA,
            "channel_copy": "fresh per channel (upstream's cumulative-mean quirk not reproduced)",
        }
        stats.save(out, write_fs3=False)
    if layers is not None:
        stats.fs3 = fs3
    return stats
