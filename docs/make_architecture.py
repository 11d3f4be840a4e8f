"""Draws docs/architecture.png: the data flow from checkpoint to edited image, and where each
StyleCLIP concept lives. Run: python docs/make_architecture.py"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

W, H = 1500, 1000
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
COLOURS = {"io": "#e8f0fe", "model": "#e6f4ea", "edit": "#fef7e0", "out": "#fce8e6", "side": "#f1f3f4"}

# (x, y, w, h, kind, title, lines)
BOXES = {
    "ckpt": (
        40,
        30,
        330,
        95,
        "io",
        "upstream checkpoints",
        ["rosinality / ADA .pt .pkl, OpenAI / HF CLIP,", "IR-SE50, mapper .pt, e4e .pt"],
    ),
    "conv": (
        430,
        30,
        330,
        95,
        "io",
        "convert_weights/",
        ["one rename table per source,", "read by io/torch_pickle (no code run)"],
    ),
    "folder": (820, 30, 330, 95, "io", "model folders", ["config.json + model.safetensors", "io/model_folder.py"]),
    "handles": (
        820,
        175,
        640,
        130,
        "model",
        "models/<net>/handle.py (loaded, jitted)",
        [
            "stylegan2 / stylegan3: StyleGAN2, StyleGAN3 (generators.py loads either)",
            "clip: CLIPModel, loss.py   idnet: IDNet, loss.py   mapper: LatentMapperModel",
            "e4e: Encoder (+ transform.py)   mtcnn: FaceDetector   (configs from shapes)",
            "used by every method below, and by export/",
        ],
    ),
    "seeds": (40, 175, 230, 80, "io", "seeds", ["models/latents.py", "z -> mapping (truncation)"]),
    "latents": (290, 175, 230, 80, "io", "latents files", ["io/latents.py (.npz .npy .pt)"]),
    "photos": (540, 175, 260, 80, "io", "photos", ["faces/ (MTCNN, FFHQ align)", "editing/inversion/photos.py"]),
    "wplus": (290, 330, 500, 60, "model", "W+ latents (B, L, D)", []),
    "A": (
        40,
        450,
        420,
        130,
        "edit",
        "A  editing/optimization/",
        [
            "config.py  OptimizeConfig",
            "core.py    CLIP + L2 + ID loss, one jitted step",
            "run.py     optimize() -> OptimizeResult",
        ],
    ),
    "B": (
        540,
        450,
        420,
        130,
        "edit",
        "B  editing/mapper/",
        [
            "config.py  MapperTrainConfig",
            "core.py    losses, jitted train steps",
            "run.py     train_mapper(); apply.py apply_mapper()",
        ],
    ),
    "C": (
        1040,
        450,
        420,
        130,
        "edit",
        "C  editing/global_directions/",
        [
            "config.py TextEdit   stats.py   text.py (Δt)",
            "relevance.py fs3; core.py global_edit()",
            "run.py precompute(); population.py (contrib)",
        ],
    ),
    "out": (
        290,
        660,
        1170,
        80,
        "out",
        "results: .save(out)",
        ["PNG grids (io/images), .npz latents and S codes, paste-back into the photo (editing/inversion/photos.py)"],
    ),
    "onnx": (1040, 340, 420, 60, "out", "export/", ["ONNX graphs, a JAX-free runtime"]),
    "side": (
        40,
        800,
        1420,
        170,
        "side",
        "shared by all",
        [
            "training/loop.py: the one resumable loop (mapper, e4e, toy world)    optim/: torch-order Adam, Ranger (optax.lookahead)",
            "parallel/: meshes, jax.distributed    io/: files, checkpoints (orbax), jobs (locks, manifests)    progress.py: progress(done, total)",
            "errors.py: StyleClipError family    cli/: parses flags and calls the library    ui/ + editing/session.py: the browser editor",
            "toyworld/: the bundled 32 px world, its trainers (toyworld/training/) and readers that judge edits",
            "layers (tests/test_layers.py): base < io < models < editing < export, toyworld, ui, convert_weights < cli",
        ],
    ),
}
ARROWS = [
    ("ckpt", "conv"),
    ("conv", "folder"),
    ("folder", "handles"),
    ("seeds", "wplus"),
    ("latents", "wplus"),
    ("photos", "wplus"),
    ("wplus", "A"),
    ("wplus", "B"),
    ("wplus", "C"),
    ("A", "out"),
    ("B", "out"),
    ("C", "out"),
    ("handles", "onnx"),
]


def _centre(b, side):
    x, y, w, h = b[:4]
    return {
        "bottom": (x + w // 2, y + h),
        "top": (x + w // 2, y),
        "right": (x + w, y + h // 2),
        "left": (x, y + h // 2),
    }[side]


def _arrow(d: ImageDraw.ImageDraw, a, b):
    (x0, y0, _, h0), (x1, y1, _, h1) = a[:4], b[:4]
    if abs((y0 + h0 / 2) - (y1 + h1 / 2)) < 20:
        p, q = (_centre(a, "right"), _centre(b, "left")) if x1 > x0 else (_centre(a, "left"), _centre(b, "right"))
    else:
        p, q = (_centre(a, "bottom"), _centre(b, "top")) if y1 > y0 else (_centre(a, "top"), _centre(b, "bottom"))
    d.line([p, q], fill="#5f6368", width=3)
    dx, dy = q[0] - p[0], q[1] - p[1]
    n = max((dx * dx + dy * dy) ** 0.5, 1)
    ux, uy = dx / n, dy / n
    d.polygon(
        [q, (q[0] - 14 * ux + 7 * uy, q[1] - 14 * uy - 7 * ux), (q[0] - 14 * ux - 7 * uy, q[1] - 14 * uy + 7 * ux)],
        fill="#5f6368",
    )


def main(out=Path(__file__).resolve().parent / "architecture.png"):
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    title, body = ImageFont.truetype(BOLD, 19), ImageFont.truetype(FONT, 15)
    for a, b in ARROWS:
        _arrow(d, BOXES[a], BOXES[b])
    for x, y, w, h, kind, head, lines in BOXES.values():
        d.rounded_rectangle([x, y, x + w, y + h], 12, fill=COLOURS[kind], outline="#80868b", width=2)
        d.text((x + 12, y + 8), head, fill="black", font=title)
        for i, line in enumerate(lines):
            d.text((x + 12, y + 36 + 20 * i), line, fill="#202124", font=body)
    img.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
