"""The face-parsing BiSeNet (face-parsing.PyTorch ``model.py`` / ``resnet.py``) in Flax NNX, eval
mode, NHWC. Module names follow upstream's state-dict keys, so the converter's table is short.

ResNet-18 (feat8 = layer2, feat16 = layer3, feat32 = layer4) -> context path: a global-average
branch added to ARM32(feat32), nearest-upsampled (PyTorch's legacy ``nearest``: src =
floor(dst·in/out)) through ``conv_head32`` and, with ARM16(feat16), through ``conv_head16`` ->
feature fusion of [feat8, feat_cp8] -> three heads (``conv_out`` on the fusion, ``conv_out16`` on
feat_cp8, ``conv_out32`` on feat_cp16), each upsampled to the input by bilinear ``align_corners=True``.
Every conv pads (k−1)/2 on both sides and runs at full float32 precision (TF32 flips labels).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.models.idnet.network import BatchNorm  # eval mode, eps 1e-5, as upstream's
from styleclip_jax.models.parser.config import ParserConfig

HIGHEST = jax.lax.Precision.HIGHEST


class Conv(nnx.Module):
    """A bias-free conv, HWIO weights, symmetric padding (k−1)/2."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1):
        self.weight = nnx.Param(jnp.zeros((k, k, cin, cout), jnp.float32))
        self.stride, self.pad = stride, (k - 1) // 2

    def __call__(self, x):
        return jax.lax.conv_general_dilated(
            x,
            self.weight[...],
            (self.stride, self.stride),
            [(self.pad, self.pad)] * 2,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            precision=HIGHEST,
        )


class ConvBNReLU(nnx.Module):
    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1):
        self.conv, self.bn = Conv(cin, cout, k, stride), BatchNorm(cout)

    def __call__(self, x):
        return jax.nn.relu(self.bn(self.conv(x)))


class BasicBlock(nnx.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        self.conv1, self.bn1 = Conv(cin, cout, 3, stride), BatchNorm(cout)
        self.conv2, self.bn2 = Conv(cout, cout, 3), BatchNorm(cout)
        self.has_downsample = cin != cout or stride != 1
        if self.has_downsample:
            self.downsample_conv, self.downsample_bn = Conv(cin, cout, 1, stride), BatchNorm(cout)

    def __call__(self, x):
        r = self.bn2(self.conv2(jax.nn.relu(self.bn1(self.conv1(x)))))
        shortcut = self.downsample_bn(self.downsample_conv(x)) if self.has_downsample else x
        return jax.nn.relu(shortcut + r)


def _max_pool3s2(x):
    # the input is >= 0 (after a ReLU), so -inf padding and 0 padding agree
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 2, 2, 1), [(0, 0), (1, 1), (1, 1), (0, 0)])


class ResNet18(nnx.Module):
    def __init__(self, widths):
        stem, *stages = widths
        self.conv1, self.bn1 = Conv(3, stem, 7, 2), BatchNorm(stem)
        cin, layers = stem, []
        for i, w in enumerate(stages):
            layers.append(nnx.List([BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w)]))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers

    def __call__(self, x, taps=None):
        x = _max_pool3s2(jax.nn.relu(self.bn1(self.conv1(x))))
        _tap(taps, "stem", x)
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                x = block(x)
            feats.append(x)
        return feats[1], feats[2], feats[3]


class AttentionRefinement(nnx.Module):
    def __init__(self, cin: int, cout: int):
        self.conv = ConvBNReLU(cin, cout, 3)
        self.conv_atten, self.bn_atten = Conv(cout, cout, 1), BatchNorm(cout)

    def __call__(self, x, taps=None, name=""):
        feat = self.conv(x)
        atten = jax.nn.sigmoid(self.bn_atten(self.conv_atten(jnp.mean(feat, axis=(1, 2), keepdims=True))))
        _tap(taps, f"{name}_atten", atten)
        return feat * atten


def legacy_nearest(x, size: tuple[int, int]):
    """PyTorch's legacy ``nearest`` to an explicit size: src = min(floor(dst·in/out), in − 1)."""
    (h, w), (oh, ow) = x.shape[1:3], size
    return x[:, _nearest_index(h, oh)][:, :, _nearest_index(w, ow)]


def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    # in float32, as ATen's nearest_idx: scale = (float)in / out, floorf(dst * scale)
    scale = np.float32(n_in) / np.float32(n_out)
    return np.minimum(np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64), n_in - 1)


