"""The toy world: one coloured shape on a grey background, with attributes we know exactly.

Every image is a pure function of a PRNG key (``sample_attributes`` then ``render``), so the GAN
and CLIP trainers draw fresh data inside their compiled step loops and never hold a dataset.

Attributes (each an int index into its vocabulary):
  colour      red, yellow, green, blue, purple   (hue; saturation and value jittered)
  shape       circle, square, triangle          (equal areas, so size does not depend on shape)
  size        small, large                      (radius 4.5 or 7.5 px at 32 px)
  position    left, center, right               (x centre 10 / 16 / 22 px, ±1 px jitter)
  background  dark, light                        (achromatic grey, value jittered)

Images are NHWC float32 in [-1, 1], ``RESOLUTION`` square, anti-aliased by 4x supersampling.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

RESOLUTION = 32
ATTRIBUTES = ("colour", "shape", "size", "position", "background")
VOCAB = {
    "colour": ("red", "yellow", "green", "blue", "purple"),
    "shape": ("circle", "square", "triangle"),
    "size": ("small", "large"),
    "position": ("left", "center", "right"),
    "background": ("dark", "light"),
}
HUES = (0.0, 55.0, 125.0, 220.0, 285.0)  # degrees, one per colour
HUE_JITTER = 6.0
RADII = (4.5, 7.5)  # radius of the equal-area circle, px at 32
X_CENTRES = (10.0, 16.0, 22.0)
BG_VALUES = ((0.05, 0.2), (0.75, 0.9))
SUPERSAMPLE = 4
# What a scene is made of: its geometry (where and what the object is) and its appearance (the
# colours it is painted in); JITTER_COLUMNS names the columns of ``render_jittered``'s ``u``.
GEOMETRY = ("shape", "size", "position")
APPEARANCE = ("colour", "background")
JITTER_COLUMNS = ("hue", "saturation", "value", "x", "y", "grey")
APPEARANCE_JITTER = ("hue", "saturation", "value", "grey")


def num_values(attr: str) -> int:
    return len(VOCAB[attr])


def sample_attributes(key: jax.Array, batch: int) -> dict[str, jax.Array]:
    """Uniform attribute indices, each int32 (batch,)."""
    keys = jax.random.split(key, len(ATTRIBUTES))
    return {a: jax.random.randint(k, (batch,), 0, num_values(a)) for a, k in zip(ATTRIBUTES, keys)}


def _hsv_to_rgb(h, s, v):
    """h in degrees, s and v in [0, 1] (batched) -> (..., 3)."""
    h6 = (h % 360.0) / 60.0
    k = jnp.stack([(5.0 + h6) % 6.0, (3.0 + h6) % 6.0, (1.0 + h6) % 6.0], axis=-1)
    return v[..., None] - v[..., None] * s[..., None] * jnp.clip(jnp.minimum(k, 4.0 - k), 0.0, 1.0)


def _coverages(cx, cy, r, res: int):
    """Fraction of each pixel inside each shape (circle, square, triangle), (3, res, res), by
    SUPERSAMPLE² point samples."""
    n = res * SUPERSAMPLE
    t = (jnp.arange(n) + 0.5) / SUPERSAMPLE
    y, x = jnp.meshgrid(t, t, indexing="ij")
    dx, dy = x - cx, y - cy
    circle = dx * dx + dy * dy <= r * r
    half = r * math.sqrt(math.pi) / 2.0  # square of the same area
    square = jnp.maximum(jnp.abs(dx), jnp.abs(dy)) <= half
    big_r = r * math.sqrt(4.0 * math.pi / (3.0 * math.sqrt(3.0)))  # equilateral triangle, same area
    # pointing up, centroid at (cx, cy): below the two upper edges and above the base
    base = dy <= big_r / 2.0
    edge = math.sqrt(3.0) * jnp.abs(dx) - dy <= big_r  # |x|·√3 − y ≤ R (y down)
    triangle = base & edge
    inside = jnp.stack([circle, square, triangle]).astype(jnp.float32)
    return inside.reshape(3, res, SUPERSAMPLE, res, SUPERSAMPLE).mean(axis=(2, 4))


def render(attrs: dict[str, jax.Array], key: jax.Array, res: int = RESOLUTION) -> jax.Array:
    """Attribute indices (batch,) each -> images (batch, res, res, 3) in [-1, 1] (jittable).

    ``key`` draws the within-class jitter (hue, saturation, value, position, background grey).
    """
    b = attrs["colour"].shape[0]
    u = jnp.stack([jax.random.uniform(k, (b,)) for k in jax.random.split(key, 6)], axis=1)
    return render_jittered(attrs, u, res)


def render_jittered(attrs: dict[str, jax.Array], u: jax.Array, res: int = RESOLUTION) -> jax.Array:
    """``render`` with the jitter given: ``u`` (batch, 6) uniforms in [0, 1] for hue, saturation,
    value, x, y and background grey (each mapped linearly onto its range)."""
    return render_blended(one_hot(attrs), u, res)


def one_hot(attrs: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Attribute indices (batch,) -> mixing weights {attr: (batch, num_values)} of pure scenes."""
    return {a: jax.nn.one_hot(attrs[a], num_values(a)) for a in ATTRIBUTES}


