"""How close each network runs to the machine's limit, and what memory it needs.

Run:  python bench/roofline.py [--only sg2,a_step] [--repeats 3] [--smoke] [--json out.json]

1. **Peak**, measured in the same run: a large float32 matmul (4096², 2·n³ FLOPs) and a large 3×3
   convolution (512 → 512 channels on 64², batch 4), each as FLOPs XLA counts over its best time.
2. **Each workload**, compiled once with ``jax.jit``: the FLOPs XLA's cost analysis counts for the
   compiled program over the best of ``--repeats`` timed calls, as GFLOP/s and as a fraction of
   the convolution peak (the kind of work every network here is made of; CLIP's image tower is
   also given against the matmul peak).
3. **Memory**, each workload in a child process of its own: its own peak resident set (VmHWM) on
   CPU, the allocator's peak on a GPU; and, from XLA's memory analysis of the compiled program
   (arguments + outputs + temporaries) at batch 1, 2, 4 and 8, how it grows with batch (from 2 up) and the
   largest batch that fits 24 GiB.

Workloads (random full-size weights; ``--smoke``: tiny models, for CI): ``sg2`` StyleGAN2 config-f
1024 synthesis (batch 1 and 4), ``a_step`` one method-A step (generator forward + backward, CLIP
loss, Adam), ``mapper`` one mapper training step (batch 2), ``sg3t`` / ``sg3r`` StyleGAN3-T / -R
1024 synthesis, ``e4e`` an e4e encode (256²), ``clip`` CLIP ViT-B/32 image features (batch 8),
``parser`` the face parser (512²), ``lpips`` an AlexNet LPIPS distance (256²), ``pti`` one PTI
update at 1024. The markdown table for bench/RESULTS.md is printed at the end.
"""

from __future__ import annotations

import os
import sys

# bench/clip.py and bench/onnx.py would shadow the packages of the same names
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import json
import subprocess
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

GIB = 2**30
BUDGET = 24 * GIB  # the memory of a 24 GB card, the yardstick
GROWTH_BATCHES = (1, 2, 4, 8)


# ---- workloads: make(smoke, batch) -> (fn, args); fn is jitted here, args are its inputs ----------


def _gen(smoke: bool):
    from styleclip_jax import GeneratorConfig
    from styleclip_jax.models.stylegan2.random_init import random_generator

    if smoke:
        return random_generator(GeneratorConfig.rosinality(64, 64, 2, channels={4: 64, 8: 64, 16: 32, 32: 32, 64: 16}))
    return random_generator(GeneratorConfig.ffhq_config_f(1024))


def _clip(smoke: bool):
    from styleclip_jax.models.clip import CLIPConfig
    from styleclip_jax.models.clip.random_init import random_clip

    return random_clip(CLIPConfig(512, 224, 32, 128, 2, 2, 77, 49408, 64, 3, 1)) if smoke else random_clip()


def _wplus(gen, b: int):
    z = np.random.default_rng(0).standard_normal((b, gen.config.z_dim)).astype(np.float32)
    return jnp.asarray(gen.mapping(z, 0.7))


def _synthesis(gen, b):
    from flax import nnx

    g_def = gen.graphdef

    def fn(state, w):
        return nnx.merge(g_def, state)(w, noise_mode="const", key=None, fold_batch1=True)[0]

    return fn, (gen.state, _wplus(gen, b))


def make_sg2(smoke, b):
    return _synthesis(_gen(smoke), b)


def _sg3(kind: str, smoke: bool, b: int):
    from styleclip_jax.models.stylegan3.config import SG3Config
    from styleclip_jax.models.stylegan3.random_init import random_generator

    make = SG3Config.t_config if kind == "T" else SG3Config.r_config
    cfg = make(64, z_dim=64, w_dim=64, channel_base=512, channel_max=32) if smoke else make(1024)
    return _synthesis(random_generator(cfg, seed=0, calibrate=1), b)


def make_sg3t(smoke, b):
    return _sg3("T", smoke, b)


def make_sg3r(smoke, b):
    return _sg3("R", smoke, b)


