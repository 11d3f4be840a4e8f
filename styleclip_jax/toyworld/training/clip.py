"""Training the toy-world CLIP contrastively on (scene, caption) pairs.

The model is our Flax CLIP (``models/clip``) at a small size, in OpenAI's layout, so it loads,
exports and plugs into every editing method exactly like a converted ViT-B/32. Image input is
224 px as StyleCLIP feeds it, and training shows both of StyleCLIP's image paths: the loss path
(raw [-1, 1] image, nearest ×7, no normalisation; methods A and B) and the global-directions
path (uint8, PIL bicubic, mean/std). The loss is CLIP's symmetric cross-entropy with
multi-positive targets: a caption that names only "red" fits every red scene in the batch (and,
with ``mix_prob``, a red-blue blend in part).

Plus an auxiliary loss during training only: linear heads on the image features predict the five
attributes. Without it the ViT, trained from scratch for minutes, settles on what global colour
statistics give (colour, background) and never separates shape, size or position, and the text
tower then ignores those words ("a circle" and "a square" had cosine 1.000). The heads are
dropped at export; the shipped model is a plain CLIP.
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

from styleclip_jax.io.model_folder import save_model_dir
from styleclip_jax.models.clip.handle import abstract_clip, clip_expected_shapes
from styleclip_jax.models.clip.loss import loss_images
from styleclip_jax.models.clip.network import CLIPConfig, normalize
from styleclip_jax.models.clip.pil_bicubic import preprocess_generated
from styleclip_jax.models.clip.tokenizer import tokenize
from styleclip_jax.models.handle import flat_tensors, split_filled
from styleclip_jax.toyworld import captions, world
from styleclip_jax.training.loop import experiment, run


@dataclasses.dataclass(frozen=True)
class ClipTrainConfig:
    embed_dim: int = 64
    patch_size: int = 28  # 4 px of the 32 px scene after StyleCLIP's ×7 upsample
    vision_width: int = 64
    vision_layers: int = 3
    text_width: int = 32
    text_layers: int = 2
    batch: int = 64
    lr: float = 2e-3
    warmup: int = 100
    weight_decay: float = 0.01
    pixel_noise: float = 0.03
    aux_weight: float = 1.0
    mix_prob: float = 0.0  # chance per attribute that a scene blends two values (soft targets)
    seed: int = 0

    def clip_config(self) -> CLIPConfig:
        return CLIPConfig(
            embed_dim=self.embed_dim,
            image_size=224,
            patch_size=self.patch_size,
            vision_width=self.vision_width,
            vision_layers=self.vision_layers,
            vision_heads=max(1, self.vision_width // 32),
            context_length=77,
            vocab_size=49408,
            text_width=self.text_width,
            text_layers=self.text_layers,
            text_heads=max(1, self.text_width // 16),
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class ClipState(NamedTuple):
    step: jax.Array
    params: nnx.State
    heads: jax.Array  # (embed_dim, 15) attribute heads, training only
    opt: optax.OptState


def init_tensors(cfg: ClipTrainConfig) -> dict[str, np.ndarray]:
    """CLIP-style init; token rows of words captions never use stay exactly zero (Adam never
    moves them), so the 49408-row table costs little once compressed and unknown words are inert."""
    rng = np.random.RandomState(cfg.seed)
    ccfg = cfg.clip_config()
    out = {}
    for k, shape in sorted(clip_expected_shapes(ccfg).items()):
        if k == "token_embedding":
            t = np.zeros(shape, np.float32)
            ids = sorted({i for w in captions.vocabulary_words() for i in tokenize(w)[0] if i})
            t[ids] = rng.randn(len(ids), shape[1]) * 0.02
        elif "ln_" in k and k.endswith("weight"):
            t = np.ones(shape, np.float32)
        elif k == "logit_scale":
            t = np.full(shape, np.log(1 / 0.07), np.float32)
        elif k.endswith("bias"):
            t = np.zeros(shape, np.float32)
        else:
            fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[:-1]))
            t = rng.randn(*shape) * (0.01 if "positional" in k or "class_embedding" in k else fan_in**-0.5)
        out[k] = np.asarray(t, np.float32)
    return out


def make_optimizer(cfg: ClipTrainConfig, steps: int):
    sched = optax.warmup_cosine_decay_schedule(0.0, cfg.lr, cfg.warmup, max(steps, cfg.warmup + 1))
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, weight_decay=cfg.weight_decay))


def clip_views(images: jax.Array, key: jax.Array, noise: float) -> jax.Array:
    """32 px scenes in [-1, 1] -> 224 px CLIP inputs, half by each StyleCLIP path, with pixel noise."""
    k1, k2 = jax.random.split(key)
    x = jnp.clip(images + noise * jax.random.normal(k1, images.shape), -1.0, 1.0)
    loss_path = loss_images(x)
    global_path = preprocess_generated(x)
    pick = jax.random.bernoulli(k2, 0.5, (x.shape[0], 1, 1, 1))
    return jnp.where(pick, loss_path, global_path)


def scene_batch(cfg: ClipTrainConfig, step: int):
    """Batch at ``step`` (pure function of (seed, step)): (value weights, images, tokens, targets).

    With ``cfg.mix_prob`` > 0 some scenes blend two values of an attribute (``world.sample_blends``)
    and a caption's target is how much of what it names the image holds (``captions.soft_matches``):
    CLIP's score then rises smoothly along the path from one colour to another, which is what
    gradient-based editing follows. The caption names the scene's first value.
    """
    key = jax.random.fold_in(jax.random.key(cfg.seed), step)
    if cfg.mix_prob > 0:
        attrs, weights, imgs = world.sample_blended(key, jnp.zeros((cfg.batch,)), cfg.mix_prob)
    else:  # pure scenes, drawn as the first recipe drew them
        attrs, imgs = world.sample(key, jnp.zeros((cfg.batch,)))
        weights = world.one_hot(attrs)
    attrs = {a: np.asarray(v) for a, v in attrs.items()}
    weights = {a: np.asarray(v) for a, v in weights.items()}
    rng = np.random.RandomState([cfg.seed, step])
    texts, named = captions.random_captions(attrs, rng)
    return weights, imgs, tokenize(texts), captions.soft_matches(weights, named)


def attribute_loss(features, heads, weights):
    """Mean CE of the five linear attribute heads on L2-normalised image features; soft labels
    (the value weights) so blends are learned as blends."""
    logits = normalize(features) @ heads
    total, start = 0.0, 0
    for a in world.ATTRIBUTES:
        n = world.num_values(a)
        total = total + optax.softmax_cross_entropy(logits[:, start : start + n], weights[a]).mean()
        start += n
    return total / len(world.ATTRIBUTES)


def contrastive_loss(clip, images, tokens, targets):
    """Symmetric soft-target CE over exp(logit_scale)·cos; targets (Bi, Bt) 0/1, rows/cols normalised."""
    fi = normalize(clip.encode_image(images))
    ft = normalize(clip.encode_text(tokens))
    logits = jnp.exp(jnp.minimum(clip.logit_scale[...], np.log(100.0))) * fi @ ft.T
    t_i = targets / targets.sum(1, keepdims=True)
    t_t = targets / targets.sum(0, keepdims=True)
    li = -jnp.sum(t_i * jax.nn.log_softmax(logits, axis=1), axis=1).mean()
    lt = -jnp.sum(t_t * jax.nn.log_softmax(logits, axis=0), axis=0).mean()
    acc = jnp.mean(targets[jnp.arange(targets.shape[0]), jnp.argmax(logits, axis=1)])
    return (li + lt) / 2, (acc, fi)


def train_step(graphdef, cfg: ClipTrainConfig, steps: int, state: ClipState, images, tokens, targets, weights):
    tx = make_optimizer(cfg, steps)
    key = jax.random.fold_in(jax.random.key(cfg.seed + 1), state.step)
    views = clip_views(images, key, cfg.pixel_noise)

    def loss_fn(p):
        params, heads = p
        contrastive, (acc, fi) = contrastive_loss(nnx.merge(graphdef, params), views, tokens, targets)
        aux = attribute_loss(fi, heads, weights)
        return contrastive + cfg.aux_weight * aux, (contrastive, aux, acc)

    p = (state.params, state.heads)
    (_, (loss, aux, acc)), g = jax.value_and_grad(loss_fn, has_aux=True)(p)
    upd, opt = tx.update(g, state.opt, p)
    params, heads = optax.apply_updates(p, upd)
    return ClipState(state.step + 1, params, heads, opt), {"loss": loss, "loss_aux": aux, "acc": acc}


train_step_jit = jax.jit(train_step, static_argnums=(0, 1, 2))


def init_state(cfg: ClipTrainConfig, steps: int):
    graphdef, params = split_filled(abstract_clip(cfg.clip_config()), init_tensors(cfg), "toy CLIP")
    n_out = sum(world.num_values(a) for a in world.ATTRIBUTES)
    heads = jnp.asarray(np.random.RandomState(cfg.seed + 2).randn(cfg.embed_dim, n_out) * 0.1, jnp.float32)
    return graphdef, ClipState(
        jnp.zeros((), jnp.int32), params, heads, make_optimizer(cfg, steps).init((params, heads))
    )


def export_clip(state: ClipState, cfg: ClipTrainConfig, out_dir, steps: int):
    source = {
        "format": "trained",
        "trainer": "styleclip_jax.toyworld.training.clip",
        "step": int(state.step),
        "steps_planned": steps,
        "clip_train_config": cfg.to_dict(),
        "data": "styleclip_jax.toyworld.world + captions (procedural, drawn from (seed, step))",
    }
    return save_model_dir(
        out_dir, "clip", cfg.clip_config().to_dict(), flat_tensors(state.params), source, overwrite=True
    )


def train_clip(
    exp_dir,
    cfg: ClipTrainConfig,
    steps: int,
    *,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_every: int = 200,
    progress=None,
):
    """Train (or resume) the toy CLIP in ``exp_dir``; the model lands in ``exp_dir/clip``."""
    graphdef, state = init_state(cfg, steps)

    def step_fn(st, n):
        weights, imgs, tokens, targets = scene_batch(cfg, int(st.step))
        return train_step_jit(graphdef, cfg, steps, st, imgs, tokens, targets, weights)

    with experiment(
        exp_dir, {"what": "toyworld-clip", "config": cfg.to_dict(), "steps": steps}, resume, overwrite
    ) as exp:
        return run(
            exp,
            state,
            step_fn,
            steps,
            resume=resume,
            checkpoint_every=checkpoint_every,
            on_checkpoint=lambda st: export_clip(st, cfg, Path(exp) / "clip", steps),
            progress=progress,
        )
