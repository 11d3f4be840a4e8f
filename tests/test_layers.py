"""The import contract: one layer order, no cycles between files, and function-local imports only
with a stated reason. Reads every module's source (nothing is imported), so it runs with pytest
alone and names the offending edge.

Layers, lowest first; a module may import its own layer or a lower one, never a higher one:

    base     errors, validation, version, config_utils, progress, _lazy, utils, parallel
    io       file formats (model folders, latents, images, jobs, torch pickles)
    models   networks and their handles, optimisers
    editing  the three methods, inversion, faces, training loops
    apps     export (ONNX), toyworld, ui, the converters (convert_weights: only the CLI imports them)
    cli      the command line, and the package root's lazy re-exports
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("styleclip_jax", "convert_weights")

LAYERS = (
    (
        "base",
        (
            "styleclip_jax.errors",
            "styleclip_jax.validation",
            "styleclip_jax.version",
            "styleclip_jax.config_utils",
            "styleclip_jax.progress",
            "styleclip_jax._lazy",
            "styleclip_jax.utils",
            "styleclip_jax.parallel",
        ),
    ),
    ("io", ("styleclip_jax.io",)),
    ("models", ("styleclip_jax.models", "styleclip_jax.optim")),
    ("editing", ("styleclip_jax.editing", "styleclip_jax.faces", "styleclip_jax.training")),
    ("apps", ("styleclip_jax.export", "styleclip_jax.toyworld", "styleclip_jax.ui", "convert_weights")),
    ("cli", ("styleclip_jax.cli", "styleclip_jax")),
)

# Function-local imports are allowed without a comment for these reasons alone:
# - the CLI imports a command's library when that command runs, so `--help` and a parse error cost
#   no JAX start-up (measured in test_cli_help_imports_no_jax below);
# - optional or heavy third-party packages that a light module must not load at import time.
LAZY_FOLDERS = ("styleclip_jax.cli",)
OPTIONAL = {
    "torch",
    "onnx",
    "onnxruntime",
    "jax2onnx",
    "gradio",
    "selenium",
    "transformers",
    "orbax",
    "scipy",
    "PIL",
    "safetensors",
    "ftfy",
    "tqdm",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "ml_dtypes",
}
# Anything else local says why on its line or the line above: "# lazy: <reason>".
REASON = "# lazy:"


def sources(root: Path = REPO) -> dict[str, str]:
    """{module name: source} of every module of the two packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path.read_text()
    return out


def _owner(name: str, modules) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, source: str, modules) -> list[tuple[str, int, bool, str]]:
    """(imported project module, line, is local, third-party root or '') for every import of ``module``,
    the string targets of a ``_LAZY`` table included (they are imports made later)."""
    tree = ast.parse(source)
    is_pkg = module in modules and any(m.startswith(module + ".") for m in modules) or module in PACKAGES
    local = {
        id(c)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for c in ast.walk(f)
        if c is not f and isinstance(c, (ast.Import, ast.ImportFrom))
    }
    out = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            names = [v.value for v in getattr(node.value, "values", ()) if isinstance(v, ast.Constant)]
        for name in names:
            target = _owner(name, modules)
            if target is not None and target != module:
                out.append((target, node.lineno, id(node) in local, ""))
            elif target is None and name.split(".")[0] not in PACKAGES:
                out.append(("", node.lineno, id(node) in local, name.split(".")[0]))
    return out


def layer_of(module: str) -> int:
    best = max(
        (
            (len(p), i)
            for i, (_, prefixes) in enumerate(LAYERS)
            for p in prefixes
            if module == p or module.startswith(p + ".")
        ),
        default=None,
    )
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[1]


def graph(srcs: dict[str, str]) -> dict[str, list[tuple[str, int, bool, str]]]:
    return {m: imports(m, s, srcs) for m, s in srcs.items()}


def upward_edges(g) -> list[str]:
    return [
        f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]}) at line {line}"
        for m, edges in g.items()
        for t, line, _, _ in edges
        if t and layer_of(t) > layer_of(m)
    ]


