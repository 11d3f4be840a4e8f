"""Channel relevance fs3 (StyleCLIP ``SingleChannel.py``): what each StyleSpace channel does in CLIP space.

For every manipulable (non-toRGB) channel c of layer l and each of K base codes: set s_{l,c} to
μ_c − 5σ_c and μ_c + 5σ_c, render both images, convert them to uint8 as upstream does, run
CLIP's standard preprocess (bit-exact PIL bicubic, ``pil_bicubic.py``) and ``encode_image``. Then
``relevance_from_features``: normalise each embedding, take (+5σ) − (−5σ), normalise, average
over the K images, normalise: one unit row per channel.

Upstream uses a shallow copy of the codes, so every processed channel *stays* at its mean for
all later channels (golden README §11). We give each channel a fresh copy (only the channel
being measured sits at its mean), the behaviour upstream's code evidently intends; the golden
``*_fresh`` arrays are that variant.

The same renders also give each channel's spatial effect map (``effects.npy``, beside fs3): the
mean |render(+5σ) − render(−5σ)| at ≤ 32 × 32, which lets a mask pick the channels that act
inside it (StyleSpace's localized channels, Wu et al. 2021, with renders instead of gradients).

Speed and robustness: the (channel, image, sign) renders of a chunk of channels go through one
compiled block renderer, ``image_batch`` renders per device per call, from a host loop (a
``lax.map`` over the blocks ran 3-4x slower on XLA-CPU). With several devices each block is split
over them (renders sharded, weights replicated). Every finished chunk is written atomically to
``fs3_parts/``, so a killed run resumes at the first missing chunk.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.editing.global_directions.stats import (
    EFFECTS_FILE,
    StyleSpaceStats,
    load_effects,
    load_fs3,
)
from styleclip_jax.errors import InputError, NonFiniteError
from styleclip_jax.io.files import atomic_write
from styleclip_jax.io.jobs import MANIFEST, check_manifest, float32_sha256, job_lock
from styleclip_jax.models.clip.pil_bicubic import preprocess_generated
from styleclip_jax.parallel.distributed import (
    barrier,
    is_primary,
    process_count,
    process_index,
)
from styleclip_jax.parallel.mesh import data_mesh
from styleclip_jax.progress import callback

ALPHA = 5.0
EFFECT_SIZE = 32  # effect maps are stored at most 32 x 32 (a mask selects channels at that scale)


def _unit(x, axis=-1):
    return x / jnp.linalg.norm(x, axis=axis, keepdims=True)


def relevance_from_features(f: jax.Array) -> jax.Array:
    """``GetFs``: CLIP features (channels, K, 2, E) at (−5σ, +5σ) -> unit relevance rows (channels, E)."""
    f = _unit(f)
    d = _unit(f[:, :, 1] - f[:, :, 0])
    return _unit(jnp.mean(d, axis=1))


def effect_size(resolution: int) -> int:
    """Side of the stored effect maps: the image pooled to at most ``EFFECT_SIZE`` pixels."""
    return min(EFFECT_SIZE, resolution)


def _render_features(g_def, c_def, layer: int, g_state, c_state, base, ch, img, value):
    """Unit CLIP features (N, E) of N renders, and the renders area-pooled to (N, e, e, 3) for the
    effect maps: base code ``img[i]`` with channel ``ch[i]`` of style layer ``layer`` set to
    ``value[i]``. ``base``: list of (K, C_j) base codes per layer."""
    gen, clip = nnx.merge(g_def, g_state), nnx.merge(c_def, c_state)
    styles = [b_[img] for b_ in base]
    styles[layer] = styles[layer].at[jnp.arange(ch.shape[0]), ch].set(value)
    x = gen.synthesis(styles)
    n, r = x.shape[0], x.shape[1]
    e = effect_size(r)
    pooled = x.astype(jnp.float32).reshape(n, e, r // e, e, r // e, 3).mean(axis=(2, 4))
    return _unit(clip.encode_image(preprocess_generated(x, clip.cfg.image_size)).astype(jnp.float32)), pooled


@functools.lru_cache(maxsize=8)
def _compiled(g_def, c_def, layer: int, mesh):
    """The jitted block renderer; with a mesh the block's renders are split over its devices."""
    fn = functools.partial(_render_features, g_def, c_def, layer)
    if mesh is None:
        return jax.jit(fn)
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    rep, split = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    return jax.jit(fn, in_shardings=(rep, rep, rep, split, split, split), out_shardings=(split, split))


