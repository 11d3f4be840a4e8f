"""The population estimator of global directions and the optimisation warm start (issue #20):
known answers on a synthetic bank, the bank's file and resumable precompute, and the toy world."""

import dataclasses

import numpy as np
import pytest

from styleclip_jax.editing.global_directions.population import (
    POPULATION_FILE,
    Population,
    precompute_population,
)
from styleclip_jax.errors import CheckpointError, InputError, JobFolderError


def _bank():
    """Six samples: CLIP sees the first three along axis 0 and the rest along axis 1; channel 2 is
    +1 in the first group and -1 in the second; channel 0 varies equally within both groups."""
    f = np.repeat(np.eye(3, dtype=np.float32)[:2], 3, axis=0)
    u = np.zeros((6, 4), np.float32)
    u[:, 2] = [1, 1, 1, -1, -1, -1]
    u[:, 0] = [1, -1, 0, 1, -1, 0]
    w = np.zeros((6, 2), np.float32)
    w[:3] = [2.0, 1.0]
    return Population(u, f, w, {"generator": "g", "clip": "c"})


def test_relevance_and_w_direction_known_answers():
    pop = _bank()
    e = np.eye(3, dtype=np.float32)
    np.testing.assert_allclose(pop.relevance(e[0]), [0, 0, 1, 0], atol=1e-6)  # the first group's channel 2
    np.testing.assert_allclose(pop.relevance(e[1]), [0, 0, -1, 0], atol=1e-6)  # the other group: the other way
    np.testing.assert_allclose(pop.w_direction(e[0]), [1.0, 0.5], atol=1e-6)  # group mean minus the mean
    np.testing.assert_allclose(pop.weights(e[0]).sum(), 1.0, rtol=1e-6)
    with pytest.raises(InputError, match="alike"):  # CLIP ranks all samples equal
        pop.relevance(e[2])
    with pytest.raises(InputError, match="shape"):
        pop.relevance(np.ones(5, np.float32))


def test_conditioned_direction_cancels_what_the_start_shares_with_its_lookalikes():
    # features: axis 0 = "the prompt" (colour), axis 1 = "like the start" (background); W: colour in
    # dim 0, background in dim 1. Among the lookalikes, the prompt's samples differ in colour only.
    f = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]], np.float32)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    w = np.array([[2, 5], [0, 5], [2, 0], [0, 0]], np.float32)
    pop = Population(np.zeros((4, 1), np.float32), f, w, {})
    t, src = np.array([1, 0, 0], np.float32), np.array([[0, 1, 0]], np.float32)
    d = pop.w_direction(t, look=pop.likeness(src, 0.01))[0]
    assert d[0] > 1.0 and abs(d[1]) < 0.05, d  # colour moves, the shared background does not
    assert abs(pop.w_direction(t)[1]) > 0.5  # the unconditioned direction drags the background along


def test_subspace_spans_the_directions_the_codes_vary_in():
    rng = np.random.default_rng(0)
    w = np.zeros((400, 4), np.float32)  # codes vary along axes 2 (most) and 0, barely along 3
    w[:, 2], w[:, 0], w[:, 3] = 3 * rng.normal(size=400), rng.normal(size=400), 1e-3 * rng.normal(size=400)
    pop = Population(np.zeros((400, 1), np.float32), np.eye(2, dtype=np.float32)[rng.integers(0, 2, 400)], w, {})
    b = pop.subspace(0.95)
    assert b.shape == (4, 2)
    np.testing.assert_allclose(b.T @ b, np.eye(2), atol=1e-5)
    on = np.array([0.5, 0.0, -2.0, 0.0], np.float32)  # a move the codes make: unchanged by the projection
    np.testing.assert_allclose(b @ (b.T @ on), on, atol=1e-4)
    np.testing.assert_allclose(b.T @ np.array([0, 1, 0, 1], np.float32), 0, atol=1e-3)  # off it: removed
    assert pop.subspace(0.5).shape == (4, 1) and abs(pop.subspace(0.5)[2, 0]) > 0.99  # the widest first
    assert pop.subspace(1.0).shape[1] == 4


