"""One-shot accelerator suite: every speed figure that matters, in one run of under 8 minutes.

Run on a lent GPU/TPU:   python bench/gpu_suite.py [--budget-s 420] [--json bench/gpu_suite.json]
Run in CI (CPU, tiny):   python bench/gpu_suite.py --smoke --json /tmp/suite.json

Workloads (full size: random config-f 1024 generator, random ViT-B/32, real-size LevelsMapper):
  gen      synthesis W+ -> image, batch 1 / 8 / 32, float32 and bfloat16 (images/s)
  a        one method-A step (generator fwd + bwd, CLIP loss, Adam), batch 1 / 8 (steps/s)
  mapper   one mapper training step, batch 2 / 8 (steps/s; upstream: 50 000 steps in ~10 h)
  fs3      channel-relevance renders/s (render, uint8, PIL-exact bicubic, CLIP), projected to
           upstream's full job (6048 channels x 100 images x 2 renders)
  onnx     the exported mapper edit graph under onnxruntime (CUDA provider when present) vs jax.jit
  sg3      StyleGAN3-T / -R synthesis
  pti      one pivotal-tuning update (generator fwd + bwd, AlexNet LPIPS, Adam on all synthesis weights)
  restyle  one ReStyle-e4e iteration (6-channel IR-SE50 encoder + decode), batch 1 / 4
  video    the video job on 16 generator frames: frames/s per stage (invert, edit, encode)
  roofline bench/roofline.py in this process: the device's matmul / convolution peak and each
           network's XLA-counted FLOP/s as a fraction of it, with its program's bytes
Each workload reports the device's peak memory when the backend exposes it. A workload that
would start after ``--budget-s`` is recorded as skipped, so the suite always finishes and says
what it left. ``--smoke`` runs the same code on tiny models (64 px) in about a minute on CPU.
Expected full runtime on one H100/H200-class GPU: about 6-7 minutes, most of it compiling (the
roofline row adds about a minute: eight programs compiled once each).
The markdown rows for bench/RESULTS.md are printed at the end and stored in the JSON.
"""

from __future__ import annotations

import os
import sys

# bench/onnx.py and bench/clip.py would shadow the packages of the same names
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import json
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from styleclip_jax.utils.timing import best_of

FULL_FS3_RENDERS = 6048 * 100 * 2


