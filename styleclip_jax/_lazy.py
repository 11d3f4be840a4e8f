"""PEP 562 lazy attributes: a package's public names are imported on first use, so light
submodules (errors, the ONNX runtime, configs) load without JAX."""

from importlib import import_module


def lazy_getattr(package: str, table: dict[str, str], namespace: dict):
    """A module ``__getattr__`` resolving ``name`` from ``table[name]`` (a relative module path)."""

    def __getattr__(name):
        if name in table:
            value = getattr(import_module(table[name], package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
