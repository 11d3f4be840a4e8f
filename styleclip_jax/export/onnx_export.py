"""Export edit paths to ONNX through jax2onnx (opset 21 by default), weights baked in.

Three graphs, each with a dynamic batch ``B`` and an NHWC float32 ``image`` output in the
generator's raw range (nominally [-1, 1]):
- ``mapper``:     wplus (B, L, D), alpha (B,)              -> image   (ŵ = w + α·0.1·M(w))
- ``generator``:  wplus (B, L, D)                           -> image
                  or z (B, Z), psi (B,)                     -> image   (truncation toward w_avg)
- ``global``:     wplus (B, L, D), direction (C,), alpha (B,) -> image (s' = s + α·Δs in StyleSpace)
The modulated convs are the "scaled" form, which is what keeps B dynamic (a grouped conv needs a
static group count). Files over 100 MB keep their weights in a ``<name>.data`` sidecar.
Every file carries metadata (``styleclip_jax.*`` keys): our version, the graph kind, the model
configs, fingerprints of the source weights and the input/output layout; the runtime reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx

from styleclip_jax.errors import InputError, OutputExistsError
from styleclip_jax.version import __version__

MIN_OPSET, MAX_OPSET = 18, 23
DEFAULT_OPSET = 21
SIDECAR_BYTES = 100 * 2**20
IMAGE_LAYOUT = "NHWC float32, raw generator range (nominally [-1, 1], not clamped)"
PHOTO_DOC = "aligned faces, NHWC float32 in [-1, 1] (e4e's preprocessing: styleclip_jax.models.e4e.preprocess)"


def _spec(name, shape, doc):
    return {"name": name, "shape": list(shape), "dtype": "float32", "doc": doc}


def mapper_graph(mapper, gen):
    """(fn, input specs) for mapper + generator: (wplus (B,L,D), alpha (B,)) -> image."""
    c = gen.config
    mapper.check_fits(gen, "ONNX export")
    m_def, m_state, g_def, g_state = mapper.graphdef, mapper.state, gen.graphdef, gen.state

    def fn(wplus, alpha):
        w_hat = nnx.merge(m_def, m_state).edit(wplus, alpha)
        return nnx.merge(g_def, g_state)(w_hat)[0]

    return fn, [
        _spec("wplus", ("B", c.num_ws, c.w_dim), "W+ latents"),
        _spec("alpha", ("B",), "edit strength per latent (1 = upstream's edit, 0 = none)"),
    ]


def generator_graph(gen, source: str = "wplus", truncation_cutoff: int | None = None):
    """(fn, specs): wplus (B,L,D) -> image, or z (B,Z) + psi (B,) -> image."""
    c = gen.config
    g_def, g_state = gen.graphdef, gen.state
    if source == "wplus":
        return (lambda wplus: nnx.merge(g_def, g_state)(wplus)[0]), [_spec("wplus", ("B", c.num_ws, c.w_dim), "W+")]
    if source != "z":
        raise InputError(f"generator export source must be 'wplus' or 'z', got {source!r}")

    def fn(z, psi):
        g = nnx.merge(g_def, g_state)
        w = g.mapping(z)
        ws = jnp.broadcast_to(w[:, None], (w.shape[0], c.num_ws, c.w_dim))
        return g(g.truncate(ws, psi[:, None, None], truncation_cutoff))[0]

    return fn, [
        _spec("z", ("B", c.z_dim), "z ~ N(0, I)"),
        _spec("psi", ("B",), "truncation toward w_avg per sample (1 = none, 0.7 typical)"),
    ]


def global_graph(gen):
    """(fn, specs): wplus (B,L,D), direction (C_total,), alpha (B,) -> image; C_total = all style
    channels in layer order (toRGB included, as ``StyleSpaceStats``), so a ``Direction.delta`` fits."""
    c = gen.config
    g_def, g_state = gen.graphdef, gen.state
    widths = [l.width for l in c.style_layers]
    offsets = np.concatenate([[0], np.cumsum(widths)]).tolist()

    def fn(wplus, direction, alpha):
        g = nnx.merge(g_def, g_state)
        styles = g.synthesis.w_to_s(wplus)
        edited = [s + alpha[:, None] * direction[offsets[i] : offsets[i + 1]][None] for i, s in enumerate(styles)]
        return g.synthesis(edited)

    return fn, [
        _spec("wplus", ("B", c.num_ws, c.w_dim), "W+ latents"),
        _spec("direction", (int(sum(widths)),), "StyleSpace direction Δs, all layers concatenated"),
        _spec("alpha", ("B",), "strength per latent"),
    ]


def encoder_graph(enc):
    """(fn, specs): aligned faces (B, 256, 256, 3) in [-1, 1] -> W+ (B, N, D), latent_avg included.
    One pass only: a ReStyle encoder (its loop runs the generator) is refused."""
    enc.check_one_pass()
    s = enc.config.input_size
    e_def, e_state = enc.graphdef, enc.state
    return (lambda photo: nnx.merge(e_def, e_state)(photo)), [_spec("photo", ("B", s, s, 3), PHOTO_DOC)]


def photo_edit_graph(enc, mapper, gen):
    """(fn, specs): photo (B, 256, 256, 3), alpha (B,) -> edited image: e4e, then mapper, then generator."""
    enc.check_one_pass()
    enc.check_fits(gen)
    mapper.check_fits(gen, "ONNX export")
    e_def, e_state, m_def, m_state, g_def, g_state = (
        enc.graphdef,
        enc.state,
        mapper.graphdef,
        mapper.state,
        gen.graphdef,
        gen.state,
    )
    s = enc.config.input_size

    def fn(photo, alpha):
        w = nnx.merge(e_def, e_state)(photo)
        return nnx.merge(g_def, g_state)(nnx.merge(m_def, m_state).edit(w, alpha))[0]

    return fn, [
        _spec("photo", ("B", s, s, 3), PHOTO_DOC),
        _spec("alpha", ("B",), "edit strength per photo (1 = upstream's edit, 0 = the reconstruction)"),
    ]


def export_onnx(
    fn,
    inputs,
    path,
    kind: str,
    meta: dict,
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
    output: dict | None = None,
) -> Path:
    """Trace ``fn`` with jax2onnx, attach metadata, save (sidecar when large), full-check. Returns the path.
    ``output`` describes the single output (default: the image)."""
    import onnx
    from jax2onnx import to_onnx

    path = Path(path)
    if path.suffix != ".onnx":
        raise InputError(f"ONNX output must end with .onnx, got {path.name!r}")
    sidecar = path.with_name(path.name + ".data")
    if not overwrite and (path.exists() or sidecar.exists()):
        raise OutputExistsError(f"{path} exists; pass `overwrite=True` to replace it")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise InputError(
            f"opset must lie in {MIN_OPSET}..{MAX_OPSET} (ReduceMean with axes as an input needs 18; "
            f"{MAX_OPSET} is the newest checked with onnxruntime), got {opset}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    shapes = [tuple(s["shape"]) for s in inputs]
    output = output or {"name": "image", "shape": ["B", "R", "R", 3], "dtype": "float32", "doc": IMAGE_LAYOUT}
    model = to_onnx(
        fn,
        shapes,
        opset=opset,
        model_name=f"styleclip_jax_{kind}",
        input_names=[s["name"] for s in inputs],
        output_names=[output["name"]],
    )
    info = {
        "version": __version__,
        "kind": kind,
        "inputs": json.dumps(inputs),
        "outputs": json.dumps([output]),
        "opset": str(opset),
    }
    info.update({k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in meta.items()})
    del model.metadata_props[:]
    for k, v in sorted(info.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = f"styleclip_jax.{k}", v
    if sidecar.exists():
        sidecar.unlink()
    large = model.ByteSize() > SIDECAR_BYTES
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=large,
        all_tensors_to_one_file=True,
        location=sidecar.name,
        size_threshold=1024,
    )
    onnx.checker.check_model(str(path), full_check=True)
    return path


def _gen_meta(gen) -> dict:
    c = gen.config
    return {
        "generator_config": c.to_dict(),
        "generator_fingerprint": gen.fingerprint(),
        "generator_source": gen.source,
        "resolution": str(c.resolution),
        "style_layers": [[l.name, l.width, l.is_torgb] for l in c.style_layers],
    }


def export_mapper(mapper, gen, path, **kw) -> Path:
    fn, inputs = mapper_graph(mapper, gen)
    meta = {
        **_gen_meta(gen),
        "mapper_config": mapper.config.to_dict(),
        "mapper_fingerprint": mapper.fingerprint(),
        "mapper_source": mapper.source,
    }
    return export_onnx(fn, inputs, path, "mapper", meta, **kw)


def export_generator(gen, path, source: str = "wplus", truncation_cutoff: int | None = None, **kw) -> Path:
    fn, inputs = generator_graph(gen, source, truncation_cutoff)
    meta = {**_gen_meta(gen), "truncation_cutoff": json.dumps(truncation_cutoff)}
    return export_onnx(fn, inputs, path, f"generator_{source}", meta, **kw)


def export_global(gen, path, **kw) -> Path:
    fn, inputs = global_graph(gen)
    return export_onnx(fn, inputs, path, "global", _gen_meta(gen), **kw)


def _enc_meta(enc) -> dict:
    return {
        "encoder_config": enc.config.to_dict(),
        "encoder_fingerprint": enc.fingerprint(),
        "encoder_source": enc.source,
    }


def export_encoder(enc, path, **kw) -> Path:
    fn, inputs = encoder_graph(enc)
    out = {
        "name": "wplus",
        "shape": ["B", enc.config.num_styles, enc.config.style_dim],
        "dtype": "float32",
        "doc": "W+ latents, latent_avg included",
    }
    return export_onnx(fn, inputs, path, "encoder", _enc_meta(enc), output=out, **kw)


def export_photo_edit(enc, mapper, gen, path, **kw) -> Path:
    fn, inputs = photo_edit_graph(enc, mapper, gen)
    meta = {
        **_gen_meta(gen),
        **_enc_meta(enc),
        "mapper_config": mapper.config.to_dict(),
        "mapper_fingerprint": mapper.fingerprint(),
        "mapper_source": mapper.source,
    }
    return export_onnx(fn, inputs, path, "photo_edit", meta, **kw)
