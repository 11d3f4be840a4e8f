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
    assert "styleclip_jax.editing" in maps            # the check sees the maps it is meant to
    clashes = [(pkg, name) for pkg, d in maps.items() for name, mod in d.items()
               if mod.lstrip(".").split(".")[-1] == name]
    assert not clashes, clashes


def test_optimize_is_the_function_after_its_module_is_imported():
    importlib.import_module("styleclip_jax.editing.latent_optimize")
    from styleclip_jax.editing import optimize, text_direction

    assert callable(optimize) and callable(text_direction)
