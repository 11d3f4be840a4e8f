"""A second estimator of a global direction's channel relevance: the generator's own samples, labelled by CLIP.

StyleCLIP's relevance r_c = fs3_c · Δt asks how CLIP's view of an image turns when one channel
moves by ±5σ: a per-channel derivative of CLIP. Where CLIP responds to moves that leave the
generator's manifold (a small CLIP on a small generator, measured on the toy world), that
derivative points there too. The population estimator asks the reverse question, over samples
the generator actually draws: how do the codes of the samples CLIP ranks highest along Δt
differ from the codes of all of them?

    u_n = (s_n − μ) / σ                every channel of sample n, toRGB too (``population.npz``)
    p_n = softmax_n(f_n · Δt / τ)      f_n: unit CLIP features of sample n's image
    r   = Σ_n p_n u_n − mean_n u_n,    then r /= max_c |r_c|

It is InterFaceGAN's class-mean direction with CLIP as the labeller (as in CLIP2StyleGAN,
Abdal et al. 2022). ``r`` then goes through the same β threshold, layers, keep-texts and regions
as fs3's relevance (``core.directions_of``), and Δs = σ ⊙ r / max|r| as there, so the strongest
channel moves by α·σ. β is relative here (a share of the strongest channel), not a cosine.

Unlike fs3 it covers the toRGB layers as well (upstream never moves them): on the toy world a
population direction without them reached 50-70% success where with them it reached 100%, since
much of an object's colour is set there. ``layers`` decides which move; under a region toRGB
channels never do (they have no effect map, and act on the whole image).

The same bank gives latent optimisation a warm start (``OptimizeConfig.warm_start``): the W codes
of the samples CLIP ranks highest for the prompt, minus the mean W code, is a direction in W that
stays among codes the generator draws; the optimisation starts ``warm_start`` times along it (on
the rows it moves) and CLIP refines from there. On the toy world the optimiser alone moved almost
orthogonally to the offset between two colours' codes (cos −0.22 to 0.35 in its failed edits) and
stopped where CLIP scored the image lower than at that offset.

Conditioned on the start image (``conditioned_shift``; ``TextEdit.condition``,
``OptimizeConfig.warm_condition``, ``MapperTrainConfig.population_condition``): the class mean
over the whole bank also carries whatever correlates with the prompt across it (on the toy world,
the shapes that are more often red). Weighting the samples by how much they look like the start
image first (l_n = f_n · f_src / τ_s),

    Δ = Σ_n softmax_n(l_n + f_n · Δt / τ) x_n − Σ_n softmax_n(l_n) x_n     (x: u or W codes)

compares samples that share the start's shape, size and background, so those cancel as in an
analogy. On the toy world's tuning seeds this took every method's colour-edit preservation from
87-93% to 92-96%, level with a class-mean direction computed from the readers' own labels. It
needs only the generator, CLIP and the bank, so it applies to a face generator unchanged (a
start face's lookalikes share its pose, age and lighting, which then stay put).

``global precompute --population N`` samples the bank once (N images through the generator and
CLIP, in resumable parts); ``TextEdit(source="population")`` uses it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from styleclip_jax.errors import CheckpointError, InputError, NonFiniteError
from styleclip_jax.io.files import atomic_write
from styleclip_jax.io.jobs import MANIFEST, check_manifest, float32_sha256, job_lock
from styleclip_jax.models.clip.pil_bicubic import preprocess_generated
from styleclip_jax.progress import callback

POPULATION_FILE = "population.npz"
TAU = 0.01  # softmax temperature over cosines (toy world: 0.01 and 0.03 gave the same edits)
PART = 256  # samples per resumable part
U_STEP = 1 / 16  # population.npz stores u in int8 steps of σ/16 (±7.9σ; a class mean is accurate
# to far less than a step, and the file is half the size of fp16)


class Population:
    """The bank: σ-normalised codes ``u`` (N, C_total), unit CLIP features ``f`` (N, E) and the
    samples' W codes ``w`` (N, D) (ψ as sampled; every W+ row equal)."""

    def __init__(self, u: np.ndarray, f: np.ndarray, w: np.ndarray, info: dict):
        # float32 once here: every relevance (each slider move in the editor) multiplies by it
        self.u, self.f, self.w, self.info = np.asarray(u, np.float32), f, w, info
        self.u_mean = self.u.mean(axis=0)
        self.u_scale = max(float(np.abs(self.u).max()), 1.0) if self.u.size else 1.0

    def weights(self, direction: np.ndarray, tau: float = TAU) -> np.ndarray:
        """p (N,): softmax over the samples of f_n · direction / τ."""
        score = self._score(direction, tau)
        p = np.exp(score - score.max())
        return p / p.sum()

    def likeness(self, source: np.ndarray, tau_source: float) -> np.ndarray:
        """(B, N) scores f_n · source_b / ``tau_source`` of how much each sample looks like each
        start image (``source`` (B, E): the start images' unit CLIP features, ``image_features``)."""
        source = np.asarray(source, np.float32)
        if source.ndim != 2 or source.shape[1] != self.f.shape[1]:
            raise InputError(
                f"start-image features have shape {source.shape}, the population's CLIP features width {self.f.shape[1]}"
            )
        return source @ self.f.T / np.float32(tau_source)

    def w_direction(self, text: np.ndarray, tau: float = TAU, look: np.ndarray | None = None) -> np.ndarray:
        """(D,): how the W codes of the samples CLIP ranks highest for ``text`` (a unit text
        feature, or a direction) differ from the mean W code: the warm start of latent optimisation.
        With ``look`` (B, N) (``likeness``): (B, D), the same among each start image's lookalikes."""
        if look is not None:
            return conditioned_shift(self.w, look, self._score(text, tau))
        return (self.weights(text, tau) @ self.w - self.w.mean(axis=0)).astype(np.float32)

    def _score(self, direction: np.ndarray, tau: float) -> np.ndarray:
        """(N,) f_n · direction / τ, the direction checked against the bank's feature width."""
        direction = np.asarray(direction, np.float32)
        if direction.shape != (self.f.shape[1],):
            raise InputError(
                f"text direction has shape {direction.shape}, the population's CLIP features have "
                f"width {self.f.shape[1]}"
            )
        return self.f @ direction / np.float32(tau)

    def subspace(self, share: float) -> np.ndarray:
        """(D, K) orthonormal principal directions of the bank's W codes, the fewest that explain
        ``share`` of their variance: the directions along which the generator's codes differ
        (``share`` 1: all D, a projection that changes nothing)."""
        vals, vecs = np.linalg.eigh(np.cov(self.w.astype(np.float64), rowvar=False))
        vals, vecs = vals[::-1], vecs[:, ::-1]
        k = len(vals) if share >= 1 else int(np.searchsorted(np.cumsum(vals) / vals.sum(), share) + 1)
        return np.ascontiguousarray(vecs[:, : min(k, len(vals))], np.float32)

    def relevance(self, dt: np.ndarray, tau: float = TAU, look: np.ndarray | None = None) -> np.ndarray:
        """r (C_total,) for a unit text direction Δt (E,), scaled so max |r| = 1. With ``look``
        (N,) (one row of ``likeness``): conditioned on that start image (``conditioned_shift``)."""
        if look is not None:
            r = conditioned_shift(self.u, look, self._score(dt, tau))
        else:
            r = self.weights(dt, tau) @ self.u - self.u_mean
        top = float(np.abs(r).max())
        if not np.isfinite(top) or top <= 1e-6 * self.u_scale:  # rounding only: CLIP sees no difference
            raise InputError("CLIP ranks every population sample alike along this text direction; nothing to edit")
        return (r / top).astype(np.float32)

    def save(self, path) -> None:
        q = np.clip(np.round(self.u / U_STEP), -127, 127).astype(np.int8)
        atomic_write(
            path,
            lambda p: np.savez(
                p,
                u=q,
                u_step=np.float32(U_STEP),
                f=self.f.astype(np.float32),
                w=self.w.astype(np.float32),
                info=np.array(json.dumps(self.info, sort_keys=True)),
            ),
        )

    @classmethod
    def load(cls, path, num_channels: int) -> Population:
        try:
            with np.load(path, allow_pickle=False) as z:
                u, f, w, info = z["u"] * z["u_step"], z["f"], z["w"], json.loads(str(z["info"]))
        except (ValueError, OSError, EOFError, KeyError) as e:
            raise CheckpointError(f"{path}: unreadable population bank ({type(e).__name__}: {e})") from None
        if u.ndim != 2 or f.ndim != 2 or w.ndim != 2 or not len(u) == len(f) == len(w) or u.shape[1] != num_channels:
            raise CheckpointError(
                f"{path}: codes {u.shape}, features {f.shape} and W {w.shape} do not fit "
                f"{num_channels} StyleSpace channels"
            )
        if not all(np.all(np.isfinite(a)) for a in (u, f, w)):
            raise CheckpointError(f"{path}: contains NaN or infinite values")
        return cls(u, f, w, info)