def other_values(key: jax.Array, v: jax.Array, n: int) -> jax.Array:
    """For value indices ``v`` (batch,) of an n-valued attribute: another value each, uniform
    among the rest."""
    return (v + jax.random.randint(key, v.shape, 1, n)) % n


def along(v: jax.Array, other: jax.Array, lam: jax.Array, n: int) -> jax.Array:
    """Value weights (batch, n) at ``lam`` (batch,) along the line from value ``v`` to ``other``:
    (1 − λ)·one-hot(v) + λ·one-hot(other). λ in [0, 1] is a blend; λ < 0 lies past ``v``."""
    return (1.0 - lam)[:, None] * jax.nn.one_hot(v, n) + lam[:, None] * jax.nn.one_hot(other, n)


def sample_blends(key: jax.Array, attrs: dict[str, jax.Array], mix_prob: float) -> dict[str, jax.Array]:
    """Value weights: with probability ``mix_prob`` per attribute and scene, (1 − λ)·its value +
    λ·another value, λ ~ U(0, 1); otherwise one-hot."""
    out = {}
    for i, a in enumerate(ATTRIBUTES):
        k_on, k_other, k_lam = jax.random.split(jax.random.fold_in(key, i), 3)
        n, v = num_values(a), attrs[a]
        lam = jax.random.uniform(k_lam, v.shape) * jax.random.bernoulli(k_on, mix_prob, v.shape)
        out[a] = along(v, other_values(k_other, v, n), lam, n)
    return out


def render_blended(weights: dict[str, jax.Array], u: jax.Array, res: int = RESOLUTION) -> jax.Array:
    """Scenes whose attributes are convex blends of values: ``weights[a]`` (batch, num_values(a)),
    rows summing to 1; ``u`` (batch, 6) jitter as in ``render_jittered`` -> (batch, res, res, 3).

    Blends are what lie *between* two scenes: colour mixes the two RGB colours, size and position
    interpolate radius and x, background its grey range, and shape cross-fades the coverages.
    With one-hot weights this is exactly the pure scene. The toy CLIP can be trained on them with
    soft targets, so its score rises along the path from one colour to another (trained on pure
    scenes only it stayed flat until halfway, and its gradient had nothing to follow); the toy
    generator can be trained on them so the straight W path between two values draws the
    in-between scene.
    """

    def lerp(i, lo, hi):
        return lo + (hi - lo) * u[:, i]

    def mix(a, values):
        return weights[a] @ jnp.asarray(values, jnp.float32)

    scale = res / RESOLUTION
    hue_jitter = lerp(0, -HUE_JITTER, HUE_JITTER)
    sat, val = lerp(1, 0.7, 0.95), lerp(2, 0.75, 0.95)
    rgbs = jnp.stack([_hsv_to_rgb(h + hue_jitter, sat, val) for h in HUES], axis=1)  # (B, 5, 3)
    rgb = jnp.einsum("bk,bkc->bc", weights["colour"], rgbs)
    cx = (mix("position", X_CENTRES) + lerp(3, -1.0, 1.0)) * scale
    cy = (RESOLUTION / 2 + lerp(4, -1.0, 1.0)) * scale
    r = mix("size", RADII) * scale
    grey = lerp(5, mix("background", [v[0] for v in BG_VALUES]), mix("background", [v[1] for v in BG_VALUES]))

    cov = jax.vmap(lambda ws, x, y, rr: jnp.tensordot(ws, _coverages(x, y, rr, res), axes=1))(
        weights["shape"], cx, cy, r
    )[..., None]
    img = grey[:, None, None, None] * (1.0 - cov) + rgb[:, None, None, :] * cov
    return img * 2.0 - 1.0


