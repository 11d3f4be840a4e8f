"""The LPIPS handle: ``load_lpips(dir)``; two image batches -> perceptual distances.

Images are NHWC in [-1, 1] (upstream's default ``normalize=False``). ``distance`` keeps one value
per pair (the package's (N,1,1,1) squeezed); the e4e / pSp / ReStyle ``criteria`` copy is its mean
over the batch. Inside your own jitted loss use ``handle.module()`` and call it: it is pure and
differentiable with respect to both images.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.errors import InputError
from styleclip_jax.models.handle import ModelHandle, expected_shapes_of, jit_call
from styleclip_jax.models.lpips.config import LpipsConfig
from styleclip_jax.models.lpips.network import LpipsNet
from styleclip_jax.validation import check_array

KIND = "lpips"
ALEX_WIDTHS = (64, 192, 384, 256, 256)  # torchvision's AlexNet


def _per_layer(m, x0, x1, heads):
    return jnp.stack([jnp.mean(t, axis=(1, 2)) for t in m.layer_maps(x0, x1, heads)], axis=1)


def _spatial(m, x0, x1, heads):
    size = x0.shape[1:3]
    return jnp.stack(
        [jax.image.resize(t, (t.shape[0], *size), "linear", antialias=False) for t in m.layer_maps(x0, x1, heads)],
        axis=1,
    )


_dist = jit_call(lambda m, x0, x1: m(x0, x1))
_layers = jit_call(_per_layer, static=(2,))
_maps = jit_call(_spatial, static=(2,))
_grad = jit_call(lambda m, x0, x1: jax.grad(lambda a: jnp.sum(m(a, x1)))(x0))


class Lpips(ModelHandle):
    """LPIPS with an AlexNet or VGG16 trunk and the linear heads."""

    KIND, CONFIG_CLS, WHAT = KIND, LpipsConfig, "LPIPS weights"

    @staticmethod
    def abstract(config):
        return nnx.eval_shape(lambda: LpipsNet(config))

    def _pair(self, x0, x1):
        a = check_array(x0, "x0", (None, None, None, 3))
        b = check_array(x1, "x1", a.shape)
        if min(a.shape[1:3]) < 32:
            raise InputError(f"LPIPS needs images of at least 32×32, got {a.shape[1:3]}")
        return a, b

    def distance(self, x0, x1) -> np.ndarray:
        """(B,) distances of (B, H, W, 3) pairs in [-1, 1]."""
        return np.asarray(_dist(self.graphdef, self.state, *self._pair(x0, x1)))

    def per_layer(self, x0, x1, heads: bool = True) -> np.ndarray:
        """(B, 5) per-layer terms (they sum to ``distance``); ``heads=False`` is ``lpips=False``."""
        return np.asarray(_layers(self.graphdef, self.state, *self._pair(x0, x1), heads))

    def spatial(self, x0, x1, heads: bool = True) -> np.ndarray:
        """(B, 5, H, W) per-layer maps upsampled to the input (bilinear, half-pixel centres);
        their sum over layers is upstream's ``spatial=True`` map."""
        return np.asarray(_maps(self.graphdef, self.state, *self._pair(x0, x1), heads))

    def gradient(self, x0, x1) -> np.ndarray:
        """∂ Σ distance / ∂ x0, (B, H, W, 3)."""
        return np.asarray(_grad(self.graphdef, self.state, *self._pair(x0, x1)))


def load_lpips(path) -> Lpips:
    """Load an LPIPS folder written by ``styleclip-jax convert lpips``."""
    return Lpips.load(path)


STAND_IN = "random"  # where an LPIPS folder is asked for, names the seeded random AlexNet stand-in


def open_lpips(spec) -> Lpips:
    """An LPIPS folder, or ``STAND_IN`` for ``random_lpips("alex", 0)`` (the toy world, tests)."""
    return random_lpips("alex", 0) if str(spec) == STAND_IN else load_lpips(spec)


def random_lpips(net: str = "alex", seed: int = 0, widths: tuple[int, ...] | None = None) -> Lpips:
    """LPIPS on a seeded random trunk (He init) with uniform heads 1/C: a stand-in where no
    ImageNet trunk exists (the toy world). It still compares unit-normalised features layer by
    layer; its numbers are not comparable with a trained LPIPS's."""
    if widths is None:
        widths = ALEX_WIDTHS if net == "alex" else (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
    cfg = LpipsConfig(net, tuple(widths))
    rng = np.random.default_rng(seed)
    tensors = {}
    for k, shape in expected_shapes_of(Lpips.abstract(cfg)).items():
        if k.startswith("heads"):
            tensors[k] = np.full(shape, 1.0 / shape[0], np.float32)
        elif k.endswith("weight"):
            fan_in = int(np.prod(shape[:3]))
            tensors[k] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        else:
            tensors[k] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    return Lpips(cfg, tensors, {"format": f"random {net} trunk (seed {seed}), uniform heads"})
