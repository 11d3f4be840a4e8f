"""The face-parsing BiSeNet against face-parsing.PyTorch's own outputs (golden README §15): every
stored intermediate, the three heads, the logits and the label maps, through the converter (zip
and legacy checkpoints) and through `styleclip-jax parse`; the converter's strictness; named
regions on hand-built label maps; one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from styleclip_jax.errors import CheckpointError, InputError

TAPS_1E4 = ("stem", "feat_res8", "feat16", "feat32", "feat32_arm", "feat16_arm", "feat_cp16", "feat_cp8", "feat_fuse")
TAPS_1E5 = ("avg", "arm32_atten", "arm16_atten", "ffm_atten")


def nchw(a):
    return np.transpose(np.asarray(a), (0, 3, 1, 2))


@pytest.fixture(scope="module")
def golden(golden_dir):
    return np.load(golden_dir / "bisenet_tiny.npz")


@pytest.fixture(scope="module")
def parser(golden_dir):
    from convert_weights.parser import convert_parser

    return convert_parser(golden_dir / "bisenet_tiny.pth")


def test_preprocessing_is_bit_exact(golden):
    from styleclip_jax.models.parser.handle import preprocess_photos

    x = preprocess_photos(list(golden["x_uint8"]))
    np.testing.assert_array_equal(nchw(x[:1]), golden["x_face0"])


def test_every_intermediate_and_head_matches_upstream(parser, golden):
    from styleclip_jax.models.parser.handle import preprocess_photos

    x = preprocess_photos(list(golden["x_uint8"]))
    (out, out16, out32), taps = parser.heads(x, taps=True)  # batch 3 (upstream: bit-identical to batch 1)
    for k in TAPS_1E4:
        np.testing.assert_allclose(nchw(taps[k])[:1], golden[f"face0_{k}"], atol=1e-4, rtol=0, err_msg=k)
    for k in TAPS_1E5:
        np.testing.assert_allclose(nchw(taps[k])[:1], golden[f"face0_{k}"], atol=1e-5, rtol=0, err_msg=k)
    for k in ("head_out", "head_out16", "head_out32"):
        np.testing.assert_allclose(nchw(taps[k]), golden[f"{k}_lowres"], atol=3e-4, rtol=0, err_msg=k)
    (cy0, cy1, cx0, cx1), (ky0, ky1, kx0, kx1) = golden["crop_boxes_y0_y1_x0_x1"]
    np.testing.assert_allclose(nchw(out)[:, :, cy0:cy1, cx0:cx1], golden["logits_crop_center64"], atol=3e-4, rtol=0)
    np.testing.assert_allclose(nchw(out)[:, :, ky0:ky1, kx0:kx1], golden["logits_crop_corner64"], atol=3e-4, rtol=0)
    np.testing.assert_allclose(nchw(out16)[:, :, ky0:ky1, kx0:kx1], golden["out16_crop_corner64"], atol=3e-4, rtol=0)
    np.testing.assert_allclose(nchw(out32)[:, :, ky0:ky1, kx0:kx1], golden["out32_crop_corner64"], atol=3e-4, rtol=0)
    agree = (np.argmax(np.asarray(out), -1) == golden["labels"]).mean()
    assert agree >= 0.9999, agree  # ties within float32 rounding may flip a few pixels on another machine


def test_odd_size_uses_legacy_nearest(parser, golden):
    """500x380: the context path's nearest steps are not x2 there (half-pixel nearest is off by 3.6)."""
    y0, y1, x0, x1 = golden["odd_crop_y0_y1_x0_x1"]
    x = np.transpose(golden["x_face0"][:, :, y0:y1, x0:x1], (0, 2, 3, 1))
    (out, _, _), taps = parser.heads(x, taps=True)
    for k in ("head_out", "head_out16", "head_out32"):
        np.testing.assert_allclose(nchw(taps[k]), golden[f"odd_{k}_lowres"], atol=3e-4, rtol=0, err_msg=k)
    np.testing.assert_allclose(nchw(taps["feat_cp8"]), golden["odd_feat_cp8"], atol=3e-4, rtol=0)
    np.testing.assert_allclose(nchw(out)[:, :, :64, :64], golden["odd_logits_crop_topleft64"], atol=3e-4, rtol=0)
    np.testing.assert_allclose(nchw(out)[:, :, -64:, -64:], golden["odd_logits_crop_bottomright64"], atol=3e-4, rtol=0)
    assert (np.argmax(np.asarray(out), -1) == golden["odd_labels"]).mean() >= 0.9999


