"""The CLI's argument machinery: one parser class, and every numeric flag's range in one place.

``Parser`` prints every usage error as one line (exit 2) and shows each option's default in
``--help``. Numeric flags take their type from here, so a NaN, an infinity or an out-of-range
value is refused while parsing, before any model is loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import math

import numpy as np

from styleclip_jax.errors import InputError


class DefaultsHelp(argparse.HelpFormatter):
    """Append '(default: X)' to each option that has a real default (not None, False or a list)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" not in text and action.option_strings and _shows(action.default):
            text = f"{text} (default: %(default)s)".strip()
        return text


def _shows(default) -> bool:
    return default is not None and default is not False and default is not argparse.SUPPRESS and default != []


class Parser(argparse.ArgumentParser):
    """ArgumentParser with one-line errors and defaults in help (sub-parsers inherit both)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsHelp)
        super().__init__(*args, **kwargs)

    def error(self, message):
        first = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {first} (see --help)\n")

    def parse_args(self, args=None, namespace=None):
        show_defaults(self)
        return super().parse_args(args, namespace)


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Give options without a help text one, so ``DefaultsHelp`` can show their default."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                show_defaults(sub)
        elif action.option_strings and action.help is None and _shows(action.default):
            action.help = "(default: %(default)s)"


def _bounds_text(lo, hi, lo_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}]"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    return f"<= {hi}" if hi is not None else "finite"


class Number:
    """argparse type: a finite number in [lo, hi] ((lo, hi] with ``lo_open``); ``why`` says where
    the upper end comes from (docs/limits.md prints every flag's range and why from these)."""

    whole = False
    __name__ = "number"

    def __init__(self, lo=None, hi=None, *, lo_open: bool = False, why: str = ""):
        self.lo, self.hi, self.lo_open, self.why = lo, hi, lo_open, why

    def read(self, text: str):
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None

    def __call__(self, text: str):
        v = self.read(text)
        lo, hi = self.lo, self.hi
        if (
            not (self.whole or math.isfinite(v))  # a whole number is finite; a huge one would overflow a float
            or (lo is not None and (v <= lo if self.lo_open else v < lo))
            or (hi is not None and v > hi)
        ):
            kind = "whole number" if self.whole else "finite number"
            raise argparse.ArgumentTypeError(f"must be a {kind} {self.range_text()}, got {text!r}")
        return v

    def range_text(self) -> str:
        return _bounds_text(self.lo, self.hi, self.lo_open)


class Integer(Number):
    """argparse type: a whole number in [lo, hi]."""

    whole = True
    __name__ = "integer"

    def read(self, text: str):
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


class Side(Integer):
    """argparse type: an image side in px, bounded by what one image of that side needs in memory."""

    __name__ = "pixels"

    def __call__(self, text: str):
        v = self.read(text)
        if v > self.hi:
            gib = (v * v * 3 * 4 + 2**29) // 2**30  # one float32 RGB image, rounded; integers: no float overflow
            raise argparse.ArgumentTypeError(f"{v}² px needs ~{gib:,} GiB per image; at most {self.hi}")
        if v < self.lo:
            raise argparse.ArgumentTypeError(f"must be at least {self.lo} px, got {v}")
        return v


def real(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, why: str = "") -> Number:
    """argparse type: a finite float in [lo, hi] ((lo, hi] with ``lo_open``)."""
    return Number(lo, hi, lo_open=lo_open, why=why)


def integer(lo: int | None = 0, hi: int | None = None, why: str = "") -> Integer:
    """argparse type: an int in [lo, hi]."""
    return Integer(lo, hi, why=why)


def image_side(hi: int = 8192, lo: int = 16, why: str = "") -> Side:
    """argparse type: an image side in px, bounded by what the image would need in memory."""
    return Side(lo, hi, why=why)


# Every numeric flag's range, one definition each; ``why`` says where the upper end comes from.
MAX_STEPS = 100_000
BATCH = integer(1, 256, "images through a network at once (256 at 1024² are 3 GiB of output alone)")
STEPS = integer(0, MAX_STEPS, "optimisation / training / tuning steps of one call; 0 = off where it applies")
RUN_STEPS = integer(1, MAX_STEPS, "steps of one call")
EVERY = integer(1, MAX_STEPS, "steps between checkpoints, logs or validations: at most a run's steps")
INTERVAL = integer(0, MAX_STEPS, "steps between snapshots or progressive rows (0: off): at most a run's steps")
NROW = integer(1, 256, "images per grid row: at most a batch")
LAYER_ROW = integer(0, 64, "a W+ row index or count (a 1024 generator has 18 rows)")
N_STATS = integer(1, 1_000_000, "codes sampled for StyleSpace statistics (a million 512-wide codes are 2 GiB)")
IMAGES = integer(1, 100_000, "images rendered per channel or sampled")
SAMPLES = integer(0, 100_000, "images rendered or drawn for a report or a bank (0: none)")
CHUNK = integer(1, 4096, "StyleSpace channels per compiled chunk (a layer has at most 512)")
FACE = integer(1, 1000, "which face of a photo, largest first")
HEADS = integer(1, 1024, "attention heads (width // 64: 16 for the largest released CLIP)")
DEVICES = integer(1, 65536, "devices or processes of one run")
PROCESS = integer(0, 65535, "this process's index, below the process count")
SEED = integer(0, 2**31 - 1, "a PRNG seed: a 31-bit whole number, as numpy and torch take")
PORT = integer(1, 65535, "a TCP port")
PSI = real(-2.0, 2.0, why="truncation toward w_avg; past ±2 the codes leave the mapping's range")
STRENGTH = real(-100.0, 100.0, why="an edit strength (α); past ±100 every edit saturates")
LR = real(0.0, 10.0, lo_open=True, why="a learning rate")
WEIGHT = real(0.0, 1e4, why="a loss weight (λ)")
PROB = real(0.0, 1.0, why="a probability")
BETA = real(0.0, 1.0, why="β, the relevance threshold of global directions")
OPSET = integer(18, 23, "the ONNX opsets the exporter writes")
ANGLE = real(-360.0, 360.0, why="degrees")
ITERATIONS = integer(1, 100, "ReStyle refinement passes (the library's bound)")
FRAMES_PER_CHUNK = integer(1, 256, "frames held on the device at once")
EDGE = real(0.0, 0.5, lo_open=True, why="the paste-back's soft edge, a share of the crop")
CROP_SIDE = image_side(8192, why="an aligned face crop (FFHQ made 1024 from a 4096 transform)")
ENCODER_SIDE = image_side(1024, why="an encoder's input (e4e: 256)")
SIGMA = real(0.0, 100.0, why="a smoothing width, in frames")
FEATHER = real(0.0, 256.0, why="a blend feather radius, in pixels")
VARIANCE_SHARE = real(0.0, 1.0, why="a share of the variance of a population's codes (0: off)")
LIKENESS_TAU = real(
    0.0,
    1.0,
    why="a temperature over CLIP cosines (0: off); past 1 every sample looks alike, under 0.01 only one counts",
)
FRACTION = real(0.0, 1.0, lo_open=True, why="a share, e.g. of a channel's effect inside a region")
COORD = real(0.0, 65536.0, why="a pixel coordinate (images are at most 64 megapixels)")
SHIFT_PART = real(-10.0, 10.0, why="a translation, in image widths")


class Several:
    """argparse type: ``n`` comma-separated values of the type ``part``, e.g. ``x,y``."""

    def __init__(self, part: Number, n: int, form: str, what: str = ""):
        self.part, self.n, self.__name__, self.what = part, n, form, what

    def __call__(self, text: str) -> tuple:
        parts = text.split(",")
        if len(parts) != self.n:
            raise argparse.ArgumentTypeError(
                f"expected {self.what or f'{self.n} numbers'} as {self.__name__}, got {text!r}"
            )
        return tuple(self.part(p) for p in parts)


SHIFT = Several(SHIFT_PART, 2, "x,y", "two numbers")
box = Several(COORD, 4, "x0,y0,x1,y1", "a box (pixels)")  # ranges are checked against the image later


def add_region(p, blend: bool = True, keep: bool = True) -> None:
    """``--keep TEXT`` (repeatable), ``--mask FILE.png`` | ``--box x0,y0,x1,y1`` and ``--blend PX``."""
    if keep:
        p.add_argument(
            "--keep",
            action="append",
            default=[],
            metavar="TEXT",
            help="what must not change (repeatable); 'A|B|C' names one attribute's values, e.g. 'young face|old face'",
        )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--mask", default=None, help="PNG at the generator's resolution; white = may change")
    g.add_argument("--box", type=box, default=None, help="the region that may change, in pixels: x0,y0,x1,y1")
    g.add_argument(
        "--region",
        default=None,
        metavar="NAME[+NAME]",
        help="the region that may change, by name, as --parser sees it on each start image: a class "
        "(hair, skin, nose, background, ...) or face / eyes / brows / ears / lips, joined with +",
    )
    add_parser_option(p)
    if blend:
        p.add_argument(
            "--blend",
            type=FEATHER,
            default=None,
            metavar="PX",
            help="also composite the result into the original through the region, feathered by PX "
            "pixels (the latents are not blended)",
        )


def add_parser_option(p) -> None:
    """``--parser DIR``: the face parser for --region and for pasting back through the outline
    (added once, whichever of the two asks first)."""
    if "--parser" in p._option_string_actions:
        return
    p.add_argument(
        "--parser",
        default=None,
        help="face-parser folder (see `convert parser`), or 'toyworld' for the toy world's object / background; "
        "with --region, and with --paste-back to blend through the face and hair only",
    )


def load_face_parser(path):
    """The ``FaceParser`` of a folder, or None when no folder is given."""
    if path is None:
        return None
    from styleclip_jax.models.parser.handle import load_parser

    return load_parser(path)


def load_region_parser(path):
    """A ``FaceParser`` folder, or the toy world's ``ObjectParser`` for the word 'toyworld'."""
    if path is None:
        raise InputError("--region needs --parser (a face-parser folder, or 'toyworld')")
    if str(path) == "toyworld":
        from styleclip_jax.toyworld.readers import ObjectParser

        return ObjectParser()
    return load_face_parser(path)


def region_kwargs(args, gen=None, wplus=None) -> dict:
    """The library's ``keep`` / ``mask`` / ``box`` / ``blend`` keywords from ``add_region``'s flags;
    a named ``--region`` becomes the mask of each start image (``gen``, ``wplus`` (N, L, D))."""
    mask = args.mask
    if getattr(args, "region", None):
        if gen is None or wplus is None:
            raise InputError(
                "--region is parsed on the start images: this command needs --latents, --seeds or --images"
            )
        from styleclip_jax.editing.constraints.mask import named_region

        parser = load_region_parser(args.parser)
        images = np.concatenate([np.asarray(gen.synthesis(wplus[i : i + 8])) for i in range(0, len(wplus), 8)])
        mask = named_region(parser, images, args.region)
    out = {"mask": mask, "box": args.box}
    if hasattr(args, "blend"):
        out["blend"] = args.blend
    if hasattr(args, "keep"):
        out["keep"] = tuple(args.keep)
    return out


def add_latents_key(p, kinds=("wplus", "w", "z", "s")) -> None:
    """``--latents-key``: which array of a latents file to use when it holds several kinds."""
    p.add_argument(
        "--latents-key",
        choices=kinds,
        default=None,
        help="use this kind when the --latents file holds several (see README: latents files)",
    )


def add_iterations_option(p) -> None:
    p.add_argument(
        "--iterations",
        type=ITERATIONS,
        default=None,
        metavar="N",
        help="ReStyle encoders: refinement iterations (default upstream's 5; an e4e encoder makes one pass)",
    )


def add_pti_options(p) -> None:
    """``--pti STEPS`` and its folders: pivotal tuning of the generator on the inverted photos."""
    p.add_argument(
        "--pti",
        type=STEPS,
        default=0,
        metavar="STEPS",
        help="pivotal tuning: tune the generator around the photos' codes for STEPS steps (upstream: 350); "
        "the tuned generator is then used and kept in --pti-dir",
    )
    p.add_argument("--pti-dir", default=None, help="PTI run folder (resumable; default: OUT + '.pti')")
    p.add_argument(
        "--lpips",
        default=None,
        help="LPIPS folder for PTI's loss (see `convert lpips`), or 'random' for a seeded random AlexNet "
        "stand-in (the toy world; its values are not LPIPS's)",
    )
    p.add_argument("--pti-lr", type=LR, default=3e-4)
    p.add_argument(
        "--pti-threshold",
        type=WEIGHT,
        default=0.06,
        help="one photo stops once its LPIPS is at or under this (upstream 0.06; 0: never)",
    )
    p.add_argument("--pti-locality", action="store_true", help="add upstream's locality regulariser")
    p.add_argument("--pti-resume", action="store_true", help="continue an interrupted PTI run in --pti-dir")


def load_lpips_option(path):
    """``--lpips``: a folder, 'random' (the stand-in), or None."""
    if path is None:
        return None
    from styleclip_jax.models.lpips.handle import open_lpips

    return open_lpips(path)


def tune_if_asked(args, gen, inv, out):
    """With ``--pti STEPS``: the generator tuned on the inverted photos (else ``gen``); a log note."""
    if not getattr(args, "pti", 0):
        if getattr(args, "pti_resume", False) or getattr(args, "pti_dir", None):
            raise InputError("--pti-dir / --pti-resume need --pti STEPS")
        return gen, ""
    if inv is None:
        raise InputError("--pti tunes the generator on photos: it needs --images and --encoder")
    from styleclip_jax.editing.inversion.config import PTIConfig
    from styleclip_jax.editing.inversion.photos import tune_for
    from styleclip_jax.editing.inversion.pti import tuned_dir

    cfg = PTIConfig(steps=args.pti, lr=args.pti_lr, lpips_threshold=args.pti_threshold, locality=args.pti_locality)
    work = args.pti_dir or f"{out}.pti"
    with progress_bar("pivotal tuning", "step") as bar:
        tuned, rep = tune_for(
            gen, args.generator, inv, cfg, work, load_lpips_option(args.lpips), args.pti_resume, args.overwrite, bar
        )
    lp = rep["lpips_after"]
    note = f"; PTI {rep['steps']} steps" + (f" (stopped at {rep['stopped_at']})" if rep["stopped_at"] >= 0 else "")
    if lp is not None:
        note += f", LPIPS {np.mean(rep['lpips_before']):.4f} -> {np.mean(lp):.4f}"
    return tuned, note + f"; tuned generator -> {tuned_dir(work)}"


def photo_source(args, gen, out):
    """--images: (Inversion, the generator to edit with: tuned when --pti, a log note)."""
    from styleclip_jax.editing.inversion.photos import invert_for

    inv = invert_for(gen, args.images, args.encoder, args.align, args.iterations)
    gen, note = tune_if_asked(args, gen, inv, out)
    return inv, gen, note


def add_photo_source(group, p) -> None:
    """``--images`` (in the source ``group``), with ``--encoder`` and ``--align``: edit photos."""
    group.add_argument("--images", nargs="+", help="photos (files or folders), inverted with --encoder first")
    p.add_argument(
        "--encoder", default=None, help="e4e / pSp / ReStyle encoder folder, for --images (see `convert encoder`)"
    )
    add_iterations_option(p)
    p.add_argument("--align", action="store_true", help="with --images: find and FFHQ-align the largest face first")
    p.add_argument(
        "--paste-back",
        default=None,
        metavar="DIR",
        help="with --images --align: also write each photo with its edited face pasted back, to DIR "
        "(through the face and hair the --parser sees, when given)",
    )
    add_parser_option(p)
    add_pti_options(p)


def check_paste_back(args) -> None:
    """--paste-back is only meaningful for aligned photos; refuse it early otherwise."""
    from styleclip_jax.errors import InputError

    if args.paste_back and not (args.images and args.align):
        raise InputError("--paste-back needs --images and --align (the aligned faces know where they came from)")


def source_latents(args, gen, what: str, truncation: float = 1.0):
    """(W+ (B, L, D), the photos' Inversion or None, the generator: tuned with --pti, a log note)
    from --seeds / --latents / --images."""
    from styleclip_jax.models.latents import wplus_from_source

    check_paste_back(args)
    if args.images:
        inv, gen, note = photo_source(args, gen, args.out)
        return gen.as_wplus(inv.wplus), inv, gen, note
    tune_if_asked(args, gen, None, args.out)  # refuses PTI flags without photos
    w = wplus_from_source(
        gen, seeds=args.seeds, latents=args.latents, truncation=truncation, what=what, key=args.latents_key
    )
    return w, None, gen, ""


def paste_back_if_asked(args, inv, edited) -> str:
    """With --paste-back: paste edited images (B, E, H, W, 3) into the photos; a note for the log."""
    if not args.paste_back:
        return ""
    from styleclip_jax.editing.inversion.photos import paste_edits

    parser = load_face_parser(getattr(args, "parser", None))
    written = paste_edits(inv, edited, args.paste_back, args.overwrite, parser=parser)
    return f"; {len(written)} photo(s) with the edit pasted back -> {args.paste_back}"


def add_population_stats(p, flag: str) -> None:
    """``--stats DIR``: where the population bank that ``flag`` (beyond upstream) reads lives."""
    p.add_argument(
        "--stats",
        default=None,
        help=f"with {flag}: a stats folder from `global precompute --population N` (its population.npz)",
    )


def population_bank(stats_dir):
    """The population bank of a stats folder; one without a bank is a one-line error."""
    from styleclip_jax.editing.global_directions.stats import StyleSpaceStats

    stats = StyleSpaceStats.load(stats_dir)
    if stats.population is None:
        raise InputError(
            f"{stats_dir} has no population bank; add one with `styleclip-jax global precompute ... "
            "--population N --resume`"
        )
    return stats.population


def add_multiprocess(p, devices_help: str = "local devices to shard the batch over (default all)") -> None:
    """--devices and the multi-process flags of the long jobs (styleclip_jax.parallel.distributed)."""
    p.add_argument("--devices", type=DEVICES, default=None, help=devices_help)
    g = p.add_argument_group("multi-process (one command per process; the same flags on each)")
    g.add_argument("--coordinator", default=None, help="HOST:PORT of process 0")
    g.add_argument("--num-processes", type=DEVICES, default=None)
    g.add_argument("--process-id", type=PROCESS, default=None)
    g.add_argument(
        "--distributed",
        action="store_true",
        help="read the three from the cluster environment (jax.distributed.initialize())",
    )


def start_multiprocess(args) -> None:
    """Join the multi-process run the flags ask for (before any device is touched)."""
    import sys

    from styleclip_jax.parallel.distributed import initialize

    if initialize(args.coordinator, args.num_processes, args.process_id, auto=args.distributed):
        import jax

        print(
            f"process {jax.process_index()} of {jax.process_count()}: {jax.local_device_count()} local of "
            f"{jax.device_count()} devices",
            file=sys.stderr,
        )


@contextlib.contextmanager
def progress_bar(desc: str, unit: str = "step"):
    """A tqdm bar driven by the library's ``progress(done, total)`` callbacks (``styleclip_jax.progress``);
    drawn from the first report on, when the total is known."""
    from tqdm.auto import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=done, desc=desc, unit=unit, dynamic_ncols=True)
        elif bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def add_config_options(parser, cls, types: dict, flags: dict | None = None, helps: dict | None = None) -> None:
    """One option per field of the frozen config ``cls`` named in ``types`` ({field: argparse type,
    or a tuple of choices}): flag ``--field-name`` (or ``flags[field]``), default the dataclass's,
    so a default lives in one place (the config) and ``--help`` shows it."""
    import dataclasses

    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for name, kind in types.items():
        flag = (flags or {}).get(name, "--" + name.replace("_", "-"))
        kw = {"choices": kind} if isinstance(kind, tuple) else {"type": kind}
        parser.add_argument(flag, dest=name, default=defaults[name], help=(helps or {}).get(name), **kw)


