"""Generator folders by kind: the one place that knows every generator, so that no generator
module imports another (StyleGAN3 subclasses StyleGAN2; StyleGAN2 never names StyleGAN3).

A *tuned* folder (kind ``tuned-generator``, written by pivotal tuning) holds only the tensors the
tuning changed and names its base folder (a path relative to itself, and the absolute one) with the
base's fingerprint; loading it loads the base, checks that fingerprint, and replaces those tensors.
The result is an ordinary generator handle whose ``lineage`` includes the base, so StyleSpace
stats and population banks computed for the base stay usable with it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.model_folder import folder_kind, read_model_dir, save_model_dir
from styleclip_jax.models.stylegan2.handle import StyleGAN2
from styleclip_jax.models.stylegan3.handle import StyleGAN3

# folder kind (config.json "kind") -> handle class; a folder of any other kind is StyleGAN2's to refuse
GENERATORS: dict[str | None, type[StyleGAN2]] = {StyleGAN3.KIND: StyleGAN3, StyleGAN2.KIND: StyleGAN2}
TUNED_KIND = "tuned-generator"


def load_generator(path, dtype: str = "float32") -> StyleGAN2:
    """Load a generator folder written by ``styleclip-jax convert generator`` (or ``.save``): a
    StyleGAN2, or a StyleGAN3 (``StyleGAN3``, same API) when the folder holds one, or a tuned
    folder over either (see the module docstring). ``dtype="bfloat16"`` for bf16 synthesis."""
    kind = folder_kind(path)
    if kind == TUNED_KIND:
        return _load_tuned(Path(path), dtype)
    return GENERATORS.get(kind, StyleGAN2).load(path, dtype=dtype)


def tuned_generator(base: StyleGAN2, tensors: Mapping[str, np.ndarray], info: Mapping) -> StyleGAN2:
    """``base`` with ``tensors`` (a subset of its own, same shapes) replaced; ``info`` goes to the source."""
    own = base.tensors()
    bad = [k for k, v in tensors.items() if k not in own or np.shape(v) != np.shape(own[k])]
    if bad:
        raise CheckpointError(f"tuned tensors that the base generator does not have (or of another shape): {bad[:5]}")
    source = {**base.source, **dict(info), "lineage": list(base.lineage())}
    return type(base)(base.config, {**own, **tensors}, source, dtype=base.dtype_name)


def save_tuned(out_dir, gen: StyleGAN2, base: StyleGAN2, base_dir, overwrite: bool = False) -> Path:
    """Write ``gen`` (tuned from ``base``, loaded from ``base_dir``) as the tensors that differ."""
    own, ref = gen.tensors(), base.tensors()
    changed = {k: v for k, v in own.items() if not np.array_equal(v, ref[k])}
    out = Path(out_dir)
    config = {
        "base": {
            "relative": os.path.relpath(Path(base_dir).resolve(), out.resolve()),
            "absolute": str(Path(base_dir).resolve()),
            "fingerprint": base.fingerprint(),
            "kind": base.KIND,
        },
        "tensors": sorted(changed),
    }
    source = {k: v for k, v in gen.source.items() if k not in ("lineage", "tuned_folder")}
    return save_model_dir(out, TUNED_KIND, config, changed, source, overwrite=overwrite)


def _load_tuned(path: Path, dtype: str) -> StyleGAN2:
    config, tensors, source = read_model_dir(path, TUNED_KIND)
    base = config.get("base") if isinstance(config, dict) else None
    if not isinstance(base, dict) or not {"relative", "absolute", "fingerprint"} <= set(base):
        raise CheckpointError(f"{path}: a tuned generator folder without its base (config.base)")
    if sorted(tensors) != sorted(config.get("tensors", [])):
        raise CheckpointError(f"{path}: the tuned tensors do not match the list in config.json")
    where = [path / base["relative"], Path(base["absolute"])]
    found = next((p for p in where if folder_kind(p) in (StyleGAN2.KIND, StyleGAN3.KIND, TUNED_KIND)), None)
    if found is None:
        raise CheckpointError(f"{path}: its base generator is gone (looked in {where[0]} and {where[1]})")
    gen = load_generator(found, dtype)  # a tuned base too: tunings chain
    if gen.fingerprint() != base["fingerprint"]:
        raise CheckpointError(
            f"{path} was tuned from another generator than the one now at {found} (fingerprint "
            f"{base['fingerprint'][:12]}…, found {gen.fingerprint()[:12]}…)"
        )
    return tuned_generator(gen, tensors, {**source, "tuned_folder": str(path)})
