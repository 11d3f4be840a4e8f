"""ONNX export: ORT vs JAX (tiny and 1024 config-f), a JAX- and torch-free runtime, bad files/inputs."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from styleclip_jax import CheckpointError, GeneratorConfig, InputError
from styleclip_jax.export.onnx_export import (
    export_generator,
    export_global,
    export_mapper,
)
from styleclip_jax.export.runtime import OnnxEditor
from styleclip_jax.models.mapper.handle import LatentMapperModel
from styleclip_jax.models.stylegan2.random_init import random_generator

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def narrow1024():
    """18 W+ rows × 512 like FFHQ, but 4 channels per layer: takes the real-size golden mapper cheaply."""
    cfg = GeneratorConfig.rosinality(
        1024, style_dim=512, n_mlp=1, channels={r: 4 for r in (4, 8, 16, 32, 64, 128, 256, 512, 1024)}
    )
    return random_generator(cfg)


@pytest.fixture(scope="module")
def mapper_onnx(tmp_path_factory, golden_dir, narrow1024):
    from convert_weights.mapper import convert_mapper

    m, _ = convert_mapper(golden_dir / "mapper_tiny.pt")
    path = export_mapper(m, narrow1024, tmp_path_factory.mktemp("onnx") / "edit.onnx")
    return m, path


def test_mapper_generator_export_matches_jax(mapper_onnx, narrow1024, golden_dir):
    m, path = mapper_onnx
    ed = OnnxEditor(path)
    assert ed.kind == "mapper" and [s["name"] for s in ed.inputs] == ["wplus", "alpha"]
    assert ed.metadata["generator_fingerprint"] == narrow1024.fingerprint()
    assert json.loads(ed.metadata["mapper_config"])["kind"] == "levels"
    w = np.load(golden_dir / "mapper_tiny.npz")["w"]
    w3 = np.concatenate([w, w[:1] * 0.5])
    for batch, alpha in ((w[:1], np.float32(1.0)), (w3, np.array([1.0, 0.0, -1.5], np.float32))):
        out = ed.run(wplus=batch, alpha=alpha)
        ref = np.asarray(narrow1024.synthesis(np.asarray(m.apply(batch, alpha))))
        np.testing.assert_allclose(out, ref, atol=1e-4, rtol=0)
    # batching inside the runtime gives the same images; uint8 output
    np.testing.assert_allclose(ed.run(batch_size=2, wplus=w3, alpha=1.0), ed.run(wplus=w3, alpha=1.0), atol=1e-5)
    u8 = ed.run(wplus=w[:1], alpha=1.0, output="uint8")
    assert u8.dtype == np.uint8 and u8.shape == (1, 1024, 1024, 3)


def test_generator_and_global_exports_match_jax(tmp_path, rosinality_tiny):
    gen, d = rosinality_tiny
    ed = OnnxEditor(export_generator(gen, tmp_path / "g.onnx"))
    np.testing.assert_allclose(ed.run(wplus=d["wplus_mix"]), np.asarray(gen.synthesis(d["wplus_mix"])), atol=1e-4)
    edz = OnnxEditor(export_generator(gen, tmp_path / "gz.onnx", source="z", truncation_cutoff=4))
    z = d["z"]
    psi = np.array([0.7, 1.0, 0.5], np.float32)
    ref = np.concatenate([np.asarray(gen.synthesis(gen.mapping(z[i : i + 1], float(psi[i]), 4))) for i in range(3)])
    np.testing.assert_allclose(edz.run(z=z, psi=psi), ref, atol=1e-4)
    edg = OnnxEditor(export_global(gen, tmp_path / "gl.onnx"))
    c = sum(l.width for l in gen.config.style_layers)
    direction = np.random.default_rng(0).standard_normal(c).astype(np.float32) * 0.2
    s = gen.w_to_s(d["wplus"])
    off, edited = 0, {}
    for l in gen.config.style_layers:
        edited[l.name] = np.asarray(s[l.name]) + 3.0 * direction[off : off + l.width]
        off += l.width
    np.testing.assert_allclose(
        edg.run(wplus=d["wplus"], direction=direction, alpha=3.0), np.asarray(gen.synthesis_s(edited)), atol=1e-4
    )


@pytest.mark.slow
def test_1024_config_f_with_real_size_mapper(tmp_path):
    """A random 1024 config-f generator (30 M params) + a real-size LevelsMapper, batch 1 and 3 from one file."""
    from styleclip_jax.editing.mapper.core import init_mapper_tensors
    from styleclip_jax.models.mapper.network import MapperConfig

    gen = random_generator(GeneratorConfig.ffhq_config_f(1024))
    mcfg = MapperConfig(kind="levels", latent_dim=512, num_ws=18)
    mapper = LatentMapperModel(mcfg, init_mapper_tensors(mcfg, 1))
    path = export_mapper(mapper, gen, tmp_path / "edit.onnx")
    assert (tmp_path / "edit.onnx.data").exists()  # weights in the sidecar
    ed = OnnxEditor(path)
    w = np.asarray(gen.mapping(np.random.RandomState(0).randn(3, 512).astype(np.float32), 0.7))
    for batch, alpha in ((w[:1], 1.0), (w, np.array([1.0, 0.5, 2.0], np.float32))):
        out = ed.run(wplus=batch, alpha=alpha)
        ref = np.asarray(gen.synthesis(np.asarray(mapper.apply(batch, alpha))))
        np.testing.assert_allclose(out, ref, atol=1e-4, rtol=0)


NO_JAX = textwrap.dedent("""
    import sys, importlib.abc
    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("jax", "jaxlib", "flax", "torch", "optax", "jax2onnx"):
                raise ImportError(f"{name} is not allowed here")
    sys.meta_path.insert(0, Refuse())
    import numpy as np
    from styleclip_jax.export.runtime import OnnxEditor
    ed = OnnxEditor(sys.argv[1])
    w = np.load(sys.argv[2])
    np.save(sys.argv[3], ed.run(wplus=w, alpha=1.0))
    try:
        import jax
    except ImportError:
        print("jax refused")
    assert not any(m.split(".")[0] in ("jax", "torch", "flax") for m in sys.modules)