def test_bank_file_round_trip_and_bad_files(tmp_path):
    pop = _bank()
    pop.save(tmp_path / POPULATION_FILE)
    back = Population.load(tmp_path / POPULATION_FILE, 4)
    np.testing.assert_array_equal(back.u, pop.u)
    np.testing.assert_array_equal(back.f, pop.f)
    np.testing.assert_array_equal(back.w, pop.w)
    assert back.info == pop.info
    with pytest.raises(CheckpointError, match="do not fit"):
        Population.load(tmp_path / POPULATION_FILE, 5)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="unreadable"):
        Population.load(tmp_path / "bad.npz", 4)
    nan = Population(pop.u, pop.f * np.nan, pop.w, pop.info)
    nan.save(tmp_path / "nan.npz")
    with pytest.raises(CheckpointError, match="NaN"):
        Population.load(tmp_path / "nan.npz", 4)


@pytest.fixture(scope="module")
def toy():
    from styleclip_jax.toyworld.bundle import load_world

    return load_world()


def test_precompute_resumes_to_the_same_bank_and_refuses_other_settings(toy, tmp_path):
    full = precompute_population(toy.generator, toy.clip, toy.stats, tmp_path / "a", n=600)

    class Stop(Exception):
        pass

    def stop_after_first(done, total):
        if 0 < done < total:
            raise Stop

    with pytest.raises(Stop):
        precompute_population(toy.generator, toy.clip, toy.stats, tmp_path / "b", n=600, progress=stop_after_first)
    assert not (tmp_path / "b" / POPULATION_FILE).exists()
    resumed = precompute_population(toy.generator, toy.clip, toy.stats, tmp_path / "b", n=600)
    for k in ("u", "f", "w"):
        np.testing.assert_array_equal(getattr(resumed, k), getattr(full, k))
    assert full.u.shape == (600, int(sum(toy.stats.widths))) and full.w.shape == (600, toy.generator.config.w_dim)
    with pytest.raises(JobFolderError, match="seed"):
        precompute_population(toy.generator, toy.clip, toy.stats, tmp_path / "b", n=600, seed=1)


def _colour_rows_and_layers(tw):
    layers = tuple(l.name for l in tw.generator.config.style_layers if l.w_index >= 4)  # colour rows, toRGB too
    return layers


def test_population_global_edit_recolours_and_moves_torgb(toy):
    from styleclip_jax.editing import TextEdit, global_edit
    from styleclip_jax.toyworld import world
    from styleclip_jax.toyworld.evaluate import start_latents

    w = start_latents(toy, 8, 1000, 1.0)
    edit = TextEdit("object", "green object", 6.0, 0.1, _colour_rows_and_layers(toy), source="population")
    res = global_edit(toy.generator, toy.clip, toy.stats, w, [edit])
    before, after = toy.reader(np.asarray(toy.generator.synthesis(w))), toy.reader(res.images[:, 0])
    green = world.VOCAB["colour"].index("green")
    todo = before["colour"] != green
    assert np.mean(after["colour"][todo] == green) >= 0.75, after["colour"]
    assert np.mean(after["size"] == before["size"]) >= 0.75
    torgb = np.concatenate([np.full(wd, not m) for wd, m in zip(toy.stats.widths, toy.stats.manipulable)])
    assert np.any(res.directions[0][0].delta[torgb] != 0) and res.summary()[0]["source"] == "population"
    fs3 = global_edit(toy.generator, toy.clip, toy.stats, w, [dataclasses.replace(edit, source="fs3")])
    assert np.all(fs3.directions[0][0].delta[torgb] == 0)  # upstream never moves toRGB
    bare = dataclasses.replace(toy.stats, population=None)
    with pytest.raises(InputError, match="population"):
        global_edit(toy.generator, toy.clip, bare, w, [edit])
    other = dataclasses.replace(
        toy.stats,
        population=Population(
            toy.stats.population.u,
            toy.stats.population.f,
            toy.stats.population.w,
            {**toy.stats.population.info, "clip": "x"},
        ),
    )
    with pytest.raises(InputError, match="another CLIP"):
        global_edit(toy.generator, toy.clip, other, w, [edit])


