"""The resumable host loop shared by every trainer (mapper, e4e encoder, the toy world's GAN,
decoder and CLIP).

An experiment folder holds a manifest (``run.json``, or the caller's name: what is being
trained, fixed at the first start and checked on ``resume``), ``checkpoints/`` (orbax, the newest
two) and ``metrics.jsonl`` (one line a step). Ctrl-C, or an exception in a step, saves the last
finished step before re-raising, so nothing already computed is lost; a resumed run continues
bit for bit because every step's data is a pure function of (seed, step). A step whose loss is
not finite is never adopted: the error names the step, the last good state is checkpointed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from styleclip_jax.errors import InputError, NonFiniteError
from styleclip_jax.io import checkpoints
from styleclip_jax.io.files import atomic_write, refuse_nonempty_dir
from styleclip_jax.io.jobs import clear_job_folder, job_lock
from styleclip_jax.parallel.distributed import barrier, is_primary, process_count
from styleclip_jax.progress import callback

METRICS_FILE = "metrics.jsonl"


def _differences(old, new, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two JSON records (nested dicts compared by field)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new)) for d in _differences(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [prefix[:-1]]


@contextlib.contextmanager
def experiment(
    exp_dir,
    run_info: dict[str, Any],
    resume: bool,
    overwrite: bool = False,
    *,
    manifest: str = "run.json",
    may_change: Iterable[str] = (),
    what: str = "training",
):
    """Hold ``exp_dir`` for one run (``with experiment(...) as exp:``): locked against a second
    writer, its ``manifest`` written with ``run_info``, or checked against it on ``resume``.

    On resume every field must match except the dotted names in ``may_change`` (e.g.
    ``train.steps``), which are updated. ``overwrite`` clears a folder only when it holds
    ``manifest`` (never someone's other files). In a multi-process run every process checks,
    process 0 writes and holds the lock.
    """
    exp, may_change = Path(exp_dir), set(may_change)
    run_file = exp / manifest
    new = json.loads(json.dumps(run_info))  # compare as stored (tuples, numpy scalars)
    if resume and overwrite:
        raise InputError("resume and overwrite exclude each other")
    if resume and not exp.exists():
        raise InputError(f"cannot resume: {exp} does not exist")
    if not resume and overwrite and is_primary():
        clear_job_folder(exp, manifest, what)
    elif not resume:
        refuse_nonempty_dir(exp, overwrite=False)
    barrier("experiment-checked")  # every process checked before any writes
    with job_lock(exp):
        if resume:
            if not run_file.exists():
                raise InputError(f"{exp}: nothing to resume (no {manifest})")
            diff = [d for d in _differences(json.loads(run_file.read_text()), new) if d not in may_change]
            if diff:
                raise InputError(
                    f"cannot resume {exp}: {', '.join(diff)} differ from the original run"
                    + (f" (only {sorted(may_change)} may change)" if may_change else "")
                )
        if is_primary():
            atomic_write(run_file, lambda p: Path(p).write_text(json.dumps(new, indent=2, sort_keys=True)))
        yield exp


def _chunk_end(step: int, total: int, every: Iterable[int], max_chunk: int | None) -> int:
    end = min([total] + [(step // k + 1) * k for k in every if k > 0])
    return min(end, step + max_chunk) if max_chunk else end


def run(
    exp: Path,
    state,
    step_fn: Callable,
    total_steps: int,
    *,
    resume: bool,
    checkpoint_every: int,
    every: Iterable[int] = (),
    max_chunk: int | None = 1,
    on_chunk: Callable[[Any, dict], None] | None = None,
    on_checkpoint: Callable[[Any], None] | None = None,
    progress=None,
    step_of: Callable[[Any], int] = lambda s: int(s.step),
    placement=None,
    logs: Iterable[str] = (),
    what: str = "training state",
):
    """Run ``state, metrics = step_fn(state, n)`` (n steps at a time) until ``total_steps``; returns the state.

    ``metrics`` values are scalars for one step or (n,) arrays; each step is one line of
    ``metrics.jsonl``. A chunk ends at every multiple of ``checkpoint_every`` and of each of
    ``every`` (e.g. validation), and is at most ``max_chunk`` steps (None: no cap).
    ``on_chunk(state, metrics)`` runs after every chunk, ``on_checkpoint(state)`` after every
    checkpoint and at the end (export the model there); ``progress(done, total)`` after every chunk. ``placement`` (a sharding) is where a
    resumed state's leaves go (default: the first device). ``logs``: further ``.jsonl`` files in
    ``exp`` that a resume truncates to the restored step.
    """
    mngr = checkpoints.manager(exp / "checkpoints")
    if resume and mngr.latest_step() is not None:  # stopped before its first checkpoint: start over
        state = checkpoints.restore(mngr, state, placement, what=what)
    if resume and is_primary():
        for name in (METRICS_FILE, *logs):
            checkpoints.truncate_jsonl(exp / name, step_of(state))
    every = (checkpoint_every, *every)
    start = step_of(state)
    report = callback(progress)
    report(start, total_steps)
    last_saved = start
    try:
        with open(exp / METRICS_FILE if is_primary() else os.devnull, "a") as log:
            while step_of(state) < total_steps:
                first = step_of(state)
                n = _chunk_end(first, total_steps, every, max_chunk) - first
                new_state, metrics = step_fn(state, n)
                m = {k: np.atleast_1d(np.asarray(v)) for k, v in metrics.items()}
                if not all(np.all(np.isfinite(v)) for k, v in m.items() if k.startswith("loss")):
                    raise NonFiniteError(
                        f"non-finite loss between steps {first} and {first + n}; the last good "
                        f"state (step {first}) is checkpointed"
                    )
                state = new_state
                for i in range(n):
                    row = {k: float(v[i]) for k, v in m.items() if np.isfinite(v[i])}
                    log.write(json.dumps({"step": first + i + 1, **row}) + "\n")
                report(first + n, total_steps)
                if on_chunk:
                    on_chunk(state, m)
                step = step_of(state)
                if step % checkpoint_every == 0 or step == total_steps:
                    log.flush()
                    checkpoints.save(mngr, step, state)
                    last_saved = step
                    if on_checkpoint:
                        on_checkpoint(state)
    except BaseException:
        step = step_of(state)
        if step > last_saved and process_count() == 1:  # (a save needs every process)
            try:
                jax.block_until_ready(state)
                checkpoints.save(mngr, step, state)
                if on_checkpoint:
                    on_checkpoint(state)
                print(f"\ninterrupted: saved step {step} to {exp / 'checkpoints'}; resume the run to continue")
            except Exception as save_error:  # never mask the original problem
                print(f"styleclip-jax: could not checkpoint step {step}: {save_error}")
        raise
    return state
