"""``styleclip-jax ui``: the browser editor (Gradio). Layout and event wiring only: every edit
is a call into ``styleclip_jax.editing.session.EditSession``.

The page: a seed (or, with an encoder, an uploaded photo) and its original image; one tab per method (global directions with α / β
sliders, auto-β and composed edits; mapper with α; optimisation with steps, λ_L2, λ_ID, a
progress bar and a strip of frames); the edited image, a status line (what moved, how long it
took, or what is wrong with the input) and the edited PNG and ``.npz`` latents to download.
Errors a person can cause show in the status line and leave the page usable.
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from styleclip_jax.editing.constraints.mask import named_region
from styleclip_jax.editing.global_directions.config import TextEdit
from styleclip_jax.editing.global_directions.stats import StyleSpaceStats
from styleclip_jax.editing.session import EditSession
from styleclip_jax.errors import InputError, StyleClipError
from styleclip_jax.io.images import save_png, to_uint8
from styleclip_jax.io.latents import write_npz
from styleclip_jax.models.clip import load_clip
from styleclip_jax.models.e4e import load_encoder
from styleclip_jax.models.generators import load_generator
from styleclip_jax.models.idnet import load_idnet
from styleclip_jax.models.lpips.handle import STAND_IN, open_lpips
from styleclip_jax.models.mapper.handle import load_mapper
from styleclip_jax.toyworld.bundle import load_world
from styleclip_jax.toyworld.evaluate import MethodSettings
from styleclip_jax.validation import check_text_count

ALPHA_RANGE, BETA_RANGE = (-10.0, 10.0), (0.0, 0.5)


@dataclasses.dataclass(frozen=True)
class EditorDefaults:
    """What the Global directions tab starts with: ``alpha``, the population switch, and
    ``layers(target)`` -> the StyleSpace layers a direction may move (None: every layer, as upstream)."""

    alpha: float = 4.0
    population: bool = False
    layers: Callable[[str], tuple[str, ...] | None] | None = None
    note: str = "StyleCLIP's own settings: fs3 relevance, every layer."

    def edit(self, neutral: str, target: str, alpha: float, beta, source: str | None = None) -> TextEdit:
        """The TextEdit the page makes for these texts (the browser test builds the same)."""
        return TextEdit(
            neutral,
            target,
            float(alpha),
            beta,
            self.layers(target) if self.layers else None,
            source=source or ("population" if self.population else "fs3"),
        )


def toy_world_defaults(generator) -> EditorDefaults:
    """The toy world's best measured global-direction settings (``MethodSettings.with_population``):
    the population estimator at α 6, moving only the layers of the rows the prompt's attributes live
    in. On seeds 0-15, "a green object": every layer kept shape, size, position and background in
    62% of edits, the prompt's own layers in 94% (both 100% green)."""
    ms = MethodSettings().with_population()
    return EditorDefaults(
        alpha=ms.global_alpha,
        population=True,
        layers=functools.partial(_toy_layers, ms, generator.config.style_layers),
        note="the toy world's best measured settings: the population estimator (beyond upstream) at α 6, "
        "only the layers of the prompt's own rows; `styleclip-jax ui --faithful` for StyleCLIP's own",
    )


def _toy_layers(ms, style_layers, target: str):
    return ms.global_layers(target, style_layers)


DISPLAY = 256  # small generators (the toy world's 32 px) are shown enlarged, pixel for pixel
FIELD_CHARS = 8000  # a text field's characters (a keep field of MAX_TEXTS lines of 125)
KEPT_EDITS = 50  # edits whose PNG and .npz stay downloadable; older ones are removed while it runs
CACHE = (600, 1800)  # Gradio's uploads: every 10 min, remove those older than 30 min


def check_field(text, name: str) -> str:
    """A text field's value, refused past ``FIELD_CHARS`` (a hostile client ignores max_length)."""
    text = text or ""
    if len(text) > FIELD_CHARS:
        raise InputError(f"the {name} field has {len(text):,} characters; at most {FIELD_CHARS}")
    return text


