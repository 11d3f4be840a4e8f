"""ONNX Runtime vs JAX on the exported mapper + generator edit, side by side in one run.

Run: python bench/onnx.py [--sizes 1024] [--batches 1,8] [--repeats 2]
- "1024": random config-f 1024 generator + real-size random LevelsMapper (upstream's setting).
- "256": the same layout at 256 px (a quicker check).
Both run the same graph: (wplus, alpha) -> image; JAX is ``jax.jit`` with params as arguments,
ORT is the exported file (CUDA provider when onnxruntime-gpu sees a GPU, else CPU). Times are
the best of ``repeats`` calls after a warm-up. Upstream: 75 ms per mapper edit (paper Table 1).
"""

from __future__ import annotations

import os
import sys

# Run as ``python bench/onnx.py``, this file's folder comes first on sys.path and its name would
# shadow the ``onnx`` package; drop the folder before anything imports onnx.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402  (the imports below follow the path fix on purpose)
import functools
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from styleclip_jax import GeneratorConfig
from styleclip_jax.editing.mapper.core import init_mapper_tensors
from styleclip_jax.export.onnx_export import export_mapper
from styleclip_jax.export.runtime import OnnxEditor
from styleclip_jax.models.mapper.handle import LatentMapperModel
from styleclip_jax.models.mapper.network import MapperConfig
from styleclip_jax.models.stylegan2.random_init import random_generator
from styleclip_jax.utils.timing import best_of

UPSTREAM_MS = 75.0


@functools.partial(jax.jit, static_argnums=(0, 1))
def _jax_edit(m_def, g_def, m_state, g_state, w, alpha):
    return nnx.merge(g_def, g_state)(nnx.merge(m_def, m_state).edit(w, alpha))[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1024")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    dev = jax.devices()[0]
    print(f"jax device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}")
    for size in map(int, a.sizes.split(",")):
        gen = random_generator(GeneratorConfig.ffhq_config_f(size))
        c = gen.config
        mcfg = MapperConfig(kind="levels", latent_dim=c.w_dim, num_ws=c.num_ws)
        mapper = LatentMapperModel(mcfg, init_mapper_tensors(mcfg, 0))
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            path = export_mapper(mapper, gen, Path(d) / "edit.onnx")
            export_s = time.perf_counter() - t0
            ed = OnnxEditor(path)
            print(f"{size} px: export {export_s:.1f} s; ORT provider {ed.providers[0]}")
            print(
                f"{'batch':>5} {'JAX ms':>9} {'ORT ms':>9} {'ORT/JAX':>8} {'JAX img/s':>9} {'ORT img/s':>9} "
                f"{'ms/img best':>11} {'vs upstream 75 ms':>17}"
            )
            for b in map(int, a.batches.split(",")):
                w = np.asarray(gen.mapping(np.random.RandomState(b).randn(b, c.z_dim).astype(np.float32), 0.7))
                alpha = np.ones((b,), np.float32)
                tj = best_of(
                    lambda: jax.block_until_ready(
                        _jax_edit(mapper.graphdef, gen.graphdef, mapper.state, gen.state, w, alpha)
                    ),
                    a.repeats,
                )
                to = best_of(lambda: ed.run(batch_size=b, wplus=w, alpha=alpha), a.repeats)
                per = min(tj, to) / b * 1e3
                print(
                    f"{b:>5} {tj * 1e3:>9.1f} {to * 1e3:>9.1f} {to / tj:>8.2f} {b / tj:>9.2f} {b / to:>9.2f} "
                    f"{per:>11.1f} {UPSTREAM_MS / per:>16.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
