"""Face detection (bundled MTCNN weights) and FFHQ alignment vs facenet-pytorch / e4e (golden
mtcnn_faces, real weights, real faces), the converter, paste-back and bad photos."""

import json

import numpy as np
import pytest
from PIL import Image

from styleclip_jax.cli.main import main
from styleclip_jax.errors import CheckpointError, InputError
from styleclip_jax.faces import align_face, paste_back
from styleclip_jax.models.mtcnn import load_face_detector
from styleclip_jax.models.mtcnn.detect import area_resize, crops, normalise

ALIGN = ["a_ffhq2_256", "b_ffhq5_crop800x874", "c_ffhq0_rot15_256", "d_ffhq3_small_on_canvas"]


@pytest.fixture(scope="module")
def g(golden_dir):
    return np.load(golden_dir / "mtcnn_faces.npz")


@pytest.fixture(scope="module")
def det():
    return load_face_detector()


def nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


def test_each_net_and_its_inputs_golden(g, det):
    reg, prob = det.pnet(nhwc(g["pnet_in"]))
    np.testing.assert_allclose(reg, nhwc(g["pnet_reg"]), atol=1e-5, rtol=0)
    np.testing.assert_allclose(prob, nhwc(g["pnet_prob"]), atol=1e-5, rtol=0)
    reg, prob = det.rnet(nhwc(g["rnet_in"]))
    np.testing.assert_allclose(reg, g["rnet_reg"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(prob, g["rnet_prob"], atol=1e-5, rtol=0)
    reg, marks, prob = det.onet(nhwc(g["onet_in"]))
    for ours, key in ((reg, "onet_reg"), (marks, "onet_landmarks"), (prob, "onet_prob")):
        np.testing.assert_allclose(ours, g[key], atol=1e-5, rtol=0)
    # the inputs rebuilt from the uint8 images: pyramid level and the clipped crops
    img = g["img_a_ffhq2_256"].astype(np.float32)
    side = int(256 * float(g["pnet_scale"]) + 1)
    np.testing.assert_allclose(normalise(area_resize(img, side, side)), nhwc(g["pnet_in"])[0], atol=1e-5, rtol=0)
    for net, size in (("rnet", 24), ("onet", 48)):
        src = g["img_" + str(g[f"{net}_source_image"])].astype(np.float32)
        np.testing.assert_allclose(crops(src, g[f"{net}_crop_yeyxex"], size), nhwc(g[f"{net}_in"]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("i", range(6))
def test_detect_golden(g, det, i):
    name = str(g["image_names"][i])
    faces = det.detect(g["img_" + name])
    want = g[f"det_{name}_boxes"]
    assert len(faces) == len(want)  # same count; and same order below
    np.testing.assert_allclose(faces.boxes, want, atol=1e-3, rtol=0)
    np.testing.assert_allclose(faces.points, g[f"det_{name}_points"], atol=1e-3, rtol=0)
    np.testing.assert_allclose(faces.probs, g[f"det_{name}_probs"], atol=1e-5, rtol=0)


def test_pipeline_internals_golden(g, det):
    """e_two_faces: the integer bookkeeping matches exactly when the box maths is float32."""
    trace = {}
    faces = det.detect(g["img_" + str(g["dbg_image"])], trace=trace)
    np.testing.assert_array_equal(trace["scales"], g["dbg_scales"])
    np.testing.assert_array_equal([len(c) for c in trace["stage1_candidates"]], g["dbg_stage1_candidates_per_scale"])
    np.testing.assert_allclose(np.concatenate(trace["stage1_candidates"]), g["dbg_stage1_candidates"], atol=1e-4)
    np.testing.assert_allclose(trace["stage1_boxes"], g["dbg_stage1_boxes_final"], atol=1e-3)
    np.testing.assert_array_equal(trace["stage1_pad"], g["dbg_stage1_pad_yeyxex"])
    np.testing.assert_array_equal(trace["stage2_keep"], g["dbg_stage2_keep_after_nms"])
    np.testing.assert_array_equal(trace["stage2_pad"], g["dbg_stage2_pad_yeyxex"])
    np.testing.assert_allclose(trace["stage3_boxes_prenms"][:, :4], g["dbg_stage3_boxes_prenms"], atol=1e-3)
    np.testing.assert_array_equal(trace["stage3_keep"], g["dbg_stage3_keep"])
    # area order != score order here: the larger face (lower probability) comes first
    assert faces.probs[0] < faces.probs[1]


@pytest.mark.parametrize("name", ALIGN)
def test_alignment_golden(g, name):
    al = align_face(g["img_" + name], g[f"align_{name}_points4"], 256)
    np.testing.assert_allclose(al.quad, g[f"align_{name}_quad"], atol=1e-9, rtol=0)
    assert abs(al.qsize - float(g[f"align_{name}_qsize"])) < 1e-9
    np.testing.assert_allclose(al.quad_final, g[f"align_{name}_quad_final"], atol=1e-9, rtol=0)
    np.testing.assert_array_equal(al.crop_box, g[f"align_{name}_crop_box"])
    np.testing.assert_array_equal(al.pad, g[f"align_{name}_pad"])
    misc = g[f"align_{name}_misc"]
    assert (al.shrink, al.border, int(al.cropped), int(al.padded)) == (misc[0], misc[3], misc[4], misc[5])
    np.testing.assert_array_equal(al.image, g[f"align_{name}_out"])


def test_alignment_from_our_own_points(g, det):
    """Chained from our detections (points within 1e-3 px of upstream's), the crops differ from the
    golden crops by ±1 on a few dozen values (sub-pixel quad moves); the bound leaves room for
    other CPUs, whose points differ by up to 1e-3 px."""
    for name in ALIGN:
        img = g["img_" + name]
        out = align_face(img, det.detect(img).points[0], 256).image.astype(int)
        diff = np.abs(out - g[f"align_{name}_out"])
        assert (diff > 0).mean() < 5e-3 and diff.max() <= 3, (name, (diff > 0).mean(), diff.max())  # seen 2e-4, 1


def test_paste_back_round_trip(g, det):
    """Align, paste the unedited crop back: inside the face the photo comes back within ~1 level
    (two resamplings); the photo is untouched outside the quad."""
    img = g["img_e_two_faces"]
    al = align_face(img, det.detect(img).points[0], 1024)
    back = paste_back(img, al.image, al.quad)
    s = al.image.shape[0]
    inner = np.zeros((s, s, 3), np.uint8)
    inner[s // 4 : 3 * s // 4, s // 4 : 3 * s // 4] = 255
    face = paste_back(np.zeros_like(img), inner, al.quad, feather=1e-6)[..., 0] > 250
    err = np.abs(back.astype(int) - img.astype(int))
    assert face.sum() > 10_000
    assert err[face].mean() < 1.5 and np.percentile(err[face], 99) <= 3, (err[face].mean(), err[face].max())
    outside = paste_back(np.zeros_like(img), np.full_like(inner, 255), al.quad)[..., 0] == 0
    np.testing.assert_array_equal(back[outside], img[outside])


def _state_dicts_from_bundle(det):
    """The bundled tensors written back in facenet-pytorch's layout (for converter tests)."""
    from convert_weights.mtcnn import LAYERS, rename_table

    t = det.tensors()
    out = {}
    for net in LAYERS:
        sd = {}
        for ours, theirs, transform in rename_table(net):
            v = t[ours]
            sd[theirs] = np.transpose(v, (3, 2, 0, 1)) if v.ndim == 4 else (v.T if transform is not None else v)
        out[net] = sd
    return out


def test_converter_round_trip_and_bad_keys(tmp_path, det):
    from torch_format import save_zip

    from convert_weights.mtcnn import convert_mtcnn

    sds = _state_dicts_from_bundle(det)
    for net, sd in sds.items():
        save_zip(sd, tmp_path / f"{net}.pt")
    again = convert_mtcnn(tmp_path, tmp_path / "out")
    for k, v in det.tensors().items():
        np.testing.assert_array_equal(again.tensors()[k], v)
    bad = dict(sds["rnet"])
    bad.pop("dense4.bias")
    save_zip(bad, tmp_path / "rnet.pt")
    with pytest.raises(CheckpointError, match="missing key 'dense4.bias'"):
        convert_mtcnn(tmp_path)
    save_zip(dict(sds["rnet"], extra=np.zeros(3, np.float32)), tmp_path / "rnet.pt")
    with pytest.raises(CheckpointError, match=r"unused keys \['extra'\]"):
        convert_mtcnn(tmp_path)
    save_zip(dict(sds["rnet"], **{"prelu4.weight": np.zeros(7, np.float32)}), tmp_path / "rnet.pt")
    with pytest.raises(CheckpointError, match="rnet.prelu4.slope"):
        convert_mtcnn(tmp_path)
    (tmp_path / "onet.pt").unlink()
    with pytest.raises(CheckpointError, match="onet.pt"):
        convert_mtcnn(tmp_path)


def _save(img, path, **kw):
    img.save(path, **kw)
    return path


def test_photos_of_every_kind(tmp_path, g, det):
    from styleclip_jax.io.images import read_image

    a = Image.fromarray(g["img_a_ffhq2_256"])
    want = det.detect(g["img_a_ffhq2_256"])
    # EXIF orientation 8: stored turned clockwise, shown upright; as stored (what upstream reads)
    # there is no face (golden bad_rot90)
    exif = Image.Exif()
    exif[0x0112] = 8
    rotated = _save(Image.fromarray(np.rot90(g["img_a_ffhq2_256"], k=-1)), tmp_path / "exif.png", exif=exif)
    assert len(det.detect(np.asarray(Image.open(rotated).convert("RGB")))) == len(g["bad_rot90_probs"]) == 0
    got = det.detect(read_image(rotated))
    assert len(got) == 1 and np.abs(got.points - want.points).max() < 3
    kinds = {
        "gray": a.convert("L"),
        "palette": a.convert("P"),
        "rgba": a.convert("RGBA"),
        "cmyk": a.convert("CMYK"),
        "i16": Image.fromarray(np.asarray(a.convert("L")).astype(np.uint16) * 257),
    }
    for kind, im in kinds.items():
        p = _save(im, tmp_path / f"{kind}.{'jpg' if kind == 'cmyk' else 'png'}")
        x = read_image(p)
        assert x.dtype == np.uint8 and x.shape == (256, 256, 3), kind
        assert len(det.detect(x)) == 1, kind
    with pytest.raises(InputError, match="too small to hold a face"):
        det.detect(np.zeros((19, 19, 3), np.uint8))
    with pytest.raises(InputError, match="uint8 RGB"):
        det.detect(g["img_a_ffhq2_256"] / 255.0)
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    with pytest.raises(InputError, match="corrupt.png"):
        read_image(tmp_path / "corrupt.png")


def test_align_and_paste_back_cli(tmp_path, g, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("e_two_faces", "f_gradient_noface"):
        Image.fromarray(g["img_" + name]).save(photos / f"{name}.png")
    out = tmp_path / "aligned"
    assert main(["align", str(photos), "--out", str(out), "--faces", "all"]) == 0
    report = json.loads((out / "faces.json").read_text())
    assert [r["image"] for r in report] == ["e_two_faces.png", "f_gradient_noface.png"]
    faces = report[0]["faces"]
    assert [f["crop"] for f in faces] == ["e_two_faces.png", "e_two_faces_1.png"]
    np.testing.assert_allclose([f["box"] for f in faces], g["det_e_two_faces_boxes"], atol=1e-3)
    assert report[1] == {"image": "f_gradient_noface.png", "faces": [], "skipped": "no face found"}
    assert Image.open(out / "e_two_faces_1.png").size == (256, 256)
    # a single file without a face is an error naming it, and nothing is written
    rc = main(["align", str(photos / "f_gradient_noface.png"), "--out", str(tmp_path / "none")])
    assert rc == 2 and "f_gradient_noface.png: no face found" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
    # paste an edited crop back: the face changes, the rest of the photo does not
    crop = np.asarray(Image.open(out / "e_two_faces.png"))
    Image.fromarray(255 - crop).save(tmp_path / "edited.png")
    assert (
        main(
            [
                "paste-back",
                "--photo",
                str(photos / "e_two_faces.png"),
                "--crop",
                str(tmp_path / "edited.png"),
                "--faces",
                str(out / "faces.json"),
                "--out",
                str(tmp_path / "back.png"),
            ]
        )
        == 0
    )
    back = np.asarray(Image.open(tmp_path / "back.png")).astype(int)
    orig = g["img_e_two_faces"].astype(int)
    x1, y1, x2, y2 = (int(v) for v in g["det_e_two_faces_boxes"][0])
    assert np.abs(back - orig)[y1 + 20 : y2 - 20, x1 + 20 : x2 - 20].mean() > 50
    assert np.abs(back - orig)[:, :20].max() == 0
    rc = main(
        [
            "paste-back",
            "--photo",
            str(photos / "e_two_faces.png"),
            "--crop",
            str(tmp_path / "edited.png"),
            "--faces",
            str(out / "faces.json"),
            "--face",
            "3",
            "--out",
            str(tmp_path / "b3.png"),
        ]
    )
    assert rc == 2 and "2 aligned face(s) (1-2); face 3 does not exist" in capsys.readouterr().err
    # faces.json and crops as inputs: bad quads and a 1x1 crop are one line, nothing written
    good = json.loads((out / "faces.json").read_text())
    bad_quads = {"string": "abc", "nan": [[float("nan"), 0]] * 4, "short": [[0, 0]] * 3, "flat": [[5, 5]] * 4}
    Image.fromarray(crop[:1, :1]).save(tmp_path / "tiny.png")
    for name, quad in list(bad_quads.items()) + [("tiny", None)]:
        report = json.loads(json.dumps(good))
        if quad is not None:
            report[0]["faces"][0]["quad"] = quad
        (tmp_path / f"{name}.json").write_text(json.dumps(report))
        argv = ["paste-back", "--photo", str(photos / "e_two_faces.png"), "--faces", str(tmp_path / f"{name}.json")]
        argv += ["--crop", str(tmp_path / ("tiny.png" if name == "tiny" else "edited.png"))]
        assert main(argv + ["--out", str(tmp_path / f"{name}_out.png")]) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and ("quad" in err[0] or "too small" in err[0]), (name, err)
        assert not (tmp_path / f"{name}_out.png").exists()
