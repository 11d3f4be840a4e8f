"""The bundled toy world: procedural data, readers, trained models, and edit quality.

The bundled models do NOT yet reach the issue's aim (>= 80% success and preservation for colour
edits; see README "What the models learned"). The quality tests below are regression guards set
just under what the bundled weights measure on a small held-out slice (seeds 1000+), far above
what an untrained or broken path gives (an edit that does nothing scores 0% success, a random
image ~20% colour success and ~0% preservation).
"""

import json

import numpy as np
import pytest

from styleclip_jax.toyworld import captions, world


@pytest.fixture(scope="module")
def tw():
    from styleclip_jax.toyworld.bundle import load_world

    return load_world()


def test_readers_read_procedural_scenes_exactly(tw):
    attrs, images = world.sample_numpy(777, 300)
    got = tw.reader(images)
    for a in world.ATTRIBUTES:
        assert np.mean(got[a] == attrs[a]) >= 0.99, a


def test_shape_reading_does_not_depend_on_the_hue(tw):
    """The judge of "the shape stayed": the same silhouette repainted in another hue (saturation
    and value kept) reads the same, where the bare classifier's answer moved with the hue."""
    from styleclip_jax.toyworld.evaluate import start_latents
    from styleclip_jax.toyworld.readers import repaint

    x = np.asarray(tw.generator.synthesis(start_latents(tw, 24, 0, 1.0)))
    sr = tw.reader.shape_reader
    base = sr.logits(x)
    raw_flips = 0
    for hue in world.HUES:
        y = np.asarray(repaint(x, hue))
        np.testing.assert_allclose(sr.logits(y), base, atol=1e-4)
        assert np.all(tw.reader(y)["colour"] == world.HUES.index(hue))  # it did change the colour
        raw_flips += int(np.sum(sr.logits(y, hue_invariant=False).argmax(-1) != sr.logits(x, False).argmax(-1)))
    # measured: 13% of the repaints of 64 samples moved the bare classifier's answer
    assert raw_flips >= 1


def test_readers_refuse_bad_images(tw):
    from styleclip_jax.errors import InputError

    with pytest.raises(InputError, match="32, 32, 3"):
        tw.reader(np.zeros((2, 64, 64, 3), np.float32))
    bad = np.zeros((1, 32, 32, 3), np.float32)
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        tw.reader(bad)
    blank = np.full((1, 32, 32, 3), -0.5, np.float32)  # grey, no object
    assert all(v[0] == -1 for v in tw.reader(blank).values())


def test_captions_name_what_they_match():
    attrs = {
        "colour": np.array([0, 3]),
        "shape": np.array([0, 1]),
        "size": np.array([1, 1]),
        "position": np.array([0, 2]),
        "background": np.array([0, 1]),
    }
    named = {a: np.full(2, captions.UNNAMED) for a in world.ATTRIBUTES}
    named["colour"][:] = [0, 3]  # "a red ...", "a blue ..."
    named["size"][1] = 1  # the second also says "large"
    m = captions.matches(attrs, named)
    np.testing.assert_array_equal(m, [[True, False], [False, True]])
    assert (
        captions.phrase({"size": "small", "colour": "red", "shape": "circle", "position": "left"})
        == "small red circle on the left"
    )


