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
sides: upstream with force_fp32); e4e  e4e encode, 256² -> W+ (IR-SE50, 18 styles), batch 1.
PTI has no row: its step needs the ``lpips`` package, which needs torchvision, which does not
import beside the CPU torch wheel this project tests with (see docs/speed.md).
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
    sd = {k: v.detach().numpy() for k, v in {**g.state_dict(), **dict(g.named_buffers())}.items()}
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


def main(argv=None):
    default_sg3 = os.environ.get("STYLECLIP_UPSTREAM_STYLEGAN3", str(REPO.parent / "upstream" / "stylegan3"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stylegan3", default=default_sg3)
    ap.add_argument("--e4e", default=str(REPO.parent / "shared" / "upstream" / "e4e"))
    ap.add_argument("--only", default="sg3t,sg3r,e4e")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
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
        print(f"{rows[-1]['workload']}: done", flush=True)
    print(f"\n{jax.devices()[0].platform}, {os.cpu_count()} threads on both sides")
    print("| workload | ours s | upstream s | ours ÷ upstream speed-up | max |Δ| of outputs |")
    print("|---|---|---|---|---|")
    for r in rows:
        speed = r["upstream_s"] / r["ours_s"]
        print(
            f"| {r['workload']} | {r['ours_s']:.3f} | {r['upstream_s']:.3f} | {speed:.1f}x | {r['max_abs_diff']:.1e} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