def conditioned_shift(codes, look, score):
    """(..., C): softmax(look + score) @ codes − softmax(look) @ codes, for ``codes`` (N, C), the
    start images' likeness ``look`` (..., N) and the prompt's ``score`` (N,). Among the samples that
    look like the start image, how the ones CLIP also ranks high for the prompt differ: what they
    share with it (background, size, shape) cancels, as in an analogy; the unconditioned class mean
    carries along whatever correlates with the prompt across the whole bank."""

    def mean(s):
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        return (p / p.sum(axis=-1, keepdims=True)) @ codes

    return (mean(look + score) - mean(look)).astype(np.float32)


def check_models(pop: Population, gen, clip) -> None:
    """The bank belongs to one generator and one CLIP: refuse it with any other."""
    if pop.info.get("generator") not in gen.lineage():
        raise InputError(
            "the population bank was sampled from another generator; recompute it with `global "
            "precompute` and `population` set"
        )
    made_with = pop.info.get("clip")
    if made_with != clip.fingerprint():
        raise InputError(
            f"the population bank was labelled with another CLIP (fingerprint {str(made_with)[:12]}…, "
            f"this one {clip.fingerprint()[:12]}…); recompute it with `global precompute` and "
            "`population` set"
        )


def image_features(gen, clip, wplus, batch: int = 32) -> np.ndarray:
    """(B, E) unit CLIP features of G(wplus), embedded as the bank's samples were."""
    embed = _embed(gen.graphdef, clip.graphdef)
    w = np.asarray(wplus, np.float32)
    return np.concatenate([np.asarray(embed(gen.state, clip.state, w[i : i + batch])) for i in range(0, len(w), batch)])