def test_prompts_pick_the_rows_an_edit_moves():
    """Colour / background prompts move W+ rows 4-7 as one offset with a 'medium' mapper; shape,
    size and position prompts rows 0-3 with a 'coarse' one; mixed or unknown prompts every row."""
    from styleclip_jax import InputError
    from styleclip_jax.toyworld.evaluate import MethodSettings

    assert captions.named_attributes("a green circle") == {"colour", "shape"}
    assert captions.named_attributes("A photo of an object, on a dark background.") == {"background"}
    assert captions.named_attributes("an object on the left") == {"position"}
    assert captions.named_attributes("a face") == set()
    s = MethodSettings()
    app, geo, mixed = (s.optimize_config(p, 8) for p in ("a blue object", "a large object", "a green circle"))
    assert app.rows == (4, 5, 6, 7) and app.tie_rows and app.l2_lambda == s.opt_l2
    assert geo.rows == (0, 1, 2, 3) and not geo.tie_rows
    assert mixed.rows == () and not mixed.tie_rows
    assert s.optimize_config("a red object on a light background", 8).rows == (4, 5, 6, 7)
    m = s.mapper_config("a blue object", steps=7)
    assert (m.mapper_kind, m.coarse, m.medium, m.fine, m.steps, m.lr) == ("levels", False, True, False, 7, s.mapper_lr)
    m = s.mapper_config("a triangle")
    assert (m.mapper_kind, m.coarse, m.medium, m.fine, m.steps) == ("levels", True, False, False, s.mapper_steps)
    assert s.mapper_config("a green circle").mapper_kind == "single"
    off = MethodSettings(split_rows=0)
    assert (
        off.optimize_config("a blue object", 8).rows == ()
        and off.mapper_config("a blue object").mapper_kind == "single"
    )
    with pytest.raises(InputError, match="split_rows"):
        MethodSettings(split_rows=3)


def test_soft_matches_weigh_blends():
    attrs = {
        "colour": np.array([0, 3]),
        "shape": np.array([0, 1]),
        "size": np.array([1, 1]),
        "position": np.array([0, 2]),
        "background": np.array([0, 1]),
    }
    named = {a: np.full(3, captions.UNNAMED) for a in world.ATTRIBUTES}
    named["colour"][:] = [0, 3, 3]  # "red", "blue", "large blue"
    named["size"][2] = 1
    pure = {a: np.asarray(v) for a, v in world.one_hot(attrs).items()}
    np.testing.assert_array_equal(captions.soft_matches(pure, named), captions.matches(attrs, named))
    blend = dict(
        pure, colour=np.array([[0.7, 0, 0, 0.3, 0], [0, 0, 0, 1.0, 0]]), size=np.array([[0.0, 1.0], [0.4, 0.6]])
    )
    np.testing.assert_allclose(captions.soft_matches(blend, named), [[0.7, 0.3, 0.3], [0.0, 1.0, 0.6]], atol=1e-6)


def test_blended_scenes_lie_between_the_pure_ones():
    """render_blended: one-hot weights give the pure scene; a 50/50 blend mixes the two colours at
    the object's centre, puts the object between the two positions and its area between the sizes."""
    import jax

    attrs = {
        "colour": np.array([0, 0]),
        "shape": np.array([0, 0]),
        "size": np.array([0, 0]),
        "position": np.array([0, 0]),
        "background": np.array([0, 0]),
    }
    u = np.full((2, 6), 0.5, np.float32)  # no jitter off-centre
    pure = np.asarray(world.render_jittered(attrs, u))
    np.testing.assert_array_equal(np.asarray(world.render_blended(world.one_hot(attrs), u)), pure)

    def blend(a, v, lam):
        w = world.one_hot(attrs)
        w[a] = np.asarray(w[a]).copy()
        w[a][1] = (1 - lam) * np.eye(world.num_values(a))[attrs[a][1]] + lam * np.eye(world.num_values(a))[v]
        return np.asarray(world.render_blended(w, u))[1]

    other = dict(attrs, colour=np.array([0, 3]))
    blue = np.asarray(world.render_jittered(other, u))[1]
    mid = blend("colour", 3, 0.5)
    np.testing.assert_allclose(mid[16, 10], (pure[0, 16, 10] + blue[16, 10]) / 2, atol=1e-6)

    def object_stats(img):
        chroma = img.max(-1) - img.min(-1)
        m = chroma > 0.4
        return m.sum(), (np.nonzero(m)[1]).mean()

    area_small, x_left = object_stats(pure[0])
    area_large, _ = object_stats(np.asarray(world.render_jittered(dict(attrs, size=np.array([1, 1])), u))[0])
    _, x_right = object_stats(np.asarray(world.render_jittered(dict(attrs, position=np.array([2, 2])), u))[0])
    _, x_mid = object_stats(blend("position", 2, 0.5))
    area_mid, _ = object_stats(blend("size", 1, 0.5))
    assert abs(x_mid - (x_left + x_right) / 2) < 0.5, (x_left, x_mid, x_right)
    assert area_small < area_mid < area_large, (area_small, area_mid, area_large)

    many = {
        a: np.asarray(jax.random.randint(jax.random.key(i), (4000,), 0, world.num_values(a)))
        for i, a in enumerate(world.ATTRIBUTES)
    }
    wts = world.sample_blends(jax.random.key(9), many, 0.25)
    for a in world.ATTRIBUTES:
        w = np.asarray(wts[a])
        np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-6)
        # at most two values, one of them the scene's own
        assert w.min() >= 0 and np.all((w > 0).sum(1) <= 2) and np.all(w[np.arange(len(w)), many[a]] > 0)
        assert 0.2 < np.mean(w.max(1) < 1.0) < 0.3, a  # about mix_prob are blends
    assert all(
        np.all(np.asarray(v) == np.eye(world.num_values(a))[many[a]])
        for a, v in world.sample_blends(jax.random.key(9), many, 0.0).items()
    )


