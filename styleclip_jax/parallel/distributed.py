"""Multi-process (multi-host) runs of the long jobs: mapper training, encoder training, fs3 precompute.

One command per process, the same flags on every one plus ``--coordinator HOST:PORT
--num-processes N --process-id I`` (or ``--distributed`` where a cluster manager such as SLURM
or a TPU pod sets these). The job folder must be on a filesystem every process sees.

* Training (mapper, encoder): one global mesh over every process's devices; each step's batch is
  a pure function of (seed, step) made inside the jitted step, so each device computes its own
  slice and XLA all-reduces the gradient. Results equal a one-process run up to float32
  reduction order.
* fs3 precompute: the chunks are dealt round-robin to the processes, each writes its own part
  files, the first process assembles ``fs3.npy`` after a barrier.
* Only process 0 writes logs, configs, exports and takes the folder lock; orbax checkpoints are
  written cooperatively (every process calls save, orbax coordinates).

On CPU the cross-process collectives are gloo's (``jax_cpu_collectives_implementation``).
"""

from __future__ import annotations

import numpy as np

from styleclip_jax.errors import InputError


def initialize(
    coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None, auto: bool = False
) -> bool:
    """Join a multi-process run before anything touches the devices; False when not asked to.

    ``coordinator`` "host:port" with ``num_processes`` and ``process_id``, or ``auto`` to let
    ``jax.distributed`` read them from the cluster environment.
    """
    import jax

    given = [v is not None for v in (coordinator, num_processes, process_id)]
    if any(given) and not all(given):
        raise InputError("a multi-process run needs all of `coordinator` (HOST:PORT), `num_processes` and `process_id`")
    if not (all(given) or auto):
        return False
    if all(given):
        if num_processes < 1 or not 0 <= process_id < num_processes:
            raise InputError(f"`process_id` must be in [0, {num_processes}), got {process_id}")
        if ":" not in coordinator:
            raise InputError(f"`coordinator` must look like HOST:PORT, got {coordinator!r}")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if all(given):
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)
    else:
        jax.distributed.initialize()
    return True


def process_count() -> int:
    import jax

    return jax.process_count()


def process_index() -> int:
    import jax

    return jax.process_index()


def is_primary() -> bool:
    """True in process 0 (and in every single-process run): the one that writes files."""
    return process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches ``name`` (a no-op in a single-process run)."""
    if process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def replicate(tree, sharding):
    """Put a pytree on ``sharding``. In a multi-process run the leaves go through host values, which
    is how ``device_put`` accepts a mesh that spans other processes' devices."""
    import jax

    if process_count() == 1:
        return jax.device_put(tree, sharding)
    return jax.tree.map(lambda x: jax.device_put(np.asarray(x), sharding), tree)
