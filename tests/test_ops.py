"""The FIR / up-conv ops against direct numpy implementations of upstream's upfirdn2d."""

import numpy as np
import pytest

from styleclip_jax.models.stylegan2 import ops


def upfirdn2d_ref(x, k2d, up, pad0, pad1):
    """NCHW->NHWC-agnostic reference: zero-insert, pad, true 2-D convolution (flip), per channel."""
    b, h, w, c = x.shape
    u = np.zeros((b, h * up, w * up, c), x.dtype)
    u[:, ::up, ::up] = x
    u = np.pad(u, ((0, 0), (pad0, pad1), (pad0, pad1), (0, 0)))
    kf = k2d[::-1, ::-1]
    n = k2d.shape[0]
    oh, ow = u.shape[1] - n + 1, u.shape[2] - n + 1
    out = np.zeros((b, oh, ow, c), np.float64)
    for i in range(n):
        for j in range(n):
            out += kf[i, j] * u[:, i : i + oh, j : j + ow]
    return out


@pytest.mark.parametrize("kernel", [(1, 3, 3, 1), (1, 2, 5, 1)])
def test_upsample_2x_matches_upfirdn(kernel):
    x = np.random.default_rng(0).standard_normal((2, 5, 6, 3)).astype(np.float32)
    k = np.asarray(kernel, np.float64)
    k2d = np.outer(k, k) / np.outer(k, k).sum() * 4
    ref = upfirdn2d_ref(x.astype(np.float64), k2d, 2, 2, 1)
    np.testing.assert_allclose(np.asarray(ops.upsample_2x(x, kernel)), ref, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 4, 4, 3), (1, 5, 3, 2)])
def test_transposed_conv_blur_matches_reference(shape):
    """The polyphase up-conv and the dilated reference form both equal torch's conv_transpose2d
    (stride 2) followed by upfirdn2d's blur, on square and non-square inputs."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    b, h, wd, c = shape
    w = rng.standard_normal((3, 3, c, 5)).astype(np.float32)  # HWIO
    # torch conv_transpose2d(stride 2): scatter each input pixel times the kernel
    t = np.zeros((b, 2 * h + 1, 2 * wd + 1, 5))
    for i in range(h):
        for j in range(wd):
            t[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] += np.einsum("bc,hwco->bhwo", x[:, i, j], w)
    k = np.array([1, 3, 3, 1], np.float64)
    ref = upfirdn2d_ref(t, np.outer(k, k) / 64 * 4, 1, 1, 1)
    for fn in (ops.conv_transpose_2x_blur, ops.conv_transpose_2x_blur_dilated):
        got = np.asarray(fn(x, w, (1, 3, 3, 1)))
        assert got.shape == (b, 2 * h, 2 * wd, 5)
        np.testing.assert_allclose(got, ref, atol=1e-4)


def test_modulated_conv_matches_per_sample_weights():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 6, 6, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 4, 5)).astype(np.float32)
    s = (1 + 0.5 * rng.standard_normal((3, 4))).astype(np.float32)
    gain = 1 / np.sqrt(4 * 9)
    ref = []
    for b in range(3):
        wb = gain * w * s[b][None, None, :, None]
        wb = wb / np.sqrt((wb**2).sum(axis=(0, 1, 2), keepdims=True) + 1e-8)
        ref.append(np.asarray(ops.conv2d(x[b : b + 1], wb, 1))[0])
    np.testing.assert_allclose(np.asarray(ops.modulated_conv(x, w, s)), np.stack(ref), atol=1e-5)


@pytest.mark.parametrize("k,pad", [(1, 0), (3, 1), (1, 1)])
def test_conv2d_matches_direct_sum(k, pad):
    """conv2d (a channel matmul for 1x1 without padding, a conv otherwise) equals the direct
    cross-correlation sum in float64."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 4, 6)).astype(np.float32)
    w = rng.standard_normal((k, k, 6, 3)).astype(np.float32)
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = xp.shape[1] - k + 1, xp.shape[2] - k + 1
    ref = sum(np.einsum("bhwi,io->bhwo", xp[:, i : i + oh, j : j + ow], w[i, j]) for i in range(k) for j in range(k))
    out = np.asarray(ops.conv2d(x, w, padding=pad))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-5)


@pytest.mark.parametrize("k", [1, 3])
def test_tap_square_sum_is_the_sum_over_taps(k):
    w = np.random.default_rng(4).standard_normal((k, k, 7, 5)).astype(np.float32)
    ref = np.square(w.astype(np.float64)).sum(axis=(0, 1))
    np.testing.assert_allclose(np.asarray(ops.tap_square_sum(w)), ref, rtol=1e-6)


@pytest.mark.parametrize(
    "b,h,k,pad",
    [
        (1, 66, 3, ((1, 1), (1, 1))),  # 66² outputs: the per-tap kernel gradient, 4 row blocks
        (1, 70, 2, ((0, 1), (1, 0))),  # 70 x 71 outputs, odd row count: one row block
        (2, 20, 3, ((1, 1), (1, 1))),  # 800 outputs: XLA's own kernel gradient
    ],
)
def test_conv_gradients_match_direct_sums(b, h, k, pad, monkeypatch):
    """conv_nhwc's input and kernel gradients equal the float64 sums of upstream's conv backward
    (dW[i, j] = Σ x_pad[i:, j:]ᵀ·dy, dx = the correlation's transpose) on both sides of the size
    at which the kernel gradient switches from XLA's convolution to the per-tap matmuls (the work
    threshold lowered so that a few channels reach the per-tap side)."""
    import jax

    monkeypatch.setattr(ops, "TAPS_DW_MIN_WORK", 1)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((b, h, h, 5)).astype(np.float32)
    w = rng.standard_normal((k, k, 5, 6)).astype(np.float32)
    xp = np.pad(x.astype(np.float64), ((0, 0), *pad, (0, 0)))
    oh, ow = xp.shape[1] - k + 1, xp.shape[2] - k + 1
    dy = rng.standard_normal((b, oh, ow, 6)).astype(np.float32)
    assert (b * oh * ow > ops.XLA_DW_MAX_POSITIONS) == (b == 1)
    dw_ref = np.stack(
        [np.stack([np.einsum("bhwi,bhwo->io", xp[:, i : i + oh, j : j + ow], dy) for j in range(k)]) for i in range(k)]
    )
    dxp = np.zeros_like(xp)
    for i in range(k):
        for j in range(k):
            dxp[:, i : i + oh, j : j + ow] += np.einsum("bhwo,io->bhwi", dy, w[i, j])
    dx_ref = dxp[:, pad[0][0] : pad[0][0] + h, pad[1][0] : pad[1][0] + h]
    y, vjp = jax.vjp(lambda a, c: ops.conv_nhwc(a, c, pad), x, w)
    assert y.shape == dy.shape
    dx, dw = vjp(dy)
    np.testing.assert_allclose(np.asarray(dw), dw_ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.asarray(dx), dx_ref, rtol=1e-4, atol=1e-4)
