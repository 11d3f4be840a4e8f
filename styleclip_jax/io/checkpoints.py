"""Resumable training state on disk: orbax checkpoints of the state pytree itself (NamedTuples,
NNX states, optax states), atomic, the newest two kept. Restoring needs a template of the same
structure; orbax checks structure, shapes and dtypes, and a mismatch is a ``CheckpointError``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.files import atomic_write


def manager(folder: str | Path, max_to_keep: int = 2):
    import orbax.checkpoint as ocp

    opts = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True)
    return ocp.CheckpointManager(Path(folder).absolute(), options=opts)


def save(mngr, step: int, state) -> None:
    """Save ``state`` (any pytree: NamedTuples, NNX states, optax states) as checkpoint ``step``;
    a step already saved is kept as is."""
    import orbax.checkpoint as ocp

    if step in mngr.all_steps():
        return
    mngr.save(step, args=ocp.args.StandardSave(state))
    mngr.wait_until_finished()


def restore(mngr, template, placement=None, what: str = "training state"):
    """The newest checkpoint restored into ``template``'s structure (leaves placed on ``placement``).
    orbax checks the tree structure, shapes and dtypes; a checkpoint that does not fit is named."""
    import orbax.checkpoint as ocp

    step = mngr.latest_step()
    if step is None:
        raise CheckpointError(f"{mngr.directory}: no checkpoint to resume from")
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(np.shape(x), jnp.asarray(x).dtype, sharding=placement), template
    )
    try:
        restored = mngr.restore(step, args=ocp.args.StandardRestore(abstract))
    except (ValueError, KeyError, TypeError, FileNotFoundError) as e:
        raise CheckpointError(
            f"{mngr.directory}/{step}: checkpoint does not fit this {what} ({' '.join(str(e).split())[:300]})"
        ) from None
    if placement is None:
        # orbax hands back arrays committed to a device, and jit keys its cache on committedness:
        # a template of fresh (uncommitted) arrays already compiled in this process would compile
        # every step again. Uncommitted leaves look to jit exactly like the template's.
        restored = jax.tree.map(lambda x: jnp.asarray(np.asarray(x)), restored)
    return restored


def truncate_jsonl(path: str | Path, last_step: int) -> None:
    """Drop log lines past the restored step (a resumed run recomputes them, identically)."""
    path = Path(path)
    if path.exists():
        keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= last_step]
        atomic_write(path, lambda p: Path(p).write_text("".join(k + "\n" for k in keep)))
