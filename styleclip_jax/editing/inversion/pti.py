"""Pivotal tuning (PTI, Roich et al. 2022): tune the generator so that each photo's pivot code
(its encoder inversion) reproduces the photo, keeping the code, and so its editability, fixed.

Only the synthesis network's parameters move (the mapping network, ``w_avg`` and the noise buffers
are the base's), so the tuned generator is stored as those tensors over the base folder
(``models.generators.save_tuned``). Settings and loss: ``PTIConfig``. A host loop of jitted
updates (one per photo per step) inside the shared resumable loop: orbax checkpoints, Ctrl-C safe,
one writer, and a manifest that refuses a resume with other photos, pivots, generator or LPIPS.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from styleclip_jax.editing.inversion.config import PTIConfig
from styleclip_jax.errors import InputError
from styleclip_jax.io.jobs import float32_sha256
from styleclip_jax.models.generators import save_tuned, tuned_generator
from styleclip_jax.models.handle import flat_tensors
from styleclip_jax.optim.adam import torch_adam
from styleclip_jax.training.loop import experiment, run
from styleclip_jax.validation import check_array

TUNED = nnx.All(nnx.Param, nnx.PathContains("synthesis"))


class PTIState(NamedTuple):
    step: jax.Array
    params: object  # the synthesis Params being tuned
    opt: object
    stopped_at: jax.Array  # the step the early stop came at, -1 while running


def _mse(a, b):
    return jnp.mean((a - b) ** 2)


def _photo_loss(g_def, l_def, cfg: PTIConfig, rest, l_state, orig, params, w, target, key):
    gen = nnx.merge(g_def, params, rest)
    lp_net = nnx.merge(l_def, l_state) if l_def is not None else None
    img = gen(w)[0]
    l2 = _mse(img, target)
    lp = jnp.mean(lp_net(img, target)) if lp_net is not None else jnp.zeros(())
    loss = cfg.l2_lambda * l2 + cfg.lpips_lambda * lp
    if cfg.locality:  # upstream's Space_Regulizer: one code reg_alpha away from the pivot, noise off
        base = nnx.merge(g_def, orig, rest)
        z = jax.random.normal(key, (w.shape[0], base.cfg.z_dim))
        ws = base.map_to_wplus(z, cfg.reg_psi)
        d = ws - w
        morphed = w + cfg.reg_alpha * d / jnp.linalg.norm(d, axis=(1, 2), keepdims=True)
        new = gen(morphed, noise_mode="none")[0]
        old = jax.lax.stop_gradient(base(morphed, noise_mode="none")[0])
        loss = loss + cfg.reg_l2_lambda * _mse(old, new)
        if lp_net is not None:
            loss = loss + cfg.reg_lpips_lambda * jnp.mean(lp_net(old, new))
    return loss, (l2, lp)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _update(g_def, l_def, cfg: PTIConfig, early_stop: bool, rest, l_state, orig, state: PTIState, w, target, i):
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(cfg.seed), state.step), i)
    grad_fn = jax.value_and_grad(functools.partial(_photo_loss, g_def, l_def, cfg, rest, l_state, orig), has_aux=True)
    (loss, (l2, lp)), grads = grad_fn(state.params, w, target, key)
    tx = torch_adam(optax.constant_schedule(cfg.lr))
    upd, opt = tx.update(grads, state.opt, state.params)
    params = optax.apply_updates(state.params, upd)
    # upstream's single-id coach checks LPIPS before stepping and stops without the update
    stop = lp <= cfg.lpips_threshold if early_stop else jnp.asarray(False)
    keep = lambda old, new: jax.tree.map(lambda a, b: jnp.where(stop, a, b), old, new)  # noqa: E731
    new_state = PTIState(state.step, keep(state.params, params), keep(state.opt, opt), jnp.where(stop, state.step, -1))
    return new_state, {"loss": loss, "l2": l2, "lpips": lp}


def stepper(gen, lpips, cfg: PTIConfig, early_stop: bool = False):
    """(initial PTIState, ``update(state, w, target, i) -> (state, metrics)``, graphdef, the untuned
    variables): one jitted update on photos ``w`` (b, N, D) / ``target`` (b, R, R, 3), the i-th
    chunk of a step (for the locality regulariser's key). ``early_stop``: upstream's single-photo
    LPIPS check (needs ``lpips``)."""
    g_def, params, rest = nnx.split(gen.module(), TUNED, ...)  # type: ignore[misc]
    l_def, l_state = (lpips.graphdef, lpips.state) if lpips is not None else (None, None)
    tx = torch_adam(optax.constant_schedule(cfg.lr))
    state = PTIState(jnp.asarray(0, jnp.int32), params, tx.init(params), jnp.asarray(-1, jnp.int32))
    static = dataclasses.replace(cfg, steps=0, batch=1)  # what the update depends on: one compile for any length
    early = bool(early_stop and lpips is not None and cfg.lpips_lambda > 0)

    def update(s, w, target, i):
        return _update(g_def, l_def, static, early, rest, l_state, params, s, w, target, i)

    return state, update, g_def, rest


def tune(
    gen,
    base_dir,
    pivots,
    targets,
    cfg: PTIConfig,
    exp_dir,
    lpips=None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 50,
    progress=None,
):
    """Tune ``gen`` (loaded from ``base_dir``) around ``pivots`` (B, N, D) toward ``targets`` (B, R,
    R, 3) in [-1, 1] at the generator's resolution; the run lives in ``exp_dir`` and the tuned
    generator is written to ``exp_dir/generator`` (a tuned folder over ``base_dir``; with
    ``base_dir`` None it is only returned, e.g. for the browser editor).

    Returns (the tuned generator, a report {steps, stopped_at, lpips_before, lpips_after, l2_before,
    l2_after} with per-photo values)."""
    c = gen.config
    w = check_array(pivots, "pivots", (None, c.num_ws, c.w_dim))
    x = check_array(targets, "targets", (len(w), c.resolution, c.resolution, 3))
    if len(w) < 1:
        raise InputError("PTI needs at least one photo")
    if cfg.lpips_lambda > 0 and lpips is None:
        raise InputError("PTI's LPIPS term needs an LPIPS folder (`convert lpips`), or set its weight to 0")
    use_lpips = lpips is not None and (cfg.lpips_lambda > 0 or (cfg.locality and cfg.reg_lpips_lambda > 0))
    state, update, g_def, rest = stepper(gen, lpips if use_lpips else None, cfg, early_stop=len(w) == 1)
    info = {
        "what": "pivotal tuning",
        "pti": {k: v for k, v in cfg.to_dict().items() if k != "steps"},
        "generator": gen.fingerprint(),
        "lpips": lpips.fingerprint() if use_lpips else None,
        "pivots": float32_sha256(w),
        "targets": float32_sha256(x),
    }
    w_dev, x_dev = jnp.asarray(w), jnp.asarray(x)

    def step_fn(s, n):
        if int(s.stopped_at) >= 0:  # stopped early: the remaining steps are no-ops
            return s._replace(step=s.step + n), {}
        rows, b = [], cfg.batch
        for i in range(0, len(w), b):
            s, m = update(s, w_dev[i : i + b], x_dev[i : i + b], i)
            rows.append(m)
        s = s._replace(step=s.step + 1)
        return s, {k: jnp.mean(jnp.stack([r[k] for r in rows])) for k in rows[0]}

    made: dict = {}  # step -> the tuned generator: the last export is the result, not made twice

    def tuned_of(s):
        step = int(s.step)
        if step not in made:
            module = nnx.merge(g_def, jax.device_get(s.params), rest)
            _, full = nnx.split(module)
            info_out = {"pti": cfg.to_dict(), "step": step, "stopped_at": int(s.stopped_at), "photos": len(w)}
            made.clear()
            made[step] = tuned_generator(gen, flat_tensors(full), info_out)
        return made[step]

    def export(s):
        if base_dir is not None:
            save_tuned(tuned_dir(exp), tuned_of(s), gen, base_dir, overwrite=True)

    before = measure(gen, w, x, lpips if use_lpips else None)
    with experiment(exp_dir, info, resume, overwrite, may_change=("pti.steps",), what="pivotal tuning") as exp:
        state = run(
            exp,
            state,
            step_fn,
            cfg.steps,
            resume=resume,
            checkpoint_every=checkpoint_every,
            on_checkpoint=export,
            progress=progress,
        )
        if cfg.steps == 0:
            export(state)
    tuned = tuned_of(state)
    after = measure(tuned, w, x, lpips if use_lpips else None)
    report = {
        "steps": int(state.step),
        "stopped_at": int(state.stopped_at),
        "l2_before": before[0].tolist(),
        "l2_after": after[0].tolist(),
        "lpips_before": None if before[1] is None else before[1].tolist(),
        "lpips_after": None if after[1] is None else after[1].tolist(),
    }
    return tuned, report


def measure(gen, wplus, targets, lpips=None):
    """(per-photo MSE, per-photo LPIPS or None) of G(wplus) against ``targets``."""
    img = np.concatenate([np.asarray(gen.synthesis(wplus[i : i + 8])) for i in range(0, len(wplus), 8)])
    l2 = np.mean((img - targets) ** 2, axis=(1, 2, 3))
    return l2, (None if lpips is None else lpips.distance(img, targets))


def tuned_dir(exp_dir) -> Path:
    """Where ``tune`` writes the tuned generator folder."""
    return Path(exp_dir) / "generator"
