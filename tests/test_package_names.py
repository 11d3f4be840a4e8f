"""Lazily exported names must not share a name with a submodule of their package: once the
submodule is imported (by anything), Python binds the package attribute to the module and
``from package import name`` returns the module instead of the function (seen as
"'module' object is not callable" in `edit optimize` after the toy world imported the submodule)."""

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import styleclip_jax


def _lazy_maps():
    for info in pkgutil.walk_packages(styleclip_jax.__path__, "styleclip_jax."):
        if not info.ispkg:
            continue
        src = (Path(importlib.util.find_spec(info.name).origin)).read_text()
        m = re.search(r"_LAZY = (\{.*?\n\})", src, re.S)
        if m:
            yield info.name, ast.literal_eval(m.group(1))


def test_lazy_names_never_equal_their_submodule_names():
    maps = dict(_lazy_maps())
    assert "styleclip_jax.editing" in maps  # the check sees the maps it is meant to
    children = {pkg: {m.name for m in pkgutil.iter_modules(importlib.import_module(pkg).__path__)} for pkg in maps}
    clashes = [
        (pkg, name)
        for pkg, d in maps.items()
        for name, mod in d.items()
        if mod.lstrip(".").split(".")[-1] == name or name in children[pkg]
    ]
    assert not clashes, clashes


def test_optimize_is_the_function_after_its_module_is_imported():
    importlib.import_module("styleclip_jax.editing.optimization.run")
    from styleclip_jax.editing import optimize, text_direction

    assert callable(optimize) and callable(text_direction)


# ---- the layout's rules (issue 24) ------------------------------------------------------------------
ROOT = Path(styleclip_jax.__file__).parent


def _library_modules():
    """Every module of the library proper (the CLI is the one place that may know about flags)."""
    for path in sorted(ROOT.rglob("*.py")):
        if "cli" not in path.relative_to(ROOT).parts:
            yield path


def test_documented_names_import():
    import styleclip_jax.editing as editing
    import styleclip_jax.models as models

    for pkg in (styleclip_jax, editing, models):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, f"{pkg.__name__}.{name}"
    for name in styleclip_jax.__all__:
        exec(f"from styleclip_jax import {name}", {})


def test_every_module_imports():
    """Nothing left pointing at an old module path after the restructuring."""
    names = [i.name for i in pkgutil.walk_packages(styleclip_jax.__path__, "styleclip_jax.") if ".ui." not in i.name]
    assert len(names) > 60
    for name in names:
        importlib.import_module(name)


def _error_texts(tree):
    """String pieces of every ``raise X(...)`` in a module (f-string parts included)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:
                for sub in ast.walk(arg):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                        yield sub.value


def test_library_never_imports_argparse_nor_names_flags_in_errors():
    seen = 0
    for path in _library_modules():
        tree = ast.parse(path.read_text())
        imports = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imports += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert "argparse" not in imports, path
        for text in _error_texts(tree):
            seen += 1
            assert not re.search(r"(^|[\s(])--[a-z]", text), f"{path.name}: {text!r} names a CLI flag"
    assert seen > 200  # the scan sees the package's error messages


def test_cli_writes_library_option_names_as_flags():
    from styleclip_jax.cli.main import one_line
    from styleclip_jax.errors import InputError, OutputExistsError

    assert (
        one_line(OutputExistsError("x.png exists; pass `overwrite=True` to replace it"))
        == "x.png exists; pass --overwrite to replace it"
    )
    assert (
        one_line(InputError("`latents_key` w is not among ['wplus']; see `styleclip-jax convert encoder`"))
        == "--latents-key w is not among ['wplus']; see `styleclip-jax convert encoder`"
    )


def test_dependencies_point_one_way():
    """convert_weights imports styleclip_jax, never the reverse (only the CLI may import both)."""
    files = [
        p
        for p in ROOT.rglob("*")
        if p.is_file() and p.suffix in (".py", ".md", ".json", ".txt") and "cli" not in p.relative_to(ROOT).parts
    ]
    assert len(files) > 60
    for path in files:
        assert "convert_weights" not in path.read_text(), path


def test_contrib_is_off_by_default():
    """Everything beyond upstream is listed in editing.contrib, and the library's defaults are upstream's."""
    from styleclip_jax.editing import OptimizeConfig, TextEdit
    from styleclip_jax.editing.contrib import (
        BEYOND_UPSTREAM,
        Population,
        conditioned_shift,
        fit_offsets,
        precompute_population,
        warm_offsets,
    )
    from styleclip_jax.editing.mapper.config import MapperTrainConfig

    assert all(callable(f) for f in (precompute_population, warm_offsets, conditioned_shift, fit_offsets))
    assert isinstance(Population, type) and len(BEYOND_UPSTREAM) == 7
    assert TextEdit("a", "b").source == "fs3" and OptimizeConfig().warm_start == 0 == OptimizeConfig().subspace
    assert TextEdit("a", "b").condition == 0 == OptimizeConfig().warm_condition
    m = MapperTrainConfig("a")
    assert m.population_scale == 0 == m.population_condition == m.population_lambda
