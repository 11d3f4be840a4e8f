"""The resumable host loop shared by the toy-world trainers (GAN, CLIP, shape reader).

An experiment folder holds ``run.json`` (what is being trained, fixed at the first start and
checked on ``resume``), ``checkpoints/`` (orbax, the newest two), ``metrics.jsonl`` (one line a
step). Ctrl-C, or an exception in a step, saves the last finished step before re-raising, so
nothing already computed is lost; a resumed run continues bit for bit because every step's data
is a pure function of (seed, step).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

from styleclip_jax import checkpointing
from styleclip_jax.errors import InputError, NonFiniteError
from styleclip_jax.model_dir import atomic_write, refuse_nonempty_dir


def open_experiment(exp_dir, run_info: dict[str, Any], resume: bool, overwrite: bool = False) -> Path:
    """Create ``exp_dir`` (or check it on resume): ``run.json`` must match ``run_info`` exactly.
    In a multi-process run every process checks, process 0 writes."""
    from styleclip_jax.distributed import barrier, is_primary

    exp = Path(exp_dir)
    run_file = exp / "run.json"
    if resume:
        if not run_file.exists():
            raise InputError(f"{exp}: nothing to resume (no run.json)")
        old, new = json.loads(run_file.read_text()), json.loads(json.dumps(run_info))   # compare as stored
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise InputError(f"{exp}: cannot resume with different settings ({', '.join(diff)})")
        return exp
    refuse_nonempty_dir(exp, overwrite)
    barrier("experiment-checked")
    exp.mkdir(parents=True, exist_ok=True)
    if is_primary():
        atomic_write(run_file, lambda p: Path(p).write_text(json.dumps(run_info, indent=2, sort_keys=True)))
    return exp


def run(exp: Path, state, step_fn: Callable, total_steps: int, *, resume: bool, checkpoint_every: int,
        on_checkpoint: Callable[[Any], None] | None = None, desc: str = "train", progress: bool = True,
        step_of: Callable[[Any], int] = lambda s: int(s.step), placement=None):
    """Run ``state = step_fn(state) -> (state, metrics)`` until ``total_steps``; returns the state.

    ``on_checkpoint(state)`` runs after every checkpoint (and at the end): export the model there.
    ``placement`` (a sharding) is where a resumed state's leaves go (default: the first device).
    """
    from tqdm.auto import tqdm

    from styleclip_jax.distributed import is_primary, process_count

    mngr = checkpointing.manager(exp / "checkpoints")
    if resume:
        state = checkpointing.restore(mngr, state, placement)
        if is_primary():
            checkpointing.truncate_jsonl(exp / "metrics.jsonl", step_of(state))
    start = step_of(state)
    bar = tqdm(total=total_steps, initial=start, desc=desc, disable=not progress, dynamic_ncols=True)
    last_saved = start
    try:
        with open(exp / "metrics.jsonl" if is_primary() else os.devnull, "a") as log:
            while step_of(state) < total_steps:
                state, metrics = step_fn(state)
                step = step_of(state)
                m = {k: float(np.asarray(v)) for k, v in metrics.items()}
                log.write(json.dumps({"step": step, **{k: v for k, v in m.items() if np.isfinite(v)}}) + "\n")
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in m.items() if np.isfinite(v)}, refresh=False)
                if not all(np.isfinite(v) for k, v in m.items() if k.startswith("loss")):
                    raise NonFiniteError(f"non-finite loss at step {step}: {m}")
                if step % checkpoint_every == 0 or step == total_steps:
                    log.flush()
                    checkpointing.save(mngr, step, state)
                    last_saved = step
                    if on_checkpoint:
                        on_checkpoint(state)
    except BaseException:
        step = step_of(state)
        if step > last_saved and process_count() == 1:      # (a save needs every process)
            jax.block_until_ready(state)
            checkpointing.save(mngr, step, state)
            if on_checkpoint:
                on_checkpoint(state)
            print(f"\ninterrupted: saved step {step} to {exp / 'checkpoints'}; rerun with --resume to continue")
        raise
    finally:
        bar.close()
    return state