def test_optimize_warm_start_begins_along_the_population_direction(toy):
    from styleclip_jax.editing import OptimizeConfig, optimize
    from styleclip_jax.toyworld.evaluate import start_latents

    w = start_latents(toy, 2, 0, 1.0)
    cfg = OptimizeConfig(steps=1, lr=0.0, l2_lambda=0, rows=(4, 5, 6, 7), tie_rows=True, warm_start=1.25)
    res = optimize(toy.generator, toy.clip, "a red object", w, config=cfg, population=toy.stats.population)
    np.testing.assert_allclose(res.final[:, 4:], w[:, 4:] + _warm(toy, 1.25), atol=1e-5)  # lr 0: where it started
    np.testing.assert_array_equal(res.final[:, :4], w[:, :4])  # the other rows stay
    np.testing.assert_allclose(res.images_before, np.asarray(toy.generator.synthesis(w)), atol=1e-5)
    assert res.losses["l2"][0].min() > 0  # measured from the original
    with pytest.raises(InputError, match="population"):
        optimize(toy.generator, toy.clip, "a red object", w, config=cfg)
    with pytest.raises(InputError, match="w\\+"):
        OptimizeConfig(space="s", warm_start=1.0)


def test_optimize_in_the_subspace_moves_only_along_it(toy):
    from styleclip_jax.editing import OptimizeConfig, optimize
    from styleclip_jax.toyworld.evaluate import start_latents

    pop = toy.stats.population
    w = start_latents(toy, 2, 0, 1.0)
    basis = pop.subspace(0.95)
    assert 4 <= basis.shape[1] < w.shape[-1]
    base = dict(steps=4, lr=0.05, l2_lambda=0, rows=(4, 5, 6, 7), tie_rows=True, warm_start=1.5)
    kept = optimize(
        toy.generator, toy.clip, "a red object", w, config=OptimizeConfig(**base, subspace=0.95), population=pop
    )
    free = optimize(toy.generator, toy.clip, "a red object", w, config=OptimizeConfig(**base), population=pop)
    for res, inside in ((kept, True), (free, False)):
        moved = res.final[:, 4:] - w[:, 4:] - _warm(toy, 1.5)  # what the Adam steps added to the warm start
        off = np.linalg.norm(moved - (moved @ basis) @ basis.T) / np.linalg.norm(moved)
        assert (off < 1e-3) if inside else (off > 0.05), (inside, off)  # free: ~0.3 measured
    np.testing.assert_array_equal(kept.final[:, :4], w[:, :4])
    with pytest.raises(InputError, match="population"):
        optimize(toy.generator, toy.clip, "a red object", w, config=OptimizeConfig(steps=1, subspace=0.9))
    with pytest.raises(InputError, match="w\\+"):
        OptimizeConfig(space="s", subspace=0.9)
    with pytest.raises(InputError, match="share"):
        OptimizeConfig(subspace=1.5)


def _warm(toy, scale):
    from styleclip_jax.models.clip import normalize, tokenize

    t = np.asarray(normalize(toy.clip.encode_text(tokenize(["a red object"]))))[0]
    return scale * toy.stats.population.w_direction(t)


