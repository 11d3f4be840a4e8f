"""Tokenizer ids equal OpenAI's ``clip.tokenize`` (golden prompts and a generated hard set)."""

import numpy as np
import pytest
from openai_clip import simple_tokenizer

from styleclip_jax import InputError, tokenize
from styleclip_jax.models.clip.tokenizer import EOT, SOT, bpe_vocab, clean_text


def test_golden_tokens(golden_dir):
    d = np.load(golden_dir / "clip_tiny_openai.npz")
    np.testing.assert_array_equal(tokenize(list(d["prompts"]), truncate=True, allow_empty=True), d["tokens"])
    np.testing.assert_array_equal(tokenize(list(d["prompts"][:7])), d["tokens"][:7])
    for p, c in zip(d["prompts"], d["prompts_cleaned"]):
        assert clean_text(str(p)) == str(c)


def test_long_prompt_raises_unless_truncated(golden_dir):
    d = np.load(golden_dir / "clip_tiny_openai.npz")
    long = str(d["prompts"][int(d["long_prompt_index"])])
    with pytest.raises(InputError, match="too long: 103 BPE tokens"):
        tokenize(long)
    t = tokenize(long, truncate=True)[0]
    assert t[0] == SOT and t[-1] == EOT
    np.testing.assert_array_equal(t[1:76], d["long_prompt_tokens_untruncated"][1:76])


def test_empty_prompt():
    with pytest.raises(InputError, match="prompt 0 is empty"):
        tokenize("")
    with pytest.raises(InputError, match="prompt 1 is empty after cleaning"):
        tokenize(["ok", "   \n\t "])
    np.testing.assert_array_equal(tokenize("", allow_empty=True)[0, :3], [SOT, EOT, 0])
    with pytest.raises(InputError, match="not a string"):
        tokenize(["fine", 3])


def _generated_prompts():
    rng = np.random.default_rng(0)
    pieces = [
        "Ünïcödé",
        "àccents",
        "façade",
        "東京タワー",
        "中文测试",
        "한국어",
        "😀🔥",
        "👍🏽",
        "🐱",
        "&amp;",
        "&lt;b&gt;",
        "&#39;q&#39;",
        "&amp;lt;3",
        "cafÃ©",
        "“smart”",
        "ﬁle",
        "ﬂow",
        "don't",
        "you'll",
        "WE'VE",
        "3.14159",
        "2,718",
        "ÀÉÎÕÜ",
        "ßøå",
        "İstanbul",
        "\t\t",
        "\n\n",
        "   ",
        "a",
        "photo",
        "of",
        "purple",
        "hair",
        "Mohawk",
        "x" * 30,
        "!!??",
        "#hashtag",
        "@user",
        "<|endoftext|>",
    ]
    prompts = []
    for _ in range(60):
        n = int(rng.integers(1, 9))
        prompts.append(" ".join(rng.choice(pieces, n)))
    return prompts


def test_matches_openai_simple_tokenizer_on_generated_prompts():
    ref = simple_tokenizer()
    ours = tokenize(_generated_prompts(), truncate=True, allow_empty=True)
    for i, p in enumerate(_generated_prompts()):
        ids = [SOT] + ref.encode(p) + [EOT]
        if len(ids) > 77:
            ids = ids[:77]
            ids[-1] = EOT
        want = np.zeros(77, np.int32)
        want[: len(ids)] = ids
        np.testing.assert_array_equal(ours[i], want, err_msg=repr(p))


def test_vocab_equals_openai_encoder():
    ref = simple_tokenizer()
    vocab, merges = bpe_vocab()
    assert vocab == ref.encoder and len(vocab) == 49408 and len(merges) == 48894
