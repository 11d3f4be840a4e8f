"""Mapper speed (method B): training steps per second and apply latency, measured in one run.

Run: python bench/mapper.py [--sizes tiny,1024] [--batches 2,8] [--steps 4]
- "1024": random config-f 1024 generator + random ViT-B/32 CLIP + a real-size LevelsMapper, W+
  (upstream's setting; no ID loss, whose net is not part of the timing question).
- "tiny": the 64 px generator layout of the golden files + a small random CLIP.
Training: one compiled ``steps``-step chunk (``lax.scan``), timed on its second call.
Apply: w -> ŵ = w + 0.1·M(w) -> image, jitted, batch 1, best of 5 after a warm-up.
Upstream: ~10 h for 50 000 steps at batch 2 on one GPU (1.4 steps/s; issue #60), and 75 ms
per mapper edit (paper Table 1).
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax import GeneratorConfig
from styleclip_jax.editing.mapper.core import (
    Frozen,
    MapperTrainConfig,
    init_mapper_tensors,
    init_state,
    train_steps,
)
from styleclip_jax.models.clip import CLIPConfig
from styleclip_jax.models.clip.random_init import random_clip
from styleclip_jax.models.mapper.handle import LatentMapperModel
from styleclip_jax.models.stylegan2.random_init import random_generator

UPSTREAM_STEPS_PER_S = 50000 / (10 * 3600)
UPSTREAM_APPLY_MS = 75.0


def models(size: str):
    if size == "1024":
        return random_generator(GeneratorConfig.ffhq_config_f(1024)), random_clip()
    gen = random_generator(GeneratorConfig.rosinality(64, 64, 2, channels={4: 64, 8: 64, 16: 32, 32: 32, 64: 16}))
    return gen, random_clip(CLIPConfig(512, 224, 32, 128, 2, 2, 77, 49408, 64, 3, 1))


def _chunk(graphdefs, step_cfg, n, frozen, state, key):
    return train_steps(graphdefs, step_cfg, n, frozen, None, state, key)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _apply(m_def, g_def, m_state, g_state, w):
    gen = nnx.merge(g_def, g_state)
    w_hat = nnx.merge(m_def, m_state).edit(w)
    return gen.synthesis(gen.synthesis.w_to_s(w_hat))


def timed(f, *args):
    t0 = time.perf_counter()
    jax.block_until_ready(f(*args))
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="tiny,1024")
    ap.add_argument("--batches", default="2,8")
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    dev = jax.devices()[0]
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}")
    print(
        f"{'size':>5} {'what':>6} {'batch':>5} {'first s':>8} {'run s':>8} {'steps/s':>8} {'ms/edit':>8} {'vs upstream':>11}"
    )
    for size in a.sizes.split(","):
        gen, clip = models(size)
        c = gen.config
        for b in map(int, a.batches.split(",")):
            cfg = MapperTrainConfig(description="purple hair", batch_size=b, id_lambda=0.0, steps=a.steps)
            mcfg = cfg.mapper_config(c.num_ws, c.w_dim)
            mapper = LatentMapperModel(mcfg, init_mapper_tensors(mcfg, 0))
            text = jnp.asarray(np.random.RandomState(0).randn(512).astype(np.float32))
            frozen = Frozen(gen.state, clip.state, None, text)
            graphdefs = (mapper.graphdef, gen.graphdef, clip.graphdef, None)
            state, key = init_state(cfg, mapper.state), jax.random.key(0)
            first = timed(_chunk, graphdefs, cfg.step_config, a.steps, frozen, state, key)
            run = timed(_chunk, graphdefs, cfg.step_config, a.steps, frozen, state, key)
            sps = a.steps / run
            ratio = f"{sps / UPSTREAM_STEPS_PER_S:.2f}x" if size == "1024" and b == 2 else "-"
            print(
                f"{size:>5} {'train':>6} {b:>5} {first:>8.2f} {run:>8.2f} {sps:>8.3f} {'-':>8} {ratio:>11}", flush=True
            )
        w = np.asarray(gen.mapping(np.random.RandomState(1).randn(1, c.z_dim).astype(np.float32)))
        first = timed(_apply, mapper.graphdef, gen.graphdef, mapper.state, gen.state, w)
        best = min(timed(_apply, mapper.graphdef, gen.graphdef, mapper.state, gen.state, w) for _ in range(5))
        ratio = f"{UPSTREAM_APPLY_MS / (best * 1e3):.2f}x" if size == "1024" else "-"
        print(
            f"{size:>5} {'apply':>6} {1:>5} {first:>8.2f} {best:>8.3f} {'-':>8} {best * 1e3:>8.1f} {ratio:>11}",
            flush=True,
        )


if __name__ == "__main__":
    main()
