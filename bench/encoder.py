"""e4e encoder throughput at full size (IR-SE50, FPN, 18 style blocks of 512): photos/s at batch 1
and 8. Random weights (speed does not depend on values); "first s" includes compilation.

With ``--onnx``: the exported photo-edit graph (photo -> e4e -> LevelsMapper -> config-f 1024
generator -> image) under onnxruntime against the same function under ``jax.jit``, in one run.

Run: python bench/encoder.py [--batches 1,8] [--repeats 2] [--onnx]
"""

from __future__ import annotations

import os
import sys

# this folder's onnx.py would shadow the onnx package
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import functools
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from styleclip_jax.models.e4e import Encoder, EncoderConfig
from styleclip_jax.models.handle import expected_shapes_of
from styleclip_jax.utils.timing import best_of, time_calls


def full_size_config() -> EncoderConfig:
    units, cin = [], 64
    for depth, n in zip((64, 128, 256, 512), (3, 4, 14, 3)):
        units += [(cin, depth, 2)] + [(depth, depth, 1)] * (n - 1)
        cin = depth
    return EncoderConfig(
        units=tuple(units),
        se_reductions=(16,) * len(units),
        taps=(6, 20, 23),
        fpn_width=512,
        style_dim=512,
        style_convs=(4,) * 3 + (5,) * 4 + (6,) * 11,
    )


def random_encoder(cfg: EncoderConfig) -> Encoder:
    rng = np.random.default_rng(0)
    tensors = {}
    for k, shape in expected_shapes_of(Encoder.abstract(cfg)).items():
        v = rng.standard_normal(shape).astype(np.float32) * (0.02 if len(shape) > 1 else 0.1)
        tensors[k] = np.abs(v) + 1 if k.endswith("running_var") else v
    return Encoder(cfg, tensors, {"format": "random"})


def onnx_photo_edit(enc, batches, repeats):
    from flax import nnx

    from styleclip_jax import GeneratorConfig
    from styleclip_jax.editing.mapper.core import init_mapper_tensors
    from styleclip_jax.export.onnx_export import export_photo_edit
    from styleclip_jax.export.runtime import OnnxEditor
    from styleclip_jax.models.mapper.handle import LatentMapperModel
    from styleclip_jax.models.mapper.network import MapperConfig
    from styleclip_jax.models.stylegan2.random_init import random_generator

    gen = random_generator(GeneratorConfig.ffhq_config_f(1024))
    mcfg = MapperConfig(kind="levels", latent_dim=512, num_ws=gen.config.num_ws)
    mapper = LatentMapperModel(mcfg, init_mapper_tensors(mcfg, 0))

    @functools.partial(jax.jit, static_argnums=(0, 1, 2))
    def edit(e_def, m_def, g_def, e_state, m_state, g_state, photo, alpha):
        w = nnx.merge(e_def, e_state)(photo)
        return nnx.merge(g_def, g_state)(nnx.merge(m_def, m_state).edit(w, alpha))[0]

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        ed = OnnxEditor(export_photo_edit(enc, mapper, gen, Path(d) / "photo_edit.onnx"))
        print(
            f"\nphoto-edit graph (e4e + mapper + 1024 generator): export {time.perf_counter() - t0:.1f} s, "
            f"ORT provider {ed.providers[0]}"
        )
        print(f"{'batch':>5} {'JAX s':>8} {'ORT s':>8} {'ORT/JAX':>8} {'max |ORT-JAX|':>14}")
        for b in batches:
            x = np.random.default_rng(2).uniform(-1, 1, (b, 256, 256, 3)).astype(np.float32)
            alpha = np.ones((b,), np.float32)
            args = (enc.graphdef, mapper.graphdef, gen.graphdef, enc.state, mapper.state, gen.state, x, alpha)
            tj = best_of(lambda: edit(*args), repeats)
            to = best_of(lambda: ed.run(batch_size=b, photo=x, alpha=alpha), repeats)
            err = float(np.abs(np.asarray(edit(*args)) - ed.run(batch_size=b, photo=x, alpha=alpha)).max())
            print(f"{b:>5} {tj:>8.2f} {to:>8.2f} {to / tj:>8.2f} {err:>14.2e}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--onnx", action="store_true", help="also time the exported photo-edit graph (ORT vs JAX)")
    a = ap.parse_args()
    dev = jax.devices()[0]
    enc = random_encoder(full_size_config())
    n = sum(int(np.prod(v.shape)) for v in enc.tensors().values())
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}; e4e full size, {n / 1e6:.1f} M values")
    print(f"{'batch':>5} {'first s':>8} {'best s':>8} {'photos/s':>9}")
    for b in map(int, a.batches.split(",")):
        x = np.random.default_rng(1).uniform(-1, 1, (b, 256, 256, 3)).astype(np.float32)
        first, best = time_calls(lambda: enc.encode(x), a.repeats)
        print(f"{b:>5} {first:>8.2f} {best:>8.3f} {b / best:>9.2f}")
    if a.onnx:
        onnx_photo_edit(enc, [int(b) for b in a.batches.split(",")], a.repeats)


if __name__ == "__main__":
    main()
