import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# The heaviest test files (1024-px programs, trainers, subprocess runs), heaviest first. The README's
# command runs the suite on two workers with `--dist loadfile`, which hands out whole files in
# collection order: a heavy file collected last (alphabetically, test_stylegan3 and test_toyworld)
# would run alone after the other worker had finished.
HEAVY_FIRST = (
    "test_stylegan3.py",
    "test_toyworld.py",
    "test_multiprocess.py",
    "test_export.py",
    "test_encoder_training.py",
    "test_e4e.py",
    "test_generator_api.py",
    "test_bench_smoke.py",
    "test_optimization.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's own order is kept


def golden_path() -> Path:
    return Path(os.environ.get("STYLECLIP_GOLDEN_DIR", REPO.parent / "shared" / "golden"))


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    """Drop every compiled program after each test module. XLA-CPU maps memory for each executable,
    and the whole suite in one process compiles thousands: it passed Linux's default
    vm.max_map_count (65530) and LLVM crashed while compiling (a segfault in test_toyworld)."""
    yield
    import gc

    import jax

    jax.clear_caches()
    gc.collect()


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    p = golden_path()
    if not (p / "rosinality_tiny.pt").exists():
        pytest.skip(f"golden files not found at {p} (set STYLECLIP_GOLDEN_DIR); CI always has them")
    return p


@pytest.fixture(scope="session")
def rosinality_tiny(golden_dir):
    from convert_weights import convert_generator

    return convert_generator(golden_dir / "rosinality_tiny.pt"), np.load(golden_dir / "rosinality_tiny.npz")


@pytest.fixture(scope="session")
def ada_tiny(golden_dir):
    from convert_weights import convert_generator

    return convert_generator(golden_dir / "ada_tiny.pkl"), np.load(golden_dir / "ada_tiny.npz")


def random_mapper(latent_dim: int, num_ws: int, seed: int, kind: str = "single"):
    """A latent mapper with the trainer's seeded initial weights, for tests that need one but not a
    training run."""
    from styleclip_jax.editing.mapper.core import init_mapper_tensors
    from styleclip_jax.models.mapper.handle import LatentMapperModel
    from styleclip_jax.models.mapper.network import MapperConfig

    cfg = MapperConfig(kind=kind, latent_dim=latent_dim, num_ws=num_ws)
    return LatentMapperModel(cfg, init_mapper_tensors(cfg, seed), {"format": "test"})


def nchw(x):
    return np.transpose(np.asarray(x), (0, 3, 1, 2))


@pytest.fixture(scope="session")
def clip_tiny(golden_dir):
    """The golden OpenAI-format tiny CLIP (ViT 2x128, text 3x64, embed 512), converted once."""
    from convert_weights.clip import convert_clip

    return convert_clip(golden_dir / "clip_tiny_openai.pt")


@contextlib.contextmanager
def ui_server(log: Path, *extra: str):
    """``styleclip-jax ui`` (the toy world) on 127.0.0.1 at a free port, its output to the file
    ``log`` (a pipe nobody reads could fill and stall it): yields (url, process) once it answers;
    stopped, and checked stopped, on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo), GRADIO_ANALYTICS_ENABLED="False")
    out = open(log, "w")
    p = subprocess.Popen(
        [sys.executable, "-m", "styleclip_jax.cli.main", "ui", "--port", str(port), *extra],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 240
    while time.time() < deadline:
        if p.poll() is not None:
            raise AssertionError(f"the ui server exited: {log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        p.kill()
        raise AssertionError("the ui server did not answer within 240 s")
    try:
        yield url, p
    finally:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
        out.close()
        assert p.poll() is not None  # the server is stopped