def cycles(g) -> list[list[str]]:
    """Strongly connected sets of more than one module (Tarjan), each sorted."""
    succ = {m: sorted({t for t, *_ in edges if t}) for m, edges in g.items()}
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in succ.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(succ):
        if v not in index:
            visit(v)
    return found


def unexplained_local_imports(g, srcs) -> list[str]:
    bad = []
    for m, edges in g.items():
        if any(m == f or m.startswith(f + ".") for f in LAZY_FOLDERS):
            continue
        lines = srcs[m].splitlines()
        for target, line, local, third in edges:
            if not local or third in OPTIONAL:
                continue
            said = REASON in lines[line - 1] or (line > 1 and REASON in lines[line - 2])
            if not said:
                bad.append(f"{m}:{line} imports {target or third} inside a function without a '{REASON}' reason")
    return bad


@pytest.fixture(scope="module")
def project():
    srcs = sources()
    return srcs, graph(srcs)


def test_no_module_imports_a_higher_layer(project):
    _, g = project
    assert upward_edges(g) == []


def test_no_import_cycle_between_files(project):
    _, g = project
    assert cycles(g) == []


def test_local_imports_say_why(project):
    srcs, g = project
    assert unexplained_local_imports(g, srcs) == []


def test_the_contract_sees_the_whole_project(project):
    srcs, g = project
    assert len(srcs) > 100 and sum(len(e) for e in g.values()) > 300
    assert ("styleclip_jax.io.latents",) and any(t == "styleclip_jax.errors" for t, *_ in g["styleclip_jax.io.latents"])


def test_the_contract_fails_on_a_violating_import(project):
    """A test of the test: one added upward import, one added cycle and one bare local import are
    each found and named."""
    srcs, _ = project
    bad = dict(srcs)
    bad["styleclip_jax.io.files"] = (
        srcs["styleclip_jax.io.files"] + "\nfrom styleclip_jax.editing.session import EditSession\n"
    )
    bad["styleclip_jax.models.latents"] = (
        srcs["styleclip_jax.models.latents"] + "\ndef f():\n    from styleclip_jax.models.handle import ModelHandle\n"
    )
    g = graph(bad)
    assert any(
        e.startswith("styleclip_jax.io.files (io) imports styleclip_jax.editing.session (editing)")
        for e in upward_edges(g)
    )
    looped = dict(
        srcs,
        **{
            "styleclip_jax.models.handle": srcs["styleclip_jax.models.handle"]
            + "\nimport styleclip_jax.models.latents\n",
            "styleclip_jax.models.latents": bad["styleclip_jax.models.latents"],
        },
    )
    assert any({"styleclip_jax.models.handle", "styleclip_jax.models.latents"} <= set(c) for c in cycles(graph(looped)))
    assert any(
        e.startswith("styleclip_jax.models.latents:") and "styleclip_jax.models.handle" in e
        for e in unexplained_local_imports(g, bad)
    )
    # the same local import with its reason passes
    ok = dict(srcs)
    ok["styleclip_jax.models.latents"] = (
        srcs["styleclip_jax.models.latents"]
        + "\ndef f():\n    from styleclip_jax.models.handle import ModelHandle  # lazy: test\n"
    )
    assert unexplained_local_imports(graph(ok), ok) == []


def test_relative_and_lazy_table_imports_are_edges():
    srcs = {
        "styleclip_jax.io": "",
        "styleclip_jax.io.a": "from . import b\nfrom .b import x\n",
        "styleclip_jax.io.b": "",
        "styleclip_jax.cli": "_LAZY = {'f': 'styleclip_jax.io.a'}\n",
    }
    g = graph(srcs)
    assert {t for t, *_ in g["styleclip_jax.io.a"]} == {"styleclip_jax.io.b"}
    assert {t for t, *_ in g["styleclip_jax.cli"]} == {"styleclip_jax.io.a"}


def test_cli_help_imports_no_jax():
    """Why the CLI's imports are local: `--help` (and any parse error) answers without loading JAX."""
    code = (
        "import sys\nfrom styleclip_jax.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert not any(m.split('.')[0] in ('jax', 'flax', 'torch') for m in sys.modules), 'JAX loaded'\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
