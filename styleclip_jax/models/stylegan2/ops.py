"""Array ops of StyleGAN2 in NHWC, written for XLA-CPU speed and ONNX export.

* FIR filtering is shift-and-add over padded slices: XLA-CPU runs a depthwise
  ``conv_general_dilated`` 25-40x slower (measured here).
* Zero insertion uses stack + reshape (``lax.pad`` interior padding cannot be exported to ONNX).
* Convolutions take their large kernel gradients as one matmul per tap (``conv_nhwc``).
* The modulated conv is the "scaled" form: scale activations by the style, one shared conv,
  multiply by the demodulation factor. It keeps a dynamic batch exportable.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

SQRT2 = math.sqrt(2.0)


def lrelu_gain(
    x: jax.Array, bias: jax.Array | None = None, *, slope: float = 0.2, gain: float = SQRT2, clamp: float | None = None
) -> jax.Array:
    """``leaky_relu(x + bias) * gain``, optionally clamped to ±clamp (NVIDIA ``bias_act``)."""
    if bias is not None:
        x = x + bias
    x = jnp.where(x >= 0, x, x * slope) * gain
    if clamp is not None:
        x = jnp.clip(x, -clamp, clamp)
    return x


def normalize_2nd_moment(x: jax.Array, axis: int = -1, eps: float = 1e-8) -> jax.Array:
    """PixelNorm: ``x * rsqrt(mean(x²) + eps)`` over ``axis``."""
    return x * lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + eps)


def fir_taps(kernel: Sequence[float], gain: float = 1.0) -> tuple[float, ...]:
    """1-D taps whose outer product is the normalised 2-D filter times ``gain``.

    The result is *flipped*, so sliding it over the input is a true convolution (as upstream's
    upfirdn2d), which matters only for asymmetric kernels.
    """
    k = [float(t) for t in kernel]
    s = sum(k)
    per_dim = math.sqrt(gain)
    return tuple(t / s * per_dim for t in reversed(k))


def _fir_1d(x: jax.Array, taps: Sequence[float], axis: int) -> jax.Array:
    n = x.shape[axis] - len(taps) + 1
    out = None
    for i, t in enumerate(taps):
        term = lax.slice_in_dim(x, i, i + n, axis=axis) * t
        out = term if out is None else out + term
    return out


def fir_filter(x: jax.Array, taps: Sequence[float], pad: tuple[int, int] = (0, 0)) -> jax.Array:
    """Separable FIR of an NHWC tensor with the same taps on H and W, after zero padding."""
    if pad != (0, 0):
        x = jnp.pad(x, ((0, 0), pad, pad, (0, 0)))
    return _fir_1d(_fir_1d(x, taps, axis=1), taps, axis=2)


def zero_insert_2x(x: jax.Array) -> jax.Array:
    """(B,H,W,C) -> (B,2H,2W,C) with each sample followed by a zero, as upfirdn2d(up=2)."""
    b, h, w, c = x.shape
    z = jnp.zeros_like(x)
    x = jnp.stack([x, z], axis=2).reshape(b, 2 * h, w, c)
    z = jnp.zeros_like(x)
    return jnp.stack([x, z], axis=3).reshape(b, 2 * h, 2 * w, c)


def upsample_2x(x: jax.Array, kernel: Sequence[float]) -> jax.Array:
    """upfirdn2d(x, k·4, up=2, pad=(p0, p1)): the skip-path upsample of the toRGB images."""
    taps = fir_taps(kernel, gain=4.0)
    p = len(taps) - 2
    return fir_filter(zero_insert_2x(x), taps, pad=((p + 1) // 2 + 1, p // 2))


def conv2d(x: jax.Array, w: jax.Array, padding: int) -> jax.Array:
    """Plain cross-correlation, NHWC input and HWIO kernel (torch ``F.conv2d``).

    A 1x1 kernel without padding is a matmul over channels: XLA-CPU's convolution path took 10x
    longer for toRGB's 3 output channels (84 vs 8 ms at 1024² x 32), the same sums.
    """
    if w.shape[:2] == (1, 1) and padding == 0:
        return jnp.einsum("bhwi,io->bhwo", x, w[0, 0])
    return conv_nhwc(x, w, ((padding, padding), (padding, padding)))


# XLA's own kernel gradient is kept for at most this many output positions (batch x rows x columns)
# or below this much work (positions x I x O), where it was faster on 2 cores: 3x3 at 64² x 512,
# batch 1: 169 vs 113 GFLOP/s; the toy discriminator's batches (16 x 64² x 32: 15 vs 28 ms). Above
# both it fell to 14-80 GFLOP/s: batch 1 at 65²-1024², batch 2-4 at 128²-1024² with 32-512 channels.
XLA_DW_MAX_POSITIONS = 64 * 64
TAPS_DW_MIN_WORK = 2**30


def _conv(x: jax.Array, w: jax.Array, padding) -> jax.Array:
    return lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_nhwc(x: jax.Array, w: jax.Array, padding: tuple[tuple[int, int], tuple[int, int]]) -> jax.Array:
    """Stride-1 cross-correlation, NHWC input, HWIO kernel, explicit ((top, bottom), (left, right)) padding.

    The same convolution as ``lax.conv_general_dilated``; only its kernel gradient differs where it
    is large: XLA-CPU computes it as a convolution with the image as the kernel, which ran at 14-43
    GFLOP/s on maps of 65² to 1024² at batch 1 (against ~160-200 forward); ``_kernel_grad`` takes it
    as one matmul per tap (PTI's update at 1024: 8.6 -> 6.1 s).
    """
    return _conv(x, w, padding)


def _conv_fwd(x, w, padding):
    return _conv(x, w, padding), (x, w)


def _conv_bwd(padding, res, dy):
    x, w = res
    _, x_vjp = jax.vjp(lambda a: _conv(a, w, padding), x)
    (dx,) = x_vjp(dy)
    b, ho, wo, o = dy.shape
    positions = b * ho * wo
    if positions <= XLA_DW_MAX_POSITIONS or positions * x.shape[-1] * o < TAPS_DW_MIN_WORK:
        _, w_vjp = jax.vjp(lambda k: _conv(x, k, padding), w)
        (dw,) = w_vjp(dy)
    else:
        dw = _kernel_grad(jnp.pad(x, ((0, 0), *padding, (0, 0))), dy, w.shape[:2])
    return dx, dw.astype(w.dtype)


conv_nhwc.defvjp(_conv_fwd, _conv_bwd)


def _kernel_grad(xp: jax.Array, dy: jax.Array, size: tuple[int, int]) -> jax.Array:
    """dL/dw of a VALID conv of the padded input ``xp`` (B, Ho+kh-1, Wo+kw-1, I), ``dy`` (B, Ho, Wo, O).

    Tap (i, j) is Σ over positions of xp[i:, j:]ᵀ · dy, split over g row blocks as a batched matmul
    and the blocks added: one (I x B·Ho·Wo) @ (B·Ho·Wo x O) product ran at a third of the speed on
    XLA-CPU (small output, long reduction). The taps run one after another in ``lax.map``: unrolled,
    XLA kept all k·k shifted copies alive (1.4 GiB instead of 0.4 at 1024² x 32) and was 1.7x slower.
    Returns (kh, kw, I, O) float32.
    """
    b, ho, wo, o = dy.shape
    i_ch = xp.shape[-1]
    g = next(n for n in (4, 2, 1) if (b * ho) % n == 0)
    d = dy.reshape(g, -1, o)

    def tap(t):
        s = lax.dynamic_slice(xp, (0, t // size[1], t % size[1], 0), (b, ho, wo, i_ch)).reshape(g, -1, i_ch)
        return jnp.einsum("gni,gno->gio", s, d, preferred_element_type=jnp.float32).sum(0)

    return lax.map(tap, jnp.arange(size[0] * size[1])).reshape(size[0], size[1], i_ch, o)


def conv_transpose_2x_blur_dilated(x: jax.Array, w: jax.Array, kernel: Sequence[float]) -> jax.Array:
    """Stride-2 transposed conv followed by the FIR blur, as StyleGAN2's up-convs (any kernel size;
    the reference form of ``conv_transpose_2x_blur``).

    torch ``conv_transpose2d(x, W.T, stride=2)`` equals a conv of the zero-dilated input with the
    spatially flipped kernel and k-1 padding. The blur's own (1, 1) zero padding is folded into
    the conv padding (the extra rows are exactly zero). Output: (B, 2H, 2W, O).
    """
    k = w.shape[0]
    taps = fir_taps(kernel, gain=4.0)
    p = len(taps) - 2 - (k - 1)
    pad0, pad1 = (p + 1) // 2 + 1, p // 2 + 1
    y = lax.conv_general_dilated(
        x,
        w[::-1, ::-1],
        (1, 1),
        [(k - 1 + pad0, k - 1 + pad1)] * 2,
        lhs_dilation=(2, 2),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    return fir_filter(y, taps)


def conv_transpose_2x_blur(x: jax.Array, w: jax.Array, kernel: Sequence[float]) -> jax.Array:
    """Stride-2 transposed conv + FIR blur (StyleGAN2's up-convs) without a zero-dilated input.

    For 3x3 kernels and 4-tap blurs the four output phases of the transposed conv are one 2x2 conv
    of the padded input into 4·O channels, interleaved (depth-to-space), then the same blur: 2.25x
    fewer multiply-adds than ``conv_transpose_2x_blur_dilated`` and no ``lhs_dilation``; 2x faster
    on XLA-CPU (1.9x at 128² x 64 -> 64), the same sums in another order. Other sizes use the
    dilated form.

    Phases (per axis, output n of the dilated form, xp = x padded by 1 before): even n = 2m reads
    w[1]·xp[m]; odd n = 2m+1 reads w[2]·xp[m] + w[0]·xp[m+1].
    """
    taps = fir_taps(kernel, gain=4.0)
    if w.shape[:2] != (3, 3) or len(taps) != 4:
        return conv_transpose_2x_blur_dilated(x, w, kernel)
    b, h, wd, _ = x.shape
    o = w.shape[3]
    zero = jnp.zeros_like(w[0, 0])
    per_axis = {0: (1, None), 1: (2, 0)}  # phase -> kernel index at xp[m], at xp[m+1]

    def tap(a1, p1, a2, p2):
        i, j = per_axis[a1][p1], per_axis[a2][p2]
        return zero if i is None or j is None else w[i, j]

    kern = jnp.stack(
        [
            jnp.stack(
                [jnp.concatenate([tap(a1, p1, a2, p2) for a1 in (0, 1) for a2 in (0, 1)], axis=-1) for p2 in (0, 1)]
            )
            for p1 in (0, 1)
        ]
    )  # (2, 2, I, 4·O)
    xp = jnp.pad(x, ((0, 0), (1, 2), (1, 2), (0, 0)))
    y = conv_nhwc(xp, kern.astype(x.dtype), ((0, 0), (0, 0)))
    y = y.reshape(b, h + 2, wd + 2, 2, 2, o).transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h + 4, 2 * wd + 4, o)
    return fir_filter(y[:, : 2 * h + 3, : 2 * wd + 3], taps)


def modulated_conv(
    x: jax.Array,
    weight: jax.Array,
    styles: jax.Array,
    *,
    demodulate: bool = True,
    up: bool = False,
    demod_weight_gain: bool = True,
    blur_kernel: Sequence[float] = (1, 3, 3, 1),
    fold_batch1: bool = False,
) -> jax.Array:
    """StyleGAN2 modulated convolution in the scaled (exportable) form.

    Args:
      x: (B, H, W, I) activations.
      weight: (k, k, I, O) raw stored kernel (equalised lr: scaled by 1/sqrt(I·k·k) here), float32;
        the conv runs in ``x.dtype`` (bfloat16 compute), the demodulation norms in float32.
      styles: (B, I) style vector s (the modulation / affine output).
      demodulate: divide each output channel by the norm of its modulated kernel.
      up: 2x upsampling via transposed conv + blur.
      demod_weight_gain: put the weight gain inside the demodulation norm (rosinality) or not
        (NVIDIA); differs only in the 1e-8 epsilon's relative size.
      fold_batch1: with a batch of one, scale the kernel (I·k·k·O numbers) by the style and the
        demodulation instead of the activations before and after the conv (H·W·(I+O) numbers,
        far more at high resolution): 1.2x faster per layer on CPU, equal up to float32 rounding.
        Inference only (the handle's jitted calls); the editing methods keep the scaled form.

    Returns:
      (B, H', W', O) with H' = 2H when ``up`` else H.
    """
    k, _, _, _ = weight.shape
    gain = 1.0 / math.sqrt(weight.shape[0] * weight.shape[1] * weight.shape[2])
    if fold_batch1 and x.shape[0] == 1:
        return _modulated_conv_folded(x, weight, styles, gain, demodulate, up, demod_weight_gain, blur_kernel)
    xs = x * styles[:, None, None, :].astype(x.dtype)
    wc = weight.astype(x.dtype)  # the conv runs in the activations' dtype
    if up:
        y = conv_transpose_2x_blur(xs, wc, blur_kernel)
    else:
        y = conv2d(xs, wc, padding=k // 2)
    if demodulate:  # the norms in float32 (bf16 loses the 1e-8)
        d = _demodulation(weight, styles, gain, demod_weight_gain)
        return y * d[:, None, None, :].astype(y.dtype)
    return y * gain


def tap_square_sum(w: jax.Array) -> jax.Array:
    """Σ of w² over the k x k taps of an HWIO kernel -> (I, O), in w's dtype.

    An add of k·k slices (one loop fusion): XLA-CPU hands a reduce over the leading axes to a
    library kernel that took 20x longer (10 vs 0.45 ms for 3x3x512x512, once per layer and call).
    """
    out = None
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            t = jnp.square(w[i, j])
            out = t if out is None else out + t
    return out


def _demodulation(weight: jax.Array, styles: jax.Array, gain: float, demod_weight_gain: bool) -> jax.Array:
    """(B, O) float32 factors that give each output channel of the modulated kernel unit norm."""
    wsq = tap_square_sum(weight.astype(jnp.float32))  # (I, O)
    ssq = jnp.square(styles.astype(jnp.float32)) @ wsq  # (B, O)
    if demod_weight_gain:
        return gain * lax.rsqrt(gain * gain * ssq + 1e-8)
    return lax.rsqrt(ssq + 1e-8)


def _modulated_conv_folded(x, weight, styles, gain, demodulate, up, demod_weight_gain, blur_kernel):
    """``modulated_conv`` for B = 1 with style and demodulation folded into the kernel."""
    k = weight.shape[0]
    scale = _demodulation(weight, styles, gain, demod_weight_gain)[0] if demodulate else gain
    w = weight.astype(jnp.float32) * styles[0].astype(jnp.float32)[None, None, :, None] * scale
    w = w.astype(x.dtype)
    return conv_transpose_2x_blur(x, w, blur_kernel) if up else conv2d(x, w, padding=k // 2)