def make_a_step(smoke, b):
    from styleclip_jax.editing.optimization.config import OptimizeConfig
    from styleclip_jax.editing.optimization.core import Problem, make_optimizer, make_step

    gen, clip = _gen(smoke), _clip(smoke)
    cfg = OptimizeConfig(steps=300)
    tx = make_optimizer(cfg)
    step = make_step((gen.graphdef, clip.graphdef, None), cfg, tx)
    p = _wplus(gen, b)
    e = clip.config.embed_dim
    prob = Problem(p, jnp.ones((b, e)) / np.sqrt(e), jnp.zeros((b,) + (gen.config.resolution,) * 2 + (3,)))

    def fn(states, p, o, prob):
        return step(states, p, o, prob)

    return fn, ((gen.state, clip.state, None), p, tx.init(p), prob)


def make_mapper(smoke, b):
    from styleclip_jax.editing.mapper.core import Frozen, MapperTrainConfig, init_mapper_tensors, init_state
    from styleclip_jax.editing.mapper.core import train_step as one_step
    from styleclip_jax.models.mapper.handle import LatentMapperModel

    gen, clip = _gen(smoke), _clip(smoke)
    cfg = MapperTrainConfig(description="purple hair", batch_size=b, id_lambda=0.0)
    mcfg = cfg.mapper_config(gen.config.num_ws, gen.config.w_dim)
    mapper = LatentMapperModel(mcfg, init_mapper_tensors(mcfg, 0))
    frozen = Frozen(gen.state, clip.state, None, jnp.ones((clip.config.embed_dim,)) / 16.0)
    graphdefs, step_cfg = (mapper.graphdef, gen.graphdef, clip.graphdef, None), cfg.step_config

    def fn(frozen, state, key):
        return one_step(graphdefs, step_cfg, frozen, None, state, key, None)

    return fn, (frozen, init_state(cfg, mapper.state), jax.random.key(0))


def make_e4e(smoke, b):
    from flax import nnx

    from styleclip_jax.editing.inversion.training import encoder_config_for, init_encoder

    gen = _gen(smoke)
    enc = init_encoder(encoder_config_for(gen, input_size=64 if smoke else None), gen)
    e_def, s = enc.graphdef, enc.config.input_size
    x = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (b, s, s, 3)).astype(np.float32))
    return (lambda state, x: nnx.merge(e_def, state)(x, None)), (enc.state, x)


def make_clip(smoke, b):
    from flax import nnx

    clip = _clip(smoke)
    c_def, s = clip.graphdef, clip.config.image_size
    x = jnp.asarray(np.random.default_rng(1).standard_normal((8 * b, s, s, 3)).astype(np.float32))
    return (lambda state, x: nnx.merge(c_def, state).encode_image(x)), (clip.state, x)


def make_parser(smoke, b):
    from flax import nnx

    from styleclip_jax.models.handle import expected_shapes_of
    from styleclip_jax.models.parser import FaceParser, ParserConfig

    cfg = ParserConfig()
    rng = np.random.default_rng(0)
    tensors = {}
    for k, shape in expected_shapes_of(FaceParser.abstract(cfg)).items():
        v = rng.standard_normal(shape).astype(np.float32) * (0.05 if len(shape) > 1 else 0.1)
        tensors[k] = np.abs(v) + 1 if k.endswith("running_var") else v
    p = FaceParser(cfg, tensors, {"format": "random"})
    size = 128 if smoke else 512
    x = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (b, size, size, 3)).astype(np.float32))
    p_def = p.graphdef
    return (lambda state, x: nnx.merge(p_def, state)(x)[0]), (p.state, x)


def make_lpips(smoke, b):
    from flax import nnx

    from styleclip_jax.models.lpips import random_lpips

    lp = random_lpips("alex", 0)
    size = 64 if smoke else 256
    rng = np.random.default_rng(1)
    x0, x1 = (jnp.asarray(rng.uniform(-1, 1, (b, size, size, 3)).astype(np.float32)) for _ in range(2))
    l_def = lp.graphdef
    return (lambda state, a, c: nnx.merge(l_def, state)(a, c)), (lp.state, x0, x1)


def make_pti(smoke, b):
    from styleclip_jax.editing.inversion.config import PTIConfig
    from styleclip_jax.editing.inversion.pti import stepper
    from styleclip_jax.models.lpips import random_lpips

    gen = _gen(smoke)
    w = _wplus(gen, b + 1)
    target = jnp.asarray(gen.synthesis(w[1:]))
    state, update, _, _ = stepper(gen, random_lpips("alex", 0), PTIConfig(batch=b), early_stop=False)
    return (lambda s, w, t: update(s, w, t, 0)), (state, w[:b], target)