def _corners_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) linear interpolation weights with align_corners=True: src = dst·(in−1)/(out−1)."""
    src = np.arange(n_out) * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(1)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (src - lo).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


def resize_align_corners(x, size: tuple[int, int]):
    """Bilinear resize of NHWC ``x`` with ``align_corners=True`` (``jax.image.resize`` has no such mode)."""
    a_h, a_w = _corners_matrix(x.shape[1], size[0]), _corners_matrix(x.shape[2], size[1])
    y = jnp.einsum("oh,bhwc->bowc", a_h, x, precision=HIGHEST)
    return jnp.einsum("pw,bowc->bopc", a_w, y, precision=HIGHEST)


class ContextPath(nnx.Module):
    def __init__(self, cfg: ParserConfig):
        r, c = cfg.resnet, cfg.context
        self.resnet = ResNet18(r)
        self.arm16, self.arm32 = AttentionRefinement(r[3], c), AttentionRefinement(r[4], c)
        self.conv_head32, self.conv_head16 = ConvBNReLU(c, c, 3), ConvBNReLU(c, c, 3)
        self.conv_avg = ConvBNReLU(r[4], c, 1)

    def __call__(self, x, taps=None):
        feat8, feat16, feat32 = self.resnet(x, taps)
        _tap(taps, "feat_res8", feat8)
        _tap(taps, "feat16", feat16)
        _tap(taps, "feat32", feat32)
        avg = self.conv_avg(jnp.mean(feat32, axis=(1, 2), keepdims=True))
        _tap(taps, "avg", avg)
        feat32_arm = self.arm32(feat32, taps, "arm32")
        _tap(taps, "feat32_arm", feat32_arm)
        feat32_sum = feat32_arm + legacy_nearest(avg, feat32.shape[1:3])
        feat_cp16 = self.conv_head32(legacy_nearest(feat32_sum, feat16.shape[1:3]))
        _tap(taps, "feat_cp16", feat_cp16)
        feat16_arm = self.arm16(feat16, taps, "arm16")
        _tap(taps, "feat16_arm", feat16_arm)
        feat_cp8 = self.conv_head16(legacy_nearest(feat16_arm + feat_cp16, feat8.shape[1:3]))
        _tap(taps, "feat_cp8", feat_cp8)
        return feat8, feat_cp8, feat_cp16


class FeatureFusion(nnx.Module):
    def __init__(self, cin: int, cout: int, hidden: int):
        self.convblk = ConvBNReLU(cin, cout, 1)
        self.conv1, self.conv2 = Conv(cout, hidden, 1), Conv(hidden, cout, 1)

    def __call__(self, sp, cp, taps=None):
        feat = self.convblk(jnp.concatenate([sp, cp], axis=-1))  # [feat8, feat_cp8], in this order
        atten = jax.nn.sigmoid(self.conv2(jax.nn.relu(self.conv1(jnp.mean(feat, axis=(1, 2), keepdims=True)))))
        _tap(taps, "ffm_atten", atten)
        return feat * atten + feat


class Head(nnx.Module):
    def __init__(self, cin: int, mid: int, n_classes: int):
        self.conv, self.conv_out = ConvBNReLU(cin, mid, 3), Conv(mid, n_classes, 1)

    def __call__(self, x):
        return self.conv_out(self.conv(x))


class BiSeNet(nnx.Module):
    """x (B, H, W, 3), ImageNet-normalised -> (out, out16, out32), each (B, H, W, n_classes) logits."""

    def __init__(self, cfg: ParserConfig):
        self.cp = ContextPath(cfg)
        self.ffm = FeatureFusion(cfg.resnet[2] + cfg.context, cfg.ffm, cfg.ffm_hidden)
        self.conv_out = Head(cfg.ffm, cfg.heads[0], cfg.n_classes)
        self.conv_out16 = Head(cfg.context, cfg.heads[1], cfg.n_classes)
        self.conv_out32 = Head(cfg.context, cfg.heads[2], cfg.n_classes)

    def __call__(self, x, taps: dict | None = None):
        size = x.shape[1:3]
        feat8, feat_cp8, feat_cp16 = self.cp(x, taps)
        fuse = self.ffm(feat8, feat_cp8, taps)
        _tap(taps, "feat_fuse", fuse)
        heads = (self.conv_out(fuse), self.conv_out16(feat_cp8), self.conv_out32(feat_cp16))
        for name, h in zip(("head_out", "head_out16", "head_out32"), heads):
            _tap(taps, name, h)
        return tuple(resize_align_corners(h, size) for h in heads)


def _tap(taps: dict | None, name: str, value) -> None:
    """Record an intermediate when asked (the golden comparison reads every one)."""
    if taps is not None:
        taps[name] = value
