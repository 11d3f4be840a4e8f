"""Write real torch checkpoint containers (zip and legacy) from numpy, without torch.

The zip writer is the library's (``styleclip_jax.io.torch_write``); the legacy one is test-only.
They let tests craft checkpoints (training checkpoints, mapper checkpoints, legacy
files, malicious pickles) in the exact byte formats torch produces.
"""

from __future__ import annotations

import pickle
import struct

from styleclip_jax.io.torch_write import Global, dumps_with_tensors, write_zip

__all__ = ["Global", "save_legacy", "save_zip"]


def save_zip(obj, path, prefix: str = "archive") -> None:
    with open(path, "wb") as f:
        write_zip(obj, f, prefix)


def save_legacy(obj, path) -> None:
    with open(path, "wb") as f:
        for header in (
            0x1950A86A20F9469CFC6C,
            1001,
            {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}},
        ):
            pickle.dump(header, f, protocol=2)
        data, storages = dumps_with_tensors(obj)
        f.write(data)
        pickle.dump([st.key for st in storages], f, protocol=2)
        for st in storages:
            f.write(struct.pack("<q", st.arr.size))
            f.write(st.arr.tobytes())