WORKLOADS = {
    "sg2": (make_sg2, (1, 4)),
    "a_step": (make_a_step, (1,)),
    "mapper": (make_mapper, (2,)),
    "sg3t": (make_sg3t, (1,)),
    "sg3r": (make_sg3r, (1,)),
    "e4e": (make_e4e, (1,)),
    "clip": (make_clip, (1,)),
    "parser": (make_parser, (1,)),
    "lpips": (make_lpips, (1,)),
    "pti": (make_pti, (1,)),
}
# workloads that take the generator's kernel gradients (their FLOPs: ``loop_free_flops``)
KERNEL_GRADIENTS = ("pti",)
# memory growth with batch (and the largest batch in 24 GiB) for these
GROWTH = ("sg2", "a_step", "mapper", "pti", "sg3r")


# ---- measuring ---------------------------------------------------------------------------------


def _cost(compiled) -> float:
    c = compiled.cost_analysis()
    c = c[0] if isinstance(c, list | tuple) else c
    return float(c.get("flops", 0.0))


def _bytes(compiled) -> int:
    m = compiled.memory_analysis()
    if m is None:
        return 0
    alias = getattr(m, "alias_size_in_bytes", 0)
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - alias)


def measure(fn, args, repeats: int) -> dict:
    """FLOPs XLA counts, best seconds of ``repeats`` calls after a warm-up, bytes of the program."""
    jitted = jax.jit(fn)
    t0 = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - t0)
    return {"flops": _cost(compiled), "s": best, "compile_s": compile_s, "program_bytes": _bytes(compiled)}


def peaks(smoke: bool, repeats: int) -> dict:
    """The machine's measured peak: a large matmul and a large 3×3 convolution (FLOP/s)."""
    n = 512 if smoke else 4096
    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n)).astype(np.float32))
    mm = measure(lambda x, y: x @ y, (a, a), repeats)
    c, hw, b = (64, 32, 1) if smoke else (512, 64, 4)
    x = jnp.asarray(np.random.default_rng(1).standard_normal((b, hw, hw, c)).astype(np.float32))
    k = jnp.asarray(np.random.default_rng(2).standard_normal((3, 3, c, c)).astype(np.float32) * 0.01)

    def conv(x, k):
        return jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

    cv = measure(conv, (x, k), repeats)
    return {"matmul": mm["flops"] / mm["s"], "conv": cv["flops"] / cv["s"], "matmul_n": n, "conv_shape": [b, hw, hw, c]}


def device_peak_bytes():
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # noqa: BLE001 (backends without stats)
        return None
    return stats.get("peak_bytes_in_use")


def own_peak_mib() -> float | None:
    """This process's own resident high-water mark (Linux VmHWM). Not ru_maxrss: that also counts
    the launching process's high-water mark, inherited across fork and exec."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        return None


def loop_free_flops(fn, args) -> float:
    """XLA's cost analysis counts a while loop's body once, and the generator's kernel gradients run
    their k·k taps in ``lax.map`` (``stylegan2.ops._kernel_grad``); count on the same program built
    with XLA's own kernel-gradient convolutions instead (the same sums, no loop)."""
    from styleclip_jax.models.stylegan2 import ops

    saved = ops.XLA_DW_MAX_POSITIONS
    jax.clear_caches()  # the traced kernel-gradient choice is cached with the jitted functions
    ops.XLA_DW_MAX_POSITIONS = 1 << 62
    try:
        return _cost(jax.jit(fn).lower(*args).compile())
    finally:
        ops.XLA_DW_MAX_POSITIONS = saved
        jax.clear_caches()


