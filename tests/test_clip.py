"""Flax CLIP vs upstream: OpenAI golden, TorchScript archive, HF CLIPModel (tiny and ViT-B/32)."""

import numpy as np
import pytest

from convert_weights.clip import convert_clip, hf_config, hf_to_ours
from styleclip_jax import CheckpointError, InputError, load_clip, tokenize
from styleclip_jax.models.clip import (
    CLIPModel,
    clip_loss,
    loss_images,
    preprocess_jax,
    preprocess_pil,
)

torch = pytest.importorskip("torch")


def nhwc(x):
    return np.transpose(np.asarray(x), (0, 2, 3, 1))


@pytest.fixture(scope="module")
def tiny_openai(golden_dir):
    return convert_clip(golden_dir / "clip_tiny_openai.pt"), np.load(golden_dir / "clip_tiny_openai.npz")


def test_openai_golden_features(tiny_openai):
    m, d = tiny_openai
    c = m.config
    assert (c.vision_width, c.vision_layers, c.vision_heads, c.text_width, c.text_layers, c.text_heads) == (
        128,
        2,
        2,
        64,
        3,
        1,
    )
    np.testing.assert_allclose(np.asarray(m.encode_text(d["tokens"])), d["text_features"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        np.asarray(m.encode_image(nhwc(d["image_input"]))), d["image_features"], atol=1e-5, rtol=0
    )
    li, lt = m.logits(nhwc(d["image_input"]), d["tokens"])
    np.testing.assert_allclose(np.asarray(li), d["logits_per_image"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.asarray(lt), d["logits_per_text"], atol=1e-4, rtol=0)


def test_padding_after_the_last_eot_is_trimmed_without_changing_features(tiny_openai):
    """encode_text drops all-padding columns (causal tower, features at EOT): the same features as the
    full 77-token program, from a shorter sequence."""
    from styleclip_jax.models.clip import tokenize
    from styleclip_jax.models.clip.handle import _encode_text, trim_padding

    m, _ = tiny_openai
    tok = np.asarray(tokenize(["a face", "a photo of a face with purple hair and glasses"]))
    short = trim_padding(tok)
    assert short.shape == (2, 16) and np.all(tok[:, 16:] == 0)
    assert trim_padding(tok, multiple=1).shape[1] == int(np.max(np.argmax(tok, axis=1))) + 1
    full = np.asarray(_encode_text(m.graphdef, m.state, tok.astype(np.int32), m.dtype))
    np.testing.assert_allclose(np.asarray(m.encode_text(tok)), full, atol=1e-5, rtol=0)


def test_preprocess_pil_is_exact_and_jax_is_close(tiny_openai):
    m, d = tiny_openai
    srcs = [d["image_src_0"], d["image_src_1"], d["image_src_2"]]
    pil = np.concatenate([preprocess_pil(s) for s in srcs])
    np.testing.assert_array_equal(pil, nhwc(d["image_input"]))
    for s, p in zip(srcs, pil):
        j = np.asarray(preprocess_jax(s[None].astype(np.float32), value_range=(0, 255)))[0]
        err = np.abs(j - p)
        assert err.mean() < 0.006 and err.max() < 0.3  # documented: ~0.3 grey levels mean, worst at borders


def test_clip_loss_path_golden(tiny_openai, golden_dir):
    m, _ = tiny_openai
    o = np.load(golden_dir / "optimization_tiny.npz")
    np.testing.assert_array_equal(tokenize(str(o["description"])), o["text_tokens"])
    imgs = nhwc(o["fixed_images"])
    np.testing.assert_allclose(np.asarray(loss_images(imgs)), nhwc(o["fixed_pooled_224"]), atol=1e-6, rtol=0)
    tf = m.encode_text(o["text_tokens"])
    np.testing.assert_allclose(np.asarray(tf), o["fixed_text_features"], atol=1e-5, rtol=0)
    loss = np.asarray(clip_loss(m.module(), imgs, tf))
    np.testing.assert_allclose(loss, o["fixed_clip_loss"][:, 0], atol=1e-6, rtol=0)


def test_openai_torchscript_archive(tmp_path, tiny_openai, golden_dir):
    from openai_clip import model_module

    m_ref, d = tiny_openai
    sd = torch.load(golden_dir / "clip_tiny_openai.pt", weights_only=True)
    model = model_module().build_model(dict(sd)).float().eval()
    tok = torch.as_tensor(d["tokens"][:2]).long()
    ts = torch.jit.trace(model, (torch.as_tensor(d["image_input"][:1]), tok[:1]))
    p = tmp_path / "ViT-tiny.pt"
    torch.jit.save(ts, str(p))
    m = convert_clip(p, tmp_path / "out")
    assert m.source["format"] == "openai torchscript"
    np.testing.assert_allclose(np.asarray(m.encode_text(d["tokens"])), d["text_features"], atol=1e-5, rtol=0)
    with torch.no_grad():
        ref = model.encode_image(torch.as_tensor(d["image_input"])).numpy()
    np.testing.assert_allclose(
        np.asarray(load_clip(tmp_path / "out").encode_image(nhwc(d["image_input"]))), ref, atol=1e-5, rtol=0
    )


def _hf_model(cfg_kwargs, seed=0, perturb=True):
    from transformers import CLIPConfig as HFConfig
    from transformers import CLIPModel as HFModel

    torch.manual_seed(seed)
    model = HFModel(HFConfig(**cfg_kwargs)).eval()
    if perturb:  # LayerNorms and biases start at 1/0; move them so every path is tested
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "norm" in name or name.endswith("bias"):
                    p.add_(0.1 * torch.randn_like(p))
    return model


def _hf_features(model, tokens, images_nchw):
    with torch.no_grad():
        t = model.get_text_features(input_ids=torch.as_tensor(tokens).long())
        i = model.get_image_features(pixel_values=torch.as_tensor(images_nchw))
    t = getattr(t, "pooler_output", t)
    i = getattr(i, "pooler_output", i)
    return t.numpy(), i.numpy()


TINY_HF = dict(
    text_config=dict(hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2),
    vision_config=dict(
        hidden_size=48, intermediate_size=192, num_hidden_layers=2, num_attention_heads=3, image_size=32, patch_size=8
    ),
    projection_dim=16,
)


@pytest.mark.parametrize("safe", [True, False])
def test_hf_tiny_folder(tmp_path, safe):
    model = _hf_model(TINY_HF)
    model.save_pretrained(tmp_path / "hf", safe_serialization=safe)
    m = convert_clip(tmp_path / "hf", tmp_path / "ours")
    tokens = tokenize(["a person with purple hair", "face", "smiling face"])
    imgs = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    t_ref, i_ref = _hf_features(model, tokens, imgs)
    m2 = load_clip(tmp_path / "ours")
    np.testing.assert_allclose(np.asarray(m2.encode_text(tokens)), t_ref, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.asarray(m2.encode_image(nhwc(imgs))), i_ref, atol=1e-5, rtol=0)
    assert m.config.image_size == 32 and m.config.embed_dim == 16


def test_hf_real_size_vit_b32():
    model = _hf_model({}, seed=1)  # transformers' default CLIPConfig is ViT-B/32
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    cfg = hf_config(model.config.to_dict(), "ViT-B/32")
    assert (cfg.vision_width, cfg.vision_layers, cfg.patch_size, cfg.text_width, cfg.embed_dim) == (
        768,
        12,
        32,
        512,
        512,
    )
    m = CLIPModel(cfg, hf_to_ours(sd, cfg, "ViT-B/32"))
    tokens = tokenize(["a person with purple hair", "a photo of a smiling face"])
    imgs = np.random.default_rng(1).standard_normal((2, 3, 224, 224)).astype(np.float32)
    t_ref, i_ref = _hf_features(model, tokens, imgs)
    np.testing.assert_allclose(np.asarray(m.encode_text(tokens)), t_ref, atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.asarray(m.encode_image(nhwc(imgs))), i_ref, atol=1e-4, rtol=0)


def test_bf16_option_close(tiny_openai):
    m, d = tiny_openai
    mb = CLIPModel(m.config, m.tensors(), dtype="bfloat16")
    ref = d["text_features"]
    got = np.asarray(mb.encode_text(d["tokens"]))
    cos = np.sum(got * ref, -1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(ref, axis=-1)
    assert got.dtype == np.float32 and cos.min() > 0.999


def test_bad_inputs(tmp_path, tiny_openai, golden_dir):
    m, d = tiny_openai
    with pytest.raises(InputError, match=r"images must have shape \(B, 224, 224, 3\)"):
        m.encode_image(np.zeros((1, 3, 224, 224), np.float32))
    with pytest.raises(InputError, match="token ids"):
        m.encode_text(np.full((1, 77), 50000))
    with pytest.raises(InputError, match="integers"):
        m.encode_text(np.zeros((1, 77), np.float32))
    with pytest.raises(InputError, match="divisible by 32"):
        loss_images(np.zeros((1, 48, 48, 3), np.float32))
    with pytest.raises(CheckpointError, match="not an OpenAI CLIP state dict"):
        convert_clip(golden_dir / "rosinality_tiny.pt")
    from convert_weights.clip import openai_config, openai_to_ours
    from styleclip_jax.io.torch_pickle import load_checkpoint

    sd = dict(load_checkpoint(golden_dir / "clip_tiny_openai.pt"))
    cfg = openai_config(sd, "x")
    del sd["visual.ln_post.bias"]
    with pytest.raises(CheckpointError, match=r"missing keys \['visual.ln_post.bias'\]"):
        openai_to_ours(sd, cfg, "x")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(CheckpointError, match="text_config"):
        convert_clip(tmp_path / "hf")