def test_overshoot_features_continue_the_line_past_a_value():
    """The decoder's overshoot codes: pure scenes pushed past their value along the line from
    another value (weights still sum to 1), blends untouched, jitter scaled outward; prob 0 is
    the plain scene features."""
    import jax

    from styleclip_jax.toyworld.training.decoder import (
        overshoot_features,
        scene_features,
    )

    attrs = world.sample_attributes(jax.random.key(0), 4000)
    wts = world.sample_blends(jax.random.key(1), attrs, 0.25)
    u = jax.random.uniform(jax.random.key(2), (4000, 6))
    plain = np.asarray(scene_features(wts, u))
    np.testing.assert_array_equal(np.asarray(overshoot_features(jax.random.key(3), attrs, wts, u, 0.0, 1.5)), plain)
    f = np.asarray(overshoot_features(jax.random.key(3), attrs, wts, u, 0.3, 1.5))
    col = 0
    for a in world.ATTRIBUTES:
        n = world.num_values(a)
        got, ref, v = f[:, col : col + n], plain[:, col : col + n], np.asarray(attrs[a])
        col += n
        np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
        moved = np.any(np.abs(got - ref) > 1e-7, axis=1)
        blended = ref.max(1) < 1.0
        assert not np.any(moved & blended), a
        assert 0.25 < moved[~blended].mean() < 0.35, a  # about prob of the pure scenes
        mu = got[moved, v[moved]] - 1.0  # how far past the value
        assert mu.min() > 0 and mu.max() <= 1.5 + 1e-6, a
        others = got[moved].copy()
        others[np.arange(len(mu)), v[moved]] = 0.0
        # exactly one other value carries −μ: the line from that value through this one
        np.testing.assert_allclose(np.sort(others, axis=1)[:, 0], -mu, atol=1e-6)
        assert np.all(np.sum(np.abs(others) > 1e-7, axis=1) == 1), a
    jit_ref, jit_got = plain[:, col:], f[:, col:]
    assert np.all(np.abs(jit_got) >= np.abs(jit_ref) - 1e-7) and np.all(np.sign(jit_got) == np.sign(jit_ref))
    assert np.abs(jit_got).max() > 1.2


