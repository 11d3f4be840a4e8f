"""CLIP tokenizer, offline, giving the same ids as OpenAI's ``clip.tokenize``.

Text cleaning is OpenAI's (``ftfy.fix_text``, ``html.unescape`` twice, whitespace collapse,
lower-case); the BPE itself is transformers' Rust-backed ``CLIPTokenizer`` built from the
vocabulary shipped in ``data/`` (derived from OpenAI's ``bpe_simple_vocab_16e6.txt.gz``).
Output: int32 (B, 77), ``[SOT, bpe…, EOT, 0, …]`` (OpenAI pads with 0, HF with EOT).
"""

from __future__ import annotations

import functools
import gzip
import html
import os
import re
from collections.abc import Sequence
from importlib import resources

import numpy as np

from styleclip_jax.errors import InputError
from styleclip_jax.validation import MAX_PROMPT_CHARS

SOT, EOT = 49406, 49407
CONTEXT_LENGTH = 77
VOCAB_SIZE = 49408


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable-unicode table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@functools.lru_cache(maxsize=1)
def bpe_vocab() -> tuple[dict[str, int], list[str]]:
    """(vocab token -> id, merges as 'a b' strings), exactly as OpenAI's SimpleTokenizer builds them."""
    with resources.files(__package__).joinpath("data/clip_bpe_merges.txt.gz").open("rb") as f:
        merges = [m for m in gzip.decompress(f.read()).decode("utf-8").split("\n") if m]
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m.split(" ")) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    if len(vocab) != VOCAB_SIZE:
        raise RuntimeError(f"CLIP vocabulary has {len(vocab)} entries, expected {VOCAB_SIZE}")
    return {t: i for i, t in enumerate(vocab)}, merges


@functools.lru_cache(maxsize=1)
def _hf_tokenizer():
    # Only the tokenizer is used, so transformers' "PyTorch was not found" advice does not apply.
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    from transformers import CLIPTokenizer

    vocab, merges = bpe_vocab()
    return CLIPTokenizer(vocab=dict(vocab), merges=[tuple(m.split(" ")) for m in merges])


def clean_text(text: str) -> str:
    """OpenAI's ``whitespace_clean(basic_clean(text)).lower()``."""
    import ftfy

    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip().lower()


def bpe_ids(text: str) -> list[int]:
    """BPE ids of one cleaned text, without SOT/EOT."""
    return _hf_tokenizer()(text, add_special_tokens=False)["input_ids"]


def tokenize(
    texts: str | Sequence[str], context_length: int = CONTEXT_LENGTH, truncate: bool = False, allow_empty: bool = False
) -> np.ndarray:
    """Texts -> int32 (B, context_length) token ids, identical to OpenAI's ``clip.tokenize``.

    Args:
      texts: one prompt or a list of prompts.
      truncate: cut over-long prompts to ``context_length`` (last id forced to EOT) instead of raising.
      allow_empty: accept prompts that are empty after cleaning (OpenAI does; an empty edit prompt
        is almost always a mistake, so we refuse it by default).
    """
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or not texts:
        raise InputError("tokenize needs at least one prompt")
    out = np.zeros((len(texts), context_length), np.int32)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"prompt {i} is a {type(text).__name__}, not a string")
        if len(text) > MAX_PROMPT_CHARS and not truncate:
            raise InputError(
                f"prompt {i} has {len(text):,} characters; at most {MAX_PROMPT_CHARS} (CLIP reads 77 tokens): {text[:40]!r}…"
            )
        cleaned = clean_text(text[: MAX_PROMPT_CHARS * 4] if truncate else text)
        if not cleaned and not allow_empty:
            raise InputError(f"prompt {i} is empty{' after cleaning' if text else ''}: {text!r}")
        ids = [SOT] + (bpe_ids(cleaned) if cleaned else []) + [EOT]
        if len(ids) > context_length:
            if not truncate:
                raise InputError(
                    f"prompt {i} is too long: {len(ids) - 2} BPE tokens + SOT/EOT exceed the "
                    f"context length {context_length}; shorten it: "
                    f"{text[:60]!r}…"
                )
            ids = ids[:context_length]
            ids[-1] = EOT
        out[i, : len(ids)] = ids
    return out
