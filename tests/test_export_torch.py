"""`export torch`: a generator folder back into a rosinality checkpoint, written without torch.

The golden rosinality file converted in and written back out gives the original ``g_ema`` state
dict bit for bit (same keys in the same module order, FIR kernels and noise buffers included) and
its ``latent_avg``; since upstream's ``Generator`` loaded that file strictly when the golden was
made, it loads ours strictly, and our images match it (test_stylegan2_golden). torch itself reads
the file with ``weights_only=True``, and converting it back in gives the same weights bit for bit.
"""

import numpy as np
import pytest

from styleclip_jax.cli.main import main


@pytest.fixture(scope="module")
def golden_gen(golden_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("export_torch")
    assert main(["convert", "generator", str(golden_dir / "rosinality_tiny.pt"), str(d / "gen")]) == 0
    return d


def test_round_trip_is_bit_exact(golden_dir, golden_gen, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from styleclip_jax.io.torch_pickle import load_checkpoint
    from styleclip_jax.models.generators import load_generator

    out = tmp_path / "back.pt"
    assert main(["export", "torch", str(golden_gen / "gen"), str(out)]) == 0
    assert "wrote a rosinality checkpoint (64px" in capsys.readouterr().out
    ours = torch.load(out, weights_only=True)
    ref = load_checkpoint(golden_dir / "rosinality_tiny.pt")
    assert list(ours) == ["g_ema", "latent_avg"] and list(ours["g_ema"]) == list(ref["g_ema"])
    for k, v in ref["g_ema"].items():
        got = ours["g_ema"][k]
        assert got.dtype == torch.float32 and tuple(got.shape) == v.shape, k
        np.testing.assert_array_equal(got.numpy(), v, err_msg=k)
    np.testing.assert_array_equal(ours["latent_avg"].numpy(), ref["latent_avg"])
    assert main(["convert", "generator", str(out), str(tmp_path / "again")]) == 0
    a, b = load_generator(golden_gen / "gen").tensors(), load_generator(tmp_path / "again").tensors()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    # refused before writing: an existing file
    assert main(["export", "torch", str(golden_gen / "gen"), str(out)]) == 2


def test_other_architectures_are_refused(golden_dir, tmp_path, capsys):
    assert main(["convert", "generator", str(golden_dir / "ada_tiny.pkl"), str(tmp_path / "ada")]) == 0
    assert main(["export", "torch", str(tmp_path / "ada"), str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only a rosinality-architecture generator" in err[0]
    assert not (tmp_path / "x.pt").exists()


def test_a_tuned_folder_exports_its_tuned_weights(golden_gen, tmp_path):
    torch = pytest.importorskip("torch")
    from styleclip_jax.models.generators import load_generator, save_tuned, tuned_generator

    base = load_generator(golden_gen / "gen")
    k = "synthesis.b8.conv0.weight"
    tuned = tuned_generator(base, {k: base.tensors()[k] * 1.5}, {"pti": "test"})
    save_tuned(tmp_path / "tuned", tuned, base, golden_gen / "gen")
    assert main(["export", "torch", str(tmp_path / "tuned"), str(tmp_path / "t.pt")]) == 0
    sd = torch.load(tmp_path / "t.pt", weights_only=True)["g_ema"]
    np.testing.assert_array_equal(sd["convs.0.conv.weight"].numpy()[0], tuned.tensors()[k].transpose(3, 2, 0, 1))
    assert main(["convert", "generator", str(tmp_path / "t.pt"), str(tmp_path / "back")]) == 0
    assert load_generator(tmp_path / "back").tensors()[k].tobytes() == tuned.tensors()[k].tobytes()