def display_image(image) -> np.ndarray:
    """uint8 (H, W, 3) for the page: nearest-neighbour enlarged to about ``DISPLAY`` px."""
    u8 = to_uint8(image)
    k = max(1, DISPLAY // u8.shape[0])
    return np.repeat(np.repeat(u8, k, axis=0), k, axis=1) if k > 1 else u8


def parse_also(text: str) -> list[TextEdit]:
    """Composed edits, one per line: ``neutral -> target : alpha : beta`` (beta may be 'auto')."""
    terms: list[TextEdit] = []
    lines = check_field(text, "composed edits").splitlines()
    check_text_count(sum(1 for l in lines if l.strip()), "composed edit lines")
    for n, line in enumerate(l.strip() for l in lines):
        if not line:
            continue
        try:
            texts, alpha, beta = (p.strip() for p in line.split(":"))
            neutral, target = (p.strip() for p in texts.split("->"))
            terms.append(TextEdit(neutral, target, float(alpha), "auto" if beta == "auto" else float(beta)))
        except ValueError:
            raise InputError(f"composed edit line {n + 1} {line!r}: write 'neutral -> target : alpha : beta'") from None
    return terms


def parse_region(keep_text: str, box_text: str, blend, named=None) -> dict:
    """The keep-texts (one per line) and the region with its blend feather (px; 0 or empty: no
    blend) as the session's keywords. The region is ``x0,y0,x1,y1`` pixels, or a name the page's
    parser knows ("hair", "face+hair"; the toy world: "object", "background"), which
    ``named(name)`` turns into a mask; empty: none."""
    keep = tuple(l.strip() for l in check_field(keep_text, "keep").splitlines() if l.strip())
    box = mask = None
    text = check_field(box_text, "region").strip()
    if text:
        box = _as_box(text)
        if box is None:
            if named is None:
                raise InputError(f"region {text!r}: write x0,y0,x1,y1 in pixels (no parser to name one)")
            mask = named(text)
    feather = float(blend or 0)
    if feather and box is None and mask is None:
        raise InputError("the blend needs a region (x0,y0,x1,y1 or a name)")
    return {"keep": keep, "box": box, "mask": mask, "blend": feather if feather else None}


def _as_box(text: str) -> tuple[float, ...] | None:
    """The numbers of a region box ``x0,y0,x1,y1``, or None when the text is not numbers (a name)."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        return None


def region_overlay(image, mask) -> np.ndarray:
    """The image (R, R, 3) in [-1, 1] with its region (R, R) tinted, for display."""
    x = to_uint8(image).astype(np.float32)
    tint = np.asarray((255, 80, 40), np.float32)
    m = np.asarray(mask, np.float32)[..., None] * 0.55
    return display_image(np.clip(x * (1 - m) + tint * m, 0, 255).astype(np.uint8))


class Page:
    """The handlers, each a thin call into the session that turns errors into a status line."""

    def __init__(self, session: EditSession, out_dir: Path, defaults: EditorDefaults | None = None, region_parser=None):
        self.s, self.out, self.defaults = session, Path(out_dir), defaults or EditorDefaults()
        self.out.mkdir(parents=True, exist_ok=True)
        self.region_parser = region_parser  # names regions: a FaceParser, or the toy world's ObjectParser

    def _named(self, w):
        if self.region_parser is None:
            return None
        return lambda name: named_region(self.region_parser, np.asarray(self.s.gen.synthesis(w)), name)[0]

    def show_region(self, w, box_text):
        """The original with the named region tinted (None when the region is not a name)."""
        text = (box_text or "").strip()
        if w is None or not text or len(text) > FIELD_CHARS or self.region_parser is None or _as_box(text) is not None:
            return None
        try:
            image = np.asarray(self.s.gen.synthesis(w))  # once, for the region and the picture
            return region_overlay(image[0], named_region(self.region_parser, image, text)[0])
        except StyleClipError:
            return None

    def _save(self, res) -> list[str]:
        stamp = f"{time.time_ns()}"
        png, npz = self.out / f"edit_{stamp}.png", self.out / f"edit_{stamp}.npz"
        save_png(png, to_uint8(res.image))
        write_npz(
            npz,
            res.image[None],
            None if res.wplus is None else res.wplus[None],
            None if res.styles is None else {k: v[None] for k, v in res.styles.items()},
        )
        for old in sorted(self.out.glob("edit_*.png"))[:-KEPT_EDITS]:  # stamps sort by time
            old.unlink(missing_ok=True)
            old.with_suffix(".npz").unlink(missing_ok=True)
        return [str(png), str(npz)]

    def _run(self, fn):
        t0 = time.perf_counter()
        try:
            res = fn()
        except StyleClipError as e:
            return None, f"**Cannot edit:** {' '.join(str(e).split())}", None
        ms = (time.perf_counter() - t0) * 1000
        return res, f"{res.info} ({ms:.0f} ms)", self._save(res)

    def load(self, seed):
        res, status, files = self._run(lambda: self.s.from_seed(int(seed or 0)))
        if res is None:
            return None, None, status, None, None
        return display_image(res.image), res.wplus, status, None, files

    def upload(self, photo, align, pti_steps=0, progress=None):
        """An uploaded photo: inverted by the session's encoder (and, with ``pti_steps``, the
        generator tuned on it); the reconstruction is the original."""
        import gradio as gr

        if photo is None:
            return gr.update(), gr.update(), "**Cannot edit:** no photo", gr.update(), gr.update()
        report = None if progress is None else (lambda done, total: progress(done / max(total, 1), desc="PTI"))
        steps = int(pti_steps or 0)
        res, status, files = self._run(lambda: self.s.from_photo(photo, bool(align), steps, report))
        if res is None:
            return gr.update(), gr.update(), status, gr.update(), gr.update()
        return display_image(res.image), res.wplus, status, None, files

    def global_edit(self, w, neutral, target, alpha, beta, auto, also, keep="", box="", blend=0, population=False):
        if w is None:
            return self._nothing("load a seed first")

        def edit():
            r = parse_region(keep, box, blend, self._named(w))
            source = "population" if population else "fs3"
            first = self.defaults.edit(neutral, target, alpha, "auto" if auto else float(beta), source)
            also_terms = [self.defaults.edit(t.neutral, t.target, t.alpha, t.beta, source) for t in parse_also(also)]
            terms = [dataclasses.replace(t, keep=r["keep"]) for t in [first, *also_terms]]
            return self.s.global_edit(w, terms, mask=r["mask"], box=r["box"], blend=r["blend"])

        res, status, files = self._run(edit)
        return self._show(res, status, files)

    def mapper_edit(self, w, name, alpha):
        if w is None:
            return self._nothing("load a seed first")
        res, status, files = self._run(lambda: self.s.mapper_edit(w, name, float(alpha)))
        return self._show(res, status, files)

    def optimize(self, w, prompt, steps, l2, id_lambda, progress=None, keep="", box="", blend=0):
        if w is None:
            return self._nothing("load a seed first") + (None,)

        def tick(done, total):
            if progress is not None:
                progress((done, total), desc="optimising")

        res, status, files = self._run(
            lambda: self.s.optimize(
                w,
                prompt,
                int(steps),
                float(l2),
                float(id_lambda),
                progress=tick,
                **parse_region(keep, box, blend, self._named(w)),
            )
        )
        frames = [display_image(f) for f in res.frames] if res is not None else None
        return self._show(res, status, files) + (frames,)

    @staticmethod
    def _nothing(why):
        import gradio as gr

        return gr.update(), f"**Cannot edit:** {why}", gr.update()

    @staticmethod
    def _show(res, status, files):
        import gradio as gr

        if res is None:
            return gr.update(), status, gr.update()
        return display_image(res.image), status, files


def build_app(
    session: EditSession,
    out_dir: str | Path | None = None,
    defaults: EditorDefaults | None = None,
    region_parser=None,
    align_photos: bool = True,
):
    """The Gradio Blocks page for ``session`` (not launched); ``defaults``: what global directions
    start with (StyleCLIP's own when None); ``region_parser``: names regions (a ``FaceParser``, or
    the toy world's ``ObjectParser``)."""
    import gradio as gr

    defaults = defaults or EditorDefaults()
    page = Page(session, Path(out_dir or tempfile.mkdtemp(prefix="styleclip_ui_")), defaults, region_parser)
    with gr.Blocks(title="styleclip-jax", delete_cache=CACHE) as app:
        gr.Markdown(f"## styleclip-jax: text-driven StyleGAN editing\nGlobal directions start with {defaults.note}")
        w = gr.State(None)
        with gr.Row():
            seed = gr.Number(value=0, precision=0, minimum=0, label="seed", elem_id="seed")
            load = gr.Button("Load seed", elem_id="load")
        if session.encoder is not None:
            with gr.Row():
                photo = gr.Image(
                    label="or upload a photo (inverted with e4e)",
                    type="numpy",
                    sources=["upload"],
                    image_mode="RGB",
                    elem_id="photo",
                )
                align = gr.Checkbox(value=align_photos, label="find and align the face first", elem_id="align")
                pti = gr.Number(
                    value=0,
                    precision=0,
                    minimum=0,
                    maximum=2000,
                    label="then tune the generator on it (PTI steps; 0: off, upstream 350)",
                    elem_id="pti",
                )
        with gr.Row():
            original = gr.Image(label="original", type="numpy", format="png", interactive=False, elem_id="original")
            edited = gr.Image(label="edited", type="numpy", format="png", interactive=False, elem_id="edited")
            region_view = gr.Image(
                label="named region", type="numpy", format="png", interactive=False, elem_id="region_view"
            )
        status = gr.Markdown(elem_id="status")
        files = gr.File(label="download: edited PNG and .npz latents", file_count="multiple", elem_id="files")
        with gr.Accordion("keep and region (global directions, optimization)", open=False):
            with gr.Row():
                keep = gr.Textbox(
                    max_length=FIELD_CHARS,
                    label="keep (one per line; 'A|B' for one attribute's values)",
                    lines=2,
                    elem_id="keep",
                )
                by_name = "" if region_parser is None else ", or a name: " + ", ".join(_region_examples(region_parser))
                box = gr.Textbox(
                    max_length=FIELD_CHARS,
                    label=f"region x0,y0,x1,y1 (pixels; empty: whole image){by_name}",
                    elem_id="box",
                )
                blend = gr.Number(value=0, label="blend feather px (0: no blend)", minimum=0, elem_id="blend")
        with gr.Tab("Global directions"):
            with gr.Row():
                neutral = gr.Textbox(max_length=FIELD_CHARS, value="object", label="neutral text", elem_id="neutral")
                target = gr.Textbox(
                    max_length=FIELD_CHARS, label="target text", placeholder="e.g. a green object", elem_id="target"
                )
            alpha = gr.Slider(*ALPHA_RANGE, value=defaults.alpha, step=0.1, label="α (strength)", elem_id="alpha")
            beta = gr.Slider(*BETA_RANGE, value=0.1, step=0.01, label="β (disentanglement)", elem_id="beta")
            auto = gr.Checkbox(label="auto β (largest β that moves more than 20 channels)", elem_id="auto")
            also = gr.Textbox(
                max_length=FIELD_CHARS,
                label="also compose (one per line: neutral -> target : alpha : beta|auto)",
                lines=2,
                elem_id="also",
            )
            has_pop = session.stats is not None and session.stats.population is not None
            pop = gr.Checkbox(
                value=has_pop and defaults.population,
                label="population estimator (CLIP-labelled samples; toRGB layers too)",
                interactive=has_pop,
                elem_id="population",
            )
            go = gr.Button("Edit", elem_id="global_go")
        names = sorted(session.mappers)
        with gr.Tab("Mapper"):
            if names:
                mapper = gr.Dropdown(names, value=names[0], label="mapper", elem_id="mapper")
                m_alpha = gr.Slider(-3.0, 3.0, value=1.0, step=0.1, label="α", elem_id="mapper_alpha")
                m_go = gr.Button("Apply", elem_id="mapper_go")
            else:
                gr.Markdown(
                    "No mapper is loaded. Train one with `styleclip-jax mapper train` and start the editor "
                    "with `--mapper DIR`.",
                    elem_id="mapper_none",
                )
        with gr.Tab("Optimization"):
            prompt = gr.Textbox(
                max_length=FIELD_CHARS, label="prompt", placeholder="e.g. a blue object", elem_id="prompt"
            )
            with gr.Row():
                steps = gr.Slider(1, 300, value=60, step=1, label="steps", elem_id="steps")
                l2 = gr.Slider(0.0, 0.1, value=0.008, step=0.001, label="λ_L2", elem_id="l2")
                id_w = gr.Slider(
                    0.0, 0.1, value=0.0, step=0.001, label="λ_ID", interactive=session.idnet is not None, elem_id="id"
                )
            o_go = gr.Button("Optimise", elem_id="opt_go")
            frames = gr.Gallery(label="frames along the way", columns=6, height=160, elem_id="frames")

        box.change(page.show_region, [w, box], [region_view])
        load.click(page.load, [seed], [original, w, status, edited, files])
        if session.encoder is not None:

            def run_upload(p_, a_, n_, progress=gr.Progress()):
                return page.upload(p_, a_, n_, progress)

            photo.upload(run_upload, [photo, align, pti], [original, w, status, edited, files])
        app.load(page.load, [seed], [original, w, status, edited, files])
        g_in = [w, neutral, target, alpha, beta, auto, also, keep, box, blend, pop]
        for trigger in (go.click, target.submit, alpha.release, beta.release, auto.change, pop.change):
            trigger(page.global_edit, g_in, [edited, status, files])
        if names:
            for trigger in (m_go.click, m_alpha.release, mapper.change):
                trigger(page.mapper_edit, [w, mapper, m_alpha], [edited, status, files])

        def run_opt(w_, p, n, a, b, k, bx, bl, progress=gr.Progress()):
            return page.optimize(w_, p, n, a, b, progress, k, bx, bl)

        o_in = [w, prompt, steps, l2, id_w, keep, box, blend]
        o_go.click(run_opt, o_in, [edited, status, files, frames])
        prompt.submit(run_opt, o_in, [edited, status, files, frames])
    return app


def _region_examples(parser) -> list[str]:
    names = getattr(parser, "NAMES", None)
    return list(names) if names else ["hair", "face", "face+hair", "background"]


def session_from_folders(
    generator=None, clip=None, stats=None, mappers=(), idnet=None, encoder=None, lpips=None
) -> EditSession:
    """An ``EditSession`` from model folders; with no generator / CLIP, the bundled toy world."""
    toy_encoder = None
    if generator is None and clip is None:
        tw = load_world()
        gen, clp, st = tw.generator, tw.clip, tw.stats
        toy_encoder = tw.encoder  # photo upload works on the toy world too (its scenes)
        lpips = lpips or STAND_IN  # the toy world's LPIPS stand-in for PTI on upload
    else:
        if generator is None or clip is None:
            raise InputError("give both a generator and a CLIP folder (or neither, for the bundled toy world)")
        gen, clp = load_generator(generator), load_clip(clip)
        st = StyleSpaceStats.load(stats) if stats else None

    ms = {Path(m).name: load_mapper(m) for m in mappers}
    enc = load_encoder(encoder) if encoder else toy_encoder
    lp = open_lpips(lpips) if lpips else None
    return EditSession(gen, clp, st, ms, load_idnet(idnet) if idnet else None, encoder=enc, lpips=lp)