def test_legacy_checkpoint_gives_the_same_weights(parser, golden_dir):
    from convert_weights.parser import convert_parser
    from styleclip_jax.models.handle import flat_tensors

    legacy = convert_parser(golden_dir / "bisenet_tiny_legacy.pth")
    a, b = flat_tensors(parser.state), flat_tensors(legacy.state)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_converter_refuses_missing_unused_and_misshaped_keys(golden_dir):
    from convert_weights.parser import parser_config, parser_to_ours
    from styleclip_jax.io.torch_pickle import load_checkpoint

    sd = dict(load_checkpoint(golden_dir / "bisenet_tiny.pth"))
    cfg = parser_config(sd, "x")
    assert cfg.resnet == (16, 16, 32, 64, 128) and (cfg.context, cfg.ffm, cfg.ffm_hidden) == (32, 64, 16)
    assert cfg.heads == (64, 16, 16) and cfg.n_classes == 19
    missing = {k: v for k, v in sd.items() if k != "cp.arm16.bn_atten.running_var"}
    with pytest.raises(CheckpointError, match="missing key 'cp.arm16.bn_atten.running_var'"):
        parser_to_ours(missing, cfg, "x")
    with pytest.raises(CheckpointError, match="unused keys.*fc.weight"):
        parser_to_ours({**sd, "fc.weight": np.zeros((2, 2), np.float32)}, cfg, "x")
    bad = {**sd, "cp.resnet.layer1.0.downsample.0.weight": np.zeros((16, 16, 1, 1), np.float32)}
    with pytest.raises(CheckpointError, match="downsample"):
        parser_to_ours(bad, cfg, "x")  # layer1.0 has no shortcut conv: an unused key
    wrong = {**sd, "ffm.conv2.weight": np.zeros((64, 8, 1, 1), np.float32)}
    with pytest.raises(CheckpointError, match="ffm.conv2.weight"):
        parser_to_ours(wrong, cfg, "x")
    with pytest.raises(CheckpointError, match="not a face-parsing BiSeNet"):
        parser_config({"conv1.weight": np.zeros(3)}, "x")