def _load_roofline():
    """bench/roofline.py as a module (this folder is off sys.path, see above)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("roofline", Path(__file__).with_name("roofline.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


roofline = _load_roofline()
peak_bytes = roofline.device_peak_bytes


def models(smoke: bool):
    from styleclip_jax import GeneratorConfig
    from styleclip_jax.models.clip import CLIPConfig
    from styleclip_jax.models.clip.random_init import random_clip
    from styleclip_jax.models.stylegan2.random_init import random_generator

    if smoke:
        gen = random_generator(GeneratorConfig.rosinality(64, 64, 2, channels={4: 64, 8: 64, 16: 32, 32: 32, 64: 16}))
        return gen, random_clip(CLIPConfig(512, 224, 32, 128, 2, 2, 77, 49408, 64, 3, 1))
    return random_generator(GeneratorConfig.ffhq_config_f(1024)), random_clip()


def wplus(gen, b: int, seed: int = 0):
    z = np.random.default_rng(seed).standard_normal((b, gen.config.z_dim)).astype(np.float32)
    return np.asarray(gen.mapping(z, 0.7))


def run_gen(gen, clip, smoke, repeats):
    from styleclip_jax.models.stylegan2 import StyleGAN2

    rows = []
    for dtype in ("float32", "bfloat16"):
        g = gen if dtype == "float32" else StyleGAN2(gen.config, gen.tensors(), gen.source, dtype=dtype)
        for b in (1, 2) if smoke else (1, 8, 32):
            w = wplus(gen, b)
            s = best_of(lambda: g.synthesis(w), repeats)
            rows.append({"dtype": dtype, "batch": b, "s": s, "images_per_s": b / s})
    return rows


def run_a(gen, clip, smoke, repeats):
    from styleclip_jax.editing.optimization.config import OptimizeConfig
    from styleclip_jax.editing.optimization.core import (
        Problem,
        make_optimizer,
        make_step,
    )

    cfg = OptimizeConfig(steps=300)
    tx = make_optimizer(cfg)
    step = jax.jit(make_step((gen.graphdef, clip.graphdef, None), cfg, tx))
    rows = []
    for b in (1, 2) if smoke else (1, 8):
        p = jnp.asarray(wplus(gen, b))
        prob = Problem(
            p,
            jnp.ones((b, clip.config.embed_dim)) / np.sqrt(clip.config.embed_dim),
            jnp.zeros((b,) + (gen.config.resolution,) * 2 + (3,)),
        )
        o = tx.init(p)
        s = best_of(lambda: step((gen.state, clip.state, None), p, o, prob)[2]["loss"], repeats)
        rows.append({"batch": b, "s": s, "steps_per_s": 1 / s, "pair_steps_per_s": b / s})
    return rows


def run_mapper(gen, clip, smoke, repeats):
    from styleclip_jax.editing.mapper.core import (
        Frozen,
        MapperTrainConfig,
        init_mapper_tensors,
        init_state,
        train_steps,
    )
    from styleclip_jax.models.mapper.handle import LatentMapperModel

    rows = []
    for b in (2,) if smoke else (2, 8):
        cfg = MapperTrainConfig(description="purple hair", batch_size=b, id_lambda=0.0)
        mcfg = cfg.mapper_config(gen.config.num_ws, gen.config.w_dim)
        mapper = LatentMapperModel(mcfg, init_mapper_tensors(mcfg, 0))
        frozen = Frozen(gen.state, clip.state, None, jnp.ones((clip.config.embed_dim,)) / 16.0)
        graphdefs = (mapper.graphdef, gen.graphdef, clip.graphdef, None)
        state, key = init_state(cfg, mapper.state), jax.random.key(0)
        s = best_of(lambda: train_steps(graphdefs, cfg.step_config, 1, frozen, None, state, key)[1]["loss"], repeats)
        rows.append({"batch": b, "s": s, "steps_per_s": 1 / s, "hours_for_50k_steps": 50000 * s / 3600})
    return rows


def run_fs3(gen, clip, smoke, repeats):
    from styleclip_jax.editing.global_directions.relevance import precompute_fs3
    from styleclip_jax.editing.global_directions.stats import compute_stats

    k, chans, block = (2, 2, 4) if smoke else (8, 2, 16)
    stats = compute_stats(gen, n=64, keep=k, seed=0, batch=64)
    renders = chans * k * 2

    def call():
        with tempfile.TemporaryDirectory() as d:
            return precompute_fs3(
                gen,
                clip,
                stats,
                d,
                num_images=k,
                channels_per_chunk=chans,
                image_batch=block,
                devices=1,
                channel_subset={stats.names[0]: list(range(chans))},
                progress=False,
            )

    s = best_of(call, repeats)
    return [
        {
            "renders": renders,
            "s": s,
            "renders_per_s": renders / s,
            "full_job_hours": FULL_FS3_RENDERS * s / renders / 3600,
        }
    ]


def run_onnx(gen, clip, smoke, repeats):
    import functools

    from flax import nnx

    from styleclip_jax.editing.mapper.core import init_mapper_tensors
    from styleclip_jax.export.onnx_export import export_mapper
    from styleclip_jax.export.runtime import OnnxEditor
    from styleclip_jax.models.mapper.handle import LatentMapperModel
    from styleclip_jax.models.mapper.network import MapperConfig

    c = gen.config
    mcfg = MapperConfig(kind="levels", latent_dim=c.w_dim, num_ws=c.num_ws)
    mapper = LatentMapperModel(mcfg, init_mapper_tensors(mcfg, 0))

    @functools.partial(jax.jit, static_argnums=(0, 1))
    def edit(m_def, g_def, m_state, g_state, w, alpha):
        return nnx.merge(g_def, g_state)(nnx.merge(m_def, m_state).edit(w, alpha))[0]

    rows = []
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        ed = OnnxEditor(export_mapper(mapper, gen, Path(d) / "edit.onnx"))
        export_s = time.perf_counter() - t0
        for b in (1, 2) if smoke else (1, 8):
            w, alpha = wplus(gen, b), np.ones((b,), np.float32)
            tj = best_of(lambda: edit(mapper.graphdef, gen.graphdef, mapper.state, gen.state, w, alpha), repeats)
            to = best_of(lambda: ed.run(batch_size=b, wplus=w, alpha=alpha), repeats)
            rows.append(
                {
                    "batch": b,
                    "provider": ed.providers[0],
                    "export_s": export_s,
                    "jax_ms": tj * 1e3,
                    "ort_ms": to * 1e3,
                    "ort_over_jax": to / tj,
                }
            )
    return rows


def run_sg3(gen, clip, smoke, repeats):
    """StyleGAN3-T and -R synthesis (float32), batch 1 and 8 (1 and 2 in smoke mode)."""
    from styleclip_jax.models.stylegan3.config import SG3Config
    from styleclip_jax.models.stylegan3.random_init import random_generator

    rows = []
    for kind, make in (("T", SG3Config.t_config), ("R", SG3Config.r_config)):
        cfg = make(64, z_dim=64, w_dim=64, channel_base=512, channel_max=32) if smoke else make(1024)
        g = random_generator(cfg, seed=0, calibrate=1)
        for b in (1, 2) if smoke else (1, 8):
            w = wplus(g, b)
            s = best_of(lambda: g.synthesis(w), repeats)
            rows.append({"config": kind, "batch": b, "s": s, "images_per_s": b / s})
    return rows


def run_pti(gen, clip, smoke, repeats):
    """One PTI update (generator fwd + bwd + LPIPS AlexNet + Adam over every synthesis weight), batch 1."""
    from styleclip_jax.editing.inversion.config import PTIConfig
    from styleclip_jax.editing.inversion.pti import stepper
    from styleclip_jax.models.lpips import random_lpips

    w = wplus(gen, 2)
    target = np.asarray(gen.synthesis(w[1:]))
    state, update, _, _ = stepper(gen, random_lpips("alex", 0), PTIConfig(), early_stop=True)
    box = [state]

    def step():
        box[0], m = update(box[0], w[:1], target, 0)
        return m["loss"]

    s = best_of(step, repeats)
    return [{"batch": 1, "s": s, "steps_per_s": 1 / s, "s_per_photo_350_steps": 350 * s}]


def run_restyle(gen, clip, smoke, repeats):
    """One ReStyle-e4e iteration (IR-SE50 6-channel encoder + generator decode), batch 1 and 4."""
    from styleclip_jax.editing.inversion.restyle import restyle_step
    from styleclip_jax.editing.inversion.training import encoder_config_for, init_encoder

    enc = init_encoder(encoder_config_for(gen, restyle=True, input_size=64 if smoke else None), gen)
    rows = []
    for b in (1, 4):
        size = enc.config.input_size
        x = np.random.default_rng(b).uniform(-1, 1, (b, size, size, 3)).astype(np.float32)
        lat = np.repeat(np.asarray(enc.tensors()["latent_avg"])[None], b, 0)
        s = best_of(lambda: restyle_step(enc, gen, x, x, lat)[1], repeats)
        rows.append({"batch": b, "s": s, "photos_per_s_per_iteration": b / s})
    return rows


def run_video(gen, clip, smoke, repeats):
    """The video job on 16 of the generator's own frames (align 'none': no face detector needed):
    frames/s per stage, a random full-size e4e inverting and one W+ offset as the edit."""
    from styleclip_jax.editing.inversion.training import encoder_config_for, init_encoder
    from styleclip_jax.editing.video.config import VideoSettings
    from styleclip_jax.editing.video.edits import offset_edit
    from styleclip_jax.editing.video.run import edit_video
    from styleclip_jax.toyworld.clips import toy_clip, write_clip

    enc = init_encoder(encoder_config_for(gen), gen)
    delta = np.zeros((gen.config.num_ws, gen.config.w_dim), np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        clip_path = write_clip(Path(tmp) / "in.mp4", toy_clip(gen, 16))
        rep = edit_video(
            clip_path, Path(tmp) / "out.mp4", gen, enc, offset_edit(delta), {}, VideoSettings(align="none")
        )
    return [{"stage": k, "frames_per_s": v} for k, v in rep["frames_per_s"].items()]


def run_roofline(gen, clip, smoke, repeats):
    """Fraction of the measured peak (bench/roofline.py): a large matmul's and a 3×3 convolution's
    FLOP/s, then XLA-counted FLOPs over the best time and the program's bytes for each workload."""
    peak = roofline.peaks(smoke, repeats)
    rows = [{"workload": "peak", "matmul_gflops": peak["matmul"] / 1e9, "conv_gflops": peak["conv"] / 1e9}]
    names = ("sg2", "clip") if smoke else ("sg2", "a_step", "mapper", "sg3r", "e4e", "clip", "parser", "lpips")
    for name in names:
        fn, args = roofline.WORKLOADS[name][0](smoke, 1)
        r = roofline.measure(fn, args, repeats)
        rate = r["flops"] / r["s"]
        rows.append(
            {
                "workload": name,
                "gflops": rate / 1e9,
                "of_conv_peak": rate / peak["conv"],
                "program_gib": r["program_bytes"] / 2**30,
            }
        )
    return rows


