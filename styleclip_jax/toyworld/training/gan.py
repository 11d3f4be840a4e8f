"""Training the toy-world StyleGAN2 (our Flax generator) against a residual discriminator.

StyleGAN2's recipe, shrunk: non-saturating logistic loss, lazy R1 on reals (every
``r1_interval`` steps), optional style mixing, ``w_avg`` tracked as an EMA of mapped w, an EMA copy
of the generator (the one we ship), Adam(β1 0, β2 0.99). No path-length regulariser.

Plus a reconstruction term (``recon_weight``): each z names one scene (``world.scene_of_latent``)
and the generator is also pulled, by mean |G(z) − scene(z)|, toward it. Why: the adversarial loss
alone, in the ~1-2k steps a 2-core CPU affords, collapsed (run 1, R1 γ 0.01: only dark
backgrounds after 900 steps; run 2, γ 0.2: oscillated between dark-only and noisy light-only
samples at 1500 steps). The reconstruction term gives coverage of every attribute combination at
once; the discriminator still sharpens. Style mixing is off with it (mixed rows would name two
scenes). Data are drawn inside the compiled loop from ``world.render``,
and the batch at step t is a pure function of (seed, t): a resumed run continues exactly.

Why a host loop of jitted steps and not ``lax.scan``: on XLA-CPU, a conv's weight gradient
inside a while/cond body runs ~19x slower than the same HLO at top level (measured: 3x3
modulated conv, 20 ms vs 388 ms), which made a scanned GAN step 12 s instead of 0.8 s. Lazy R1
is therefore a second compiled step chosen on the host, not a ``lax.cond``.
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

from styleclip_jax.io.images import make_grid, save_png, to_uint8
from styleclip_jax.io.model_folder import save_model_dir
from styleclip_jax.models.generators import load_generator
from styleclip_jax.models.handle import flat_tensors
from styleclip_jax.models.stylegan2 import GeneratorConfig
from styleclip_jax.models.stylegan2.network import Buffer, Generator
from styleclip_jax.toyworld import world
from styleclip_jax.toyworld.training.discriminator import Discriminator
from styleclip_jax.training.loop import experiment, run


@dataclasses.dataclass(frozen=True)
class GanConfig:
    """Architecture and optimisation of the toy GAN (every field is recorded with the weights)."""

    resolution: int = world.RESOLUTION
    w_dim: int = 128
    mapping_layers: int = 4
    g_channels: tuple[tuple[int, int], ...] = ((4, 128), (8, 128), (16, 64), (32, 32))
    d_channels: tuple[tuple[int, int], ...] = ((4, 128), (8, 128), (16, 64), (32, 32))
    batch: int = 32
    lr: float = 0.0025
    r1_gamma: float = 0.2
    r1_interval: int = 16
    style_mixing: float = 0.0
    recon_weight: float = 10.0
    ema_kimg: float = 5.0
    ema_rampup: float = 0.05
    w_avg_beta: float = 0.995
    seed: int = 0

    def generator_config(self) -> GeneratorConfig:
        return toy_generator_config(self)

    def to_dict(self) -> dict:
        return config_dict(self)


def toy_generator_config(cfg, **overrides) -> GeneratorConfig:
    """The toy StyleGAN2's config from a trainer config's resolution, w_dim (also z_dim),
    mapping_layers and g_channels; ``overrides`` go to GeneratorConfig as they are."""
    return GeneratorConfig(
        resolution=cfg.resolution,
        z_dim=cfg.w_dim,
        w_dim=cfg.w_dim,
        mapping_dims=(cfg.w_dim,) * cfg.mapping_layers,
        channels=cfg.g_channels,
        source="trained",
        **overrides,
    )


def config_dict(cfg) -> dict:
    """A trainer config as JSON-shaped values: channel tuples ((res, ch), ...) become lists."""
    return {k: [list(x) for x in v] if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


class GanState(NamedTuple):
    step: jax.Array
    g_params: nnx.State
    g_buffers: nnx.State
    g_opt: optax.OptState
    d_params: nnx.State
    d_opt: optax.OptState
    ema: nnx.State


def init_generator(cfg: GeneratorConfig, key: jax.Array) -> Generator:
    """StyleGAN2's initialisation: N(0, 1) raw weights (÷ lr_mul in the mapping), affine bias 1,
    zero noise strengths, fixed N(0, 1) noise buffers (used at inference, as upstream)."""
    gen = Generator(cfg)
    _, state = nnx.split(gen)
    flat = []
    for i, (path, var) in enumerate(nnx.to_flat_state(state)):
        name, k = ".".join(map(str, path)), jax.random.fold_in(key, i)
        v = var[...]
        if name.endswith("weight") or name.endswith("const") or name.endswith("noise_const"):
            v = jax.random.normal(k, v.shape)
            if name.startswith("mapping."):
                v = v / cfg.mapping_lr_mul
        flat.append((path, var.replace(v)))
    nnx.update(gen, nnx.from_flat_state(flat))
    return gen


def optimizers(cfg: GanConfig):
    g_tx = optax.adam(cfg.lr, b1=0.0, b2=0.99, eps=1e-8)
    c = cfg.r1_interval / (cfg.r1_interval + 1)  # StyleGAN2's lazy-regularisation correction
    d_tx = optax.adam(cfg.lr * c, b1=0.0, b2=0.99**c, eps=1e-8)
    return g_tx, d_tx


def init_state(cfg: GanConfig):
    """(graphdefs (gen, disc), GanState) with fresh weights from ``cfg.seed``."""
    key = jax.random.key(cfg.seed)
    gen = init_generator(cfg.generator_config(), jax.random.fold_in(key, 1))
    disc = Discriminator(cfg.resolution, dict(cfg.d_channels), nnx.Rngs(params=jax.random.fold_in(key, 2)))
    g_def, g_params, g_buffers = nnx.split(gen, nnx.Param, Buffer)
    d_def, d_params = nnx.split(disc, nnx.Param)
    g_tx, d_tx = optimizers(cfg)
    state = GanState(
        jnp.zeros((), jnp.int32),
        g_params,
        g_buffers,
        g_tx.init(g_params),
        d_params,
        d_tx.init(d_params),
        jax.tree.map(jnp.copy, g_params),
    )
    return (g_def, d_def), state


def _mapped(gen: Generator, cfg: GanConfig, key):
    """W+ for a batch with style mixing (prob ``style_mixing``), the unmixed w (for w_avg), and z."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    b, n = cfg.batch, gen.cfg.num_ws
    z = jax.random.normal(k1, (b, gen.cfg.z_dim))
    w1 = gen.mapping(z)
    w2 = gen.mapping(jax.random.normal(k2, (b, gen.cfg.z_dim)))
    cut = jnp.where(jax.random.uniform(k3) < cfg.style_mixing, jax.random.randint(k4, (), 1, n), n)
    rows = (jnp.arange(n) < cut)[None, :, None]
    return jnp.where(rows, w1[:, None], w2[:, None]), w1, z


