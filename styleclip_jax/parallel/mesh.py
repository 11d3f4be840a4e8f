"""Choosing devices for the data-parallel call sites (mapper training, fs3 precompute).

Model code holds no sharding; these call sites split one axis (the batch, or channels) over a
1-D ``"data"`` mesh. Axes are Auto: jax 0.10's ``make_mesh`` default (Explicit) rejects the
reshape in our upsampling.
"""

from __future__ import annotations

import jax
import numpy as np

from styleclip_jax.errors import InputError


def data_mesh(n_devices: int | None, split: int, what: str, local: bool = False):
    """``(n, mesh)`` over the first ``n`` devices (all when None); ``mesh`` is None for one.

    The devices are every process's (``jax.devices()``: one mesh across a multi-process run), or
    with ``local`` this process's only. ``split`` (the batch size or channels per chunk) must
    divide evenly over the devices.
    """
    from jax.sharding import AxisType, Mesh

    devices = jax.local_devices() if local else jax.devices()
    n = len(devices) if n_devices is None else n_devices
    if not 1 <= n <= len(devices):
        raise InputError(f"devices must be in [1, {len(devices)}], got {n}")
    if n == 1:
        return 1, None
    if split % n:
        raise InputError(
            f"{what} ({split}) must be divisible by the {n} devices it is sharded over (or use fewer devices)"
        )
    return n, Mesh(np.asarray(devices[:n]), ("data",), axis_types=(AxisType.Auto,))


def batch_shardings(n_devices: int | None, batch_size: int):
    """(replicated, batch) NamedShardings of a data-parallel trainer over the first ``n_devices``
    devices of every process, or (None, None) for one device."""
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    _, mesh = data_mesh(n_devices, batch_size, "batch_size")
    if mesh is None:
        return None, None
    return NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