def config_from_args(cls, args, types: dict, **extra):
    """``cls`` from the options ``add_config_options`` made (plus ``extra`` fields)."""
    return cls(**{name: getattr(args, name) for name in types}, **extra)


def numeric_flags(parser: argparse.ArgumentParser):
    """Every (command, flag, type) of ``parser`` and its sub-commands whose type is a ``Number``
    (or a pair / box of them: their part's type); the bounds table and its sweep test read these."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield from numeric_flags(sub)
        elif action.option_strings:
            kind = action.type.part if isinstance(action.type, Several) else action.type
            if isinstance(kind, Number):
                yield parser.prog.removeprefix("styleclip-jax").strip(), action.option_strings[-1], kind


def bounds_markdown(parser: argparse.ArgumentParser) -> str:
    """The bounds table of docs/limits.md: one row per range, with why and every flag that takes it."""
    rows: dict[int, tuple[Number, list[str]]] = {}
    for command, flag, kind in numeric_flags(parser):
        rows.setdefault(id(kind), (kind, []))[1].append(f"`{command} {flag}`")
    lines = ["| range | why | flags |", "|---|---|---|"]
    for kind, flags in sorted(rows.values(), key=lambda r: (r[0].__name__, r[0].hi or 0, r[0].why)):
        unit = " px" if isinstance(kind, Side) else ""
        lines.append(f"| {kind.__name__} {kind.range_text()}{unit} | {kind.why} | {', '.join(sorted(set(flags)))} |")
    return "\n".join(lines) + "\n"