def _fake(gen: Generator, cfg: GanConfig, key):
    km, kn = jax.random.split(key)
    ws, w, z = _mapped(gen, cfg, km)
    img, _ = gen(ws, noise_mode="random", key=kn)
    return img, (w, z)


def _real(cfg: GanConfig, key):
    ka, kr = jax.random.split(key)
    return world.render(world.sample_attributes(ka, cfg.batch), kr, cfg.resolution)


def train_step(graphdefs, cfg: GanConfig, state: GanState, with_r1: bool) -> tuple[GanState, dict]:
    """One D step (plus R1 when ``with_r1``), then one G step, the EMA and ``w_avg`` updates."""
    g_def, d_def = graphdefs
    g_tx, d_tx = optimizers(cfg)
    st = state
    key = jax.random.fold_in(jax.random.key(cfg.seed), st.step)
    kr, kf, kg = jax.random.split(key, 3)
    real = _real(cfg, kr)

    def d_loss(dp):
        gen = nnx.merge(g_def, st.g_params, st.g_buffers)
        fake, _ = _fake(gen, cfg, kf)
        disc = nnx.merge(d_def, dp)
        lf, lr = disc(jax.lax.stop_gradient(fake)), disc(real)
        loss = jnp.mean(jax.nn.softplus(lf)) + jnp.mean(jax.nn.softplus(-lr))
        pen = jnp.float32(jnp.nan)
        if with_r1:
            g = jax.grad(lambda x: jnp.sum(disc(x)))(real)
            pen = jnp.mean(jnp.sum(jnp.square(g), axis=(1, 2, 3)))
            loss = loss + pen * (cfg.r1_gamma / 2) * cfg.r1_interval
        return loss, (lf, lr, pen)

    (ld, (lf, lr, pen)), gd = jax.value_and_grad(d_loss, has_aux=True)(st.d_params)
    upd, d_opt = d_tx.update(gd, st.d_opt, st.d_params)
    d_params = optax.apply_updates(st.d_params, upd)

    def g_loss(gp):
        gen = nnx.merge(g_def, gp, st.g_buffers)
        fake, (w, z) = _fake(gen, cfg, kg)
        adv = jnp.mean(jax.nn.softplus(-nnx.merge(d_def, d_params)(fake)))
        rec = jnp.float32(0.0)
        if cfg.recon_weight > 0:
            attrs, u = world.scene_of_latent(z)
            rec = jnp.mean(jnp.abs(fake - world.render_jittered(attrs, u, cfg.resolution)))
        return adv + cfg.recon_weight * rec, (w, adv, rec)

    (_, (w, lg, rec)), gg = jax.value_and_grad(g_loss, has_aux=True)(st.g_params)
    upd, g_opt = g_tx.update(gg, st.g_opt, st.g_params)
    g_params = optax.apply_updates(st.g_params, upd)
    # w_avg: EMA of mapped w (what truncation pulls toward); the EMA generator shares the buffers
    buffers = jax.tree.map(lambda x: x, st.g_buffers)
    w_mean = w.mean(0)
    buffers["w_avg"] = buffers["w_avg"].replace(w_mean + (buffers["w_avg"][...] - w_mean) * cfg.w_avg_beta)
    nimg = (st.step + 1).astype(jnp.float32) * cfg.batch
    half = jnp.minimum(cfg.ema_kimg * 1000.0, nimg * cfg.ema_rampup)
    beta = 0.5 ** (cfg.batch / jnp.maximum(half, 1e-8))
    ema = jax.tree.map(lambda e, p: p + (e - p) * beta, st.ema, g_params)
    metrics = {"loss_d": ld, "loss_g": lg, "loss_rec": rec, "d_real": jnp.mean(lr), "d_fake": jnp.mean(lf), "r1": pen}
    return GanState(st.step + 1, g_params, buffers, g_opt, d_params, d_opt, ema), metrics


