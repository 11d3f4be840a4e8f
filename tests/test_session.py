"""The interactive session behind the browser editor (toy world): each method equals the library
call it wraps, slider moves reuse cached text directions and compiled code, and bad input becomes
a status message, not an exception."""

import time

import numpy as np
import pytest
from conftest import random_mapper

from styleclip_jax.editing.global_directions.config import TextEdit
from styleclip_jax.editing.session import EditSession
from styleclip_jax.errors import InputError


@pytest.fixture(scope="module")
def session():
    from styleclip_jax.toyworld.bundle import load_world

    tw = load_world()
    m = random_mapper(tw.generator.config.w_dim, tw.generator.config.num_ws, 3)
    return EditSession(tw.generator, tw.clip, tw.stats, {"m": m})


def test_each_method_equals_the_library(session):
    from styleclip_jax.editing.global_directions.core import global_edit

    src = session.from_seed(3)
    r = session.global_edit(
        src.wplus, [TextEdit("object", "a green object", 5.0, 0.1), TextEdit("object", "a large object", 2.0, "auto")]
    )
    lib = global_edit(
        session.gen,
        session.clip,
        session.stats,
        src.wplus[None],
        [
            {"neutral": "object", "target": "a green object", "alpha": 5.0, "beta": 0.1},
            {"neutral": "object", "target": "a large object", "alpha": 2.0, "beta": "auto"},
        ],
    )
    np.testing.assert_allclose(r.image, lib.images[0, 0], atol=1e-5)
    assert "2 channel" not in r.info and r.info.count("channel(s)") == 2
    mp = session.mapper_edit(src.wplus, "m", 2.0)
    want = np.asarray(session.gen.synthesis(session.mappers["m"].apply(src.wplus[None], 2.0)))[0]
    np.testing.assert_allclose(mp.image, want, atol=1e-5)
    ticks = []
    op = session.optimize(
        src.wplus, "a blue object", steps=6, frames=3, progress=lambda done, total: ticks.append(done)
    )
    assert len(ticks) == 6 and len(op.frames) == 3 and op.image.shape == src.image.shape
    assert np.abs(op.image - src.image).max() > 0


def test_keep_and_region_equal_the_library(session, tmp_path):
    from styleclip_jax.editing.global_directions.core import global_edit
    from styleclip_jax.ui.app import Page

    src = session.from_seed(5)
    edit = TextEdit("object", "a green object", 5.0, 0.05, keep=("small object|large object",))
    r = session.global_edit(src.wplus, [edit], box=(8, 8, 24, 24), blend=0.0)
    lib = global_edit(session.gen, session.clip, session.stats, src.wplus[None], [edit], box=(8, 8, 24, 24), blend=0.0)
    np.testing.assert_allclose(r.image, lib.images[0, 0], atol=1e-5)
    np.testing.assert_array_equal(r.image[:8], src.image[:8])  # outside the box: the original
    assert "keeping 1" in r.info
    page = Page(session, tmp_path)
    _, status, _ = page.global_edit(
        src.wplus, "object", "a green object", 5.0, 0.05, False, "", "a small object", "8,8,24", 0
    )
    assert "x0,y0,x1,y1" in status
    _, status, _ = page.global_edit(src.wplus, "object", "a green object", 5.0, 0.05, False, "", "", "", 2)
    assert "needs a region" in status


def test_slider_moves_are_cached_and_fast(session):
    src = session.from_seed(4)
    session.global_edit(src.wplus, [TextEdit("object", "a red object", 1.0, 0.1)])  # compiles, encodes
    n_dirs = len(session._dirs)
    t0 = time.perf_counter()
    for a in (2.0, 3.0, 4.0):
        session.global_edit(src.wplus, [TextEdit("object", "a red object", a, 0.1)])
    per_move = (time.perf_counter() - t0) / 3
    assert len(session._dirs) == n_dirs  # no text re-encoded
    assert per_move < 1.0, per_move  # measured ~0.01 s on 2 cores


def test_bad_input_is_a_message(session, tmp_path):
    from styleclip_jax.ui.app import Page, parse_also

    page = Page(session, tmp_path)
    img, w, status, _, files = page.load(0)
    assert w is not None and len(files) == 2 and files[0].endswith(".png")
    for target in ("", "word " * 100):
        _, status, _ = page.global_edit(w, "object", target, 3.0, 0.1, False, "")
        assert status.startswith("**Cannot edit:**"), status
    _, status, _ = page.global_edit(w, "object", "a green object", 3.0, 0.9, False, "")
    assert "no StyleSpace channel has relevance >= beta=0.9" in status
    _, status, _ = page.mapper_edit(w, None, 1.0)
    assert "no mapper named None" in status
    _, status, _ = page.global_edit(None, "object", "a green object", 3.0, 0.1, False, "")
    assert "load a seed first" in status
    with pytest.raises(InputError, match="line 1"):
        parse_also("object -> red")
    assert parse_also("object -> a red object : 2 : auto\n\n a -> b : -1 : 0.2") == [
        TextEdit("object", "a red object", 2.0, "auto"),
        TextEdit("a", "b", -1.0, 0.2),
    ]
    with pytest.raises(InputError, match="seed"):
        session.from_seed(-1)


