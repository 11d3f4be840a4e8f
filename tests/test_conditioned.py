"""Population directions conditioned on the start image (issue #39): the bank's samples that look
like it, and among them the ones CLIP ranks high for the prompt. Known answers on a synthetic
bank, then each method on the toy world: global directions per latent, the optimisation's warm
start per pair, the mapper's fitted start, and their CLI flags."""

import dataclasses

import numpy as np
import pytest

from styleclip_jax.editing.global_directions.population import Population, conditioned_shift
from styleclip_jax.errors import InputError


def _bank():
    """Features: axis 0 = the prompt (colour), axis 1 = like the start (a background). W and u:
    colour in dim 0, background in dim 1. Among the lookalikes the prompt's samples differ in
    colour only, while across the bank the prompt's samples also share the background."""
    f = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]], np.float32)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    w = np.array([[2, 5], [0, 5], [2, 0], [0, 0]], np.float32)
    return Population(w.copy(), f, w, {})


def test_conditioned_direction_cancels_what_the_start_shares_with_its_lookalikes():
    pop = _bank()
    t, src = np.array([1, 0, 0], np.float32), np.array([[0, 1, 0]], np.float32)
    look = pop.likeness(src, 0.01)
    d = pop.w_direction(t, look=look)[0]
    assert d[0] > 1.0 and abs(d[1]) < 0.05, d  # colour moves, the shared background does not
    assert abs(pop.w_direction(t)[1]) > 0.5  # the unconditioned direction drags the background along
    r = pop.relevance(t, look=look[0])  # the same on the channels (u = W here), scaled to max |r| = 1
    np.testing.assert_allclose(r, d / np.abs(d).max(), atol=1e-6)
    # a likeness that prefers no sample is the plain class mean
    flat = np.zeros((1, 4), np.float32)
    np.testing.assert_allclose(pop.w_direction(t, look=flat)[0], pop.w_direction(t), atol=1e-6)
    np.testing.assert_allclose(conditioned_shift(pop.w, flat, np.zeros(4, np.float32)), [[0, 0]], atol=1e-6)
    with pytest.raises(InputError, match="width"):
        pop.likeness(np.ones((1, 5), np.float32), 0.05)


@pytest.fixture(scope="module")
def toy():
    from styleclip_jax.toyworld.bundle import load_world

    return load_world()


def _text(toy, prompt):
    from styleclip_jax.models.clip import normalize, tokenize

    return np.asarray(normalize(toy.clip.encode_text(tokenize([prompt]))))[0]


def test_conditioned_global_edit_takes_one_direction_per_latent(toy):
    from styleclip_jax.editing.global_directions.core import direction_from_relevance, global_edit
    from styleclip_jax.editing.global_directions.population import image_features
    from styleclip_jax.editing.global_directions.text import text_direction
    from styleclip_jax.toyworld.evaluate import start_latents

    w = start_latents(toy, 3, 0, 1.0)
    edit = dict(neutral="object", target="green object", alpha=6.0, beta=0.1, source="population")
    res = global_edit(toy.generator, toy.clip, toy.stats, w, [{**edit, "condition": 0.05}])
    assert res.per_latent is not None and len(res.per_latent) == 3
    pop, dt = toy.stats.population, text_direction(toy.clip, "object", "green object")[0]
    look = pop.likeness(image_features(toy.generator, toy.clip, w), 0.05)
    for i, dirs in enumerate(res.per_latent):  # each latent's direction: the relevance among its lookalikes
        want = direction_from_relevance(toy.stats, pop.relevance(dt, look=look[i]), 0.1)
        np.testing.assert_allclose(dirs[0][0].delta, want.delta, atol=1e-6)
    deltas = np.stack([d[0][0].delta for d in res.per_latent])
    assert np.abs(deltas[0] - deltas[1]).max() > 0.1  # the latents got different directions
    alone = global_edit(toy.generator, toy.clip, toy.stats, w[1:2], [{**edit, "condition": 0.05}])
    np.testing.assert_allclose(alone.images[0], res.images[1], atol=1e-5)  # a latent's edit ignores the others
    flat = global_edit(toy.generator, toy.clip, toy.stats, w, [{**edit, "condition": 1e6}])  # looks alike: plain
    plain = global_edit(toy.generator, toy.clip, toy.stats, w, [edit])
    np.testing.assert_allclose(flat.images, plain.images, atol=1e-4)
    with pytest.raises(InputError, match="source='population'"):
        global_edit(toy.generator, toy.clip, toy.stats, w, [{**edit, "source": "fs3", "condition": 0.05}])
    with pytest.raises(InputError, match="condition"):
        global_edit(toy.generator, toy.clip, toy.stats, w, [{**edit, "condition": -1.0}])


