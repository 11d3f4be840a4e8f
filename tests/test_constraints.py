"""Keep-texts, regions and composed edits (issue #20): known answers on small cases."""

import numpy as np
import pytest
from conftest import random_mapper

from styleclip_jax.editing.constraints import mask as masks
from styleclip_jax.editing.global_directions.constrain import (
    constrained_relevance,
    local_channels,
    project_out,
)
from styleclip_jax.editing.global_directions.stats import StyleSpaceStats
from styleclip_jax.errors import InputError


def _stats(fs3, effects=None):
    c = fs3.shape[0]
    return StyleSpaceStats(
        ("a", "rgb"),
        (c, 2),
        (True, False),
        np.zeros(c + 2, np.float32),
        np.ones(c + 2, np.float32),
        None,
        "g",
        {},
        fs3.astype(np.float32),
        effects,
    )


def test_projection_known_answers():
    keep = np.array([[1.0, 0, 0]])
    np.testing.assert_array_equal(project_out(np.array([0, 2.0, 1]), keep), [0, 2, 1])  # already orthogonal
    np.testing.assert_allclose(project_out(np.array([3.0, 2, 0]), keep), [0, 2, 0])  # loses its keep part
    with pytest.raises(InputError, match="lies within the keep"):  # nothing left: an error
        project_out(np.array([-2.0, 0, 0]), keep)
    with pytest.raises(InputError, match="lies within the keep"):  # in the span of two
        project_out(np.array([1.0, 1, 0]), np.array([[1.0, 0, 0], [0, 1.0, 0], [1, 1, 0]]))


def test_keep_modes_on_a_known_relevance_table():
    fs3 = np.eye(3)  # channel c responds to CLIP axis c only
    stats = _stats(fs3)
    dt, keep = np.array([0.8, 0.6, 0.0]), np.array([[0.0, 1.0, 0.0]])
    np.testing.assert_allclose(constrained_relevance(stats, dt, None, "drop"), [0.8, 0.6, 0])
    np.testing.assert_allclose(constrained_relevance(stats, dt, keep, "text"), [1, 0, 0])  # Δt⊥, unit
    np.testing.assert_allclose(constrained_relevance(stats, dt, keep, "relevance"), [0.8, 0, 0], atol=1e-7)
    # drop: channel 1 answers the keep axis (1.0) more than the edit (0.6); channel 0 does not
    np.testing.assert_allclose(constrained_relevance(stats, dt, keep, "drop"), [0.8, 0, 0])
    for mode in ("text", "relevance", "drop"):
        with pytest.raises(InputError, match="keep"):
            constrained_relevance(stats, np.array([0.0, 1.0, 0.0]), keep, mode)
    with pytest.raises(InputError, match="keep_mode"):
        constrained_relevance(stats, dt, keep, "nope")


def test_local_channels_follow_the_effect_maps():
    effects = np.zeros((3, 4, 4), np.float32)
    effects[0, :2, :2] = 1.0  # top-left
    effects[1, 2:, 2:] = 1.0  # bottom-right
    effects[2, :2, :] = 1.0  # top half: half of it top-left
    stats = _stats(np.eye(3), effects)
    region = np.zeros((8, 8), np.float32)
    region[:4, :4] = 1.0  # top-left quarter of an 8 px image
    np.testing.assert_array_equal(local_channels(stats, region, 0.5), [True, False, True])
    np.testing.assert_array_equal(local_channels(stats, region, 0.9), [True, False, False])
    with pytest.raises(InputError, match="effect maps"):
        local_channels(_stats(np.eye(3)), region)


def test_masks_are_checked_and_blends_are_exact(tmp_path):
    from PIL import Image

    with pytest.raises(InputError, match="must be \\(8, 8\\)"):
        masks.check_mask(np.ones((4, 4)), 8)
    with pytest.raises(InputError, match="empty"):
        masks.check_mask(np.zeros((8, 8)), 8)
    with pytest.raises(InputError, match="image 1"):
        masks.check_mask(np.stack([np.ones((8, 8)), np.zeros((8, 8))]), 8)
    with pytest.raises(InputError, match="finite"):
        masks.check_mask(np.full((8, 8), np.nan), 8)
    with pytest.raises(InputError, match="3 per-image masks for 2"):
        masks.check_mask(np.ones((3, 8, 8)), 8, n=2)
    with pytest.raises(InputError, match="0 <= x0 < x1"):
        masks.box_mask((4, 0, 2, 8), 8)
    with pytest.raises(InputError, match="not both"):
        masks.region(8, mask=np.ones((8, 8)), box=(0, 0, 2, 2))
    b = masks.box_mask((1, 2, 3, 8), 8)
    assert b.sum() == 2 * 6 and b[2, 1] == 1 and b[1, 1] == 0 and b[2, 3] == 0
    Image.fromarray((b * 255).astype(np.uint8)).save(tmp_path / "m.png")
    np.testing.assert_array_equal(masks.read_mask(tmp_path / "m.png", 8), b)
    with pytest.raises(InputError, match="must be \\(16, 16\\)"):
        masks.read_mask(tmp_path / "m.png", 16)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError):
        masks.read_mask(tmp_path / "bad.png", 8)
    rng = np.random.default_rng(0)
    o, e = rng.uniform(-1, 1, (2, 8, 8, 3)), rng.uniform(-1, 1, (2, 8, 8, 3))
    out = masks.blend(o, e, b, 0)  # hard blend: exact pixels
    np.testing.assert_array_equal(out[:, b == 1], e[:, b == 1].astype(np.float32))
    np.testing.assert_array_equal(out[:, b == 0], o[:, b == 0].astype(np.float32))
    soft = masks.feather(b, 1.0)
    assert 0 < soft[2, 0] < 1 and soft.max() <= 1 and soft.min() >= 0


