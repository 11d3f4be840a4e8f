"""Table-driven bad input for every CLI command: each file or folder input is given missing, as a
folder (or file), empty, truncated, as random bytes, with NaN values and with the wrong shape or
kind; each numeric flag out of range. Every case must end in exit code 2, exactly one line on
stderr, no traceback, and no output left behind."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import random_mapper
from PIL import Image

from styleclip_jax.cli.main import main

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "styleclip_jax" / "toyworld" / "weights"
VARIANTS = ("missing", "other", "empty", "truncated", "random", "nan", "shape")


def run(argv, capsys):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own exit, after its one-line message
        rc = e.code
    return rc, capsys.readouterr().err


def _nan_model_folder(src: Path, dst: Path) -> Path:
    from safetensors.numpy import load_file, save_file

    shutil.copytree(src, dst)
    t = load_file(str(src / "model.safetensors"))
    k = sorted(t)[0]
    t[k] = np.full_like(t[k], np.nan)
    save_file(t, str(dst / "model.safetensors"))
    return dst


def _file_variant(kind: str, good: Path, where: Path, nan: Path | None, shape: Path | None) -> Path:
    p = where / f"{kind}{good.suffix}"
    if kind == "missing":
        return p
    if kind == "other":
        p.mkdir()
        return p
    data = good.read_bytes()
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "truncated":
        p.write_bytes(data[: len(data) // 2])
    elif kind == "random":
        p.write_bytes(np.random.default_rng(0).bytes(4096))
    else:
        return nan if kind == "nan" else shape
    return p


def _folder_variant(kind: str, good: Path, where: Path, nan: Path | None, shape: Path | None) -> Path:
    p = where / f"{kind}_dir"
    if kind == "missing":
        return p
    if kind == "other":
        p.write_bytes(b"a file, not a folder")
        return p
    if kind == "empty":
        p.mkdir()
        return p
    if kind in ("truncated", "random"):
        shutil.copytree(good, p)
        for f in sorted(p.iterdir()):
            if f.suffix in (".safetensors", ".npz", ".npy", ".pt"):
                data = f.read_bytes()
                f.write_bytes(data[: len(data) // 2] if kind == "truncated" else np.random.default_rng(1).bytes(4096))
        return p
    return nan if kind == "nan" else shape


@pytest.fixture(scope="module")
def env(tmp_path_factory, golden_dir):
    from torch_format import save_zip

    from styleclip_jax.io.torch_pickle import load_checkpoint

    d = tmp_path_factory.mktemp("bad_inputs")
    from styleclip_jax import load_generator

    gen = TOY / "generator"

    g = load_generator(gen)
    num_ws, w_dim = g.config.num_ws, g.config.w_dim
    mapper = d / "mapper"
    random_mapper(w_dim, num_ws, 0).save(mapper)
    w = np.asarray(g.mapping(np.random.default_rng(0).standard_normal((2, g.config.z_dim)).astype(np.float32)))
    lat = d / "good.npz"
    np.savez(lat, wplus=w)
    nan_lat, shape_lat = d / "nan_lat.npz", d / "shape_lat.npz"
    np.savez(nan_lat, wplus=np.full_like(w, np.nan))
    np.savez(shape_lat, wplus=w[:, :, :-1])
    img = d / "good.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img)
    ck = load_checkpoint(golden_dir / "rosinality_tiny.pt")
    ck["g_ema"]["style.1.weight"] = np.full_like(ck["g_ema"]["style.1.weight"], np.nan)
    nan_ck = d / "nan_ck.pt"
    save_zip(ck, nan_ck)
    pck = load_checkpoint(golden_dir / "bisenet_tiny.pth")
    pck["ffm.conv1.weight"] = np.full_like(pck["ffm.conv1.weight"], np.nan)
    save_zip(pck, d / "nan_parser.pth")
    from convert_weights.parser import convert_parser

    convert_parser(golden_dir / "bisenet_tiny.pth", d / "parser")
    idn = load_checkpoint(golden_dir / "irse50_tiny.pth")
    k = sorted(idn)[0]
    idn[k] = np.full_like(idn[k], np.nan)
    nan_idnet = d / "nan_idnet.pth"
    save_zip(idn, nan_idnet)
    mck = load_checkpoint(golden_dir / "mapper_tiny.pt")
    k = sorted(mck["state_dict"])[0]
    mck["state_dict"][k] = np.full_like(mck["state_dict"][k], np.nan)
    nan_mapper_ck = d / "nan_mapper.pt"
    save_zip({"state_dict": mck["state_dict"], "opts": dict(mck["opts"])}, nan_mapper_ck)
    nan_stats = d / "nan_stats"
    shutil.copytree(TOY / "global", nan_stats)
    np.save(nan_stats / "fs3.npy", np.full_like(np.load(TOY / "global" / "fs3.npy"), np.nan))
    fs3 = d / "fs3.npy"
    np.save(fs3, np.load(TOY / "global" / "fs3.npy"))
    nan_fs3, shape_fs3 = d / "nan_fs3.npy", d / "shape_fs3.npy"
    np.save(nan_fs3, np.full_like(np.load(fs3), np.nan))
    np.save(shape_fs3, np.zeros((3, 7), np.float32))
    # faces: a photo with a face, its faces.json and crop; MTCNN state dicts (from the bundle)
    from test_faces import _state_dicts_from_bundle

    from styleclip_jax.models.mtcnn import load_face_detector

    g = np.load(golden_dir / "mtcnn_faces.npz")
    photo = d / "photo.png"
    Image.fromarray(g["img_a_ffhq2_256"]).save(photo)
    assert main(["align", str(photo), "--out", str(d / "aligned")]) == 0
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(d / "tiny.png")
    Image.fromarray(np.zeros((30, 20, 3), np.uint8)).save(d / "oblong.png")
    sds = _state_dicts_from_bundle(load_face_detector())
    mt, nan_mt = d / "mtcnn_pt", d / "nan_mtcnn_pt"
    for folder, poison in ((mt, False), (nan_mt, True)):
        folder.mkdir()
        for net, sd in sds.items():
            sd = dict(sd, **({"conv1.bias": np.full_like(sd["conv1.bias"], np.nan)} if poison else {}))
            save_zip(sd, folder / f"{net}.pt")
    from convert_weights.e4e import convert_encoder

    convert_encoder(golden_dir / "e4e_tiny.pt", d / "enc")
    eck = load_checkpoint(golden_dir / "e4e_tiny.pt")
    eck["state_dict"]["encoder.latlayer1.bias"] = np.full_like(eck["state_dict"]["encoder.latlayer1.bias"], np.nan)
    save_zip(eck, d / "nan_e4e.pt")
    nan_enc = _nan_model_folder(d / "enc", d / "nan_enc")
    assert main(["convert", "generator", str(golden_dir / "rosinality_tiny.pt"), str(d / "ros_gen")]) == 0
    from styleclip_jax.toyworld.clips import toy_clip, write_clip

    write_clip(d / "clip.mp4", toy_clip(load_generator(gen), 4))
    for part in ("backbone", "heads"):
        sd = load_checkpoint(golden_dir / f"lpips_alex_{part}.pth")
        k = sorted(sd)[0]
        save_zip(dict(sd, **{k: np.full_like(sd[k], np.nan)}), d / f"nan_lpips_{part}.pth")
    onnx = d / "model.onnx"
    onnx.write_bytes(b"\x08\x07" + np.random.default_rng(2).bytes(512))  # for truncation only
    return SimpleNamespace(
        d=d,
        gen=gen,
        clip=TOY / "clip",
        stats=TOY / "global",
        mapper=mapper,
        lat=lat,
        nan_lat=nan_lat,
        shape_lat=shape_lat,
        img=img,
        nan_ck=nan_ck,
        fs3=fs3,
        nan_fs3=nan_fs3,
        shape_fs3=shape_fs3,
        onnx=onnx,
        nan_gen=_nan_model_folder(gen, d / "nan_gen"),
        nan_clip=_nan_model_folder(TOY / "clip", d / "nan_clip"),
        nan_mapper=_nan_model_folder(mapper, d / "nan_mapper"),
        golden=golden_dir,
        nan_idnet=nan_idnet,
        nan_mapper_ck=nan_mapper_ck,
        nan_stats=nan_stats,
        photo=photo,
        aligned=d / "aligned",
        tiny=d / "tiny.png",
        oblong=d / "oblong.png",
        mt=mt,
        nan_mt=nan_mt,
        enc=d / "enc",
        nan_enc=nan_enc,
        nan_e4e=d / "nan_e4e.pt",
        nan_parser_ck=d / "nan_parser.pth",
        parser=d / "parser",
        nan_parser=_nan_model_folder(d / "parser", d / "nan_parser"),
        ros_gen=d / "ros_gen",
        clip_mp4=d / "clip.mp4",
        nan_lpips_backbone=d / "nan_lpips_backbone.pth",
        nan_lpips_heads=d / "nan_lpips_heads.pth",
    )


# (name, argv template with {X} for the varied input and {OUT} for the output, input kind, nan, wrong shape)
def _commands(e):
    ros, clip_pt = e.golden / "rosinality_tiny.pt", e.golden / "clip_tiny_openai.pt"
    g, c, m, s = e.gen, e.clip, e.mapper, e.stats
    return [
        ("convert generator", ["convert", "generator", "{X}", "{OUT}"], "file", ros, e.nan_ck, clip_pt),
        ("convert clip", ["convert", "clip", "{X}", "{OUT}"], "file", clip_pt, None, ros),
        ("convert idnet", ["convert", "idnet", "{X}", "{OUT}"], "file", e.golden / "irse50_tiny.pth", e.nan_idnet, ros),
        (
            "convert mapper",
            ["convert", "mapper", "{X}", "{OUT}"],
            "file",
            e.golden / "mapper_tiny.pt",
            e.nan_mapper_ck,
            ros,
        ),
        (
            "generate latents",
            ["generate", "--generator", g, "--latents", "{X}", "--out", "{OUT}.npz"],
            "file",
            e.lat,
            e.nan_lat,
            e.shape_lat,
        ),
        (
            "generate generator",
            ["generate", "--generator", "{X}", "--seeds", "0", "--out", "{OUT}.png"],
            "folder",
            g,
            e.nan_gen,
            c,
        ),
        ("embed image", ["embed", "--clip", c, "--image", "{X}", "--out", "{OUT}.npz"], "file", e.img, None, None),
        (
            "embed clip",
            ["embed", "--clip", "{X}", "--text", "a red object", "--out", "{OUT}.npz"],
            "folder",
            c,
            e.nan_clip,
            g,
        ),
        (
            "edit optimize",
            [
                "edit",
                "optimize",
                "--generator",
                g,
                "--clip",
                c,
                "--text",
                "a red object",
                "--latents",
                "{X}",
                "--steps",
                "1",
                "--out",
                "{OUT}",
            ],
            "file",
            e.lat,
            e.nan_lat,
            e.shape_lat,
        ),
        (
            "mapper apply latents",
            ["mapper", "apply", "--mapper", m, "--generator", g, "--latents", "{X}", "--out", "{OUT}.png"],
            "file",
            e.lat,
            e.nan_lat,
            e.shape_lat,
        ),
        (
            "mapper apply mapper",
            ["mapper", "apply", "--mapper", "{X}", "--generator", g, "--seeds", "0", "--out", "{OUT}.png"],
            "folder",
            m,
            e.nan_mapper,
            g,
        ),
        (
            "mapper train",
            [
                "mapper",
                "train",
                "--generator",
                g,
                "--clip",
                c,
                "--description",
                "a red object",
                "--latents",
                "{X}",
                "--id-lambda",
                "0",
                "--steps",
                "1",
                "--out",
                "{OUT}",
            ],
            "file",
            e.lat,
            e.nan_lat,
            e.shape_lat,
        ),
        (
            "global edit latents",
            [
                "global",
                "edit",
                "--generator",
                g,
                "--clip",
                c,
                "--stats",
                s,
                "--neutral",
                "object",
                "--target",
                "red object",
                "--latents",
                "{X}",
                "--out",
                "{OUT}.png",
            ],
            "file",
            e.lat,
            e.nan_lat,
            e.shape_lat,
        ),
        (
            "global edit stats",
            [
                "global",
                "edit",
                "--generator",
                g,
                "--clip",
                c,
                "--stats",
                "{X}",
                "--neutral",
                "object",
                "--target",
                "red object",
                "--seeds",
                "0",
                "--out",
                "{OUT}.png",
            ],
            "folder",
            s,
            e.nan_stats,
            g,
        ),
        (
            "global import",
            ["global", "import", "--generator", g, "--fs3", "{X}", "--n-stats", "10", "--out", "{OUT}"],
            "file",
            e.fs3,
            e.nan_fs3,
            e.shape_fs3,
        ),
        (
            "global precompute",
            [
                "global",
                "precompute",
                "--generator",
                "{X}",
                "--clip",
                c,
                "--n-stats",
                "10",
                "--images",
                "1",
                "--out",
                "{OUT}",
            ],
            "folder",
            g,
            e.nan_gen,
            c,
        ),
        (
            "export generator",
            ["export", "generator", "--generator", "{X}", "--out", "{OUT}.onnx"],
            "folder",
            g,
            e.nan_gen,
            m,
        ),
        (
            "run-onnx",
            ["run-onnx", "--model", "{X}", "--latents", e.lat, "--out", "{OUT}.npz"],
            "file",
            e.onnx,
            None,
            e.lat,
        ),
        ("align", ["align", "{X}", "--out", "{OUT}"], "file", e.photo, None, e.tiny),
        (
            "paste-back",
            [
                "paste-back",
                "--photo",
                e.photo,
                "--crop",
                "{X}",
                "--faces",
                e.aligned / "faces.json",
                "--out",
                "{OUT}.png",
            ],
            "file",
            e.aligned / "photo.png",
            None,
            e.oblong,
        ),
        ("convert mtcnn", ["convert", "mtcnn", "{X}", "{OUT}"], "folder", e.mt, e.nan_mt, e.gen),
        ("convert encoder", ["convert", "encoder", "{X}", "{OUT}"], "file", e.golden / "e4e_tiny.pt", e.nan_e4e, ros),
        (
            "invert images",
            ["invert", "--encoder", e.enc, "--images", "{X}", "--out", "{OUT}.npz"],
            "file",
            e.photo,
            None,
            None,
        ),
        (
            "invert encoder",
            ["invert", "--encoder", "{X}", "--images", e.photo, "--out", "{OUT}.npz"],
            "folder",
            e.enc,
            e.nan_enc,
            e.gen,
        ),
        (
            "export encoder",
            ["export", "encoder", "--encoder", "{X}", "--out", "{OUT}.onnx"],
            "folder",
            e.enc,
            e.nan_enc,
            e.gen,
        ),
        (
            "encoder train",
            ["encoder", "train", "--generator", "{X}", "--steps", "1", "--out", "{OUT}"],
            "folder",
            g,
            e.nan_gen,
            c,
        ),
        (
            "convert parser",
            ["convert", "parser", "{X}", "{OUT}"],
            "file",
            e.golden / "bisenet_tiny.pth",
            e.nan_parser_ck,
            ros,
        ),
        ("parse images", ["parse", "{X}", "--parser", e.parser, "--out", "{OUT}"], "file", e.photo, None, None),
        (
            "parse parser",
            ["parse", str(e.photo), "--parser", "{X}", "--out", "{OUT}"],
            "folder",
            e.parser,
            e.nan_parser,
            g,
        ),
        (
            "convert lpips backbone",
            ["convert", "lpips", "--backbone", "{X}", "--heads", e.golden / "lpips_alex_heads.pth", "{OUT}"],
            "file",
            e.golden / "lpips_alex_backbone.pth",
            e.nan_lpips_backbone,
            ros,
        ),
        (
            "convert lpips heads",
            ["convert", "lpips", "--backbone", e.golden / "lpips_alex_backbone.pth", "--heads", "{X}", "{OUT}"],
            "file",
            e.golden / "lpips_alex_heads.pth",
            e.nan_lpips_heads,
            e.golden / "lpips_vgg_heads.pth",
        ),
        ("export torch", ["export", "torch", "{X}", "{OUT}.pt"], "folder", e.ros_gen, e.nan_gen, c),
        (
            "video",
            ["video", "{X}", "--out", "{OUT}.mp4", "--method", "global", "--generator", g, "--encoder", TOY / "encoder"]
            + ["--clip", c, "--stats", s, "--target", "a red object", "--align", "none"],
            "file",
            e.clip_mp4,
            None,
            None,
        ),
    ]


# Inputs with no NaN or wrong-shape form: a TorchScript CLIP (its NaN path is the shared weight
# check, covered by the others), an image (pixels are never NaN), an ONNX file (NaN weights are
# not ours to check; inputs are).
N_COMMANDS = 33
NO_FORM = {(1, "nan"), (6, "nan"), (6, "shape"), (17, "nan"), (18, "nan"), (19, "nan"), (22, "nan"), (22, "shape")}
NO_FORM |= {
    (27, "nan"),
    (27, "shape"),
    (32, "nan"),
    (32, "shape"),
}  # a photo: pixels are never NaN, and any size parses (resized to 512)
CASES = [(i, v) for i in range(N_COMMANDS) for v in VARIANTS if (i, v) not in NO_FORM]


def test_the_table_covers_every_command(env):
    from styleclip_jax.cli.main import build_parser

    assert len(_commands(env)) == N_COMMANDS
    names = {" ".join(a for a in argv[:2] if not a.startswith("-") and "{" not in a) for _, argv, *_ in _commands(env)}
    top = build_parser()._actions[-1].choices
    leaves = {
        f"{c} {s}" if hasattr(p, "_subparsers") and p._subparsers else c
        for c, p in top.items()
        for s in (p._subparsers._group_actions[0].choices if p._subparsers else [""])
    }
    # commands without a file input are covered by FLAGS (demo, evaluate, toy) or need none (embed --text)
    # ui: its model folders go through the same loaders; a passing case would start a server
    assert leaves - names <= {
        "demo",
        "evaluate",
        "toy train-generator",
        "toy train-gan",
        "toy train-clip",
        "toy train-reader",
        "export mapper",
        "export global",
        "export photo-edit",
        "ui",
    }, leaves - names


def _left_behind(out: Path) -> list[str]:
    found = [
        p
        for p in (
            out,
            out.with_name(out.name + ".npz"),
            out.with_name(out.name + ".png"),
            out.with_name(out.name + ".onnx"),
            out.with_name(out.name + ".pt"),
            out.with_name(out.name + ".mp4"),
        )
        if p.exists()
    ]
    return [str(p) for p in found if p.is_file() or any(p.iterdir())]


def _check(rc, err, out):
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and "Traceback" not in err and "error" in lines[0], err
    assert not _left_behind(out)


@pytest.mark.parametrize("index,variant", CASES)
def test_bad_file_or_folder(env, index, variant, tmp_path, capsys):
    name, argv, kind, good, nan, shape = _commands(env)[index]
    maker = _file_variant if kind == "file" else _folder_variant
    bad = maker(variant, Path(good), tmp_path, nan, shape)
    out = tmp_path / "out"
    rc, err = run([str(bad) if a == "{X}" else str(a).replace("{OUT}", str(out)) for a in argv], capsys)
    _check(rc, err, out)


FLAGS = [
    ["generate", "--generator", "{G}", "--seeds", "0", "--truncation", "nan", "--out", "{OUT}.png"],
    ["generate", "--generator", "{G}", "--seeds", "0", "--batch-size", "0", "--out", "{OUT}.png"],
    ["generate", "--generator", "{G}", "--seeds", "0", "--nrow", "-1", "--out", "{OUT}.png"],
    ["generate", "--generator", "{G}", "--seeds", "0", "--truncation-cutoff", "-1", "--out", "{OUT}.png"],
    ["generate", "--generator", "{G}", "--seeds", "0-x", "--out", "{OUT}.png"],
    ["generate", "--generator", "{G}", "--seeds", "0", "--translate", "0.1", "--out", "{OUT}.png"],
    ["generate", "--generator", "{G}", "--seeds", "0", "--rotate", "nan", "--out", "{OUT}.png"],
    ["generate", "--generator", "{G}", "--seeds", "0", "--rotate", "10", "--out", "{OUT}.png"],  # a StyleGAN2
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--seeds",
        "0",
        "--lr",
        "1e30",
        "--out",
        "{OUT}",
    ],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--seeds",
        "0",
        "--steps",
        "0",
        "--out",
        "{OUT}",
    ],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--seeds",
        "0",
        "--rows",
        "x",
        "--out",
        "{OUT}",
    ],
    ["edit", "optimize", "--generator", "{G}", "--clip", "{C}", "--text", "", "--seeds", "0", "--out", "{OUT}"],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "word " * 100,
        "--seeds",
        "0",
        "--out",
        "{OUT}",
    ],
    # regions, keep-texts, composition (#20): a photo is the wrong size for a mask, boxes must lie inside
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--seeds",
        "0",
        "--mask",
        "{P}",
        "--out",
        "{OUT}",
    ],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--seeds",
        "0",
        "--box",
        "0,0,0,4",
        "--out",
        "{OUT}",
    ],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "b",
        "--compose",
        "--weights",
        "1",
        "--seeds",
        "0",
        "--out",
        "{OUT}",
    ],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--seeds",
        "0",
        "--blend",
        "2",
        "--out",
        "{OUT}",
    ],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--keep",
        "",
        "--seeds",
        "0",
        "--out",
        "{OUT}",
    ],
    [
        "global",
        "edit",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--stats",
        "{S}",
        "--neutral",
        "a",
        "--target",
        "b",
        "--seeds",
        "0",
        "--mask",
        "{P}",
        "--out",
        "{OUT}.png",
    ],
    [
        "global",
        "edit",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--stats",
        "{S}",
        "--neutral",
        "a",
        "--target",
        "b",
        "--seeds",
        "0",
        "--box",
        "5,5,1,1",
        "--out",
        "{OUT}.png",
    ],
    [
        "global",
        "edit",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--stats",
        "{S}",
        "--neutral",
        "a",
        "--target",
        "b",
        "--seeds",
        "0",
        "--region-threshold",
        "0",
        "--out",
        "{OUT}.png",
    ],
    # the population estimator and warm start: an unknown source, a warm start without its stats
    [
        "global",
        "edit",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--stats",
        "{S}",
        "--neutral",
        "a",
        "--target",
        "b",
        "--seeds",
        "0",
        "--source",
        "nope",
        "--out",
        "{OUT}.png",
    ],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--seeds",
        "0",
        "--warm-start",
        "1",
        "--out",
        "{OUT}",
    ],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--seeds",
        "0",
        "--stats",
        "{S}",
        "--out",
        "{OUT}",
    ],
    [
        "edit",
        "optimize",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--text",
        "a",
        "--seeds",
        "0",
        "--warm-start",
        "-1",
        "--stats",
        "{S}",
        "--out",
        "{OUT}",
    ],
    [
        "mapper",
        "apply",
        "--mapper",
        "{M}",
        "--generator",
        "{G}",
        "--seeds",
        "0",
        "--also",
        "{M}",
        "nan",
        "--out",
        "{OUT}.png",
    ],
    [
        "mapper",
        "train",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--description",
        "a",
        "--box",
        "0,0,999,999",
        "--out",
        "{OUT}",
    ],
    ["evaluate", "--compose", "colour", "--samples", "0", "--inversion", "0"],
    [
        "mapper",
        "apply",
        "--mapper",
        "{M}",
        "--generator",
        "{G}",
        "--seeds",
        "0",
        "--alpha",
        "inf",
        "--out",
        "{OUT}.png",
    ],
    [
        "mapper",
        "apply",
        "--mapper",
        "{M}",
        "--generator",
        "{G}",
        "--seeds",
        "0",
        "--batch-size",
        "0",
        "--out",
        "{OUT}.png",
    ],
    ["mapper", "train", "--generator", "{G}", "--clip", "{C}", "--description", "a", "--lr", "1e30", "--out", "{OUT}"],
    ["mapper", "train", "--generator", "{G}", "--clip", "{C}", "--description", " ", "--out", "{OUT}"],
    [
        "global",
        "edit",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--stats",
        "{S}",
        "--neutral",
        "a",
        "--target",
        "b",
        "--seeds",
        "0",
        "--beta",
        "2",
        "--out",
        "{OUT}.png",
    ],
    [
        "global",
        "edit",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--stats",
        "{S}",
        "--neutral",
        "a",
        "--target",
        "b",
        "--seeds",
        "0",
        "--alphas=,",
        "--out",
        "{OUT}.png",
    ],
    [
        "global",
        "edit",
        "--generator",
        "{G}",
        "--clip",
        "{C}",
        "--stats",
        "{S}",
        "--neutral",
        "a",
        "--target",
        "b",
        "--seeds",
        "0",
        "--also",
        "a",
        "c",
        "nan",
        "auto",
        "--out",
        "{OUT}.png",
    ],
    ["global", "precompute", "--generator", "{G}", "--clip", "{C}", "--chunk", "0", "--out", "{OUT}"],
    ["global", "precompute", "--generator", "{G}", "--clip", "{C}", "--image-batch", "0", "--out", "{OUT}"],
    ["export", "generator", "--generator", "{G}", "--opset", "99", "--out", "{OUT}.onnx"],
    ["run-onnx", "--model", "{O}", "--seeds", "0", "--psi", "nan", "--out", "{OUT}.npz"],
    ["run-onnx", "--model", "{O}", "--seeds", "0", "--batch-size", "0", "--out", "{OUT}.npz"],
    ["demo", "--samples", "0", "--out", "{OUT}"],
    ["demo", "--mapper-steps", "0", "--out", "{OUT}"],
    ["evaluate", "--n", "0"],
    ["toy", "train-generator", "{OUT}", "--mix-prob", "1.5"],
    ["align", "{P}", "--size", "0", "--out", "{OUT}"],
    ["ui", "--port", "0"],
    ["encoder", "train", "--generator", "{G}", "--steps", "-1", "--out", "{OUT}"],
    ["encoder", "train", "--generator", "{G}", "--input-size", "40", "--out", "{OUT}"],
    ["invert", "--encoder", "{G}", "--images", "{P}", "--batch-size", "0", "--out", "{OUT}.npz"],
    ["invert", "--encoder", "{G}", "--images", "{P}", "--refine", "3", "--refine-lr", "0", "--out", "{OUT}.npz"],
    ["ui", "--generator", "{G}", "--port", "7"],
    ["ui", "--encoder", "{G}", "--port", "7"],
    ["paste-back", "--photo", "{P}", "--crop", "{P}", "--faces", "{F}", "--feather", "0.9", "--out", "{OUT}.png"],
    ["paste-back", "--photo", "{P}", "--crop", "{P}", "--faces", "{F}", "--face", "0", "--out", "{OUT}.png"],
]


@pytest.mark.parametrize("argv", FLAGS, ids=[f"{i}-{a[0]}" for i, a in enumerate(FLAGS)])
def test_out_of_range_flags(env, argv, tmp_path, capsys):
    out = tmp_path / "out"
    subs = {
        "{G}": env.gen,
        "{C}": env.clip,
        "{S}": env.stats,
        "{M}": env.mapper,
        "{O}": env.onnx,
        "{P}": env.photo,
        "{F}": env.aligned / "faces.json",
    }
    rc, err = run([str(subs.get(a, a)).replace("{OUT}", str(out)) for a in argv], capsys)
    _check(rc, err, out)