def test_cli_population_paths(toy, tmp_path, capsys):
    import json
    import shutil

    from styleclip_jax.cli.main import main

    t = toy.path
    g, c, s = str(t / "generator"), str(t / "clip"), str(t / "global")
    out = tmp_path / "g.npz"
    assert (
        main(
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
                "green object",
                "--source",
                "population",
                "--alpha",
                "6",
                "--beta",
                "0.1",
                "--seeds",
                "1000",
                "--truncation",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "g.npz.json").read_text())[0]["source"] == "population"
    assert (
        main(
            [
                "edit",
                "optimize",
                "--generator",
                g,
                "--clip",
                c,
                "--text",
                "a green object",
                "--seeds",
                "1000",
                "--steps",
                "2",
                "--warm-start",
                "1.25",
                "--subspace",
                "0.95",
                "--stats",
                s,
                "--out",
                str(tmp_path / "opt"),
            ]
        )
        == 0
    )
    assert (tmp_path / "opt" / "result.npz").exists()
    capsys.readouterr()
    no_stats = ["edit", "optimize", "--generator", g, "--clip", c, "--text", "a", "--seeds", "0"]
    assert main([*no_stats, "--subspace", "0.9", "--out", str(tmp_path / "o3")]) == 2
    assert "--stats" in capsys.readouterr().err
    # a world (and a stats folder) without the bank: one line, exit code 2
    world = tmp_path / "world"
    world.mkdir()
    for sub in ("generator", "clip", "shape_reader"):
        (world / sub).symlink_to(t / sub)
    shutil.copytree(t / "global", world / "global", ignore=shutil.ignore_patterns("population.npz"))
    capsys.readouterr()
    assert (
        main(["evaluate", "--population", "--world", str(world), "--n", "1", "--samples", "0", "--inversion", "0"]) == 2
    )
    assert (
        main(
            [
                "edit",
                "optimize",
                "--generator",
                g,
                "--clip",
                c,
                "--text",
                "a green object",
                "--seeds",
                "0",
                "--warm-start",
                "1",
                "--stats",
                str(world / "global"),
                "--out",
                str(tmp_path / "o2"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("population" in line for line in err), err


def test_offset_start_puts_the_mean_mapper_offset_at_the_target():
    """An untrained mapper whose last biases come from ``offset_start`` moves W+ by the target on
    average (both signs; the rows of levels that are off stay put)."""
    from styleclip_jax.editing.mapper.core import init_mapper_tensors, offset_start
    from styleclip_jax.models.mapper.handle import LatentMapperModel
    from styleclip_jax.models.mapper.network import MapperConfig

    cfg = MapperConfig(kind="levels", latent_dim=32, num_ws=8, coarse=False, medium=True, fine=False)
    target = np.zeros((8, 32), np.float32)
    target[4:] = np.random.default_rng(0).choice([-2.0, -1.0, 1.0, 2.0], 32)
    m = LatentMapperModel(cfg, offset_start(cfg, init_mapper_tensors(cfg, 0), target), {"format": "test"})
    w = np.random.default_rng(1).standard_normal((512, 8, 32)).astype(np.float32)
    offset = np.asarray(m.apply(w)) - w
    np.testing.assert_array_equal(offset[:, :4], 0)
    err = np.abs(offset.mean(axis=0)[4:] - target[4:])  # lrelu's kink bends it by up to ~10%
    assert err.mean() < 0.1 and err.max() < 0.35, (err.mean(), err.max())
    plain = LatentMapperModel(cfg, init_mapper_tensors(cfg, 0), {"format": "test"})
    assert np.abs((np.asarray(plain.apply(w)) - w).mean(axis=0)[4:] - target[4:]).mean() > 1.0  # not by chance


def test_population_started_mapper_reaches_the_colour(toy, tmp_path):
    """Five Adam steps on "a yellow object": the mapper started at 2x the population's W direction
    recolours held-out samples; the plain one (upstream's start) has not moved them yet. Settings
    missing the bank, or a hold without a start, are refused."""
    import dataclasses

    from styleclip_jax.editing.mapper.run import train_mapper
    from styleclip_jax.toyworld.evaluate import MethodSettings, start_latents

    w = start_latents(toy, 8, 1000, 1.0)
    base = MethodSettings().mapper_config("a yellow object", steps=5, val_size=0, log_every=5, save_every=5)
    yellow = {}
    for scale in (0.0, 2.0):
        cfg = dataclasses.replace(base, population_scale=scale)
        m = train_mapper(toy.generator, toy.clip, cfg, tmp_path / f"m{scale}", population=toy.stats.population)
        read = toy.reader(np.asarray(toy.generator.synthesis(np.asarray(m.mapper.apply(w)))))
        yellow[scale] = int(np.sum(np.asarray(read["colour"]) == 1))
    start = int(np.sum(np.asarray(toy.reader(np.asarray(toy.generator.synthesis(w)))["colour"]) == 1))
    assert yellow[2.0] >= 7 and yellow[0.0] <= start + 1, (yellow, start)
    with pytest.raises(InputError, match="population bank"):
        train_mapper(toy.generator, toy.clip, dataclasses.replace(base, population_scale=2.0), tmp_path / "x")
    with pytest.raises(InputError, match="population_scale"):
        train_mapper(toy.generator, toy.clip, dataclasses.replace(base, population_lambda=1.0), tmp_path / "y")
