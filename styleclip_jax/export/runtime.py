"""Run exported styleclip-jax ONNX models with onnxruntime: numpy and onnxruntime only.

No JAX, no torch: this module is meant for serving. ``OnnxEditor(path)`` picks the CUDA
provider when onnxruntime-gpu finds a GPU and the CPU provider otherwise, checks every input
against the shapes recorded at export (a dynamic batch ``B`` shared by the batched inputs),
splits large batches, and returns NHWC images as float32 (raw range) or uint8.

    from styleclip_jax.export.runtime import OnnxEditor
    ed = OnnxEditor("edit.onnx")
    images = ed.run(wplus=w, alpha=1.0, output="uint8")      # (B, R, R, 3)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from styleclip_jax.errors import CheckpointError, InputError


def default_providers() -> list[str]:
    import onnxruntime as ort

    have = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in have]


class OnnxEditor:
    """An exported edit/generation graph, ready to run. ``kind``, ``inputs`` and ``metadata`` come
    from the file (``styleclip_jax.*`` metadata written by ``styleclip_jax.export``)."""

    def __init__(self, path, providers: list[str] | None = None, threads: int | None = None):
        import onnxruntime as ort

        p = Path(path)
        if not p.is_file():
            raise CheckpointError(f"{p}: no such ONNX model file")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(p), sess_options=opts, providers=providers or default_providers())
        except Exception as e:  # onnxruntime raises several private exception types
            raise CheckpointError(f"{p}: not a loadable ONNX model ({type(e).__name__}: {str(e)[:300]})") from None
        try:
            meta = self.session.get_modelmeta().custom_metadata_map
        except UnicodeDecodeError:
            raise CheckpointError(f"{p}: its metadata is not text (file edited or corrupt)") from None
        if "styleclip_jax.kind" not in meta:
            raise CheckpointError(
                f"{p}: an ONNX model, but not one exported by styleclip-jax (no styleclip_jax.* "
                "metadata); export with `styleclip-jax export ...`"
            )
        self.path = p
        self.metadata = {k[len("styleclip_jax.") :]: v for k, v in meta.items() if k.startswith("styleclip_jax.")}
        self.kind = self.metadata["kind"]
        self.inputs = _specs(p, self.metadata.get("inputs"), "inputs", shaped=True)
        self.outputs = _specs(p, self.metadata.get("outputs", '[{"name": "image"}]'), "outputs", shaped=False)
        graph_names = [i.name for i in self.session.get_inputs()]
        if graph_names != [s["name"] for s in self.inputs]:
            raise CheckpointError(
                f"{p}: graph inputs {graph_names} do not match its metadata "
                f"{[s['name'] for s in self.inputs]} (file edited or mismatched)"
            )

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def _check(self, feeds: dict) -> tuple[dict, int]:
        names = [s["name"] for s in self.inputs]
        unknown, missing = sorted(set(feeds) - set(names)), [n for n in names if n not in feeds]
        if unknown or missing:
            raise InputError(
                f"{self.path.name} ({self.kind}) takes inputs {names}; missing {missing}, unknown {unknown}"
            )
        batch = None
        for s in self.inputs:
            if s["shape"][:1] == ["B"] and np.ndim(feeds[s["name"]]) == len(s["shape"]):
                batch = int(np.shape(feeds[s["name"]])[0])
                break
        if batch == 0:
            raise InputError("empty batch: give at least one latent")
        if batch is None:
            raise InputError(
                f"cannot tell the batch size: give {[s['name'] for s in self.inputs if s['shape'][:1] == ['B']][0]}"
                " with its batch axis"
            )
        out = {}
        for s in self.inputs:
            x = np.asarray(feeds[s["name"]])
            if not (np.issubdtype(x.dtype, np.floating) or (x.dtype.kind in "iu" and x.ndim == 0)):
                raise InputError(f"{s['name']} must be a float array, got dtype {x.dtype}")
            if s["shape"] == ["B"] and x.ndim == 0:  # a scalar strength for the whole batch
                x = np.full((batch,), x, np.float32)
            want = [batch if d == "B" else d for d in s["shape"]]
            if list(x.shape) != want:
                pretty = "(" + ", ".join(str(d) for d in s["shape"]) + ")"
                raise InputError(f"{s['name']} must have shape {pretty} with B={batch}, got {x.shape}")
            x = x.astype(np.float32)
            if not np.all(np.isfinite(x)):
                raise InputError(f"{s['name']} contains NaN or infinite values")
            out[s["name"]] = x
        return out, batch

    @property
    def output_name(self) -> str:
        """'image' for generator and edit graphs, 'wplus' for encoder graphs (from the metadata)."""
        return self.outputs[0]["name"]

    def run(self, batch_size: int = 8, output: str = "float", **inputs) -> np.ndarray:
        """Images (B, R, R, 3): float32 raw range (``output='float'``) or uint8 (clipped [-1, 1]);
        for an encoder graph, W+ latents (B, N, D)."""
        if output not in ("float", "uint8"):
            raise InputError(f"output must be 'float' or 'uint8', got {output!r}")
        if output == "uint8" and self.output_name != "image":
            raise InputError(f"{self.kind} models output {self.output_name!r}, not images; uint8 makes no sense")
        if batch_size < 1:
            raise InputError("batch_size must be >= 1")
        feeds, b = self._check(inputs)
        batched = {s["name"] for s in self.inputs if s["shape"][:1] == ["B"]}
        parts = []
        for i in range(0, b, batch_size):
            chunk = {k: (v[i : i + batch_size] if k in batched else v) for k, v in feeds.items()}
            parts.append(self.session.run([self.output_name], chunk)[0])
        img = np.concatenate(parts)
        if output == "uint8":
            return np.clip(np.rint((img + 1.0) * 127.5), 0, 255).astype(np.uint8)
        return img


def _specs(p: Path, text, what: str, shaped: bool) -> list[dict]:
    """The ``styleclip_jax.<what>`` metadata: a JSON list of {"name": str[, "shape": [...]]}, where
    each dimension is a whole number or "B"; anything else means the file was edited."""
    try:
        specs = json.loads(text)
        ok = (
            isinstance(specs, list)
            and specs
            and all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in specs)
        )
        if ok and shaped:
            ok = all(
                isinstance(s.get("shape"), list)
                and all(d == "B" or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in s["shape"])
                for s in specs
            )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise CheckpointError(f"{p}: its styleclip_jax.{what} metadata is not a list of named specs (file edited?)")
    return specs
