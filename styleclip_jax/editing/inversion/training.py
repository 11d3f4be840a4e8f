"""Training an e4e encoder for any generator folder (``styleclip-jax encoder train``).

Data: generator samples, a pure function of (seed, step): z ~ N(0, I), w = mapping(z, ψ),
x = G(w) (area-pooled to the encoder's input size, as pSp's ``face_pool``). Objective, per e4e
where its parts exist here:
    λ_pix · MSE(G(E(x)), x) + λ_ID · ID(G(E(x)), x) + λ_Δ · Σ_i ‖Δ_i‖₂ [+ λ_w · MSE(E(x), w)]
(the last term uses the known latent of a synthetic sample; it is not in e4e and is off by
default). A ReStyle encoder (``encoder_config_for(..., restyle=True)``) trains as upstream's
ReStyle coach: ``iterations`` passes per batch, the first fed (x, average image) and adding the
residual to ``latent_avg``, each later one fed (x, the previous reconstruction) and adding to the
previous code, both detached; the loss is summed over the passes (their gradients accumulate).
Images reach the encoder through ``face_pool`` (pSp's adaptive average pool), as at inference.
Progressive training: rows get their deltas one at a time, from ``progressive_start`` every
``progressive_every`` steps (0: all at once). Adam; BatchNorm in eval mode. Resumable with the
shared loop (orbax checkpoints, bit-identical resume); the folder is locked while a run writes it.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from styleclip_jax.editing.inversion.config import EncoderTrainConfig
from styleclip_jax.editing.inversion.restyle import face_pool
from styleclip_jax.errors import InputError
from styleclip_jax.models.e4e import Encoder, EncoderConfig
from styleclip_jax.models.handle import expected_shapes_of, flat_tensors
from styleclip_jax.models.idnet.loss import id_loss
from styleclip_jax.parallel.distributed import barrier, is_primary, replicate
from styleclip_jax.parallel.mesh import batch_shardings
from styleclip_jax.training.loop import experiment, run


def encoder_config_for(
    gen,
    widths=(64, 128, 256, 512),
    units=(3, 4, 14, 3),
    input_size: int | None = None,
    se_reduction: int = 16,
    restyle: bool = False,
) -> EncoderConfig:
    """An e4e architecture for ``gen``: IR-SE stages of ``widths`` × ``units`` (the first unit of
    each stage has stride 2), one style block per W+ row (convs down to 1×1 from c3 / p2 / p1).
    ``restyle``: ReStyle-e4e's instead (6 input channels, no FPN, every row from c3)."""
    size = input_size or min(256, gen.config.resolution)
    if size % 16 or size < 16:
        raise InputError(f"the encoder input must be a multiple of 16 (>= 16), got {size}")
    rows, cin = [], widths[0]
    for depth, n in zip(widths, units):
        rows += [(cin, depth, 2)] + [(depth, depth, 1)] * (n - 1)
        cin = depth
    ends = np.cumsum(units) - 1
    side = {"c3": size // 16, "p2": size // 8, "p1": size // 4}
    rows_from = (lambda i: "c3") if restyle else (lambda i: "c3" if i < 3 else "p2" if i < 7 else "p1")
    convs = tuple(int(math.log2(side[rows_from(i)])) for i in range(gen.config.num_ws))
    if min(convs) < 1:
        raise InputError(f"input size {size} leaves no spatial extent for the style blocks; use >= 32")
    return EncoderConfig(
        units=tuple(rows),
        se_reductions=tuple(max(1, min(se_reduction, d)) for _, d, _ in rows),
        taps=tuple(int(e) for e in ends[1:]),
        fpn_width=0 if restyle else widths[-1],
        style_dim=gen.config.w_dim,
        style_convs=convs,
        input_size=size,
        input_nc=6 if restyle else 3,
    )


def init_encoder(cfg: EncoderConfig, gen, seed: int = 0) -> Encoder:
    """He-initialised convs and linears, BN at identity, PReLU 0.25, latent_avg = the generator's w_avg."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for k, shape in expected_shapes_of(Encoder.abstract(cfg)).items():
        leaf = k.rsplit(".", 1)[-1]
        if k == "latent_avg":
            v = np.repeat(np.asarray(gen.tensors()["w_avg"])[None], cfg.num_styles, 0)
        elif leaf == "running_var" or (leaf == "weight" and "bn" in k):
            v = np.ones(shape)
        elif leaf in ("running_mean", "bias", "linear_bias"):
            v = np.zeros(shape)
        elif "prelu" in k:
            v = np.full(shape, 0.25)
        elif leaf == "linear_weight":
            v = rng.standard_normal(shape)  # EqualLinear scales by 1/√in at run time
        else:
            v = rng.standard_normal(shape) * math.sqrt(2.0 / float(np.prod(shape[:-1])))
        tensors[k] = np.asarray(v, np.float32)
    return Encoder(cfg, tensors, {"format": "trained"})


class TrainState(NamedTuple):
    step: jax.Array
    params: object
    opt: object


def delta_mask(step, cfg: EncoderTrainConfig, n: int):
    """Which rows 1..n-1 have their delta on at ``step`` (progressive training)."""
    if cfg.progressive_every <= 0:
        return jnp.ones((n - 1,), bool)
    k = jnp.maximum(0, (step - cfg.progressive_start) // cfg.progressive_every + 1)
    return jnp.arange(1, n) <= k


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _step(e_def, g_def, i_def, cfg: EncoderTrainConfig, batch_sharding, stats, g_state, i_state, state: TrainState):
    gen = nnx.merge(g_def, g_state)
    key = jax.random.fold_in(jax.random.key(cfg.seed), state.step)
    z = jax.random.normal(key, (cfg.batch_size, gen.cfg.z_dim))
    if batch_sharding is not None:  # data parallel: each device renders and encodes its slice
        z = jax.lax.with_sharding_constraint(z, batch_sharding)
    return _train(e_def, gen, i_def, cfg, stats, i_state, state, z)


def _train(e_def, gen, i_def, cfg, stats, i_state, state, z):
    w = gen.truncate(
        jnp.broadcast_to(gen.mapping(z)[:, None], (z.shape[0], gen.cfg.num_ws, gen.cfg.w_dim)), cfg.truncation
    )

    def render(v):
        return gen.synthesis(gen.synthesis.w_to_s(v))

    x = jax.lax.stop_gradient(render(w))
    (id_def, lp_def), (id_state, lp_state) = i_def, i_state  # the ID net and LPIPS, each optional
    idnet = nnx.merge(id_def, id_state) if id_def is not None else None
    lpips = nnx.merge(lp_def, lp_state) if lp_def is not None else None
    tx = optax.adam(cfg.lr)

    def one_pass(enc, xin, prev_latent, on):
        out = enc.style_outputs(enc.features(xin))
        w0 = out[:, :1]
        deltas = jnp.where(on[None, :, None], out[:, 1:], 0.0)
        base = enc.latent_avg[...][None] if prev_latent is None else prev_latent
        codes = jnp.concatenate([w0, w0 + deltas], axis=1) + base
        return codes, deltas

    def loss_fn(params):
        enc = nnx.merge(e_def, params, stats)
        size = enc.cfg.input_size
        xin = face_pool(x, size)
        on = delta_mask(state.step, cfg, enc.cfg.num_styles)
        if not enc.cfg.iterative:
            codes, deltas = one_pass(enc, xin, None, on)
            passes = [(codes, deltas, render(codes))]
        else:  # ReStyle: every pass sees (x, the detached previous reconstruction)
            passes, latent = [], None
            prev = jnp.broadcast_to(face_pool(render(enc.latent_avg[...][None]), size), xin.shape)
            for _ in range(cfg.iterations):
                codes, deltas = one_pass(enc, jnp.concatenate([xin, jax.lax.stop_gradient(prev)], -1), latent, on)
                y = render(codes)  # once: the pass's loss and the next pass's input
                passes.append((codes, deltas, y))
                latent = jax.lax.stop_gradient(codes)
                prev = face_pool(y, size)
        total, terms = 0.0, {}
        for codes, deltas, y in passes:
            t = {
                "pixel": jnp.mean((y - x) ** 2),
                "delta": jnp.mean(jnp.sum(jnp.linalg.norm(deltas, axis=-1), -1)),
                "latent": jnp.mean((codes - w) ** 2),
            }
            if idnet is not None:
                t["id"] = id_loss(idnet, y, x)
            if lpips is not None:
                t["lpips"] = jnp.mean(lpips(y, x))
            total = total + (
                cfg.pixel_lambda * t["pixel"]
                + cfg.delta_lambda * t["delta"]
                + cfg.latent_lambda * t["latent"]
                + (cfg.id_lambda * t["id"] if idnet is not None else 0.0)
                + (cfg.lpips_lambda * t["lpips"] if lpips is not None else 0.0)
            )
            terms = t  # reported: the last pass
        return total, terms

    (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    upd, opt = tx.update(grads, state.opt, state.params)
    return TrainState(state.step + 1, optax.apply_updates(state.params, upd), opt), {"loss": loss, **terms}


def train_encoder(
    gen,
    cfg: EncoderTrainConfig,
    exp_dir,
    enc_cfg: EncoderConfig | None = None,
    *,
    idnet=None,
    lpips=None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 250,
    progress=None,
    devices: int | None = None,
) -> Encoder:
    """Train (or resume) an encoder for ``gen`` in ``exp_dir``; the encoder folder is ``exp_dir/encoder``.

    ``devices``: local devices the batch is split over (None: all); the result equals a one-device
    run up to float32 reduction order, so a run may resume on another device count.
    """
    if cfg.id_lambda > 0 and idnet is None:
        raise InputError("id_lambda > 0 needs an identity network (an IR-SE50 folder)")
    if cfg.lpips_lambda > 0 and lpips is None:
        raise InputError("lpips_lambda > 0 needs an LPIPS folder (`convert lpips`)")
    enc_cfg = enc_cfg or encoder_config_for(gen)
    if enc_cfg.style_dim != gen.config.w_dim or enc_cfg.num_styles != gen.config.num_ws:
        raise InputError(
            f"the encoder makes W+ ({enc_cfg.num_styles}, {enc_cfg.style_dim}); the generator takes "
            f"({gen.config.num_ws}, {gen.config.w_dim})"
        )
    fixed = {k: v for k, v in cfg.to_dict().items() if k != "steps"}  # a resume may raise steps
    info = {
        "what": "e4e encoder",
        "train": fixed,
        "encoder": enc_cfg.to_dict(),
        "generator": gen.fingerprint(),
        "idnet": idnet.fingerprint() if idnet is not None and cfg.id_lambda else None,
        "lpips": lpips.fingerprint() if lpips is not None and cfg.lpips_lambda else None,
    }
    fresh = init_encoder(enc_cfg, gen, cfg.seed)
    e_def, params, stats = nnx.split(fresh.module(), nnx.Param, ...)
    use_id = cfg.id_lambda > 0
    use_lp = cfg.lpips_lambda > 0
    i_def = (idnet.graphdef if use_id else None, lpips.graphdef if use_lp else None)
    i_state = (idnet.state if use_id else None, lpips.state if use_lp else None)
    state = TrainState(jnp.asarray(0, jnp.int32), params, optax.adam(cfg.lr).init(params))
    g_def, g_state = gen.graphdef, gen.state
    placement, batch_sharding = batch_shardings(devices, cfg.batch_size)
    if placement is not None:
        state, stats, g_state, i_state = replicate((state, stats, g_state, i_state), placement)

    def step_fn(s, n):
        return _step(e_def, g_def, i_def, cfg, batch_sharding, stats, g_state, i_state, s)

    def export(s):
        if not is_primary():
            return
        module = nnx.merge(e_def, jax.device_get(s.params), stats)
        _, full = nnx.split(module)
        Encoder(
            enc_cfg,
            flat_tensors(full),
            {"format": "trained", "step": int(s.step), "train": cfg.to_dict(), "generator": gen.fingerprint()},
        ).save(exp / "encoder", overwrite=True)

    with experiment(exp_dir, info, resume, overwrite, what="encoder training") as exp:
        state = run(
            exp,
            state,
            step_fn,
            cfg.steps,
            resume=resume,
            checkpoint_every=checkpoint_every,
            on_checkpoint=export,
            progress=progress,
            placement=placement,
        )
        if cfg.steps == 0:
            export(state)
    barrier("encoder-exported")
    return Encoder.load(exp / "encoder")
