"""StyleGAN3's FIR filters, designed as upstream designs them (float64, rounded to float32).

``firwin`` with a Kaiser window whose β comes from the transition width; R's radial (jinc)
filters for the non-critically-sampled layers. The converter checks the stored buffers against
these designs, and the synthesis uses them as constants (so they are static, and the FIR runs as
shift-and-add on XLA-CPU).
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=256)
def design_lowpass(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> np.ndarray | None:
    """(numtaps,) separable or (numtaps, numtaps) radial float32 filter; None for ``numtaps == 1``."""
    import scipy.signal
    import scipy.special

    if numtaps == 1:
        return None
    if not radial:
        return np.asarray(scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs), np.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    w = np.kaiser(numtaps, beta)
    f *= np.outer(w, w)
    f /= np.sum(f)
    return np.asarray(f, np.float32)


def layer_filters(g) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(up filter, down filter) of a ``LayerGeometry``, as upstream's ``SynthesisLayer`` makes them."""
    up = design_lowpass(g.up_taps, g.in_cutoff, g.in_half_width * 2, g.tmp_sampling_rate)
    down = design_lowpass(g.down_taps, g.out_cutoff, g.out_half_width * 2, g.tmp_sampling_rate, g.down_radial)
    return up, down
