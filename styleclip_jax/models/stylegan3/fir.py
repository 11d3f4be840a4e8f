"""The FIR resampling inside StyleGAN3's filtered leaky ReLU, as shift-and-add with its own VJPs.

XLA-CPU runs depthwise convolutions 25–40× slower than shift-and-add (measured here), so
the filters are sums of shifted slices times constant taps. Autodiff would transpose each slice
into a padded full-size buffer (dozens per filter): the StyleGAN3-T 1024 gradient asked for 75 GB.
The transposes written out here are themselves shift-and-add over the cotangent, output-sized
and fused like the forward pass.

Conventions: ``f`` is the filter as applied (already flipped, gains folded in), a tuple of floats
(``radial``: tuple of tuples); every op is 'valid' along one axis of an NHWC tensor unless noted.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax


def pad_axis(x: jax.Array, axis: int, lo: int, hi: int, interior: int = 0) -> jax.Array:
    """Zero padding along ``axis``; negative ``lo`` / ``hi`` crop. Without interior padding it is
    ``jnp.pad`` + a slice, which jax2onnx exports with a dynamic batch (``lax.pad`` it does not)."""
    if interior:  # (only in the backward passes, never exported)
        config = [(0, 0, 0)] * x.ndim
        config[axis] = (lo, hi, interior)
        return lax.pad(x, jnp.zeros((), x.dtype), config)
    if lo > 0 or hi > 0:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (max(lo, 0), max(hi, 0))
        x = jnp.pad(x, widths)
    if lo < 0 or hi < 0:
        x = lax.slice_in_dim(x, max(-lo, 0), x.shape[axis] - max(-hi, 0), axis=axis)
    return x


def shift_add(x: jax.Array, f: Sequence[float], axis: int, start: int, stride: int, count: int) -> jax.Array:
    """``y[m] = Σ_i f[i] · x[start + stride·m + i]`` for m < count, along ``axis``."""
    out = None
    for i, t in enumerate(f):
        if t == 0.0:
            continue
        s = start + i
        term = lax.slice_in_dim(x, s, s + stride * (count - 1) + 1, stride=stride, axis=axis) * t
        out = term if out is None else out + term
    if out is None:
        return jnp.zeros_like(lax.slice_in_dim(x, start, start + stride * (count - 1) + 1, stride=stride, axis=axis))
    return out


# ---- strided FIR (the down path) -----------------------------------------------------------------
def fir_down(x: jax.Array, f: tuple[float, ...], stride: int, axis: int) -> jax.Array:
    """``y[m] = Σ_i f[i] · x[stride·m + i]``: filter then keep every ``stride``-th sample from 0."""
    return _fir_down(x, f, stride, axis, x.shape[axis])


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _fir_down(x, f, stride, axis, length):
    return shift_add(x, f, axis, 0, stride, (length - len(f)) // stride + 1)


def _fir_down_fwd(x, f, stride, axis, length):
    return _fir_down(x, f, stride, axis, length), None


def _fir_down_bwd(f, stride, axis, length, _, g):
    # x̄[k] = Σ_i f[i] ȳ[(k − i)/stride]: zero-insert ȳ, then a full FIR with the reversed taps
    z = pad_axis(g, axis, 0, 0, stride - 1)
    z = pad_axis(z, axis, len(f) - 1, length - z.shape[axis])
    return (shift_add(z, f[::-1], axis, 0, 1, length),)


_fir_down.defvjp(_fir_down_fwd, _fir_down_bwd)


# ---- zero-insert, pad / crop, FIR (the up path), polyphase ---------------------------------------
def fir_up(x: jax.Array, f: tuple[float, ...], up: int, pad: tuple[int, int], axis: int) -> jax.Array:
    """Zero-insert by ``up`` (each sample followed by up−1 zeros), pad by ``pad`` (negative crops),
    then the 'valid' FIR ``f``. One short FIR per output phase on ``x`` itself: the zeros are never
    built, so an up-by-4 layer does a quarter of the work and memory."""
    return _fir_up(x, f, up, pad, axis, x.shape[axis])


def _up_margin(f, up, pad) -> int:
    return len(f) + abs(pad[0]) + abs(pad[1]) + up


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4, 5))
def _fir_up(x, f, up, pad, axis, length):
    lo, hi = pad
    n = length * up + lo + hi - len(f) + 1  # output length
    nq = -(-n // up)  # samples per phase
    margin = _up_margin(f, up, pad)
    xp = pad_axis(x, axis, margin, margin)
    phases = []
    for p in range(up):
        i0 = (lo - p) % up
        c = (p + i0 - lo) // up + margin  # y[up·q + p] = Σ_j f[i0 + up·j] x[q + j + c]
        phases.append(shift_add(xp, f[i0::up], axis, c, 1, nq))
    y = jnp.stack(phases, axis=axis + 1)
    y = y.reshape(y.shape[:axis] + (nq * up,) + y.shape[axis + 2 :])
    return lax.slice_in_dim(y, 0, n, axis=axis)


def _fir_up_fwd(x, f, up, pad, axis, length):
    return _fir_up(x, f, up, pad, axis, length), None


def _fir_up_bwd(f, up, pad, axis, length, _, g):
    # x̄[q] = Σ_i f[i] ȳ[up·q + lo − i]: a strided FIR of the padded cotangent with reversed taps
    margin = _up_margin(f, up, pad)
    y = pad_axis(g, axis, len(f) - 1 + margin, len(f) - 1 + margin)
    return (shift_add(y, f[::-1], axis, pad[0] + margin, up, length),)


_fir_up.defvjp(_fir_up_fwd, _fir_up_bwd)


# ---- 2-D radial FIR with decimation (StyleGAN3-R's down path) ----------------------------------
def fir_radial(x: jax.Array, f: tuple[tuple[float, ...], ...], stride: int) -> jax.Array:
    """``y[m, n] = Σ_ij f[i][j] · x[stride·m + i, stride·n + j]`` over H, W of an NHWC tensor."""
    return _fir_radial(x, f, stride, x.shape[1], x.shape[2])


def _radial(x, f, stride, count_h, count_w, start=0):
    out = None
    for i, row in enumerate(f):
        rows = lax.slice_in_dim(x, start + i, start + i + stride * (count_h - 1) + 1, stride=stride, axis=1)
        term = shift_add(rows, row, 2, start, stride, count_w)
        out = term if out is None else out + term
    return out


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _fir_radial(x, f, stride, height, width):
    k = len(f)
    return _radial(x, f, stride, (height - k) // stride + 1, (width - k) // stride + 1)


def _fir_radial_fwd(x, f, stride, height, width):
    return _fir_radial(x, f, stride, height, width), None


def _fir_radial_bwd(f, stride, height, width, _, g):
    k = len(f)
    z = pad_axis(pad_axis(g, 1, 0, 0, stride - 1), 2, 0, 0, stride - 1)
    z = pad_axis(pad_axis(z, 1, k - 1, height - z.shape[1]), 2, k - 1, width - z.shape[2])
    flipped = tuple(tuple(row[::-1]) for row in f[::-1])
    return (_radial(z, flipped, 1, height, width),)


_fir_radial.defvjp(_fir_radial_fwd, _fir_radial_bwd)