def test_style_mixing_takes_geometry_from_one_scene_and_colours_from_the_other():
    """world.mix_scenes / decoder_training.style_mix: where mixed, the target has scene a's
    shape, size and position (its object covers the same pixels) and scene b's colour and
    background; elsewhere it is scene a, bit for bit; about style_mix_prob scenes are mixed."""
    import dataclasses

    import jax

    from styleclip_jax.toyworld.training.decoder import (
        DecoderConfig,
        scene_features,
        style_mix,
    )

    a = {
        "colour": np.array([0, 1]),
        "shape": np.array([2, 0]),
        "size": np.array([1, 0]),
        "position": np.array([0, 2]),
        "background": np.array([0, 1]),
    }
    b = {
        "colour": np.array([3, 3]),
        "shape": np.array([0, 1]),
        "size": np.array([0, 1]),
        "position": np.array([2, 1]),
        "background": np.array([1, 0]),
    }
    u_a = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]] * 2, np.float32)
    u_b = np.array([[0.9, 0.8, 0.7, 0.0, 1.0, 0.1]] * 2, np.float32)
    weights, u = world.mix_scenes(world.one_hot(a), u_a, world.one_hot(b), u_b, np.array([True, False]))
    mixed = np.asarray(world.render_blended(weights, u))
    expect0 = world.render_jittered(
        {**a, "colour": b["colour"], "background": b["background"]},
        np.array([[0.9, 0.8, 0.7, 0.4, 0.5, 0.1]], np.float32)[[0, 0]],
    )
    np.testing.assert_array_equal(mixed[0], np.asarray(expect0)[0])
    np.testing.assert_array_equal(mixed[1], np.asarray(world.render_jittered(a, u_a))[1])

    cfg = DecoderConfig(style_mix_prob=0.9, mix_prob=0.25)
    attrs = world.sample_attributes(jax.random.key(0), 2000)
    wts = world.sample_blends(jax.random.key(1), attrs, cfg.mix_prob)
    u0 = jax.random.uniform(jax.random.key(2), (2000, 6))
    take_b, feats_b, w_t, u_t = style_mix(jax.random.key(3), cfg, wts, u0)
    take_b = np.asarray(take_b)
    assert 0.87 < take_b.mean() < 0.93 and feats_b.shape == scene_features(wts, u0).shape
    for attr in world.GEOMETRY:
        np.testing.assert_array_equal(np.asarray(w_t[attr]), np.asarray(wts[attr]))
    moved = np.any(np.asarray(w_t["colour"]) != np.asarray(wts["colour"]), axis=1)
    assert not np.any(moved & ~take_b) and moved.mean() > 0.6  # b's colour differs 4 times in 5
    np.testing.assert_array_equal(np.asarray(u_t)[:, 3:5], np.asarray(u0)[:, 3:5])  # position jitter stays a's
    take0, _, w0, u00 = style_mix(jax.random.key(3), dataclasses.replace(cfg, style_mix_prob=0.0), wts, u0)
    assert not np.any(np.asarray(take0)) and np.array_equal(np.asarray(u00), np.asarray(u0))
    assert all(np.array_equal(np.asarray(w0[k]), np.asarray(wts[k])) for k in world.ATTRIBUTES)
    with pytest.raises(ValueError, match="style_split"):
        DecoderConfig(style_split=8)


def test_bundle_records_how_it_was_made(tw):
    for sub in ("generator", "clip", "shape_reader"):
        meta = json.loads((tw.path / sub / "config.json").read_text())
        assert meta["source"]["format"] == "trained" and meta["source"]["trainer"].startswith("styleclip_jax.")
    assert (tw.path / "RECORD.md").read_text().count("styleclip-jax") >= 3
    total = sum(f.stat().st_size for f in tw.path.rglob("*") if f.is_file())
    assert total < 30e6, total  # 19.9 MB before the population bank (3.7 MB, #20); 27.2 MB with restyle/ (3.5 MB)
    assert tw.stats is not None and tw.stats.fs3 is not None
    tw.stats.check_generator(tw.generator)  # stats belong to the bundled generator


def test_samples_are_recognisable(tw):
    from styleclip_jax.toyworld.evaluate import sample_report

    r = sample_report(tw, n=64, seed=2000)
    assert r["readable"] >= 0.95  # measured 100% on 256
    # measured on 256: colour 99.2%, size 98.8%, background 99.6%, shape 19.5%, position 37.9%
    # (CLIP never learned shape or position words; the generator draws them, see the next test)
    ag = r["agreement"]
    assert ag["colour"] >= 0.9 and ag["size"] >= 0.85 and ag["background"] >= 0.95, ag


