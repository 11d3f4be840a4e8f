"""Photo files -> W+ through an e4e encoder (aligned first when asked), and edits pasted back
into the photos: the host driver behind ``--images`` / ``--align`` / ``--paste-back``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from styleclip_jax.editing.inversion.config import PTIConfig
from styleclip_jax.editing.inversion.core import photos_at as crops_at
from styleclip_jax.editing.inversion.pti import tune
from styleclip_jax.editing.inversion.restyle import DEFAULT_ITERATIONS, restyle_invert
from styleclip_jax.errors import InputError
from styleclip_jax.faces.align import paste_back
from styleclip_jax.faces.outline import outline_region
from styleclip_jax.faces.photos import align_largest, expand_images
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.images import read_image, save_png, to_uint8
from styleclip_jax.models.e4e.handle import load_encoder
from styleclip_jax.models.e4e.transform import preprocess
from styleclip_jax.models.mtcnn import load_face_detector


@dataclasses.dataclass(frozen=True)
class Inversion:
    """Photos inverted by an encoder: ``wplus`` (B, N, D), the ``files``, the encoder's input crops
    (uint8), and, when aligned, the full ``photos`` and the ``quads`` the crops came from (for
    pasting edits back)."""

    wplus: np.ndarray
    files: list
    crops: list
    photos: list | None = None
    quads: list | None = None


def encode_crops(
    encoder,
    crops_u8,
    gen=None,
    iterations: int | None = None,
    batch_size: int = 8,
    progress: Callable | None = None,
) -> np.ndarray:
    """Aligned uint8 crops -> W+ (B, N, D): one pass of an e4e / pSp encoder, or ``iterations``
    (default 5) of a ReStyle encoder with its generator ``gen``."""
    c = encoder.config
    if not c.iterative:
        if iterations not in (None, 1):
            raise InputError(f"`iterations` needs a ReStyle encoder; this {c.kind} encoder inverts in one pass")
        return encoder.encode_photos(crops_u8, batch_size, progress)
    if gen is None:
        raise InputError(f"a {c.name} encoder inverts iteratively with its generator: give `generator`")
    if batch_size < 1:
        raise InputError("batch_size must be >= 1")
    out = []
    for i in range(0, len(crops_u8), batch_size):
        x = preprocess(crops_u8[i : i + batch_size], c.input_size)
        out.append(restyle_invert(encoder, gen, x, iterations or DEFAULT_ITERATIONS)[0][-1])
        if progress:
            progress(sum(map(len, out)), len(crops_u8))
    return np.concatenate(out)


def invert_photos(
    paths,
    encoder,
    align: bool = False,
    batch_size: int = 8,
    detector=None,
    progress: Callable | None = None,
    gen=None,
    iterations: int | None = None,
) -> Inversion:
    """Photos (files or folders) -> ``Inversion``. With ``align`` the largest face of each photo is
    found and FFHQ-aligned first (a photo without a face is an error naming it); otherwise the
    photos are taken as aligned faces. ``gen`` and ``iterations``: for a ReStyle encoder; given a
    generator larger than the encoder's input, faces are aligned at the generator's size (the
    encoder's preprocessing resizes them, as upstream's 1024 → 256), so tuning sees full detail."""
    files = [f for f, _ in expand_images(paths)]
    photos = [read_image(f) for f in files]
    crops, quads = photos, None
    if align:
        if detector is None:
            detector = load_face_detector()
        size = max(encoder.config.input_size, gen.config.resolution if gen is not None else 0)
        aligned = [align_largest(img, detector, size, f) for f, img in zip(files, photos)]
        crops, quads = [a.image for a in aligned], [a.quad for a in aligned]
    w = encode_crops(encoder, crops, gen, iterations, batch_size, progress)
    return Inversion(w, files, crops, photos if align else None, quads)


def paste_edits(inv: Inversion, edited, out_dir, overwrite: bool = False, parser=None) -> list[Path]:
    """Paste edited images (B, E, H, W, 3) in [-1, 1] back into the photos: ``out_dir/<stem>.png``
    (``<stem>_<k>.png`` for the k-th of several edits per photo). With a face ``parser`` each is
    blended through the face and hair of the edited and the original crop, not the whole square."""
    if inv.quads is None or inv.photos is None:
        raise InputError("`paste_back` needs `align`: only an aligned face knows where it came from")
    edited = np.asarray(edited)
    refuse_nonempty_dir(out_dir, overwrite)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (f, photo, quad) in enumerate(zip(inv.files, inv.photos, inv.quads)):
        for k in range(edited.shape[1]):
            dest = out_dir / (f"{f.stem}.png" if edited.shape[1] == 1 else f"{f.stem}_{k}.png")
            crop = to_uint8(edited[i, k])
            region = outline_region(parser, crop, inv.crops[i]) if parser is not None else None
            save_png(dest, paste_back(photo, crop, quad, region=region))
            written.append(dest)
    return written


def invert_for(gen, images, encoder, align: bool = False, iterations: int | None = None):
    """Photos -> ``Inversion`` (W+ for ``gen``) through the encoder folder ``encoder`` (a ReStyle
    one iterates ``iterations`` times with ``gen``)."""
    if encoder is None:
        raise InputError("`images` needs `encoder` (an e4e folder from `styleclip-jax convert encoder`)")
    enc = load_encoder(encoder)
    enc.check_fits(gen)
    return invert_photos(images, enc, align, gen=gen, iterations=iterations)


def tune_for(
    gen,
    gen_dir,
    inv: Inversion,
    cfg: PTIConfig,
    work_dir,
    lpips=None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable | None = None,
):
    """Pivotal tuning of ``gen`` (the folder ``gen_dir``) on inverted photos: the codes are the
    pivots, the crops (resized to the generator) the targets. Returns (tuned generator, report)."""
    targets = crops_at(inv.crops, gen.config.resolution)
    return tune(
        gen, gen_dir, inv.wplus, targets, cfg, work_dir, lpips, resume=resume, overwrite=overwrite, progress=progress
    )