def test_loss_terms_known_values():
    import jax
    import jax.numpy as jnp

    from styleclip_jax.editing.constraints.loss import keep_loss, outside_loss

    f0 = jnp.asarray([[1.0, 0.0], [0.0, 1.0]])
    keep = jnp.asarray([[1.0, 0.0]])
    start = f0 @ keep.T
    np.testing.assert_array_equal(keep_loss(f0, keep, start), [0, 0])  # at the start: 0
    f1 = jnp.asarray([[0.6, 0.8], [0.0, 1.0]])
    np.testing.assert_allclose(keep_loss(f1, keep, start), [0.16, 0], atol=1e-7)  # (0.6 - 1)²
    x0 = jnp.zeros((1, 2, 2, 3))
    x = x0.at[0, 0, 0].set(1.0).at[0, 1, 1].set(2.0)
    m = jnp.asarray([[[1.0, 0.0], [0.0, 0.0]]])  # only pixel (0, 0) may change
    np.testing.assert_allclose(outside_loss(x, x0, m), [4.0 * 3 / 9])  # pixel (1, 1): 3 channels of 2², over 9
    g = jax.grad(lambda y: outside_loss(y, x0, m).sum())(x)
    assert float(jnp.abs(g[0, 0, 0]).max()) == 0 and float(g[0, 1, 1, 0]) > 0


def test_composed_prompts_encode_and_weigh_like_separate_terms():
    import jax.numpy as jnp

    from styleclip_jax.editing.constraints.loss import composed_clip_loss
    from styleclip_jax.editing.constraints.prompts import encode, label, terms_of
    from styleclip_jax.models.clip.loss import clip_loss, loss_features
    from styleclip_jax.toyworld.bundle import load_world

    clip = load_world(with_stats=False).clip
    feats, w = encode(clip, [[("a red object", 1.0), ("a large object", 0.5)], "a blue object"])
    assert feats.shape[:2] == (2, 2) and w.tolist() == [[1.0, 0.5], [1.0, 0.0]]
    assert label([("a red object", 1.0), ("a large object", 0.5)]) == "a red object + 0.5*a large object"
    imgs = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)), jnp.float32)
    got = composed_clip_loss(clip.module(), loss_features(clip.module(), imgs), jnp.asarray(feats), jnp.asarray(w))
    want = clip_loss(clip.module(), imgs, feats[:, 0]) + jnp.asarray(w[:, 1]) * clip_loss(
        clip.module(), imgs, feats[:, 1]
    )
    np.testing.assert_allclose(got, want, atol=1e-6)
    for bad in ([], [("a", float("nan"))], [("a", 0.0)], [(1, 1.0)]):
        with pytest.raises(InputError):
            terms_of(bad)


@pytest.fixture(scope="module")
def toy():
    from styleclip_jax.toyworld.bundle import load_world
    from styleclip_jax.toyworld.evaluate import start_latents

    tw = load_world()
    return tw, start_latents(tw, 2, 0, 1.0)


def test_optimize_keeps_the_outside_and_blends_exactly(toy):
    from styleclip_jax.editing import OptimizeConfig, optimize

    tw, w = toy
    left = (0, 0, 16, 32)  # the left half may change

    def run(lam, **kw):
        return optimize(
            tw.generator,
            tw.clip,
            "a red object",
            w,
            box=left,
            config=OptimizeConfig(steps=8, lr=0.1, l2_lambda=0, mask_lambda=lam),
            **kw,
        )

    free, held = run(0.0), run(1000.0, keep=["a circle|a square"])
    assert held.losses["outside"][0].max() < 1e-10 and held.losses["keep"][0].max() < 1e-10  # 0 at the start
    assert set(held.losses) == {"loss", "clip", "l2", "outside", "keep"}

    def change(r):
        return np.abs(r.images_after - r.images_before)[:, :, 16:].mean()

    assert change(held) < 0.5 * change(free), (change(held), change(free))
    blended = run(0.0, blend=0)
    np.testing.assert_array_equal(blended.images_after[:, :, 16:], blended.images_before[:, :, 16:])
    composed = optimize(
        tw.generator,
        tw.clip,
        [[("a red object", 1.0), ("a large object", 0.5)]],
        w,
        config=OptimizeConfig(steps=2, l2_lambda=0),
    )
    assert composed.prompts == ["a red object + 0.5*a large object"] and composed.images_after.shape[0] == 2


