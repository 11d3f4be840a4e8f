"""StyleGAN3 and e4e against their own upstream code, side by side: same weights, one process, same threads.

Run: python bench/vs_upstream_nets.py [--stylegan3 DIR] [--e4e DIR] [--only sg3t,sg3r,e4e] [--repeats 2]

Upstream code is read from folders outside the package, named here (a row whose folder is absent is
skipped, saying what is missing):
  --stylegan3  a checkout of github.com/NVlabs/stylegan3 (default: $STYLECLIP_UPSTREAM_STYLEGAN3,
               else ../upstream/stylegan3 beside the checkout); its CPU path is the reference
               implementations of bias_act, upfirdn2d and filtered_lrelu, which its ops pick by
               themselves off CUDA.
  --e4e        encoder4editing's files (default: ../shared/upstream/e4e, patched to run on CPU).
Weights are made on the torch side (upstream's own initialisation) and converted with our
converters' rename tables, so both sides compute the same function; the largest difference of
their outputs is printed beside the times.

Workloads: sg3t / sg3r  StyleGAN3-T / -R 1024 synthesis, W+ -> image, batch 1 (float32 on both
sides: upstream with force_fp32); e4e  e4e encode, 256² -> W+ (IR-SE50, 18 styles), batch 1;
pti  one PTI update at 1024 (``run_pti``; --pti names a PTI checkout, default ../upstream/PTI).
The PTI row needs the ``lpips`` package and torchvision, which do not import beside the CPU
torch wheel the tests use: run it from a separate environment (torch 2.14.1 + torchvision 0.29.1,
``pip install lpips`` and this package); without them the row is skipped, saying so. For the
"max |Δ|" column the PTI row gives the difference of the first update's loss on both sides.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from styleclip_jax.utils.timing import best_of  # noqa: E402


def _torch_threads():
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    return torch


def _pkg_resources_shim():
    """Upstream's conv2d_gradfix imports ``pkg_resources.parse_version``; new setuptools no longer
    ships pkg_resources, so this process gets a stand-in with packaging's parser (upstream unchanged)."""
    import types

    from packaging.version import parse

    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)  # type: ignore[assignment]


def run_sg3(kind: str, upstream: Path, repeats: int) -> dict:
    torch = _torch_threads()
    sys.path.insert(0, str(upstream))
    _pkg_resources_shim()
    from training.networks_stylegan3 import Generator  # upstream

    from convert_weights.keys import apply_renames
    from convert_weights.stylegan3 import sg3_table
    from styleclip_jax.models.stylegan3.config import SG3Config
    from styleclip_jax.models.stylegan3.handle import StyleGAN3, expected_shapes

    cfg = SG3Config.t_config(1024) if kind == "T" else SG3Config.r_config(1024)
    kw = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3)
    if kind == "R":
        kw.update(channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True)
    torch.manual_seed(0)
    g = Generator(**kw).eval()
    sd = {k: v.detach().numpy().copy() for k, v in g.state_dict().items()}
    ours = StyleGAN3(cfg, apply_renames(sg3_table(cfg), sd, f"upstream {kind}", expected=expected_shapes(cfg)), {})
    z = np.random.default_rng(0).standard_normal((1, 512)).astype(np.float32)
    with torch.no_grad():
        ws = g.mapping(torch.from_numpy(z), None, truncation_psi=0.7)
        t_img = g.synthesis(ws, noise_mode="const", force_fp32=True)
        w = ws.numpy()
        up = best_of(lambda: g.synthesis(ws, noise_mode="const", force_fp32=True), repeats)
    o_img = np.asarray(ours.synthesis(w))
    me = best_of(lambda: ours.synthesis(w), repeats)
    diff = float(np.abs(o_img - t_img.permute(0, 2, 3, 1).numpy()).max())
    return {"workload": f"sg3{kind.lower()}", "ours_s": me, "upstream_s": up, "max_abs_diff": diff}


