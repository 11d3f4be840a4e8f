"""Latent mappers and Ranger vs upstream (goldens mapper_tiny, ranger_steps, mapper_train_steps)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from torch_format import save_zip

from convert_weights.mapper import convert_mapper
from styleclip_jax import CheckpointError, InputError
from styleclip_jax.editing.mapper.core import mapper_loss_terms
from styleclip_jax.models.handle import flat_tensors
from styleclip_jax.models.mapper.handle import LatentMapperModel, load_mapper
from styleclip_jax.models.stylegan2.ops import normalize_2nd_moment
from styleclip_jax.optim.ranger import ranger, ranger_step_quantities


@pytest.fixture(scope="module")
def tiny(golden_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("mapper") / "m"
    convert_mapper(golden_dir / "mapper_tiny.pt", out)
    return load_mapper(out), np.load(golden_dir / "mapper_tiny.npz")


def test_levels_mapper_golden(tiny):
    m, d = tiny
    assert m.config.kind == "levels" and m.config.num_ws == 18 and m.source["description"] == "a face with purple hair"
    np.testing.assert_allclose(
        np.asarray(normalize_2nd_moment(jnp.asarray(d["w"][:, :4]), axis=1)), d["pixelnorm_coarse"], atol=1e-6, rtol=0
    )
    np.testing.assert_allclose(np.asarray(m.module()(d["w"])), d["delta"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(m.apply(d["w"])), d["w_hat"], atol=1e-5, rtol=0)
    nofine = LatentMapperModel(
        dataclasses.replace(m.config, fine=False),
        {k: v for k, v in flat_tensors(m.state).items() if not k.startswith("fine")},
    )
    np.testing.assert_allclose(np.asarray(nofine.module()(d["w"])), d["delta_nofine"], atol=1e-5, rtol=0)


def test_levels_mapper_on_a_small_generator():
    """8 W+ rows (32 px) have no fine level: a levels mapper with only 'medium' edits rows 4-7 and
    leaves 0-3 at zero; asking for a level with no rows names it."""
    from flax import nnx

    from styleclip_jax.models.mapper.network import LatentMapper, MapperConfig

    cfg = MapperConfig(kind="levels", latent_dim=16, num_ws=8, coarse=False, fine=False)
    assert cfg.level_rows() == {"coarse": (0, 4), "medium": (4, 8), "fine": (8, 8)}
    m = LatentMapper(cfg)
    rs = np.random.RandomState(0)
    g_def, params = nnx.split(m, nnx.Param)
    m = nnx.merge(g_def, jax.tree.map(lambda p: jnp.asarray(rs.randn(*p.shape).astype(np.float32) * 10), params))
    w = jnp.asarray(rs.randn(3, 8, 16).astype(np.float32))
    d = np.asarray(m(w))
    np.testing.assert_array_equal(d[:, :4], 0.0)
    np.testing.assert_allclose(d[:, 4:], np.asarray(m.medium(w[:, 4:])), atol=0)
    assert np.abs(d[:, 4:]).max() > 0.1
    assert sorted(k for k, _ in nnx.to_flat_state(nnx.state(m, nnx.Param)))[0][0] == "medium"
    with pytest.raises(ValueError, match=r"no rows for level\(s\) \['fine'\]"):
        MapperConfig(kind="levels", latent_dim=16, num_ws=8)
    with pytest.raises(ValueError, match=r"\['medium', 'fine'\]"):
        MapperConfig(kind="levels", latent_dim=16, num_ws=4)


def test_alpha_strength(tiny):
    m, d = tiny
    w = d["w"]
    np.testing.assert_allclose(np.asarray(m.apply(w, 0.0)), w, atol=0)
    np.testing.assert_allclose(np.asarray(m.apply(w, 2.5)), w + 2.5 * 0.1 * d["delta"], atol=2e-5, rtol=0)
    per = np.asarray(m.apply(w, np.array([1.0, -1.0], np.float32)))
    np.testing.assert_allclose(per[0], d["w_hat"][0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(per[1], w[1] - 0.1 * d["delta"][1], atol=2e-5, rtol=0)
    with pytest.raises(InputError, match="alpha"):
        m.apply(w, np.ones(3, np.float32))
    with pytest.raises(InputError, match=r"wplus must have shape \(B, 18, 512\)"):
        m.apply(w[:, :10])


def test_mapper_checkpoint_with_decoder_converts_both(tmp_path, golden_dir, rosinality_tiny):
    from styleclip_jax.io.torch_pickle import load_checkpoint

    g_ref, gd = rosinality_tiny
    ck = load_checkpoint(golden_dir / "mapper_tiny.pt")
    ros = load_checkpoint(golden_dir / "rosinality_tiny.pt")["g_ema"]
    sd = dict(ck["state_dict"])
    sd.update({f"decoder.{k}": v for k, v in ros.items()})
    p = tmp_path / "full.pt"
    save_zip({"state_dict": sd, "opts": dict(ck["opts"])}, p)
    m, g = convert_mapper(p, tmp_path / "m", generator_out=tmp_path / "g")
    assert (tmp_path / "g" / "model.safetensors").exists() and g.config.resolution == 64
    np.testing.assert_allclose(np.transpose(np.asarray(g.synthesis(gd["wplus"])), (0, 3, 1, 2)), gd["img_a"], atol=1e-4)


def test_mapper_bad_checkpoints(tmp_path, golden_dir):
    from styleclip_jax.io.torch_pickle import load_checkpoint

    ck = load_checkpoint(golden_dir / "mapper_tiny.pt")
    opts = dict(ck["opts"], no_fine_mapper=True)
    save_zip({"state_dict": ck["state_dict"], "opts": opts}, tmp_path / "lie.pt")
    with pytest.raises(CheckpointError, match="no_fine_mapper=True but the weights have"):
        convert_mapper(tmp_path / "lie.pt")
    sd = {k: v for k, v in ck["state_dict"].items() if k != "mapper.medium_mapping.mapping.3.bias"}
    save_zip({"state_dict": sd, "opts": ck["opts"]}, tmp_path / "miss.pt")
    with pytest.raises(CheckpointError, match="missing key 'mapper.medium_mapping.mapping.3.bias'"):
        convert_mapper(tmp_path / "miss.pt")
    with pytest.raises(CheckpointError, match="mapper checkpoint"):
        convert_mapper(golden_dir / "rosinality_tiny.pt")


# ---- Ranger ---------------------------------------------------------------------------------------
def _ours(name, x):
    """torch layout -> ours: W (out, in) -> (in, out); K OIHW -> HWIO (leading step axis kept)."""
    lead = x.ndim - {"W": 2, "b": 1, "K": 4}[name]
    if name == "W":
        return np.swapaxes(x, -1, -2)
    if name == "K":
        return np.transpose(x, tuple(range(lead)) + tuple(lead + i for i in (2, 3, 1, 0)))
    return x


@pytest.mark.parametrize("variant,kw", [("", {}), ("wd_", dict(weight_decay=0.1, gc_conv_only=True))])
def test_ranger_golden(golden_dir, variant, kw):
    r = np.load(golden_dir / "ranger_steps.npz")
    tx = ranger(**kw)
    p = {n: jnp.asarray(_ours(n, r[f"init_{n}"])) for n in "WbK"}
    state = tx.init(p)
    update = jax.jit(tx.update)
    slow_i = 0
    for t in range(20):
        g = {n: jnp.asarray(_ours(n, r[f"grad_{n}"][t])) for n in "WbK"}
        u, state = update(g, state, p)
        p = optax.apply_updates(p, u)
        for n in "WbK":
            np.testing.assert_allclose(
                np.asarray(p[n]),
                _ours(n, r[f"{variant}param_{n}"][t]),
                atol=1e-6,
                rtol=0,
                err_msg=f"{variant}{n} step {t + 1}",
            )
            if not variant:
                np.testing.assert_allclose(np.asarray(state.mu[n]), _ours(n, r[f"exp_avg_{n}"][t]), atol=2e-6, rtol=0)
                np.testing.assert_allclose(
                    np.asarray(state.nu[n]), _ours(n, r[f"exp_avg_sq_{n}"][t]), atol=2e-6, rtol=0
                )
        if t + 1 in r["lookahead_steps"]:
            for n in "WbK":
                np.testing.assert_allclose(
                    np.asarray(state.slow[n]), _ours(n, r[f"{variant}slow_{n}"][slow_i]), atol=1e-6, rtol=0
                )
            slow_i += 1
    assert slow_i == 3


def test_ranger_step_quantities(golden_dir):
    r = np.load(golden_dir / "ranger_steps.npz")
    q = np.array([ranger_step_quantities(t) for t in range(1, 21)])
    np.testing.assert_allclose(q[:, 0], r["n_sma"], rtol=1e-6)
    np.testing.assert_allclose(q[:, 1], r["step_size"], rtol=1e-6)


def _torch_key_to_ours(name: str) -> tuple[str, bool]:
    """'mapper.course_mapping.mapping.2.weight' -> ('coarse.layers.1.weight', is_weight)."""
    lvl, rest = name[len("mapper.") :].split("_mapping.mapping.")
    i, p = rest.split(".")
    return f"{'coarse' if lvl == 'course' else lvl}.layers.{int(i) - 1}.{p}", p == "weight"


def test_mapper_training_steps_golden(tiny, golden_dir):
    """Coach.calc_loss + Ranger for 3 steps, with upstream's surrogate CLIP (linear in ŵ).

    Checks loss (rtol 1e-6), L2 term (1e-8), ŵ (1e-5), raw bias gradients (1e-5 of their scale)
    and parameter updates p_k − p_{k−1} (1.3e-4: 2 float32 ulp at |p| < 1024; golden README §8).
    """
    from flax import nnx

    m, _ = tiny
    s = np.load(golden_dir / "mapper_train_steps.npz")
    w, A = jnp.asarray(s["w"]), jnp.asarray(s["A"])

    def loss_fn(params):
        # Our training objective with upstream's surrogate CLIP term and an identity "generator".
        t = mapper_loss_terms(
            nnx.merge(m.graphdef, params),
            w,
            clip_term=lambda x: jnp.sum(A * x, axis=(1, 2)),
            clip_lambda=1.0,
            l2_lambda=0.8,
        )
        return t["loss"], (t["l2"], t["w_hat"])

    step = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    tx = ranger()
    params, opt = m.state, tx.init(m.state)
    ours_prev = flat_tensors(params)
    ref_prev = {name: ours_prev[_torch_key_to_ours(name)[0]] for name in s["param_names"]}  # our layout
    for k in range(4):
        (loss, (l2, w_hat)), grads = step(params)
        assert abs(float(loss) - s["loss"][k]) <= 1e-6 * abs(s["loss"][k]), k
        assert abs(float(l2) - s["loss_l2_latent"][k]) < 1e-8, k
        np.testing.assert_allclose(np.asarray(w_hat), s["w_hat"][k], atol=1e-5, rtol=0)
        if k == 3:
            break
        g = flat_tensors(grads)
        for name in s["param_names"]:
            key = f"grad_step{k + 1}/{name}"
            if key in s.files and name.endswith("bias"):
                want = s[key]
                np.testing.assert_allclose(g[_torch_key_to_ours(name)[0]], want, atol=1e-5 * np.abs(want).max(), rtol=0)
        u, opt = tx.update(grads, opt, params)
        params = optax.apply_updates(params, u)
        ours = flat_tensors(params)
        checked = 0
        for name in s["param_names"]:
            key = f"param_step{k + 1}/{name}"
            if key not in s.files:
                continue
            ok, is_w = _torch_key_to_ours(name)
            ref_now = s[key].T if is_w else s[key]
            if name in ref_prev:
                np.testing.assert_allclose(
                    ours[ok] - ours_prev[ok], ref_now - ref_prev[name], atol=1.3e-4, rtol=0, err_msg=key
                )
                checked += 1
            ref_prev[name] = ref_now
        ref_prev = {n: v for n, v in ref_prev.items() if f"param_step{k + 1}/{n}" in s.files}
        assert checked >= 12, checked
        ours_prev = ours