# no donation: an interrupt between dispatch and completion must still find the last state intact
train_step_jit = jax.jit(train_step, static_argnums=(0, 1, 3))


def ema_tensors(graphdefs, state: GanState) -> dict[str, np.ndarray]:
    """Flat tensors of the EMA generator (our model format's names)."""
    gen = nnx.merge(graphdefs[0], state.ema, state.g_buffers)
    return flat_tensors(nnx.split(gen)[1])


def export_generator(graphdefs, state: GanState, cfg: GanConfig, out_dir, steps: int):
    """Write the EMA generator in our model format, with the recipe that made it."""
    source = {
        "format": "trained",
        "trainer": "styleclip_jax.toyworld.training.gan",
        "step": int(state.step),
        "steps_planned": steps,
        "gan_config": cfg.to_dict(),
        "data": "styleclip_jax.toyworld.world (procedural, drawn from (seed, step))",
    }
    return save_model_dir(
        out_dir, "generator", cfg.generator_config().to_dict(), ema_tensors(graphdefs, state), source, overwrite=True
    )


def train_gan(
    exp_dir,
    cfg: GanConfig,
    steps: int,
    *,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 250,
    progress=None,
):
    """Train (or resume) the toy GAN in ``exp_dir``; the EMA generator lands in ``exp_dir/generator``.

    A sample grid (EMA generator, fixed z, ψ 1) is written to ``exp_dir/samples/<step>.png`` at
    each checkpoint.
    """
    graphdefs, state = init_state(cfg)
    z = np.random.RandomState(0).randn(32, cfg.w_dim).astype(np.float32)

    def on_checkpoint(st):
        gen_dir = export_generator(graphdefs, st, cfg, Path(exp) / "generator", steps)
        g = load_generator(gen_dir)
        (Path(exp) / "samples").mkdir(exist_ok=True)
        save_png(
            Path(exp) / "samples" / f"{int(st.step):06d}.png", make_grid(to_uint8(g.synthesis(g.mapping(z))), nrow=8)
        )

    def step_fn(st, n):
        return train_step_jit(graphdefs, cfg, st, int(st.step) % cfg.r1_interval == 0)

    with experiment(exp_dir, {"what": "toyworld-gan", "config": cfg.to_dict()}, resume, overwrite) as exp:
        return run(
            exp,
            state,
            step_fn,
            steps,
            resume=resume,
            checkpoint_every=checkpoint_every,
            on_checkpoint=on_checkpoint,
            progress=progress,
        )