def run_e4e(upstream: Path, repeats: int, tmp: Path) -> dict:
    torch = _torch_threads()
    sys.path.insert(0, str(upstream))
    from argparse import Namespace

    from models.encoders.psp_encoders import Encoder4Editing  # upstream

    from convert_weights.e4e import convert_encoder
    from styleclip_jax.io.torch_write import save_torch

    torch.manual_seed(0)
    enc_t = Encoder4Editing(50, "ir_se", Namespace(stylegan_size=1024)).eval()
    for m in enc_t.modules():  # upstream initialises BatchNorm to identity; give it real statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    sd = {f"encoder.{k}": v.detach().numpy() for k, v in enc_t.state_dict().items()}
    ck = {
        "state_dict": sd,
        "opts": {"encoder_type": "Encoder4Editing", "stylegan_size": 1024, "start_from_latent_avg": True},
        "latent_avg": np.zeros((18, 512), np.float32),
    }
    save_torch(ck, tmp / "e4e_random.pt")
    ours, _ = convert_encoder(tmp / "e4e_random.pt")
    x = np.random.default_rng(1).uniform(-1, 1, (1, 256, 256, 3)).astype(np.float32)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        t_codes = enc_t(xt).numpy()
        up = best_of(lambda: enc_t(xt), repeats)
    o_codes = ours.encode(x)
    me = best_of(lambda: ours.encode(x), repeats)
    return {"workload": "e4e", "ours_s": me, "upstream_s": up, "max_abs_diff": float(np.abs(o_codes - t_codes).max())}


def run_pti(upstream_sg3: Path, upstream_pti: Path, repeats: int, tmp: Path) -> dict:
    """One PTI update at 1024, as PTI's single-id coach makes it: ``G.synthesis(w, noise_mode='const',
    force_fp32=True)``, PTI's ``l2_loss`` + ``lpips.LPIPS(net='alex')`` (λ 1 and 1, its
    hyperparameters.py), ``zero_grad``, ``backward``, ``Adam(lr 3e-4).step()``. The generator is
    NVIDIA's stylegan2-ada network (stylegan3's ``networks_stylegan2.py``, the code PTI's pickles
    carry) at FFHQ's config (channel base 32768, clamp 256); the LPIPS trunk is random (no download),
    its heads the ``lpips`` package's own v0.1 weights. Ours: the same weights converted, our PTI
    update (LPIPS early-stop off on both sides)."""
    torch = _torch_threads()
    import types

    import lpips  # upstream's loss, richzhang's package
    import torchvision

    sys.path.insert(0, str(upstream_pti))  # for criteria/ (its training/ holds only the coaches)
    sys.path.insert(0, str(upstream_sg3))  # first: NVIDIA's training/ and torch_utils/
    _pkg_resources_shim()
    from criteria import l2_loss  # PTI
    from training.networks_stylegan2 import Generator  # NVIDIA

    from convert_weights.lpips import convert_lpips
    from convert_weights.stylegan2 import ada_config, ada_to_ours
    from styleclip_jax.editing.inversion.config import PTIConfig
    from styleclip_jax.editing.inversion.pti import stepper
    from styleclip_jax.io.torch_write import save_torch
    from styleclip_jax.models.stylegan2 import StyleGAN2

    kw = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3)
    syn = dict(channel_base=32768, channel_max=512, num_fp16_res=0, conv_clamp=256)
    torch.manual_seed(0)
    g = Generator(**kw, mapping_kwargs={"num_layers": 8}, **syn).train()
    sd = {k: v.detach().numpy().copy() for k, v in g.state_dict().items()}  # copies: the steps change g in place
    snapshot = types.SimpleNamespace(state={"_init_kwargs": {**kw, "synthesis_kwargs": syn}})
    cfg = ada_config(snapshot, sd, "upstream ada")
    ours_g = StyleGAN2(cfg, ada_to_ours(sd, cfg, "upstream ada"), {})

    alex = torchvision.models.alexnet()  # random trunk, torchvision's layout
    save_torch({k: v.detach().numpy() for k, v in alex.state_dict().items()}, tmp / "alex.pth")
    heads = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    ours_l = convert_lpips(tmp / "alex.pth", heads)
    loss_fn = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    feats = [m for m in loss_fn.net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():  # the same random trunk on both sides
        for mine, theirs in zip(feats, [m for m in alex.features if isinstance(m, torch.nn.Conv2d)]):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)

    z = np.random.default_rng(0).standard_normal((2, 512)).astype(np.float32)
    with torch.no_grad():
        ws = g.mapping(torch.from_numpy(z), None, truncation_psi=0.7)
        target = g.synthesis(ws[1:], noise_mode="const", force_fp32=True).clamp(-1, 1)
    w_pivot = ws[:1].clone()
    opt = torch.optim.Adam(g.parameters(), lr=3e-4)

    def upstream_step():
        generated = g.synthesis(w_pivot, noise_mode="const", force_fp32=True)
        loss = l2_loss.l2_loss(generated, target) * 1 + torch.squeeze(loss_fn(generated, target)) * 1
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    up = best_of(upstream_step, repeats)
    state, update, _, _ = stepper(ours_g, ours_l, PTIConfig(), early_stop=False)
    w_np, t_np = ws[:1].numpy(), target.permute(0, 2, 3, 1).numpy()
    box = [state]

    def our_step():
        box[0], m = update(box[0], w_np, t_np, 0)
        return m["loss"]

    me = best_of(our_step, repeats)
    # same function: the first update's loss on both sides, from fresh copies
    state0, update0, _, _ = stepper(ours_g, ours_l, PTIConfig(), early_stop=False)
    ours_loss = float(update0(state0, w_np, t_np, 0)[1]["loss"])
    g2 = Generator(**kw, mapping_kwargs={"num_layers": 8}, **syn)
    g2.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    with torch.no_grad():
        gen2 = g2.synthesis(w_pivot, noise_mode="const", force_fp32=True)
        up_loss = float(l2_loss.l2_loss(gen2, target) + torch.squeeze(loss_fn(gen2, target)))
    print(f"pti: first-update loss, ours {ours_loss:.7f}, upstream {up_loss:.7f}", flush=True)
    return {"workload": "pti", "ours_s": me, "upstream_s": up, "max_abs_diff": abs(ours_loss - up_loss)}


