"""IR-SE50 and StyleCLIP's ID loss vs upstream (golden irse50_tiny), at 112, 256 and 1024."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from convert_weights.idnet import convert_idnet
from styleclip_jax import CheckpointError, InputError, load_idnet
from styleclip_jax.models.idnet import face_input, id_loss
from styleclip_jax.models.idnet.loss import adaptive_pool, adaptive_pool_matrix


def nhwc(x):
    return np.transpose(np.asarray(x), (0, 2, 3, 1))


@pytest.fixture(scope="module")
def tiny(golden_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("idnet") / "net"
    convert_idnet(golden_dir / "irse50_tiny.pth", out)
    return load_idnet(out), np.load(golden_dir / "irse50_tiny.npz")


def test_structure_inferred(tiny):
    net, _ = tiny
    c = net.config
    assert len(c.units) == 24 and c.embed_dim == 128 and c.se_reduction == 16 and c.stem_channels == 16
    assert [i for i, u in enumerate(c.units) if u[2] == 2] == [0, 3, 7, 21]


def test_embeddings_112_and_intermediates(tiny):
    net, d = tiny
    np.testing.assert_allclose(np.asarray(net.embed(nhwc(d["x112"]))), d["emb112"], atol=1e-5, rtol=0)
    _, inter = net.module()(jnp.asarray(nhwc(d["x112"])), return_intermediates=True)
    np.testing.assert_allclose(np.asarray(inter["prenorm"]), d["prenorm112"], atol=5e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(inter["input_layer"][:1]), nhwc(d["input_layer112_b0"]), atol=5e-5, rtol=0)
    for stage, unit in ((1, 2), (2, 6), (3, 20), (4, 23)):
        np.testing.assert_allclose(np.asarray(inter[f"unit{unit}"]), nhwc(d[f"stage{stage}112"]), atol=5e-5, rtol=0)


def test_face_pool_windows(golden_dir):
    d = np.load(golden_dir / "irse50_tiny.npz")
    p = adaptive_pool_matrix(188, 112)
    starts = np.argmax(p > 0, axis=1)
    ends = 188 - np.argmax(p[:, ::-1] > 0, axis=1)
    np.testing.assert_array_equal(np.stack([starts, ends], 1), d["face_pool_windows"])


def test_id_loss_256(tiny):
    net, d = tiny
    x, xh = nhwc(d["idl256_x"]), nhwc(d["idl256_x_hat"])
    np.testing.assert_allclose(np.asarray(face_input(jnp.asarray(x))), nhwc(d["idl256_pooled112_x"]), atol=2e-6, rtol=0)
    np.testing.assert_allclose(
        np.asarray(net.module()(face_input(jnp.asarray(xh)))), d["idl256_emb_x_hat"], atol=1e-5, rtol=0
    )
    assert abs(float(net.loss(xh, x)) - float(d["idl256_loss"])) < 1e-6
    grad = jax.grad(lambda a: id_loss(net.module(), a, jnp.asarray(x)))(jnp.asarray(xh))
    np.testing.assert_allclose(np.asarray(grad), nhwc(d["idl256_grad_x_hat"]), atol=1e-8, rtol=0)


def test_id_loss_1024(tiny):
    net, d = tiny
    lut = d["lut_u8_to_f32"]
    x, xh = nhwc(lut[d["idl1024_x_u8"]]), nhwc(lut[d["idl1024_x_hat_u8"]])
    np.testing.assert_allclose(
        np.asarray(adaptive_pool(jnp.asarray(x), 256)), nhwc(d["idl1024_pooled256_x"]), atol=2e-6, rtol=0
    )
    np.testing.assert_allclose(
        np.asarray(net.module()(face_input(jnp.asarray(x)))), d["idl1024_emb_x"], atol=1e-5, rtol=0
    )
    assert abs(float(net.loss(xh, x)) - float(d["idl1024_loss"])) < 1e-6


def test_bad_inputs(tiny, golden_dir, tmp_path):
    net, d = tiny
    with pytest.raises(InputError, match=r"images must have shape \(B, 112, 112, 3\)"):
        net.embed(np.zeros((1, 128, 128, 3), np.float32))
    with pytest.raises(InputError, match="same shape"):
        net.loss(np.zeros((1, 256, 256, 3), np.float32), np.zeros((2, 256, 256, 3), np.float32))
    with pytest.raises(InputError, match="square"):
        net.loss(np.zeros((1, 64, 48, 3), np.float32), np.zeros((1, 64, 48, 3), np.float32))
    with pytest.raises(CheckpointError, match="not an IR-SE state dict"):
        convert_idnet(golden_dir / "rosinality_tiny.pt")
    from convert_weights.idnet import idnet_config, idnet_to_ours
    from styleclip_jax.io.torch_pickle import load_checkpoint

    sd = dict(load_checkpoint(golden_dir / "irse50_tiny.pth"))
    sd["body.5.res_layer.9.weight"] = np.zeros(3, np.float32)
    with pytest.raises(CheckpointError, match=r"unused keys \['body.5.res_layer.9.weight'\]"):
        idnet_to_ours(sd, idnet_config(sd, "x"), "x")