def test_generator_draws_the_scene_its_z_names(tw):
    """The decoder recipe ties z to a scene (world.scene_of_latent): the readers should see it."""
    import jax

    z = np.asarray(jax.random.normal(jax.random.key(123), (96, tw.generator.config.z_dim)))
    attrs, _ = world.scene_of_latent(z)
    got = tw.reader(np.asarray(tw.generator.synthesis(tw.generator.mapping(z))))
    hit = {a: float(np.mean(got[a] == np.asarray(attrs[a]))) for a in world.ATTRIBUTES}
    all5 = float(np.mean(np.all([got[a] == np.asarray(attrs[a]) for a in world.ATTRIBUTES], axis=0)))
    # measured here: colour 96.9%, shape 53.1%, size 96.9%, position 95.8%, background 100%; all 49.0%
    # (512 z: shape 54.3%, all 51.4%). Shape is the price of style mixing: the fine rows, which
    # sharpen corners, carry another scene's code in training (RECORD.md, 4500 steps: shape 74.8%)
    hit_shape = hit.pop("shape")
    assert min(hit.values()) >= 0.9 and hit_shape >= 0.45 and all5 >= 0.4, (hit, hit_shape, all5)


def test_global_colour_edits_move_toward_the_prompt(tw):
    from styleclip_jax.toyworld.evaluate import evaluate

    r = evaluate(tw, "global", "colour", n=8, seed=1000)
    assert r["edits"] >= 20
    # measured here: success 75.0%, preservation 71.9%, CLIP gain +0.376 (n 16: 79.7% / 68.8% /
    # +0.371; every layer at alpha 5, upstream's protocol: 59.4% / 50.0%). A no-op edit scores 0%.
    assert r["success_rate"] >= 0.5 and r["preservation_rate"] >= 0.5 and r["clip_gain"] > 0.2, (
        r["success_rate"],
        r["preservation_rate"],
        r["clip_gain"],
    )


def test_optimize_colour_edits_move_toward_the_prompt(tw):
    from styleclip_jax.toyworld.evaluate import evaluate

    r = evaluate(tw, "optimize", "colour", n=4, seed=1000, values=["red", "green", "blue"])
    assert r["edits"] >= 6
    # measured here: success 66.7%, preservation 77.8%, CLIP gain +0.480 (n 16, all colours: 73.4% /
    # 85.9% / +0.428). The colour rows move as one offset (MethodSettings.split_rows).
    assert r["success_rate"] >= 0.5 and r["preservation_rate"] >= 0.6 and r["clip_gain"] > 0.3, (
        r["success_rate"],
        r["preservation_rate"],
        r["clip_gain"],
    )


def test_evaluate_cli_writes_table_and_json(tmp_path, capsys):
    from styleclip_jax.cli.main import main

    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "evaluate",
                "--method",
                "global",
                "--attribute",
                "colour",
                "--n",
                "3",
                "--fresh",
                "--samples",
                "0",
                "--out",
                str(out),
                "--grid",
                str(tmp_path / "grids"),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    r = report["results"][0]
    assert r["method"] == "global" and r["edits"] == len(r["records"]) > 0
    assert 0.0 <= r["success_rate"] <= 1.0 and r["seconds_per_edit"] > 0
    seeds = report["seeds"]  # --fresh: a range drawn now, printed and recorded, never consulted
    assert seeds["fresh"] and seeds["last"] - seeds["first"] == 2 and seeds["consulted_before"] == []
    assert seeds["first"] >= 1_000_000 and {rec["seed"] for rec in r["records"]} <= set(
        range(seeds["first"], seeds["last"] + 1)
    )
    printed = capsys.readouterr().out
    assert "success" in printed and f"start seeds {seeds['first']}-{seeds['last']}: drawn fresh now" in printed
    assert (tmp_path / "grids" / "global_colour.png").exists()
    assert main(["evaluate", "--method", "nope"]) == 2
    assert main(["evaluate", "--method", "global", "--n", "3", "--samples", "0", "--out", str(out)]) == 2  # exists