def main(argv=None):
    default_sg3 = os.environ.get("STYLECLIP_UPSTREAM_STYLEGAN3", str(REPO.parent / "upstream" / "stylegan3"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stylegan3", default=default_sg3)
    ap.add_argument("--e4e", default=str(REPO.parent / "shared" / "upstream" / "e4e"))
    ap.add_argument("--pti", default=str(REPO.parent / "upstream" / "PTI"), help="a checkout of danielroich/PTI")
    ap.add_argument("--only", default="sg3t,sg3r,e4e,pti")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    import importlib.util
    import tempfile

    import jax

    rows = []
    for name in args.only.split(","):
        if name in ("sg3t", "sg3r"):
            folder = Path(args.stylegan3)
            if not (folder / "training" / "networks_stylegan3.py").is_file():
                print(f"{name}: skipped, no NVIDIA stylegan3 checkout at {folder} (--stylegan3)")
                continue
            rows.append(run_sg3(name[-1].upper(), folder, args.repeats))
        elif name == "e4e":
            folder = Path(args.e4e)
            if not (folder / "models" / "encoders" / "psp_encoders.py").is_file():
                print(f"e4e: skipped, no encoder4editing files at {folder} (--e4e)")
                continue
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(run_e4e(folder, args.repeats, Path(tmp)))
        elif name == "pti":
            missing = [
                what
                for what, ok in (
                    ("NVIDIA stylegan3 (--stylegan3)", (Path(args.stylegan3) / "training").is_dir()),
                    ("PTI (--pti)", (Path(args.pti) / "criteria" / "l2_loss.py").is_file()),
                    ("the lpips package", importlib.util.find_spec("lpips") is not None),
                    ("torchvision", importlib.util.find_spec("torchvision") is not None),
                )
                if not ok
            ]
            if missing:
                print(f"pti: skipped, missing {', '.join(missing)}")
                continue
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(run_pti(Path(args.stylegan3), Path(args.pti), args.repeats, Path(tmp)))
        print(f"{rows[-1]['workload']}: done", flush=True)
    print(f"\n{jax.devices()[0].platform}, {os.cpu_count()} threads on both sides")
    print("| workload | ours s | upstream s | ours ÷ upstream speed-up | max |Δ| of outputs |")
    print("|---|---|---|---|---|")
    for r in rows:
        speed = r["upstream_s"] / r["ours_s"]
        print(
            f"| {r['workload']} | {r['ours_s']:.3f} | {r['upstream_s']:.3f} | {speed:.2f}x | {r['max_abs_diff']:.1e} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