def mix_scenes(
    weights_a: dict[str, jax.Array], u_a: jax.Array, weights_b: dict[str, jax.Array], u_b: jax.Array, take_b: jax.Array
) -> tuple[dict[str, jax.Array], jax.Array]:
    """Scenes with scene a's geometry and, where ``take_b`` (batch,) bool, scene b's appearance
    (``APPEARANCE`` weights and ``APPEARANCE_JITTER`` columns): (value weights, u) for
    ``render_blended``. Where ``take_b`` is False this returns scene a unchanged."""
    weights = {a: jnp.where(take_b[:, None], weights_b[a], w) if a in APPEARANCE else w for a, w in weights_a.items()}
    cols = jnp.asarray([c in APPEARANCE_JITTER for c in JITTER_COLUMNS])
    return weights, jnp.where(take_b[:, None] & cols[None], u_b, u_a)


def scene_of_latent(z: jax.Array) -> tuple[dict[str, jax.Array], jax.Array]:
    """The scene a latent z (batch, >= 11) names: attributes from Φ(z[:, :5]), jitter from Φ(z[:, 5:11]).

    Used only by the GAN's reconstruction term (``GanConfig.recon_weight``): it ties each z to
    one scene so the generator covers every attribute combination within a CPU-sized budget.
    """
    p = jax.scipy.stats.norm.cdf(z[:, :11])
    attrs = {
        a: jnp.minimum((p[:, i] * num_values(a)).astype(jnp.int32), num_values(a) - 1) for i, a in enumerate(ATTRIBUTES)
    }
    return attrs, p[:, 5:11]


@functools.partial(jax.jit, static_argnums=2)
def sample_blended(key: jax.Array, batch_template: jax.Array, mix_prob: float):
    """(attributes, value weights, images) for random scenes blended as in ``sample_blends``."""
    ka, kb, kr = jax.random.split(key, 3)
    attrs = sample_attributes(ka, batch_template.shape[0])
    weights = sample_blends(kb, attrs, mix_prob)
    u = jax.random.uniform(kr, (batch_template.shape[0], 6))
    return attrs, weights, render_blended(weights, u)


@jax.jit
def sample(key: jax.Array, batch_template: jax.Array) -> tuple[dict[str, jax.Array], jax.Array]:
    """(attributes, images) for ``batch_template.shape[0]`` random scenes (jitted helper)."""
    ka, kr = jax.random.split(key)
    attrs = sample_attributes(ka, batch_template.shape[0])
    return attrs, render(attrs, kr)


def sample_numpy(seed: int, batch: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Host convenience: (attribute indices, images (batch, 32, 32, 3) in [-1, 1]) from a seed."""
    attrs, imgs = sample(jax.random.key(seed), jnp.zeros((batch,)))
    return {a: np.asarray(v) for a, v in attrs.items()}, np.asarray(imgs)


def attribute_words(attrs: dict[str, np.ndarray], i: int) -> dict[str, str]:
    return {a: VOCAB[a][int(attrs[a][i])] for a in ATTRIBUTES}