def test_seed_ranges_name_what_was_consulted_and_fresh_draws_avoid_it(monkeypatch):
    from styleclip_jax.toyworld import seed_ranges

    assert "tuning" in seed_ranges.status(0, 16)[0] and seed_ranges.status(1010, 10)[0].startswith("1000-1015")
    assert seed_ranges.status(192, 16) == [] and seed_ranges.status(9116, 84) == []
    drawn = seed_ranges.CONSULTED[-1]  # a range drawn fresh once, consulted since: later draws avoid it
    assert f"{drawn.first}-{drawn.last}" in seed_ranges.status(drawn.first + 3, 2)[0]
    # a space over the consulted ranges: a draw that overlaps one is rejected, the next kept
    monkeypatch.setattr(seed_ranges, "FRESH_SPACE", (990, 2000))
    draws = iter([5, 30])  # 995-1010 overlaps 1000-1015; 1020-1035 is free
    assert seed_ranges.draw_fresh(16, lambda n: next(draws)) == 1020


def test_demo_from_inverted_scenes(tmp_path, tw, capsys):
    """`demo --start inverted`: drawn scenes -> the bundled encoder -> all three methods; the grids
    and latents are written and the edits start from the encoder's codes."""
    from styleclip_jax.cli.main import main
    from styleclip_jax.io.latents import read_latent_file
    from styleclip_jax.toyworld.inversion import inverted_latents

    out = tmp_path / "demo"
    assert (
        main(
            [
                "demo",
                "--start",
                "inverted",
                "--samples",
                "2",
                "--seed",
                "7",
                "--prompts",
                "a blue object",
                "--mapper-steps",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    for name in ("inversion", "optimize", "global", "mapper"):
        assert (out / f"{name}.png").exists() and (out / f"{name}.npz").exists(), name
    w = read_latent_file(out / "inversion.npz")["wplus"]
    np.testing.assert_allclose(w, inverted_latents(tw, 2, 7), atol=1e-5)
    text = capsys.readouterr().out
    assert "drawn scene 1:" in text and "reconstruction 1:" in text and "A. latent optimisation" in text


def test_gan_training_resumes_bit_identically(tmp_path):
    """Stopped after step 1 of 2 and resumed == uninterrupted (data are a function of (seed, step))."""
    import jax

    from styleclip_jax.toyworld.training.gan import GanConfig, train_gan

    cfg = GanConfig(
        w_dim=16,
        mapping_layers=1,
        g_channels=((4, 16), (8, 16), (16, 8), (32, 8)),
        d_channels=((4, 16), (8, 16), (16, 8), (32, 8)),
        batch=4,
        r1_interval=2,
    )
    full = train_gan(tmp_path / "a", cfg, 2, checkpoint_every=10, progress=False)
    train_gan(tmp_path / "b", cfg, 1, checkpoint_every=10, progress=False)
    resumed = train_gan(tmp_path / "b", cfg, 2, resume=True, checkpoint_every=10, progress=False)
    for x, y in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["step"] for ln in lines] == [1, 2]
    from styleclip_jax.models.generators import load_generator

    g = load_generator(tmp_path / "b" / "generator")
    assert g.source["step"] == 2 and np.all(np.isfinite(np.asarray(g.synthesis(g.mapping(np.zeros((1, 16)))))))


def test_decoder_training_resumes_bit_identically_and_sets_w_avg(tmp_path):
    """The shipped generator's recipe: resume == uninterrupted; exported w_avg is the mean mapped w."""
    import jax

    from styleclip_jax.models.generators import load_generator
    from styleclip_jax.toyworld.training.decoder import DecoderConfig, train_decoder

    cfg = DecoderConfig(
        w_dim=16,
        mapping_layers=1,
        g_channels=((4, 16), (8, 16), (16, 8), (32, 8)),
        batch=4,
        mapping_batch=8,
        fit_steps=20,
        fit_batch=64,
    )
    full = train_decoder(tmp_path / "a", cfg, 2, checkpoint_every=10, progress=False)
    train_decoder(tmp_path / "b", cfg, 1, checkpoint_every=10, progress=False)
    resumed = train_decoder(tmp_path / "b", cfg, 2, resume=True, checkpoint_every=10, progress=False)
    for x, y in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    g = load_generator(tmp_path / "b" / "generator")
    assert g.source["step"] == 2 and g.config.mapping_lr_mul == 1.0
    z = np.asarray(jax.random.normal(jax.random.key(12345), (8192, 16)))
    np.testing.assert_allclose(np.asarray(g.w_avg), np.asarray(g.mapping(z))[:, 0].mean(0), rtol=1e-4, atol=1e-5)


def test_train_loop_saves_on_interrupt_and_refuses_changed_settings(tmp_path):
    """Ctrl-C mid-run keeps every finished step; a resume with other settings is refused."""
    from typing import NamedTuple

    import jax.numpy as jnp

    from styleclip_jax.errors import InputError
    from styleclip_jax.training.loop import experiment, run

    class S(NamedTuple):
        step: jnp.ndarray
        x: jnp.ndarray

    def step_fn(s, n):
        if int(s.step) == 3 and not resumed:
            raise KeyboardInterrupt
        return S(s.step + 1, s.x * 2 + s.step), {"loss": s.x.sum()}

    resumed = False
    with experiment(tmp_path / "e", {"what": "t", "lr": 1}, resume=False) as exp:
        with pytest.raises(KeyboardInterrupt):
            run(exp, S(jnp.int32(0), jnp.ones(3)), step_fn, 6, resume=False, checkpoint_every=100, progress=False)
    with pytest.raises(InputError, match="lr"):
        with experiment(tmp_path / "e", {"what": "t", "lr": 2}, resume=True):
            pass
    with pytest.raises(FileExistsError):
        with experiment(tmp_path / "e", {"what": "t", "lr": 1}, resume=False):
            pass
    resumed = True
    with experiment(tmp_path / "e", {"what": "t", "lr": 1}, resume=True) as exp:
        out = run(exp, S(jnp.int32(0), jnp.zeros(3)), step_fn, 6, resume=True, checkpoint_every=100, progress=False)
    ref = np.ones(3)
    for t in range(6):
        ref = ref * 2 + t
    np.testing.assert_array_equal(np.asarray(out.x), ref)
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "e" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_toy_trainer_cli_records_blend_options(tmp_path):
    """--mix-prob / --w-noise reach the configs recorded in run.json (0 steps: nothing trained)."""
    from styleclip_jax.cli.main import main

    assert (
        main(
            [
                "toy",
                "train-generator",
                str(tmp_path / "g"),
                "--steps",
                "0",
                "--mix-prob",
                "0.25",
                "--w-noise",
                "1.0",
                "--overshoot-prob",
                "0.3",
                "--overshoot",
                "1.5",
                "--style-mix-prob",
                "0.9",
                "--style-split",
                "3",
            ]
        )
        == 0
    )
    cfg = json.loads((tmp_path / "g" / "run.json").read_text())["config"]
    assert cfg["mix_prob"] == 0.25 and cfg["w_noise"] == 1.0
    assert cfg["overshoot_prob"] == 0.3 and cfg["overshoot"] == 1.5
    assert cfg["style_mix_prob"] == 0.9 and cfg["style_split"] == 3
    assert main(["toy", "train-generator", str(tmp_path / "bad"), "--steps", "0", "--style-split", "8"]) == 2
    assert main(["toy", "train-clip", str(tmp_path / "c"), "--steps", "0", "--mix-prob", "0.3"]) == 0
    assert json.loads((tmp_path / "c" / "run.json").read_text())["config"]["mix_prob"] == 0.3