def test_global_edit_moves_only_channels_acting_in_the_region(toy):
    from styleclip_jax.editing import TextEdit, global_edit
    from styleclip_jax.editing.global_directions.constrain import local_channels

    tw, w = toy
    edit = [TextEdit("object", "red object", 5.0, 0.05)]
    box = (8, 8, 24, 24)
    res = global_edit(tw.generator, tw.clip, tw.stats, w, edit, box=box)
    plain = global_edit(tw.generator, tw.clip, tw.stats, w, edit)
    manip = np.concatenate([np.ones(wd, bool) * m for wd, m in zip(tw.stats.widths, tw.stats.manipulable)])
    moved = np.zeros(manip.size, bool)
    moved[manip] = local_channels(tw.stats, masks.box_mask(box, 32))
    delta = np.abs(res.codes[:, 0] - tw.stats.flatten(tw.generator.w_to_s(w))).max(axis=0)
    assert np.all(delta[~moved] == 0) and 0 < res.directions[0][0].num_channels < plain.directions[0][0].num_channels
    kept = global_edit(
        tw.generator,
        tw.clip,
        tw.stats,
        w,
        [TextEdit("object", "red object", 5.0, 0.05, keep=("small object|large object",))],
    )
    assert kept.directions[0][0].num_channels < plain.directions[0][0].num_channels
    with pytest.raises(InputError, match="keep"):
        global_edit(
            tw.generator,
            tw.clip,
            tw.stats,
            w,
            [TextEdit("object", "red object", keep=("red object",), keep_mode="text")],
        )


def test_composed_mappers_and_a_region_in_mapper_training(toy, tmp_path):
    import json

    from styleclip_jax.editing.mapper.apply import apply_mapper
    from styleclip_jax.editing.mapper.config import MapperTrainConfig
    from styleclip_jax.editing.mapper.run import train_mapper
    from styleclip_jax.toyworld.readers import object_mask

    tw, w = toy
    cfg = MapperTrainConfig(
        "a red object",
        steps=2,
        batch_size=2,
        optimizer="adam",
        lr=0.05,
        id_lambda=0,
        val_size=0,
        log_every=1,
        save_every=2,
        keep=("a circle",),
        mapper_kind="single",
    )
    train = np.concatenate([w, w[::-1]])
    masks = object_mask(np.asarray(tw.generator.synthesis(train)))
    r = train_mapper(tw.generator, tw.clip, cfg, tmp_path / "m", latents=train, mask=masks, progress=False)
    assert {"keep", "outside"} <= set(r.metrics) and np.all(np.isfinite(r.metrics["outside"]))
    assert json.loads((tmp_path / "m" / "train_config.json").read_text())["region"]["shape"] == [4, 32, 32]
    other = random_mapper(tw.generator.config.w_dim, tw.generator.config.num_ws, 1)  # no second training
    res = apply_mapper(tw.generator, r.mapper, w, [1.0, 2.0], also=[(other, 0.5)])
    want = np.asarray(r.mapper.apply(w, 2.0)) + np.asarray(other.apply(w, 0.5)) - w
    np.testing.assert_allclose(res.wplus[:, 1], want, atol=1e-5)
    with pytest.raises(InputError, match="one region per latent"):
        train_mapper(tw.generator, tw.clip, cfg, tmp_path / "x", mask=masks, progress=False)


def test_row_groups_move_by_one_offset_each():
    import jax.numpy as jnp

    from styleclip_jax.editing import OptimizeConfig
    from styleclip_jax.editing.optimization.core import restrict_rows

    cfg = OptimizeConfig(groups=((0, 1), (3,)))
    g = jnp.asarray(np.arange(2 * 4 * 2, dtype=np.float32).reshape(2, 4, 2))
    out = np.asarray(restrict_rows(g, cfg))
    np.testing.assert_array_equal(out[:, 0], (g[:, 0] + g[:, 1]) / 2)
    np.testing.assert_array_equal(out[:, 1], out[:, 0])
    np.testing.assert_array_equal(out[:, 2], 0)  # in no group: fixed
    np.testing.assert_array_equal(out[:, 3], g[:, 3])
    for bad in (dict(groups=((0, 1), (1, 2))), dict(groups=((0,),), tie_rows=True), dict(groups=((),))):
        with pytest.raises(InputError, match="groups"):
            OptimizeConfig(**bad)