def _chunk_rows(gen, clip, base, mean_l, std_l, channels: np.ndarray, *, layer: int, block: int, mesh):
    """Relevance rows (Cb, E) and effect maps (Cb, e, e) for ``channels`` (Cb,) of style layer
    ``layer``. An effect map is the mean over the K base images of |render(+5σ) − render(−5σ)|
    (pooled to e × e, averaged over RGB): where in the image the channel acts. ``mean_l`` / ``std_l``:
    (C_layer,) numpy. Renders go in blocks of ``block`` from a host loop, not a ``lax.map``: XLA-CPU
    runs the generator 3-4x slower inside a while loop (bench/RESULTS.md)."""
    k = base[0].shape[0]
    cb = len(channels)
    n = cb * k * 2
    n_pad = math.ceil(n / block) * block
    item = np.minimum(np.arange(n_pad), n - 1)  # pad by repeating the last render
    ch, img, sign = channels[item // (2 * k)], (item // 2) % k, item % 2
    value = (mean_l[ch] + np.where(sign == 1, ALPHA, -ALPHA) * std_l[ch]).astype(np.float32)
    fn = _compiled(gen.graphdef, clip.graphdef, layer, mesh)
    outs = [
        fn(
            gen.state,
            clip.state,
            base,
            jnp.asarray(ch[i : i + block], jnp.int32),
            jnp.asarray(img[i : i + block], jnp.int32),
            jnp.asarray(value[i : i + block]),
        )
        for i in range(0, n_pad, block)
    ]
    feats = jnp.concatenate([f for f, _ in outs])[:n]
    pooled = jnp.concatenate([p for _, p in outs])[:n]
    pooled = pooled.reshape((cb, k, 2) + pooled.shape[1:])
    effect = jnp.mean(jnp.abs(pooled[:, :, 1] - pooled[:, :, 0]), axis=(1, 4))
    return relevance_from_features(feats.reshape(cb, k, 2, -1)), effect


def _part_name(layer_name: str, chans: np.ndarray) -> str:
    return f"{layer_name}__{int(chans[0]):05d}_{int(chans[-1]) + 1:05d}.npy"


def effect_part(rows_part: Path) -> Path:
    """The effect-map file beside a part of fs3 rows (written first: the rows mark a chunk done)."""
    return rows_part.with_name(rows_part.stem + ".effect.npy")


def _chunk_done(path: Path) -> bool:
    # a part from before effect maps existed has rows only: computed again, rows and all
    return path.exists() and effect_part(path).exists()


def precompute_fs3(
    gen,
    clip,
    stats: StyleSpaceStats,
    out_dir,
    *,
    num_images: int = 100,
    channels_per_chunk: int = 16,
    image_batch: int = 8,
    devices: int | None = None,
    layers=None,
    channel_subset=None,
    progress=None,
) -> np.ndarray:
    """Compute (or finish) fs3 for ``stats`` and write ``out_dir/fs3.npy``; returns it (rows, E).

    Args:
      num_images: K base codes per channel (upstream: 100), the first K of ``stats.base``.
      channels_per_chunk: channels per compiled program / part file (multiple of the devices).
      image_batch: renders per device per compiled call (bounds memory: 8 at 1024 px needs a few GB).
      devices: this process's devices to split each block of renders over (default all). In a
        multi-process run (``styleclip_jax.parallel.distributed``) the chunks are dealt to the processes.
      layers, channel_subset: restrict to some layer names / {layer name: channel list} (tests,
        partial runs); rows of skipped channels are not written to ``fs3.npy``.
      progress: ``f(done_channels, total)`` after each written chunk (``styleclip_jax.progress``).
    """
    stats.check_generator(gen)
    if stats.base is None or stats.base.shape[0] < num_images:
        have = 0 if stats.base is None else stats.base.shape[0]
        raise InputError(
            f"the stats keep {have} base codes but num_images={num_images}; recompute them with keep >= {num_images}"
        )
    for name, v in (
        ("channels_per_chunk", channels_per_chunk),
        ("image_batch", image_batch),
        ("num_images", num_images),
    ):
        if v < 1:
            raise InputError(f"{name} must be >= 1, got {v}")
    n_dev, mesh = data_mesh(devices, channels_per_chunk, "channels_per_chunk", local=True)
    out = Path(out_dir)
    with job_lock(out):
        # Parts from another generator, CLIP or set of base codes must never join this table.
        check_manifest(out / "fs3_parts" / MANIFEST, fs3_manifest(gen, clip, stats, num_images), "this fs3 table")
        return _precompute_locked(
            gen,
            clip,
            stats,
            out,
            num_images,
            channels_per_chunk,
            image_batch * n_dev,
            mesh,
            layers,
            channel_subset,
            progress,
        )


def fs3_manifest(gen, clip, stats: StyleSpaceStats, num_images: int) -> dict:
    """What an fs3 row depends on: generator, CLIP, the base codes and mean/std, K and alpha."""
    sha = float32_sha256(stats.mean, stats.std, stats.base[:num_images])
    return {
        "generator": gen.fingerprint(),
        "clip": clip.fingerprint(),
        "codes_sha256": sha,
        "num_images": int(num_images),
        "alpha": ALPHA,
    }


def _precompute_locked(
    gen, clip, stats, out: Path, num_images, channels_per_chunk, block, mesh, layers, channel_subset, progress
) -> np.ndarray:
    parts = out / "fs3_parts"
    parts.mkdir(parents=True, exist_ok=True)
    base = [jnp.asarray(b[:num_images]) for b in stats.split(stats.base).values()]
    mean, std = stats.split(stats.mean), stats.split(stats.std)
    wanted = [
        i for i, (n, m) in enumerate(zip(stats.names, stats.manipulable)) if m and (layers is None or n in layers)
    ]
    if layers is not None and len(wanted) != len(set(layers)):
        raise InputError(f"unknown or toRGB layers in {sorted(set(layers) - {stats.names[i] for i in wanted})}")
    plan = []  # (layer index, channels, part file)
    for li in wanted:
        name = stats.names[li]
        chans = np.arange(stats.widths[li]) if channel_subset is None else np.asarray(channel_subset.get(name, []), int)
        for s in range(0, len(chans), channels_per_chunk):
            chunk = chans[s : s + channels_per_chunk]
            plan.append((li, chunk, parts / _part_name(name, chunk)))
    mine = plan[process_index() :: process_count()]  # multi-process: chunks dealt round-robin
    total = sum(len(c) for _, c, _ in mine)
    done = sum(len(c) for _, c, path in mine if _chunk_done(path))
    report = callback(progress)
    report(done, total)
    for li, chans, path in mine:
        name = stats.names[li]
        if _chunk_done(path):
            continue
        rows, effect = (
            np.asarray(a)
            for a in _chunk_rows(
                gen, clip, base, np.asarray(mean[name]), np.asarray(std[name]), chans, layer=li, block=block, mesh=mesh
            )
        )
        if not (np.all(np.isfinite(rows)) and np.all(np.isfinite(effect))):
            raise NonFiniteError(f"non-finite relevance rows for {name} channels {chans[0]}..{chans[-1]}")
        atomic_write(effect_part(path), lambda p: np.save(p, effect))
        atomic_write(path, lambda p: np.save(p, rows))
        done += len(chans)
        report(done, total)
    barrier("fs3-parts-written")  # every process's parts are on disk
    fs3 = np.concatenate([load_fs3(path) for _, _, path in plan])
    effects = np.concatenate([load_effects(effect_part(path)) for _, _, path in plan])
    stats.effects = effects
    if layers is None and channel_subset is None:
        stats.fs3 = fs3
        if is_primary():
            atomic_write(
                out / EFFECTS_FILE, lambda p: np.save(p, effects.astype(np.float16))
            )  # half the size; only shares are read
            atomic_write(out / "fs3.npy", lambda p: np.save(p, fs3))
    barrier("fs3-written")
    return fs3
