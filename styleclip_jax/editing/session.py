"""An interactive editing session: the three methods behind one object, with caches, for UIs.

``EditSession`` holds the loaded models and answers the calls an interactive editor makes many
times: the source image of a seed, a global-direction edit for (α, β) slider positions, a mapper
at some α, a short latent optimisation with its frames. What a slider move repeats is cached:
text directions per (neutral, target) (79 templates × 2 prompts through CLIP), the StyleSpace
codes of the source latent, and the compiled synthesis (same shapes, so no recompilation).
All images are NHWC float32 in [-1, 1]; ``to_uint8`` them for display.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from styleclip_jax.editing import OptimizeConfig, optimize
from styleclip_jax.editing.constraints import mask as masks
from styleclip_jax.editing.global_directions.config import TextEdit
from styleclip_jax.editing.global_directions.core import (
    apply_directions,
    check_population,
    directions_of,
    edit_relevance,
)
from styleclip_jax.editing.global_directions.population import image_features
from styleclip_jax.editing.global_directions.stats import population_of
from styleclip_jax.editing.global_directions.text import text_direction
from styleclip_jax.editing.inversion.config import PTIConfig
from styleclip_jax.editing.inversion.core import photos_at as crops_at
from styleclip_jax.editing.inversion.photos import encode_crops
from styleclip_jax.editing.inversion.pti import tune
from styleclip_jax.errors import InputError
from styleclip_jax.faces.photos import align_largest
from styleclip_jax.models.latents import z_from_seeds
from styleclip_jax.models.mtcnn import load_face_detector
from styleclip_jax.validation import check_text_count


@dataclasses.dataclass(frozen=True)
class EditResult:
    image: np.ndarray  # (H, W, 3) float32
    wplus: np.ndarray | None  # (L, D) when the edit lives in W+
    styles: dict | None  # {layer: (C,)} when it lives in StyleSpace
    info: str  # what happened, for the person at the sliders
    frames: tuple = ()  # optimisation: images along the way


class EditSession:
    """``EditSession(generator, clip, stats=None, mappers={name: mapper}, idnet=None)``."""

    def __init__(
        self,
        generator,
        clip,
        stats=None,
        mappers: dict | None = None,
        idnet=None,
        truncation: float = 0.7,
        encoder=None,
        lpips=None,
    ):
        self.gen, self.clip, self.stats, self.idnet, self.encoder = generator, clip, stats, idnet, encoder
        self.base_gen, self.lpips = generator, lpips  # a photo may tune self.gen (PTI); seeds use the base
        if encoder is not None:
            encoder.check_fits(generator)
        self.mappers = dict(mappers or {})
        self.truncation = truncation
        self._dirs: dict[tuple[str, str], np.ndarray] = {}
        self._codes: dict[bytes, np.ndarray] = {}
        if stats is not None:
            stats.check_generator(generator)
            stats.check_clip(clip)
        for name, m in self.mappers.items():
            m.check_fits(generator, f"mapper {name!r}")

    # ---- sources -------------------------------------------------------------------------------
    def from_seed(self, seed: int) -> EditResult:
        if not 0 <= int(seed) < 2**32:
            raise InputError(f"seed must lie in [0, 2^32), got {seed}")
        self._use(self.base_gen)
        w = np.asarray(self.gen.mapping(z_from_seeds([int(seed)], self.gen.config.z_dim), self.truncation))[0]
        return EditResult(np.asarray(self.gen.synthesis(w[None]))[0], w, None, f"seed {seed}")

    def _use(self, gen) -> None:
        if gen is not self.gen:
            self.gen = gen
            self._codes.clear()  # StyleSpace codes come from the synthesis weights

    def from_photo(self, photo_u8, align: bool = True, pti_steps: int = 0, progress=None) -> EditResult:
        """A photo (uint8 RGB) inverted by the encoder (its largest face FFHQ-aligned first). With
        ``pti_steps`` the generator is then tuned on it (PTI, upstream's settings; the L2 term
        alone when the session has no LPIPS) and edits use the tuned generator until a seed is
        loaded; ``progress(done, total)`` after each step."""
        if self.encoder is None:
            raise InputError("photos need an encoder (start the session with an e4e folder)")
        photo = np.asarray(photo_u8)
        if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
            raise InputError(f"expected an RGB photo, got {photo.dtype} {photo.shape}")
        if align:
            if getattr(self, "_detector", None) is None:
                self._detector = load_face_detector()
            size = max(self.encoder.config.input_size, self.gen.config.resolution)  # full detail for PTI
            photo = align_largest(photo, self._detector, size, "the photo").image
        self._use(self.base_gen)
        w = encode_crops(self.encoder, [photo], self.gen)[0]
        info = "photo inverted" + (" (face aligned)" if align else "")
        if pti_steps:
            cfg = PTIConfig(steps=int(pti_steps), lpips_lambda=1.0 if self.lpips is not None else 0.0)
            target = crops_at([photo], self.gen.config.resolution)
            with tempfile.TemporaryDirectory() as tmp:
                tuned, rep = tune(
                    self.gen, None, w[None], target, cfg, Path(tmp) / "pti", self.lpips, progress=progress
                )
            self._use(tuned)
            info += f"; generator tuned (PTI, {rep['steps']} steps): pixel MSE {rep['l2_before'][0]:.4f} -> "
            info += f"{rep['l2_after'][0]:.4f}"
        return EditResult(np.asarray(self.gen.synthesis(w[None]))[0], w, None, info)

    # ---- method C ------------------------------------------------------------------------------
    def text_direction(self, neutral: str, target: str) -> np.ndarray:
        key = (neutral.strip(), target.strip())
        if key not in self._dirs:
            if not key[1]:
                raise InputError("the target text is empty")
            self._dirs[key] = text_direction(self.clip, key[0], key[1])[0]
        return self._dirs[key]

    def global_edit(
        self,
        wplus: np.ndarray,
        terms: Sequence[TextEdit],
        mask=None,
        box=None,
        threshold: float = 0.5,
        blend: float | None = None,
    ) -> EditResult:
        """Compose global-direction edits (``TextEdit``s, keep-texts included) on one W+ latent
        (L, D); ``mask`` / ``box`` / ``blend`` as ``global_edit``'s."""
        if self.stats is None:
            raise InputError("global directions need StyleSpace stats with fs3 (`global precompute`)")
        if not terms:
            raise InputError("give at least one edit (a target text)")
        check_text_count(len(terms), "composed edits")
        check_population(self.stats, self.gen, self.clip, terms)
        region = masks.region(self.gen.config.resolution, mask, box, blend=blend)
        codes = self._codes_of(wplus)
        source = None  # conditioned edits (TextEdit.condition) read the start image through CLIP
        if any(t.condition for t in terms):
            source = image_features(self.gen, self.clip, self.gen.as_wplus(np.asarray(wplus, np.float32)[None]))
        relevances = [
            edit_relevance(
                self.clip,
                self.stats,
                t,
                self.text_direction,
                population_of(self.stats).likeness(source, t.condition)[0] if t.condition else None,
            )
            for t in terms
        ]
        dirs = directions_of(self.stats, terms, relevances, region, threshold)
        notes = [
            f"{t.neutral!r} -> {t.target!r}: α {t.alpha:g}, β {d.beta:.2f}, {d.num_channels} channel(s)"
            + (f", keeping {len(t.keep)}" if t.keep else "")
            for t, (d, _) in zip(terms, dirs)
        ]
        edited = apply_directions(codes[None], dirs)[0]
        styles = self.stats.split(edited[None])
        image = np.asarray(self.gen.synthesis_s(styles))[0]
        if blend is not None:
            image = masks.blend(
                np.asarray(self.gen.synthesis(np.asarray(wplus, np.float32)[None]))[0], image, region, blend
            )
        return EditResult(image, None, {k: v[0] for k, v in styles.items()}, "; ".join(notes))

    def _codes_of(self, wplus) -> np.ndarray:
        w = np.asarray(wplus, np.float32)
        key = w.tobytes()
        if key not in self._codes:
            self._codes.clear()  # one source at a time
            self._codes[key] = self.stats.flatten(self.gen.w_to_s(self.gen.as_wplus(w[None])))[0]
        return self._codes[key]

    # ---- method B ------------------------------------------------------------------------------
    def mapper_edit(self, wplus: np.ndarray, name: str, alpha: float = 1.0) -> EditResult:
        if name not in self.mappers:
            raise InputError(f"no mapper named {name!r}; have {sorted(self.mappers) or 'none'}")
        w_hat = np.asarray(self.mappers[name].apply(np.asarray(wplus, np.float32)[None], float(alpha)))[0]
        return EditResult(
            np.asarray(self.gen.synthesis(w_hat[None]))[0], w_hat, None, f"mapper {name!r} at α {alpha:g}"
        )

    # ---- method A ------------------------------------------------------------------------------
    def optimize(
        self,
        wplus: np.ndarray,
        prompt: str,
        steps: int = 100,
        l2_lambda: float = 0.008,
        id_lambda: float = 0.0,
        lr: float = 0.1,
        frames: int = 5,
        progress: Callable[[int, int], None] | None = None,
        keep: Sequence[str] = (),
        mask=None,
        box=None,
        blend: float | None = None,
    ) -> EditResult:
        """Latent optimisation of one latent toward ``prompt``; ``frames`` snapshots along the way;
        ``keep`` / ``mask`` / ``box`` / ``blend`` as ``optimize``'s (default λs)."""
        if id_lambda > 0 and self.idnet is None:
            raise InputError("λ_ID > 0 needs an identity network (start the session with one)")
        every = max(1, int(steps) // max(1, int(frames)))
        cfg = OptimizeConfig(
            steps=int(steps), lr=float(lr), l2_lambda=float(l2_lambda), id_lambda=float(id_lambda), snapshot_every=every
        )
        r = optimize(
            self.gen,
            self.clip,
            [prompt],
            np.asarray(wplus, np.float32)[None],
            idnet=self.idnet,
            config=cfg,
            progress=progress,
            keep=keep,
            mask=mask,
            box=box,
            blend=blend,
        )
        strip = tuple(np.asarray(self.gen.synthesis(s))[0] for s in r.snapshots)
        loss = r.losses["clip"]
        return EditResult(
            r.images_after[0],
            np.asarray(r.final)[0],
            None,
            f"{steps} steps toward {prompt!r}: CLIP loss {float(loss[0].mean()):.3f} -> {float(loss[-1].mean()):.3f}",
            strip,
        )