@functools.lru_cache(maxsize=4)
def _embed(g_def, c_def):
    import jax
    from flax import nnx

    @jax.jit
    def f(g_state, c_state, wplus):
        gen, clip = nnx.merge(g_def, g_state), nnx.merge(c_def, c_state)
        x = gen.synthesis(gen.synthesis.w_to_s(wplus))
        e = clip.encode_image(preprocess_generated(x, clip.cfg.image_size)).astype(jax.numpy.float32)
        return e / jax.numpy.linalg.norm(e, axis=-1, keepdims=True)

    return f


def _part(gen, clip, stats, z: np.ndarray, truncation: float, batch: int):
    """(u, f, w) of one part's z: σ-normalised codes (every channel), unit CLIP features, W codes."""
    wplus = np.asarray(gen.mapping(z, truncation))
    u = (stats.flatten(gen.w_to_s(wplus)) - stats.mean) / np.maximum(stats.std, 1e-8)
    embed = _embed(gen.graphdef, clip.graphdef)
    f = np.concatenate(
        [np.asarray(embed(gen.state, clip.state, wplus[i : i + batch])) for i in range(0, len(z), batch)]
    )
    return u.astype(np.float16), f, wplus[:, 0]


def precompute_population(
    gen, clip, stats, out_dir, *, n: int = 4096, seed: int = 77, truncation: float = 1.0, batch: int = 32, progress=None
) -> Population:
    """Sample ``n`` codes (z = RandomState(seed).randn(n, z_dim), ψ ``truncation``), render and embed them, write
    ``out_dir/population.npz``. Parts of ``PART`` samples land in ``population_parts/`` first, so a
    killed run resumes; parts from another generator, CLIP, stats or settings are refused."""
    stats.check_generator(gen)
    if n < 2 or batch < 1:
        raise InputError(f"the population needs n >= 2 samples and batch >= 1, got n={n}, batch={batch}")
    out = Path(out_dir)
    parts = out / "population_parts"
    info = {
        "generator": gen.fingerprint(),
        "clip": clip.fingerprint(),
        "n": int(n),
        "seed": int(seed),
        "truncation": float(truncation),
        "stats_mean_sha": float32_sha256(stats.mean, stats.std),
    }
    with job_lock(out):
        check_manifest(parts / MANIFEST, info, "this population bank")
        report = callback(progress)
        z_all = np.random.RandomState(seed).randn(n, gen.config.z_dim).astype(np.float32)
        us, fs, ws = [], [], []
        for start in range(0, n, PART):
            path = parts / f"part_{start:07d}.npz"
            if not path.exists():
                u, f, w = _part(gen, clip, stats, z_all[start : start + PART], truncation, batch)
                if not all(np.all(np.isfinite(a)) for a in (u, f, w)):
                    raise NonFiniteError(f"non-finite codes or features in population samples {start}..")
                atomic_write(path, lambda p: np.savez(p, u=u, f=f, w=w))
            with np.load(path, allow_pickle=False) as z_:
                us.append(z_["u"])
                fs.append(z_["f"])
                ws.append(z_["w"])
            report(min(start + PART, n), n)
        pop = Population(np.concatenate(us), np.concatenate(fs), np.concatenate(ws), info)
        pop.save(out / POPULATION_FILE)
        return pop