WORKLOADS = {
    "gen": run_gen,
    "a": run_a,
    "mapper": run_mapper,
    "fs3": run_fs3,
    "onnx": run_onnx,
    "sg3": run_sg3,
    "pti": run_pti,
    "restyle": run_restyle,
    "video": run_video,
    "roofline": run_roofline,
}


def markdown(device: str, results: dict) -> list[str]:
    out = []
    for name, r in results.items():
        if "skipped" in r or "error" in r:
            out.append(f"| {device} | {name} | {r.get('skipped') or r.get('error')} |")
            continue
        for row in r["rows"]:
            cells = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
            peak = r.get("peak_gib")
            out.append(f"| {device} | {name} | {cells}" + (f", peak {peak:.1f} GiB" if peak else "") + " |")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="one-shot accelerator benchmark suite")
    ap.add_argument("--smoke", action="store_true", help="tiny models (CI, CPU)")
    ap.add_argument("--budget-s", type=float, default=420.0, help="start no workload after this many seconds")
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", default=None, help="write the results here")
    a = ap.parse_args(argv)
    t_start = time.perf_counter()
    dev = jax.devices()[0]
    device = f"{dev.platform} {dev.device_kind}"
    print(f"device: {device} x{jax.device_count()}, jax {jax.__version__}, smoke={a.smoke}", flush=True)
    gen, clip = models(a.smoke)
    results = {}
    for name in a.only.split(","):
        if name not in WORKLOADS:
            sys.exit(f"--only: unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
        elapsed = time.perf_counter() - t_start
        if elapsed > a.budget_s:
            results[name] = {"skipped": f"budget: {elapsed:.0f} s > {a.budget_s:.0f} s"}
            print(f"{name}: skipped ({results[name]['skipped']})", flush=True)
            continue
        t0 = time.perf_counter()
        try:
            rows = WORKLOADS[name](gen, clip, a.smoke, a.repeats)
        except Exception as e:  # noqa: BLE001 (record it, run the rest)
            results[name] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
            print(f"{name}: FAILED {results[name]['error']}", flush=True)
            continue
        peak = peak_bytes()
        results[name] = {"rows": rows, "wall_s": time.perf_counter() - t0, "peak_gib": peak / 2**30 if peak else None}
        for row in rows:
            print(
                f"{name}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                flush=True,
            )
    total = time.perf_counter() - t_start
    md = markdown(device, results)
    print(f"total {total:.0f} s\n\nrows for bench/RESULTS.md:\n| device | workload | figures |\n|---|---|---|")
    print("\n".join(md))
    if a.json:
        Path(a.json).write_text(
            json.dumps(
                {
                    "device": device,
                    "smoke": a.smoke,
                    "total_s": total,
                    "jax": jax.__version__,
                    "results": results,
                    "markdown": md,
                },
                indent=2,
            )
        )
    failed = [n for n, r in results.items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
