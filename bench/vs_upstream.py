"""Ours against the original StyleCLIP code, side by side: same weights, one process, same threads.

Run: python bench/vs_upstream.py [--upstream ../shared/upstream/styleclip] [--res 1024] [--only gen,a_w,...]

Upstream is StyleCLIP's own files (rosinality's StyleGAN2 as StyleCLIP ships it, its LevelsMapper,
its CLIPLoss recipe) plus OpenAI's CLIP model code (``clip-anytorch``), on torch CPU. Random
weights are made on the torch side and converted with our converters, so both sides compute the
same function. Each workload is timed as the best of ``--repeats`` calls after a warm-up (for
ours the warm-up compiles). Workloads (``--only`` names):

  gen1, gen4  generator W+ -> image, batch 1 / 4 (stored noise)
  a_w, a_s    one method-A step (generator forward + backward, CLIP loss, L2, Adam) in W+ / in S
  map_edit    mapper edit, batch 1: w -> w + 0.1·M(w) -> image
  map_train   one mapper training step, batch 2 (G(w) without grad, G(ŵ), CLIP + L2, Adam)
  fs3         channel-relevance renders: render -> uint8 -> PIL bicubic 224 -> normalise -> CLIP;
              upstream's loop does one image at a time (SingleChannel.py), ours a block of 8
  global      a global edit: Δt from 2 × 80 prompt templates, relevance, one render

Prints one row per workload (seconds per unit each side and ours/upstream speed-up) and the
machine load; ``--json`` writes the rows too. Needs torch and clip-anytorch (the test setup).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# this folder's clip.py / mapper.py would shadow OpenAI's ``clip`` and upstream's ``mapper``
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from styleclip_jax.utils.timing import best_of  # noqa: E402

WORKLOADS = ("gen1", "gen4", "a_w", "a_s", "map_edit", "map_train", "fs3", "global")


def load_openai_clip_module():
    """OpenAI's ``clip/model.py`` by path (its package __init__ needs torchvision; and this folder's
    bench/clip.py shadows the name ``clip``)."""
    from importlib import metadata

    try:
        path = Path(metadata.distribution("clip-anytorch").locate_file("clip/model.py"))
    except metadata.PackageNotFoundError:
        sys.exit("needs clip-anytorch (pip install --no-deps clip-anytorch==2.6.0)")
    mspec = importlib.util.spec_from_file_location("openai_clip_model", path)
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)
    return mod


class Sides:
    """Upstream torch modules and our converted handles with the same weights."""

    def __init__(self, upstream: Path, res: int):
        import torch

        sys.path.insert(0, str(upstream))
        from models.stylegan2.model import Generator as UpGenerator  # StyleCLIP's copy

        from convert_weights.clip import openai_config, openai_to_ours
        from convert_weights.stylegan2 import generator_from_checkpoint
        from styleclip_jax.models.clip import CLIPModel

        torch.manual_seed(0)
        self.res = res
        self.t_gen = UpGenerator(res, 512, 8).eval()
        self.t_gen.requires_grad_(False)
        sd = {k: v.numpy() for k, v in self.t_gen.state_dict().items()}
        with torch.no_grad():
            latent_avg = self.t_gen.mean_latent(4096)[0].numpy()
        self.gen = generator_from_checkpoint({"g_ema": sd, "latent_avg": latent_avg}, "upstream generator")
        m = load_openai_clip_module()
        self.t_clip = m.CLIP(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12).eval()
        self.t_clip.requires_grad_(False)
        csd = {k: v.numpy() for k, v in self.t_clip.state_dict().items()}
        ccfg = openai_config(csd, "upstream CLIP")
        self.clip = CLIPModel(ccfg, openai_to_ours(csd, ccfg, "upstream CLIP"), {"format": "bench"})
        rng = np.random.default_rng(0)
        self.z = rng.standard_normal((4, 512)).astype(np.float32)
        self.w = np.asarray(self.gen.mapping(self.z, 0.7))  # (4, L, D) W+
        from styleclip_jax.models.clip import tokenize

        self.text = np.asarray(self.clip.encode_text(tokenize(["purple hair"])))

    # -- upstream pieces ------------------------------------------------------------------------
    def t_render(self, w, **kw):
        import torch

        return self.t_gen([torch.as_tensor(w)], input_is_latent=True, randomize_noise=False, **kw)

    def t_clip_loss(self, img, text_tokens):
        """StyleCLIP's CLIPLoss: upsample x7, avg-pool res/32, 1 - logits/100."""
        import torch

        x = torch.nn.functional.interpolate(img, scale_factor=7)
        x = torch.nn.functional.avg_pool2d(x, self.res // 32)
        return 1 - self.t_clip(x, text_tokens)[0] / 100


def run_gen(s: Sides, batch: int, repeats: int):
    import torch

    w = s.w[:batch]
    ours = best_of(lambda: s.gen.synthesis(w).block_until_ready(), repeats)
    with torch.no_grad():
        up = best_of(lambda: s.t_render(w), repeats)
    return ours / batch, up / batch, "s/image"


def run_a(s: Sides, space: str, repeats: int):
    import jax
    import jax.numpy as jnp
    import torch

    from styleclip_jax.editing.optimization.config import OptimizeConfig
    from styleclip_jax.editing.optimization.core import (
        Problem,
        initial_params,
        make_optimizer,
        make_step,
    )
    from styleclip_jax.models.clip import tokenize

    cfg = OptimizeConfig(steps=300, space=space)
    tx = make_optimizer(cfg)
    step = jax.jit(make_step((s.gen.graphdef, s.clip.graphdef, None), cfg, tx))
    w0 = jnp.asarray(s.w[:1])
    start = w0 if space == "w+" else tuple(s.gen.w_to_s(s.w[:1]).values())
    params = initial_params(s.gen.module(), start, space)
    prob = Problem(start, jnp.asarray(s.text), jnp.zeros((1, s.res, s.res, 3)))
    state = {"p": params, "o": tx.init(params)}

    def ours_step():
        state["p"], state["o"], m = step((s.gen.state, s.clip.state, None), state["p"], state["o"], prob)
        jax.block_until_ready(m)

    ours = best_of(ours_step, repeats)
    tokens = torch.as_tensor(np.asarray(tokenize(["purple hair"])), dtype=torch.long)
    if space == "w+":
        init = torch.as_tensor(s.w[:1])
        latent = init.clone().requires_grad_(True)
        leaves = [latent]

        def render():
            return s.t_render(latent)[0]
    else:
        with torch.no_grad():
            _, _, styles = s.t_render(s.w[:1], return_latents=True)
        leaves = [t.clone().requires_grad_(True) for t in styles]
        init = [t.clone() for t in styles]

        def render():
            return s.t_gen([leaves], input_is_stylespace=True, randomize_noise=False)[0]

    opt = torch.optim.Adam(leaves, lr=0.1)

    def up_step():
        img = render()
        c = s.t_clip_loss(img, tokens)
        l2 = sum(((a - b) ** 2).sum() for a, b in zip(leaves, init if isinstance(init, list) else [init]))
        loss = c.sum() + 0.008 * l2
        opt.zero_grad()
        loss.backward()
        opt.step()

    up = best_of(up_step, repeats)
    return ours, up, "s/step"


def _t_levels_mapper(upstream: Path):
    import argparse as ap

    sys.path.insert(0, str(upstream))
    from mapper.latent_mappers import LevelsMapper

    opts = ap.Namespace(no_coarse_mapper=False, no_medium_mapper=False, no_fine_mapper=False)
    return LevelsMapper(opts).eval()


def _our_mapper(s: Sides, t_mapper):
    from convert_weights.mapper import mapper_config_from, mapper_to_ours
    from styleclip_jax.models.mapper.handle import LatentMapperModel

    sd = {f"mapper.{k}": v.detach().numpy() for k, v in t_mapper.state_dict().items()}
    cfg, idx = mapper_config_from(sd, {"stylegan_size": s.res}, "upstream mapper")
    return LatentMapperModel(cfg, mapper_to_ours(sd, cfg, idx, "upstream mapper"), {"format": "bench"})


def run_map_edit(s: Sides, upstream: Path, repeats: int):
    import torch

    t_mapper = _t_levels_mapper(upstream)
    mapper = _our_mapper(s, t_mapper)
    w = s.w[:1]
    ours = best_of(lambda: s.gen.synthesis(mapper.apply(w)).block_until_ready(), repeats)
    with torch.no_grad():
        tw = torch.as_tensor(w)
        up = best_of(lambda: s.t_render(tw + 0.1 * t_mapper(tw)), repeats)
    return ours, up, "s/edit"


def run_map_train(s: Sides, upstream: Path, repeats: int):
    import jax
    import jax.numpy as jnp
    import torch

    from styleclip_jax.editing.mapper.core import (
        Frozen,
        MapperTrainConfig,
        init_state,
        train_steps,
    )
    from styleclip_jax.models.clip import tokenize

    t_mapper = _t_levels_mapper(upstream).train()
    mapper = _our_mapper(s, t_mapper)
    cfg = MapperTrainConfig(description="purple hair", batch_size=2, id_lambda=0.0, optimizer="adam")
    frozen = Frozen(s.gen.state, s.clip.state, None, jnp.asarray(s.text[0]))
    graphdefs = (mapper.graphdef, s.gen.graphdef, s.clip.graphdef, None)
    state = {"s": init_state(cfg, mapper.state)}
    key = jax.random.key(0)

    def ours_step():
        state["s"], m = train_steps(graphdefs, cfg.step_config, 1, frozen, None, state["s"], key)
        jax.block_until_ready(m)

    ours = best_of(ours_step, repeats)
    tokens = torch.as_tensor(np.asarray(tokenize(["purple hair"])), dtype=torch.long)
    opt = torch.optim.Adam(t_mapper.parameters(), lr=0.5)

    def up_step():  # StyleCLIP mapper/training/coach.py, ID loss off
        with torch.no_grad():
            z = torch.randn(2, 512)
            w = s.t_gen.style(z).unsqueeze(1).repeat(1, s.t_gen.n_latent, 1)
            s.t_render(w)  # x = G(w): coach renders it every step (ID loss, logging)
        w_hat = w + 0.1 * t_mapper(w)
        x_hat = s.t_render(w_hat)[0]
        loss = s.t_clip_loss(x_hat, tokens).mean() + 0.8 * torch.nn.functional.mse_loss(w_hat, w)
        opt.zero_grad()
        loss.backward()
        opt.step()

    up = best_of(up_step, repeats)
    return ours, up, "s/step"


def _t_preprocess(img):
    """Upstream's per-image path: clamp, uint8, PIL bicubic 224, CLIP normalise (NCHW tensor)."""
    import torch
    from PIL import Image

    x = ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[0].permute(1, 2, 0).numpy()
    x = np.asarray(Image.fromarray(x).resize((224, 224), Image.BICUBIC), np.float32) / 255.0
    mean, std = np.array([0.48145466, 0.4578275, 0.40821073]), np.array([0.26862954, 0.26130258, 0.27577711])
    return torch.as_tensor(((x - mean) / std).astype(np.float32)).permute(2, 0, 1)[None]


def run_fs3(s: Sides, repeats: int):
    import tempfile

    import torch

    from styleclip_jax.editing.global_directions.relevance import precompute_fs3
    from styleclip_jax.editing.global_directions.stats import compute_stats

    stats = compute_stats(s.gen, n=64, keep=2, seed=0, batch=64)
    first = stats.names[0]
    subset = {first: [0, 1]}  # 2 channels x 2 images x 2 signs = 8 renders

    def ours_call():
        with tempfile.TemporaryDirectory() as d:
            precompute_fs3(
                s.gen,
                s.clip,
                stats,
                d,
                num_images=2,
                channels_per_chunk=2,
                image_batch=8,
                devices=1,
                channel_subset=subset,
                progress=False,
            )

    ours = best_of(ours_call, repeats) / 8
    with torch.no_grad():
        _, _, styles = s.t_render(s.w[:1], return_latents=True)

        def up_call():  # SingleChannel.py: one render at a time
            for _ in range(8):
                img = s.t_gen([styles], input_is_stylespace=True, randomize_noise=False)[0]
                s.t_clip.encode_image(_t_preprocess(img))

        up = best_of(up_call, repeats) / 8
    return ours, up, "s/render"


def run_global(s: Sides, repeats: int):
    import torch

    from styleclip_jax.editing.global_directions.core import global_edit
    from styleclip_jax.editing.global_directions.stats import compute_stats
    from styleclip_jax.editing.global_directions.text import (
        IMAGENET_TEMPLATES as TEMPLATES,
    )
    from styleclip_jax.models.clip import tokenize

    stats = compute_stats(s.gen, n=64, keep=0, seed=0, batch=64)
    rows = sum(w for w, m in zip(stats.widths, stats.manipulable) if m)
    fs3 = np.random.default_rng(0).standard_normal((rows, 512)).astype(np.float32)
    stats.fs3 = fs3 / np.linalg.norm(fs3, axis=1, keepdims=True)
    edit = {"neutral": "face", "target": "face with purple hair", "beta": 0.1, "alpha": 4.0}
    w = s.w[:1]
    ours = best_of(lambda: global_edit(s.gen, s.clip, stats, w, [edit]), repeats)
    tok = {
        t: torch.as_tensor(np.asarray(tokenize([tp.format(t) for tp in TEMPLATES])), dtype=torch.long)
        for t in (edit["neutral"], edit["target"])
    }
    t_fs3 = torch.as_tensor(stats.fs3)
    with torch.no_grad():
        _, _, styles = s.t_render(w, return_latents=True)

        def up_call():  # global_torch: templated text features, fs3 @ Δt, beta, one render
            feats = []
            for t in (edit["neutral"], edit["target"]):
                f = s.t_clip.encode_text(tok[t])
                f = f / f.norm(dim=-1, keepdim=True)
                f = f.mean(0)
                feats.append(f / f.norm())
            dt = feats[1] - feats[0]
            dt = dt / dt.norm()
            r = t_fs3 @ dt
            r = torch.where(r.abs() >= edit["beta"], r, torch.zeros_like(r))
            new = [st.clone() for st in styles]  # (apply r per layer: same cost as a copy + add)
            s.t_gen([new], input_is_stylespace=True, randomize_noise=False)

        up = best_of(up_call, repeats)
    return ours, up, "s/edit"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", default=str(REPO.parent / "shared" / "upstream" / "styleclip"))
    ap.add_argument("--res", type=int, default=1024)
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    upstream = Path(a.upstream)
    if not (upstream / "models" / "stylegan2" / "model.py").exists():
        sys.exit(f"{upstream}: not the upstream StyleCLIP folder (models/stylegan2/model.py missing)")
    import jax
    import torch

    threads = os.cpu_count()
    torch.set_num_threads(threads)
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, torch {torch.__version__} with {threads} threads; "
        f"load before: {os.getloadavg()[0]:.2f}; res {a.res}"
    )
    s = Sides(upstream, a.res)
    runners = {
        "gen1": lambda: run_gen(s, 1, a.repeats),
        "gen4": lambda: run_gen(s, 4, a.repeats),
        "a_w": lambda: run_a(s, "w+", a.repeats),
        "a_s": lambda: run_a(s, "s", a.repeats),
        "map_edit": lambda: run_map_edit(s, upstream, a.repeats),
        "map_train": lambda: run_map_train(s, upstream, a.repeats),
        "fs3": lambda: run_fs3(s, a.repeats),
        "global": lambda: run_global(s, a.repeats),
    }
    rows = []
    print(f"{'workload':10s} {'unit':9s} {'ours':>9s} {'upstream':>9s} {'speed-up':>9s}")
    for name in a.only.split(","):
        if name not in runners:
            sys.exit(f"--only: unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
        ours, up, unit = runners[name]()
        rows.append({"workload": name, "unit": unit, "ours": ours, "upstream": up, "speedup": up / ours})
        print(f"{name:10s} {unit:9s} {ours:9.3f} {up:9.3f} {up / ours:8.2f}x", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"res": a.res, "threads": threads, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