def child(name: str, smoke: bool, repeats: int) -> dict:
    """One workload's rows (every batch it runs), measured in this process."""
    make, batches = WORKLOADS[name]
    rows = []
    for b in batches:
        fn, args = make(smoke, b)
        r = measure(fn, args, repeats)
        if name in KERNEL_GRADIENTS:
            r["flops"] = loop_free_flops(fn, args)
        rows.append({"workload": name, "batch": b, **r, "device_peak_bytes": device_peak_bytes()})
    if name in GROWTH:
        sizes = {}
        for b in GROWTH_BATCHES:
            fn, args = make(smoke, b)
            sizes[b] = _bytes(jax.jit(fn).lower(*args).compile())
        # from batch 2 up: batch 1 is a program of its own (XLA lays some buffers out otherwise;
        # PTI measured 2.01 GiB for the 1 -> 2 step, then 2.16-2.39 per item, flat to 8)
        per = (sizes[8] - sizes[2]) / 6
        fixed = sizes[2] - 2 * per
        rows[0]["growth"] = {
            "bytes_by_batch": sizes,
            "per_item_bytes": per,
            "fixed_bytes": fixed,
            # at most linear: the 4 -> 8 step costs no more per item than 2 -> 4 (10% slack: XLA's
            # buffer assignment differs a little between batch sizes)
            "linear": (sizes[8] - sizes[4]) / 4 <= (sizes[4] - sizes[2]) / 2 * 1.1 + 2**20,
            "max_batch_24gib": int((BUDGET - fixed) // per) if per > 0 else None,
        }
    for r in rows:
        r["host_peak_mib"] = own_peak_mib()
    return {"rows": rows}


def run_child(name: str, smoke: bool, repeats: int) -> dict:
    """``child`` in a fresh process (its peak resident set is its own)."""
    cmd = [sys.executable, __file__, "--child", name, "--repeats", str(repeats)] + (["--smoke"] if smoke else [])
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        return {"rows": [{"workload": name, "error": f"exit {p.returncode}"}]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def table(peak: dict, rows: list[dict], device: str) -> list[str]:
    """Markdown rows: workload, batch, GFLOP, s, GFLOP/s, % of conv peak, memory."""
    out = [
        f"Measured peak on {device}: matmul {peak['matmul'] / 1e9:.0f} GFLOP/s "
        f"({peak['matmul_n']}², float32), 3×3 convolution {peak['conv'] / 1e9:.0f} GFLOP/s "
        f"({'×'.join(map(str, peak['conv_shape']))} NHWC, 3×3).",
        "",
        "| workload | batch | GFLOP (XLA) | best s | GFLOP/s | % of conv peak | peak memory | program (XLA) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['workload']} | | | | | | {r['error']} | |")
            continue
        rate = r["flops"] / r["s"]
        mem = (
            f"{r['device_peak_bytes'] / GIB:.2f} GiB (device)"
            if r.get("device_peak_bytes")
            else f"{r['host_peak_mib'] / 1024:.2f} GiB (host RSS)"
        )
        out.append(
            f"| {r['workload']} | {r['batch']} | {r['flops'] / 1e9:.1f} | {r['s']:.3f} | {rate / 1e9:.0f} | "
            f"{100 * rate / peak['conv']:.0f}% | {mem} | {r['program_bytes'] / GIB:.2f} GiB |"
        )
    grown = [r for r in rows if "growth" in r]
    if grown:
        out += [
            "",
            "| workload | program bytes at batch 1 / 2 / 4 / 8 (XLA) | per item | at most linear | largest batch in 24 GiB |",
            "|---|---|---|---|---|",
        ]
        for r in grown:
            g = r["growth"]
            sizes = " / ".join(f"{v / GIB:.2f}" for _, v in sorted(g["bytes_by_batch"].items()))
            out.append(
                f"| {r['workload']} | {sizes} GiB | {g['per_item_bytes'] / GIB:.2f} GiB | "
                f"{'yes' if g['linear'] else 'NO'} | {g['max_batch_24gib']} |"
            )
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="tiny models (CI)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        res = child(args.child, args.smoke, args.repeats)
        # keys of growth dicts must be strings in JSON
        for r in res["rows"]:
            if "growth" in r:
                r["growth"]["bytes_by_batch"] = {str(k): v for k, v in r["growth"]["bytes_by_batch"].items()}
        print(json.dumps(res))
        return 0
    device = f"{jax.devices()[0].device_kind} ({jax.devices()[0].platform}, {os.cpu_count()} CPU cores)"
    peak = peaks(args.smoke, args.repeats)
    print(f"peak: matmul {peak['matmul'] / 1e9:.0f} GFLOP/s, conv {peak['conv'] / 1e9:.0f} GFLOP/s", flush=True)
    rows = []
    for name in args.only.split(","):
        t0 = time.perf_counter()
        res = run_child(name, args.smoke, args.repeats)
        for r in res["rows"]:
            if "growth" in r:
                r["growth"]["bytes_by_batch"] = {int(k): v for k, v in r["growth"]["bytes_by_batch"].items()}
        rows += res["rows"]
        print(f"{name}: done in {time.perf_counter() - t0:.0f} s", flush=True)
    lines = table(peak, rows, device)
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"device": device, "peak": peak, "rows": rows, "markdown": lines}, default=str)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
