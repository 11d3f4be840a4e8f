"""Face-parser (BiSeNet, 19 classes) throughput at full size (ResNet-18 64..512, as 79999_iter.pth),
512² input: images/s at batch 1 and 8, and what it would cost inside a loss (forward + the
gradient to its input image, batch 1) beside the forward alone. Random weights (speed does not
depend on values); "first s" includes compilation.

Run: python bench/parser.py [--batches 1,8] [--repeats 2]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.models.handle import expected_shapes_of
from styleclip_jax.models.parser.config import ParserConfig
from styleclip_jax.models.parser.handle import FaceParser, preprocess
from styleclip_jax.utils.timing import time_calls


def random_parser(cfg: ParserConfig) -> FaceParser:
    rng = np.random.default_rng(0)
    tensors = {}
    for k, shape in expected_shapes_of(FaceParser.abstract(cfg)).items():
        v = rng.standard_normal(shape).astype(np.float32) * (0.05 if len(shape) > 1 else 0.1)
        tensors[k] = np.abs(v) + 1 if k.endswith("running_var") else v
    return FaceParser(cfg, tensors, {"format": "random"})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    p = random_parser(ParserConfig())
    print(f"face parser, full size, 512x512, {jax.devices()[0].platform}")
    print(f"{'what':34s} {'batch':>5s} {'first s':>8s} {'best s':>8s} {'images/s':>9s}")
    for b in (int(x) for x in args.batches.split(",")):
        x = np.random.default_rng(1).uniform(-1, 1, (b, 512, 512, 3)).astype(np.float32)
        first, best = time_calls(lambda: p.labels(x), args.repeats)
        print(f"{'labels (forward + argmax)':34s} {b:5d} {first:8.2f} {best:8.3f} {b / best:9.2f}")

    @jax.jit
    def region_loss_grad(state, x):  # what an in-loss use costs: d(hair probability)/d(image)
        def f(img):
            logits = nnx.merge(p.graphdef, state)(preprocess(img))[0]
            return jnp.mean(jax.nn.softmax(logits, axis=-1)[..., 17])

        return jax.grad(f)(x)

    x1 = np.random.default_rng(2).uniform(-1, 1, (1, 512, 512, 3)).astype(np.float32)
    first, best = time_calls(lambda: region_loss_grad(p.state, x1), args.repeats)
    _, fwd = time_calls(lambda: p.labels(x1), args.repeats)
    print(f"{'forward + gradient to the image':34s} {1:5d} {first:8.2f} {best:8.3f} {1 / best:9.2f}")
    print(f"in a loss the parser costs {best / fwd:.1f}x its forward pass")


if __name__ == "__main__":
    main()