def test_conditioned_warm_start_begins_along_each_pairs_direction(toy):
    from styleclip_jax.editing import OptimizeConfig, optimize
    from styleclip_jax.editing.global_directions.population import image_features
    from styleclip_jax.toyworld.evaluate import start_latents

    w = start_latents(toy, 2, 0, 1.0)
    cfg = OptimizeConfig(steps=1, lr=0.0, rows=(4, 5, 6, 7), tie_rows=True, warm_start=1.0, warm_condition=0.03)
    res = optimize(toy.generator, toy.clip, "a red object", w, config=cfg, population=toy.stats.population)
    pop = toy.stats.population
    d = pop.w_direction(_text(toy, "a red object"), look=pop.likeness(image_features(toy.generator, toy.clip, w), 0.03))
    np.testing.assert_allclose(res.final[:, 4:], w[:, 4:] + d[:, None], atol=1e-5)  # lr 0: where it started
    np.testing.assert_array_equal(res.final[:, :4], w[:, :4])
    assert np.abs(d[0] - d[1]).max() > 0.05  # one start per image, not one for all
    with pytest.raises(InputError, match="warm_start"):
        OptimizeConfig(warm_condition=0.03)


def test_mapper_fit_learns_each_samples_conditioned_offset(toy, tmp_path):
    """The fitted start: on bank samples the mapper's offsets are much nearer the conditioned
    targets than the bias-only start's; rows it does not move stay; the settings are checked."""
    from styleclip_jax.editing.mapper.core import FIT_STEPS, fit_offsets, init_mapper_tensors
    from styleclip_jax.editing.mapper.run import conditioned_targets, train_mapper
    from styleclip_jax.models.mapper.handle import LatentMapperModel
    from styleclip_jax.toyworld.evaluate import MethodSettings

    base = MethodSettings().mapper_config("a yellow object", steps=1, val_size=0, log_every=1, save_every=1)
    mcfg = base.mapper_config(toy.generator.config.num_ws, toy.generator.config.w_dim)
    w, target = conditioned_targets(mcfg, toy.stats.population, _text(toy, "a yellow object"), 1.0, 0.03)
    assert np.all(target[:, :4] == 0) and np.mean(target[:, 4:] ** 2) > 0.1
    start = init_mapper_tensors(mcfg, 0)
    fit = LatentMapperModel(mcfg, fit_offsets(mcfg, start, w[:1800], target[:1800], FIT_STEPS))

    def err(model, rows):
        return float(np.mean((np.asarray(model.apply(w[rows])) - w[rows] - target[rows]) ** 2))

    held = slice(1800, None)  # samples the fit never saw
    assert err(fit, held) < 0.25 * err(LatentMapperModel(mcfg, start), held), (err(fit, held), err(fit, slice(0, 1800)))
    np.testing.assert_array_equal(np.asarray(fit.apply(w[:8]))[:, :4], w[:8, :4])
    cfg = dataclasses.replace(base, population_scale=1.0, population_condition=0.03)
    trained = train_mapper(toy.generator, toy.clip, cfg, tmp_path / "m", population=toy.stats.population)
    assert trained.mapper.fingerprint() != LatentMapperModel(mcfg, start).fingerprint()
    with pytest.raises(InputError, match="population_scale"):
        dataclasses.replace(base, population_condition=0.03)


def test_cli_condition_flags(toy, tmp_path, capsys):
    import json

    from styleclip_jax.cli.main import main

    g, c, s = (str(toy.path / p) for p in ("generator", "clip", "global"))
    models = ["--generator", g, "--clip", c]
    edit = ["global", "edit", *models, "--stats", s, "--neutral", "object", "--target", "green object"]
    edit += ["--alpha", "6", "--beta", "0.1", "--seeds", "1000-1001", "--truncation", "1"]
    out = tmp_path / "g.npz"
    assert main([*edit, "--source", "population", "--condition", "0.05", "--out", str(out)]) == 0
    assert len(json.loads((tmp_path / "g.npz.json").read_text())[0]["channels_per_latent"]) == 2
    opt = ["edit", "optimize", *models, "--text", "a green object", "--seeds", "1000", "--steps", "1"]
    assert (
        main([*opt, "--warm-start", "1", "--warm-condition", "0.03", "--stats", s, "--out", str(tmp_path / "o")]) == 0
    )
    capsys.readouterr()
    refused = [
        [*edit, "--condition", "0.05", "--out", str(tmp_path / "fs3.npz")],  # fs3 has no bank to condition on
        [*opt, "--warm-condition", "0.03", "--stats", s, "--out", str(tmp_path / "o2")],  # no warm start
        [*opt, "--warm-start", "1", "--warm-condition", "2", "--stats", s, "--out", str(tmp_path / "o3")],  # range
        ["mapper", "train", *models, "--description", "a green object", "--population-condition", "0.03"]
        + ["--stats", s, "--out", str(tmp_path / "m")],  # no population start
    ]
    for argv in refused:
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's range check
            code = e.code
        assert code == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "condition" in err[0], err
