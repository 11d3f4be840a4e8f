"""``ModelHandle``: the base class of every loaded model (config + NNX graphdef/state + source),
and the helpers that fill an abstract NNX module from flat tensors, strictly checked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from styleclip_jax.io.model_folder import (
    check_flat_against,
    read_typed_model_dir,
    save_model_dir,
)


def _key(path) -> str:
    return ".".join(map(str, path))


def expected_shapes_of(abstract_module) -> dict[str, tuple]:
    """Flat parameter names -> shapes of an (abstract) NNX module."""
    from flax import nnx

    _, state = nnx.split(abstract_module)
    return {_key(path): tuple(v.shape) for path, v in nnx.to_flat_state(state)}


def split_filled(abstract_module, tensors: Mapping[str, np.ndarray], what: str):
    """(graphdef, state) of ``abstract_module`` filled from flat ``tensors``, strictly checked."""
    import jax.numpy as jnp
    from flax import nnx

    check_flat_against(expected_shapes_of(abstract_module), tensors, what)
    graphdef, abstract = nnx.split(abstract_module)
    state = nnx.from_flat_state(
        [
            (path, var.replace(jnp.asarray(tensors[_key(path)], jnp.float32)))
            for path, var in nnx.to_flat_state(abstract)
        ]
    )
    return graphdef, state


def flat_tensors(state) -> dict[str, np.ndarray]:
    """Flat numpy dict of an NNX state (what ``save_model_dir`` writes)."""
    from flax import nnx

    return {_key(p): np.asarray(v[...]) for p, v in nnx.to_flat_state(state)}


def jit_call(call, static: tuple[int, ...] = ()):
    """``f(graphdef, state, *args) = call(nnx.merge(graphdef, state), *args)``, jitted: every handle's
    way into XLA. The graphdef is static and the weights an ordinary argument, so they are never baked
    into the program and one compile serves every set of weights; ``static`` indexes ``args``."""
    import jax
    from flax import nnx

    def run(graphdef, state, *args):
        return call(nnx.merge(graphdef, state), *args)

    return jax.jit(run, static_argnums=(0, *(2 + i for i in static)))


class ModelHandle:
    """A loaded model: frozen ``config`` + NNX ``(graphdef, state)`` + ``source`` info.

    Subclasses set ``KIND`` (the folder kind), ``CONFIG_CLS``, ``WHAT`` (for error messages) and
    ``abstract(config)`` (the module built with ``nnx.eval_shape``); loading, saving and access
    to the module are shared.
    """

    KIND = ""
    CONFIG_CLS: type = object
    WHAT = "model weights"

    @staticmethod
    def abstract(config):
        raise NotImplementedError

    def __init__(self, config, tensors: Mapping[str, np.ndarray], source: Mapping | None = None):
        self.config, self.source = config, dict(source or {})
        self.graphdef, self.state = split_filled(self.abstract(config), tensors, self.WHAT)

    @classmethod
    def load(cls, path, **kwargs):
        cfg, tensors, source = read_typed_model_dir(path, cls.KIND, cls.CONFIG_CLS)
        return cls(cfg, tensors, source, **kwargs)

    def save(self, path, overwrite: bool = False) -> Path:
        return save_model_dir(path, self.KIND, self.config.to_dict(), self.tensors(), self.source, overwrite=overwrite)

    def tensors(self) -> dict[str, np.ndarray]:
        return flat_tensors(self.state)

    def fingerprint(self) -> str:
        """sha256 over config and every tensor (name, shape, float32 bytes): which weights these are.

        Computed once and cached; stats, training runs and exports record it so that using them
        with other weights is an error rather than a silently wrong image.
        """
        if getattr(self, "_fingerprint", None) is None:
            h = hashlib.sha256(json.dumps(self.config.to_dict(), sort_keys=True).encode())
            for k, v in sorted(self.tensors().items()):
                h.update(f"{k}{tuple(v.shape)}".encode())
                h.update(np.ascontiguousarray(v, np.float32).tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def lineage(self) -> tuple[str, ...]:
        """This model's fingerprint, then its base's when it was tuned from one (PTI): records made
        for the base (StyleSpace stats, population banks) hold for the tuned model too."""
        bases = self.source.get("lineage", [])
        return (self.fingerprint(),) + tuple(b for b in bases if isinstance(b, str))

    def _set_compute_dtype(self, dtype: str, part=lambda module: module) -> None:
        """Make ``part(module)`` compute in ``dtype``: a static attribute, so it sits in the graphdef
        and reaches every jitted function that merges it (the editing methods' too)."""
        if dtype == "float32":
            return
        from flax import nnx

        module = self.module()
        part(module).compute_dtype = dtype
        self.graphdef, self.state = nnx.split(module)

    def module(self):
        """The NNX module (for use inside your own jitted functions)."""
        from flax import nnx

        return nnx.merge(self.graphdef, self.state)
