"""Convert facenet-pytorch's MTCNN weights (``facenet_pytorch/data/{pnet,rnet,onet}.pt``) into our
format: one declarative rename table, read torch-free and code-free from the wheel itself
(``pip download facenet-pytorch==2.6.0 --no-deps``) or from a folder holding the three files.

The state dicts hold ordinary OIHW kernels for untransposed RGB images (facenet-pytorch moved
the original MATLAB transposes into the weights and the dense layers' flatten order, which
``network.flatten_whc`` reproduces); so the table only changes layouts: OIHW -> HWIO, (out, in)
-> (in, out).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from convert_weights.keys import apply_renames, oihw_to_hwio, transposed
from styleclip_jax.errors import CheckpointError
from styleclip_jax.io.files import refuse_nonempty_dir
from styleclip_jax.io.model_folder import check_flat_against
from styleclip_jax.io.torch_pickle import file_sha256, load_checkpoint
from styleclip_jax.models.handle import expected_shapes_of
from styleclip_jax.models.mtcnn.handle import FaceDetector, MTCNNConfig

LAYERS = {  # net -> (convs, dense layers, prelus)
    "pnet": (("conv1", "conv2", "conv3", "conv4_1", "conv4_2"), (), ("prelu1", "prelu2", "prelu3")),
    "rnet": (("conv1", "conv2", "conv3"), ("dense4", "dense5_1", "dense5_2"), ("prelu1", "prelu2", "prelu3", "prelu4")),
    "onet": (
        ("conv1", "conv2", "conv3", "conv4"),
        ("dense5", "dense6_1", "dense6_2", "dense6_3"),
        ("prelu1", "prelu2", "prelu3", "prelu4", "prelu5"),
    ),
}


def rename_table(net: str) -> list[tuple[str, str, object]]:
    """(ours, theirs, transform) for one net's state dict."""
    convs, denses, prelus = LAYERS[net]
    rows = []
    for layers, to_ours in ((convs, oihw_to_hwio), (denses, transposed)):
        for layer in layers:
            rows += [
                (f"{net}.{layer}.kernel", f"{layer}.weight", to_ours),
                (f"{net}.{layer}.bias", f"{layer}.bias", None),
            ]
    rows += [(f"{net}.{layer}.slope", f"{layer}.weight", None) for layer in prelus]
    return rows


def _read_sources(src: Path, tmp: Path) -> dict[str, Path]:
    if src.is_file() and zipfile.is_zipfile(src) and src.suffix == ".whl":
        with zipfile.ZipFile(src) as z:
            out = {}
            for net in LAYERS:
                name = f"facenet_pytorch/data/{net}.pt"
                if name not in z.namelist():
                    raise CheckpointError(f"{src}: no {name}; expected the facenet-pytorch wheel")
                out[net] = tmp / f"{net}.pt"
                out[net].write_bytes(z.read(name))
            return out
    if src.is_dir():
        out = {net: src / f"{net}.pt" for net in LAYERS}
        missing = [p.name for p in out.values() if not p.is_file()]
        if missing:
            raise CheckpointError(f"{src}: missing {missing} (expected facenet-pytorch's data/ folder)")
        return out
    raise CheckpointError(
        f"{src}: expected the facenet-pytorch wheel (.whl) or a folder with pnet.pt, rnet.pt, onet.pt"
    )


def convert_mtcnn(
    src: str | os.PathLike, out_dir: str | os.PathLike | None = None, overwrite: bool = False
) -> FaceDetector:
    """Convert the three MTCNN state dicts; writes ``out_dir`` when given and returns the detector."""
    src = Path(src)
    refuse_nonempty_dir(out_dir, overwrite)
    tensors, source = {}, {"format": "facenet-pytorch MTCNN state dicts", "file": src.name}
    with tempfile.TemporaryDirectory() as tmp:
        for net, path in _read_sources(src, Path(tmp)).items():
            sd = load_checkpoint(path)
            if not isinstance(sd, dict):
                raise CheckpointError(f"{src}: {net}.pt is not a state dict ({type(sd).__name__})")
            tensors.update(apply_renames(rename_table(net), sd, f"{src} ({net}.pt)"))
            source[f"{net}_sha256"] = file_sha256(path)
    if src.is_file():
        source["sha256"] = file_sha256(src)
    check_flat_against(expected_shapes_of(FaceDetector.abstract(None)), tensors, f"{src}: converted MTCNN")
    det = FaceDetector(MTCNNConfig(), tensors, source)
    if out_dir is not None:
        det.save(out_dir, overwrite=overwrite)
    return det
