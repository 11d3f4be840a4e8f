"""Upstream OpenAI CLIP code (the ``clip-anytorch`` wheel, installed with --no-deps by the test
command) loaded file by file: its ``__init__`` imports torchvision, which we do not install."""

import importlib.util
from pathlib import Path

import pytest


def _load(name: str):
    spec = importlib.util.find_spec("clip")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("clip-anytorch is not installed (pip install --no-deps clip-anytorch==2.6.0)")
    path = Path(list(spec.submodule_search_locations)[0]) / f"{name}.py"
    mspec = importlib.util.spec_from_file_location(f"openai_clip_{name}", path)
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)
    return mod


def simple_tokenizer():
    return _load("simple_tokenizer").SimpleTokenizer()


def model_module():
    return _load("model")