def test_parse_cli_writes_upstream_label_maps(golden, golden_dir, tmp_path, capsys):
    from styleclip_jax.cli.main import main

    photos = tmp_path / "photos"
    photos.mkdir()
    for i, x in enumerate(golden["x_uint8"][:2]):
        Image.fromarray(x).save(photos / f"face{i}.png")
    assert main(["convert", "parser", str(golden_dir / "bisenet_tiny_legacy.pth"), str(tmp_path / "p")]) == 0
    assert main(["parse", str(photos), "--parser", str(tmp_path / "p"), "--out", str(tmp_path / "out")]) == 0
    labels = np.load(tmp_path / "out" / "labels.npz")
    for i in range(2):
        assert (labels[f"face{i}"] == golden["labels"][i]).mean() >= 0.9999
        png = np.asarray(Image.open(tmp_path / "out" / f"face{i}_labels.png"))
        np.testing.assert_array_equal(png, labels[f"face{i}"])
        assert np.asarray(Image.open(tmp_path / "out" / f"face{i}_overlay.png")).shape == (512, 512, 3)
    # never overwrite unless asked; a folder that is not a parser: one line, exit 2
    capsys.readouterr()
    assert main(["parse", str(photos), "--parser", str(tmp_path / "p"), "--out", str(tmp_path / "out")]) == 2
    assert main(["parse", str(photos), "--parser", str(photos), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("styleclip-jax: error:") for e in err)


def test_named_regions_are_unions_of_classes():
    from styleclip_jax.models.parser.config import CLASS_NAMES, class_ids, region_from_labels

    labels = np.arange(19, dtype=np.uint8).repeat(4).reshape(1, 4, 19)  # every class, 4 rows
    face = ("skin", "l_brow", "r_brow", "l_eye", "r_eye", "nose", "mouth", "u_lip", "l_lip")
    assert class_ids("face") == tuple(sorted(CLASS_NAMES.index(n) for n in face))
    want = np.isin(labels, [CLASS_NAMES.index(n) for n in face + ("hair",)]).astype(np.float32)
    np.testing.assert_array_equal(region_from_labels(labels, "face+hair"), want)
    np.testing.assert_array_equal(region_from_labels(labels, "background"), (labels == 0).astype(np.float32))
    assert class_ids("hair+hair") == (17,)
    with pytest.raises(InputError, match="unknown region 'beard'"):
        class_ids("hair+beard")
    with pytest.raises(InputError, match="empty on image"):
        region_from_labels(np.zeros((2, 4, 4), np.uint8), "hair")


def test_named_region_path_and_toy_world_parser():
    from styleclip_jax.editing.constraints.mask import named_region
    from styleclip_jax.toyworld.readers import ObjectParser, object_mask

    rng = np.random.default_rng(0)
    images = np.full((2, 32, 32, 3), -0.2, np.float32)  # grey: no object
    images[:, 8:16, 10:20] = (0.9, -0.9, -0.9)  # a red block
    obj = named_region(ObjectParser(), images, "object")
    np.testing.assert_array_equal(obj, object_mask(images))
    np.testing.assert_array_equal(named_region(ObjectParser(), images, "background"), 1 - object_mask(images))
    assert named_region(ObjectParser(), images, "object", grow=2).sum() > obj.sum()
    grey = np.full((1, 32, 32, 3), rng.uniform(-0.1, 0.1), np.float32)
    with pytest.raises(InputError, match="empty"):
        named_region(ObjectParser(), grey, "object")
    assert named_region(ObjectParser(), grey, "object", if_empty="whole").min() == 1
    with pytest.raises(InputError, match="unknown region 'hair'"):
        named_region(ObjectParser(), images, "hair")


def test_global_edit_cli_with_a_named_region_keeps_the_rest(tmp_path):
    """`--region background --parser toyworld --blend 0`: the object's pixels stay exactly as they were."""
    from styleclip_jax.cli.main import main
    from styleclip_jax.models.latents import z_from_seeds
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.readers import object_mask

    t = load_world().path
    out = tmp_path / "g.npz"
    args = ["global", "edit", "--generator", str(t / "generator"), "--clip", str(t / "clip"), "--stats"]
    args += [str(t / "global"), "--neutral", "object", "--target", "dark background", "--alpha", "6"]
    args += ["--seeds", "1000-1001", "--truncation", "1", "--region", "background", "--parser", "toyworld"]
    assert main([*args, "--blend", "0", "--out", str(out)]) == 0
    z = np.load(out)
    gen = load_world().generator
    before = np.asarray(gen.synthesis(gen.mapping(z_from_seeds([1000, 1001], gen.config.z_dim), 1.0)))
    obj = object_mask(before) > 0
    edited = z["images"].reshape(2, -1, 32, 32, 3)[:, -1]
    np.testing.assert_array_equal(edited[obj], before[obj])
    assert np.abs(edited[~obj] - before[~obj]).mean() > 0.01
    assert main([*args[:-2], "--out", str(tmp_path / "x.npz")]) == 2  # --region without --parser


def test_paste_back_through_the_outline(parser, golden, tmp_path):
    """With a parser only the region (of either crop) is blended: every other pixel of the photo is
    bit-identical; inside it the result is the square paste-back's. The random-weight parser scatters
    its classes, so a small class ('hat', 0.5% of face 0) stands in for the face and hair here."""
    from styleclip_jax.faces.align import paste_back
    from styleclip_jax.faces.outline import outline_region

    face = golden["x_uint8"][0]
    photo = np.zeros((700, 640, 3), np.uint8) + np.uint8(90)
    photo[100:612, 60:572] = face
    quad = np.array([[60, 100], [60, 612], [572, 612], [572, 100]], np.float64)  # top-left, bottom-left, ...
    edited = np.clip(face.astype(int) + (40, -30, 0), 0, 255).astype(np.uint8)
    region = outline_region(parser, edited, face, region="hat")
    assert 0.05 < (np.rint(region * 255) > 0).mean() < 0.8
    square, outlined = paste_back(photo, edited, quad), paste_back(photo, edited, quad, region=region)
    changed = np.any(outlined != photo, axis=-1)
    assert changed.sum() < np.any(square != photo, axis=-1).sum()
    inside = np.zeros(photo.shape[:2], bool)
    inside[100:612, 60:572] = region > 0.999
    outside = np.ones(photo.shape[:2], bool)
    outside[100:612, 60:572] = np.rint(region * 255) == 0  # the blend mask is 8-bit
    np.testing.assert_array_equal(outlined[outside], photo[outside])  # outside: the photo, exactly
    inner = inside & (np.abs(square.astype(int) - outlined).max(-1) > 0)
    assert inner.mean() < 0.01  # inside: the square paste-back (up to the feather's rounding at its rim)
    round_trip = paste_back(photo, face, quad, region=region)
    assert (
        np.abs(round_trip.astype(int) - photo)[inside].mean()
        <= np.abs(paste_back(photo, face, quad).astype(int) - photo)[inside].mean() + 1e-9
    )
