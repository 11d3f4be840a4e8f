"""The toy world's shipped generator: our Flax StyleGAN2 trained as a decoder of scenes.

Why not the GAN recipe (``gan_training.py``): within a 2-core CPU budget it gave blobs whose
attributes the readers could barely tell apart, and its W space was so entangled that a colour
direction also moved size, shape and position (global directions at α 3: 25% preservation).
Measured on the way (see ``weights/RECORD.md``): with the mapping's StyleGAN2 lr multiplier of
0.01 the reconstruction term could not tie z to its scene at all (attribute agreement at chance
after 1750 steps); with multiplier 1 and the reconstruction alone, the generator learned the
background in 1200 steps and drew no object (an L1 optimum when the object is unpredictable).

So the generator is trained in two coupled parts, in one resumable step:
  * synthesis: a learned *linear* scene embedding ``w = E·[one-hot attributes, jitter]`` is decoded
    by the synthesis network (the same w on every W+ row), pulled by mean |G(w) − scene| toward the
    rendered scene. The scene is known, so the decoder learns where to draw from the first step.
    Because E is linear, each attribute value is a fixed offset in W: the space StyleCLIP's
    methods edit in is disentangled by construction.
  * mapping: the ordinary StyleGAN2 mapping MLP learns z → E(scene_of_latent(z)) by mean squared
    error, on its own larger batch (E held fixed in that term). Sampling z then gives the scene z
    names, as the GAN's reconstruction term intended.
Four options (off by default: the bundled generator was trained without them) aim to make that W
space friendlier to gradient-based edits, as a real StyleGAN's is:
  * ``mix_prob``: per attribute, a training scene mixes two values (``world.sample_blends``,
    ``world.render_blended``), so the points between two scenes' w decode to the in-between scene;
  * ``w_noise``: each W+ row gets independent Gaussian noise, so the decoder learns to ignore
    small moves off the embedding and between rows;
  * ``overshoot_prob``: a pure scene's code is pushed *past* its value, away from another value
    (``overshoot_features``), while the target stays the pure scene; the jitter features likewise
    past their range. So the decoder saturates: codes beyond a value still draw that value. Why:
    CLIP's gradient extrapolates (a "blue object" score rises with the object's size, so an edit
    pushes a large object's code beyond "large"), and without this the decoder drew a different
    shape there (pushing size half an offset past its value kept the shape in 69% of samples).
  * ``style_mix_prob``: StyleGAN's style-mixing regulariser with a fixed split. Rows below
    ``style_split`` carry a scene's geometry (shape, size, position), rows from it a second
    scene's appearance (colour, background), and the target is that combination
    (``style_mix``). So the appearance rows cannot move the geometry, and StyleSpace's colour
    channels sit in the fine layers, as a real StyleGAN's do.
Measured so far (see ``weights/RECORD.md``): blends and noise did not raise colour-edit quality
on their own; the CLIP's blends (``clip_training.ClipTrainConfig.mix_prob``) are what gave its
gradient a slope. Overshoot made the decoder saturate and doubled latent optimisation's
success-and-preservation on the tuning seeds, 22% → 44%, but not on held-out seeds (34%). Style
mixing is what lifted it (held out: 69%), with colour edits moving only the appearance rows as
one offset (``evaluate.MethodSettings``); it costs shape fidelity (from z: 90% → 54%).
``w_avg`` (what truncation pulls toward) is the mean mapped w over 8192 fixed z, set at export.
There is no discriminator: nothing is adversarial, so no mode can collapse.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from styleclip_jax.errors import ConfigError
from styleclip_jax.io.images import make_grid, save_png, to_uint8
from styleclip_jax.io.model_folder import save_model_dir
from styleclip_jax.models.generators import load_generator
from styleclip_jax.models.handle import flat_tensors
from styleclip_jax.models.stylegan2 import GeneratorConfig
from styleclip_jax.models.stylegan2.network import Buffer
from styleclip_jax.toyworld import world
from styleclip_jax.toyworld.training.gan import (
    config_dict,
    init_generator,
    toy_generator_config,
)
from styleclip_jax.training.loop import experiment, run

N_JITTER = len(world.JITTER_COLUMNS)
N_FEATURES = sum(world.num_values(a) for a in world.ATTRIBUTES) + N_JITTER


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    """Architecture and optimisation of the toy generator (every field is recorded with the weights)."""

    resolution: int = world.RESOLUTION
    w_dim: int = 128
    mapping_layers: int = 4
    mapping_lr_mul: float = 1.0
    g_channels: tuple[tuple[int, int], ...] = ((4, 128), (8, 128), (16, 64), (32, 32))
    batch: int = 32
    mapping_batch: int = 512
    mapping_weight: float = 1.0
    mix_prob: float = 0.0  # chance per attribute that a training scene blends two of its values
    w_noise: float = 0.0  # std of independent Gaussian noise on each W+ row fed to the decoder
    overshoot_prob: float = 0.0  # chance per attribute (and jitter) that a pure scene's code is pushed past its value
    overshoot: float = 1.0  # how far past, at most, in units of the offset to another value
    style_mix_prob: float = 0.0  # chance per scene that W+ rows from style_split on come from a second scene
    style_split: int = 4  # first W+ row that carries appearance (colour, background) when mixing
    lr: float = 0.003
    fit_steps: int = 6000
    fit_batch: int = 1024
    fit_lr: float = 0.01
    seed: int = 0

    def __post_init__(self):
        num_ws = self.generator_config().num_ws
        if not 0 < self.style_split < num_ws:
            raise ConfigError(
                f"style_split must lie in 1..{num_ws - 1} (the generator has {num_ws} W+ rows), got {self.style_split}"
            )

    def generator_config(self) -> GeneratorConfig:
        return toy_generator_config(self, mapping_lr_mul=self.mapping_lr_mul)

    def to_dict(self) -> dict:
        return config_dict(self)


class DecoderState(NamedTuple):
    step: jax.Array
    params: dict  # {"g": generator Params, "embed": {"w": (N_FEATURES, w_dim), "b": (w_dim,)}}
    buffers: nnx.State  # generator buffers (noise_const, w_avg)
    opt: optax.OptState


def scene_features(weights: dict[str, jax.Array], u: jax.Array) -> jax.Array:
    """(B, N_FEATURES): every attribute's value weights (one-hot for a pure scene, see
    ``world.one_hot``), then the jitter uniforms mapped to [-1, 1]."""
    return jnp.concatenate([weights[a] for a in world.ATTRIBUTES] + [u * 2.0 - 1.0], axis=1)


def embed(embed_params: dict, weights: dict[str, jax.Array], u) -> jax.Array:
    """The scene's w (B, w_dim); linear in the value weights, so a blend of two scenes' weights
    lands on the straight line between their w."""
    return embed_features(embed_params, scene_features(weights, u))


def embed_features(embed_params: dict, features: jax.Array) -> jax.Array:
    """w (B, w_dim) of scene features (B, N_FEATURES), as built by ``scene_features``."""
    return features @ embed_params["w"] + embed_params["b"]


def overshoot_features(
    key: jax.Array, attrs: dict[str, jax.Array], weights: dict[str, jax.Array], u: jax.Array, prob: float, reach: float
) -> jax.Array:
    """``scene_features`` with, per attribute and pure scene, probability ``prob`` of the value's
    weights pushed μ ~ U(0, reach) offsets *past* the value, away from a random other value: the
    blend line from the other value through this one, continued (``world.along`` at λ = −μ).
    Each jitter feature is likewise scaled by 1 + μ. Blended scenes are left as they are. With
    ``prob`` 0 this is ``scene_features``."""
    parts = []
    for i, a in enumerate(world.ATTRIBUTES):
        k_on, k_other, k_mu = jax.random.split(jax.random.fold_in(key, i), 3)
        n, v = world.num_values(a), attrs[a]
        mu = jax.random.uniform(k_mu, v.shape, maxval=reach) * jax.random.bernoulli(k_on, prob, v.shape)
        pure = jnp.max(weights[a], axis=1, keepdims=True) >= 1.0
        parts.append(jnp.where(pure, world.along(v, world.other_values(k_other, v, n), -mu, n), weights[a]))
    k_on, k_mu = jax.random.split(jax.random.fold_in(key, len(world.ATTRIBUTES)))
    mu = jax.random.uniform(k_mu, u.shape, maxval=reach) * jax.random.bernoulli(k_on, prob, u.shape)
    return jnp.concatenate(parts + [(u * 2.0 - 1.0) * (1.0 + mu)], axis=1)


def draw_scenes(cfg: DecoderConfig, batch: int, ka, kb, ku, ko):
    """``batch`` training scenes from four keys: (value weights, blended as ``cfg.mix_prob`` says;
    jitter u (B, N_JITTER); decoder input features (B, N_FEATURES), overshot as
    ``cfg.overshoot_prob`` says)."""
    attrs = world.sample_attributes(ka, batch)
    weights = world.sample_blends(kb, attrs, cfg.mix_prob)
    u = jax.random.uniform(ku, (batch, N_JITTER))
    return weights, u, overshoot_features(ko, attrs, weights, u, cfg.overshoot_prob, cfg.overshoot)


def style_mix(key: jax.Array, cfg: DecoderConfig, weights: dict[str, jax.Array], u: jax.Array):
    """StyleGAN's style mixing with a fixed split: per scene, with probability
    ``cfg.style_mix_prob``, a second scene b is drawn (``draw_scenes``, like the first) whose code
    goes on the W+ rows from ``cfg.style_split`` on, and the target takes its appearance
    (``world.mix_scenes``).

    Returns (take_b (B,) bool, b's features (B, N_FEATURES), target weights, target u). At
    probability 0 the target is the first scene, bit for bit.
    """
    ka, kb, ku, ko, kt = jax.random.split(key, 5)
    batch = u.shape[0]
    weights_b, u_b, features_b = draw_scenes(cfg, batch, ka, kb, ku, ko)
    take_b = jax.random.bernoulli(kt, cfg.style_mix_prob, (batch,))
    return (take_b, features_b) + world.mix_scenes(weights, u, weights_b, u_b, take_b)


def optimizer(cfg: DecoderConfig):
    return optax.adam(cfg.lr, b1=0.9, b2=0.99, eps=1e-8)


def init_state(cfg: DecoderConfig):
    """(generator graphdef, DecoderState) with fresh weights from ``cfg.seed``."""
    key = jax.random.key(cfg.seed)
    gen = init_generator(cfg.generator_config(), jax.random.fold_in(key, 1))
    g_def, g_params, buffers = nnx.split(gen, nnx.Param, Buffer)
    params = {
        "g": g_params,
        "embed": {
            "w": jax.random.normal(jax.random.fold_in(key, 2), (N_FEATURES, cfg.w_dim)),
            "b": jnp.zeros((cfg.w_dim,)),
        },
    }
    return g_def, DecoderState(jnp.zeros((), jnp.int32), params, buffers, optimizer(cfg).init(params))


def train_step(g_def, cfg: DecoderConfig, state: DecoderState) -> tuple[DecoderState, dict]:
    """One Adam step on both terms; the batch at step t is a pure function of (seed, t)."""
    key = jax.random.fold_in(jax.random.key(cfg.seed), state.step)
    ka, ku, kz = jax.random.split(key, 3)
    kb, kn, ko = (jax.random.fold_in(key, i) for i in (7, 8, 9))  # the first recipe's draws unchanged
    weights, u, features = draw_scenes(cfg, cfg.batch, ka, kb, ku, ko)  # features = scene_features at prob 0
    num_ws = cfg.generator_config().num_ws
    # static: without style mixing no second scene is drawn, and XLA's gradient sums stay as they were
    mixing = cfg.style_mix_prob > 0
    if mixing:  # a second scene's appearance, drawn on W+ rows from style_split on
        take_b, features_b, weights, u = style_mix(jax.random.fold_in(key, 10), cfg, weights, u)
        rows_b = take_b[:, None] & (jnp.arange(num_ws) >= cfg.style_split)[None]  # (B, num_ws)
    target = world.render_blended(weights, u, cfg.resolution)
    z = jax.random.normal(kz, (cfg.mapping_batch, cfg.w_dim))

    def loss_fn(p):
        gen = nnx.merge(g_def, p["g"], state.buffers)
        w = embed_features(p["embed"], features)
        wplus = jnp.broadcast_to(w[:, None], (w.shape[0], num_ws, w.shape[1]))
        if mixing:
            wplus = jnp.where(rows_b[..., None], embed_features(p["embed"], features_b)[:, None], wplus)
        # independent noise per W+ row: the decoder learns to ignore small moves off the scene
        # embedding (and between rows), the moves an edit's gradient makes besides the asked-for one
        wplus = wplus + cfg.w_noise * jax.random.normal(kn, (w.shape[0], num_ws, w.shape[1]))
        img, _ = gen(wplus, noise_mode="const")
        rec = jnp.mean(jnp.abs(img - target))
        za, zu = world.scene_of_latent(z)
        w_target = jax.lax.stop_gradient(embed(p["embed"], world.one_hot(za), zu))
        mse = jnp.mean(jnp.square(gen.mapping(z) - w_target))
        return rec + cfg.mapping_weight * mse, (rec, mse)

    (_, (rec, mse)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    upd, opt = optimizer(cfg).update(grads, state.opt, state.params)
    params = optax.apply_updates(state.params, upd)
    return DecoderState(state.step + 1, params, state.buffers, opt), {"loss_rec": rec, "loss_mapping": mse}


# no donation: an interrupt between dispatch and completion must still find the last state intact
train_step_jit = jax.jit(train_step, static_argnums=(0, 1))


def fit_mapping(g_def, cfg: DecoderConfig, state: DecoderState) -> nnx.State:
    """The generator Params with the mapping refitted to the final E: ``cfg.fit_steps`` Adam steps
    (cosine-decayed lr) on z → E(scene_of_latent(z)), batch ``cfg.fit_batch``, as one ``lax.scan``.

    Why: the joint term chases an E that moves every step, and a step function of z (the scene z
    names) needs many more, cheaper steps than the decoder to be sharp; a mapping-only step costs
    milliseconds. A pure function of the state, so a resumed run exports the same generator.
    """
    gen = nnx.merge(g_def, state.params["g"], state.buffers)
    m_def, m_params = nnx.split(gen.mapping, nnx.Param)
    e = jax.lax.stop_gradient(state.params["embed"])
    tx = optax.adam(optax.cosine_decay_schedule(cfg.fit_lr, cfg.fit_steps), b1=0.9, b2=0.999)

    def step(carry, t):
        p, o = carry
        z = jax.random.normal(jax.random.fold_in(jax.random.key(cfg.seed + 1), t), (cfg.fit_batch, cfg.w_dim))
        za, zu = world.scene_of_latent(z)
        target = embed(e, world.one_hot(za), zu)
        loss, g = jax.value_and_grad(lambda q: jnp.mean(jnp.square(nnx.merge(m_def, q)(z) - target)))(p)
        u, o = tx.update(g, o, p)
        return (optax.apply_updates(p, u), o), loss

    (m_params, _), losses = jax.lax.scan(step, (m_params, tx.init(m_params)), jnp.arange(cfg.fit_steps))
    nnx.update(gen.mapping, m_params)
    return nnx.split(gen, nnx.Param, Buffer)[1], losses


def generator_tensors(g_def, cfg: DecoderConfig, state: DecoderState, n_avg: int = 8192) -> dict[str, np.ndarray]:
    """Flat tensors of the generator (our model format's names): mapping refitted (``fit_mapping``),
    ``w_avg`` set to the mean mapped w over ``n_avg`` fixed z."""
    g_params, _ = jax.jit(fit_mapping, static_argnums=(0, 1))(g_def, cfg, state)
    gen = nnx.merge(g_def, g_params, state.buffers)
    z = jax.random.normal(jax.random.key(12345), (n_avg, gen.cfg.z_dim))
    gen.w_avg[...] = jnp.mean(jax.jit(lambda zz: gen.mapping(zz))(z), axis=0)
    return flat_tensors(nnx.split(gen)[1])


def export_generator(g_def, state: DecoderState, cfg: DecoderConfig, out_dir, steps: int):
    """Write the generator in our model format, with the recipe that made it."""
    source = {
        "format": "trained",
        "trainer": "styleclip_jax.toyworld.training.decoder",
        "step": int(state.step),
        "steps_planned": steps,
        "decoder_config": cfg.to_dict(),
        "data": "styleclip_jax.toyworld.world (procedural, drawn from (seed, step))",
    }
    return save_model_dir(
        out_dir,
        "generator",
        cfg.generator_config().to_dict(),
        generator_tensors(g_def, cfg, state),
        source,
        overwrite=True,
    )


def train_decoder(
    exp_dir,
    cfg: DecoderConfig,
    steps: int,
    *,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 250,
    progress=None,
):
    """Train (or resume) the toy generator in ``exp_dir``; it lands in ``exp_dir/generator``.

    A sample grid (z from RandomState(0), ψ 1) is written to ``exp_dir/samples/<step>.png`` at each
    checkpoint.
    """
    g_def, state = init_state(cfg)
    z = np.random.RandomState(0).randn(32, cfg.w_dim).astype(np.float32)

    def on_checkpoint(st):
        g = load_generator(export_generator(g_def, st, cfg, Path(exp) / "generator", steps))
        (Path(exp) / "samples").mkdir(exist_ok=True)
        save_png(
            Path(exp) / "samples" / f"{int(st.step):06d}.png", make_grid(to_uint8(g.synthesis(g.mapping(z))), nrow=8)
        )

    with experiment(exp_dir, {"what": "toyworld-decoder", "config": cfg.to_dict()}, resume, overwrite) as exp:
        return run(
            exp,
            state,
            lambda st, n: train_step_jit(g_def, cfg, st),
            steps,
            resume=resume,
            checkpoint_every=checkpoint_every,
            on_checkpoint=on_checkpoint,
            progress=progress,
        )