def test_photo_upload_is_inverted_by_the_encoder(tmp_path, golden_dir):
    from convert_weights.clip import convert_clip
    from convert_weights.e4e import convert_encoder
    from styleclip_jax.ui.app import Page

    enc, gen = convert_encoder(golden_dir / "e4e_tiny.pt", generator_out=tmp_path / "gen")
    g = np.load(golden_dir / "e4e_tiny.npz")
    s = EditSession(gen, convert_clip(golden_dir / "clip_tiny_openai.pt"), encoder=enc)
    r = s.from_photo(g["x_uint8"][1], align=False)
    np.testing.assert_allclose(r.wplus, g["codes"][1], atol=2e-5)
    page = Page(s, tmp_path)
    shown, w, status, _, files = page.upload(g["x_uint8"][0], False)
    np.testing.assert_allclose(w, g["codes"][0], atol=2e-5)
    assert "photo inverted" in status and len(files) == 2
    flat = np.full((300, 400, 3), 128, np.uint8)  # no face in it
    assert "no face found" in page.upload(flat, True)[2]
    assert "no photo" in page.upload(None, True)[2]
    no_enc = EditSession(gen, s.clip)
    with pytest.raises(InputError, match="need an encoder"):
        no_enc.from_photo(g["x_uint8"][0])
    # PTI on upload: the session edits with the tuned generator until a seed is loaded
    seen = []
    shown, w, status, _, _ = page.upload(g["x_uint8"][0], False, 3, lambda f, desc: seen.append(f))
    assert "generator tuned (PTI, 3 steps)" in status and seen[-1] == 1.0
    assert s.gen is not s.base_gen and s.gen.lineage()[1] == gen.fingerprint()
    before, after = (float(x) for x in status.split("pixel MSE ")[1].split(" ")[0:3:2])
    assert after < before
    s.from_seed(0)
    assert s.gen is s.base_gen


def test_population_estimator_from_the_page_equals_the_library(session, tmp_path):
    from styleclip_jax.editing.global_directions.core import global_edit
    from styleclip_jax.ui.app import Page

    src = session.from_seed(5)
    edit = TextEdit("object", "a green object", 6.0, 0.1, source="population")
    r = session.global_edit(src.wplus, [edit])
    lib = global_edit(session.gen, session.clip, session.stats, src.wplus[None], [edit])
    np.testing.assert_allclose(r.image, lib.images[0, 0], atol=1e-5)
    fs3 = session.global_edit(src.wplus, [TextEdit("object", "a green object", 6.0, 0.1)])
    assert np.abs(r.image - fs3.image).max() > 0.05  # another direction, not a no-op
    shown, status, _ = Page(session, tmp_path).global_edit(
        src.wplus, "object", "a green object", 6.0, 0.1, False, "", population=True
    )
    assert "Cannot" not in status and shown is not None


def test_named_region_from_the_page_equals_the_library(session, tmp_path):
    """The region box takes a name the page's parser knows (the toy world: object, background);
    the edit is the library's with that mask, and the region is shown over the original."""
    from styleclip_jax.editing.constraints.mask import named_region
    from styleclip_jax.toyworld.readers import ObjectParser
    from styleclip_jax.ui.app import Page, display_image

    src = session.from_seed(5)
    mask = named_region(ObjectParser(), src.image[None], "object")[0]
    edit = TextEdit("object", "a green object", 5.0, 0.1)
    want = session.global_edit(src.wplus, [edit], mask=mask, blend=2.0)
    page = Page(session, tmp_path, region_parser=ObjectParser())
    shown, status, _ = page.global_edit(src.wplus, "object", "a green object", 5.0, 0.1, False, "", "", "object", 2)
    assert "Cannot" not in status, status
    np.testing.assert_array_equal(shown, display_image(want.image))
    assert np.abs(want.image - src.image).max() > 0.05  # it edits
    assert page.show_region(src.wplus, "object").shape == shown.shape
    _, status, _ = page.global_edit(src.wplus, "object", "a green object", 5.0, 0.1, False, "", "", "hair", 0.0)
    assert "unknown region 'hair'" in status
    _, status, _ = Page(session, tmp_path).global_edit(
        src.wplus, "object", "a green object", 5.0, 0.1, False, "", "", "object", 0.0
    )
    assert "no parser" in status