""")


def test_runtime_runs_where_jax_and_torch_cannot_be_imported(tmp_path, mapper_onnx, narrow1024, golden_dir):
    m, path = mapper_onnx
    w = np.load(golden_dir / "mapper_tiny.npz")["w"]
    np.save(tmp_path / "w.npy", w)
    p = subprocess.run(
        [sys.executable, "-c", NO_JAX, str(path), str(tmp_path / "w.npy"), str(tmp_path / "o.npy")],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "jax refused" in p.stdout
    ref = np.asarray(narrow1024.synthesis(np.asarray(m.apply(w, 1.0))))
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), ref, atol=1e-4)


def test_bad_files_and_inputs(tmp_path, mapper_onnx, golden_dir, rosinality_tiny):
    import onnx

    m, path = mapper_onnx
    with pytest.raises(CheckpointError, match="no such ONNX model"):
        OnnxEditor(tmp_path / "missing.onnx")
    (tmp_path / "cut.onnx").write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="not a loadable ONNX model"):
        OnnxEditor(tmp_path / "cut.onnx")
    (tmp_path / "text.onnx").write_text("hello")
    with pytest.raises(CheckpointError, match="not a loadable ONNX model"):
        OnnxEditor(tmp_path / "text.onnx")
    plain = onnx.load(str(path))
    del plain.metadata_props[:]
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    with pytest.raises(CheckpointError, match="not one exported by styleclip-jax"):
        OnnxEditor(tmp_path / "plain.onnx")
    ed = OnnxEditor(path)
    w = np.load(golden_dir / "mapper_tiny.npz")["w"]
    with pytest.raises(InputError, match=r"wplus must have shape \(B, 18, 512\) with B=2, got \(2, 10, 512\)"):
        ed.run(wplus=w[:, :10], alpha=1.0)
    with pytest.raises(InputError, match=r"alpha must have shape \(B\) with B=2"):
        ed.run(wplus=w, alpha=np.ones(3, np.float32))
    with pytest.raises(InputError, match="wplus must be a float array, got dtype int64"):
        ed.run(wplus=w.astype(np.int64), alpha=1.0)
    with pytest.raises(InputError, match="NaN"):
        ed.run(wplus=np.full_like(w, np.nan), alpha=1.0)
    with pytest.raises(InputError, match=r"missing \['alpha'\], unknown \['beta'\]"):
        ed.run(wplus=w, beta=1.0)
    gen, _ = rosinality_tiny
    with pytest.raises(FileExistsError):
        export_generator(gen, path)
    with pytest.raises(InputError, match="mapper expects W\\+ \\(18, 512\\)"):
        export_mapper(m, gen, tmp_path / "x.onnx")
    with pytest.raises(InputError, match="opset must lie in 18..23"):
        export_generator(gen, tmp_path / "y.onnx", opset=13)


def test_cli_export_and_run_onnx(tmp_path, golden_dir, rosinality_tiny):
    from styleclip_jax.cli.main import main

    gen, d = rosinality_tiny
    assert main(["convert", "generator", str(golden_dir / "rosinality_tiny.pt"), str(tmp_path / "g")]) == 0
    assert (
        main(
            [
                "export",
                "generator",
                "--generator",
                str(tmp_path / "g"),
                "--from",
                "z",
                "--out",
                str(tmp_path / "gz.onnx"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "run-onnx",
                "--model",
                str(tmp_path / "gz.onnx"),
                "--seeds",
                "0-2",
                "--psi",
                "0.7",
                "--cpu",
                "--out",
                str(tmp_path / "o.npz"),
            ]
        )
        == 0
    )
    from styleclip_jax.models.latents import z_from_seeds

    ref = np.asarray(gen.synthesis(gen.mapping(z_from_seeds([0, 1, 2], 64), 0.7)))
    np.testing.assert_allclose(np.load(tmp_path / "o.npz")["images"], ref, atol=1e-4)
    assert (
        main(["run-onnx", "--model", str(tmp_path / "gz.onnx"), "--seeds", "0", "--out", str(tmp_path / "o.npz")]) == 2
    )
    assert main(["export", "global", "--generator", str(tmp_path / "g"), "--out", str(tmp_path / "gl.onnx")]) == 0
    np.savez(tmp_path / "w.npz", wplus=d["wplus"])
    np.save(tmp_path / "dir.npy", np.zeros(sum(l.width for l in gen.config.style_layers), np.float32))
    assert (
        main(
            [
                "run-onnx",
                "--model",
                str(tmp_path / "gl.onnx"),
                "--latents",
                str(tmp_path / "w.npz"),
                "--direction",
                str(tmp_path / "dir.npy"),
                "--out",
                str(tmp_path / "gl.png"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "run-onnx",
                "--model",
                str(tmp_path / "gl.onnx"),
                "--latents",
                str(tmp_path / "w.npz"),
                "--out",
                str(tmp_path / "gl2.png"),
            ]
        )
        == 2
    )  # needs --direction: clear error
