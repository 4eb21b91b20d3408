"""Fixtures of the GRM tests (the builders live in grm_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from grm_helpers import build_tiny_grader, tiny_llama


@pytest.fixture(scope="session")
def tiny_grader_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_grader(tmp_path_factory.mktemp("tiny-grader"))


@pytest.fixture(scope="session")
def untrained_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_grader_dir: Path) -> Path:
    """Same architecture and tokenizer, random weights: it never writes a score."""
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("untrained")
    tokenizer = AutoTokenizer.from_pretrained(tiny_grader_dir)
    tokenizer.save_pretrained(out)
    tiny_llama(tokenizer, seed=1).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_grader(tiny_grader_dir: Path):
    from server.grm.model import GRMModel

    return GRMModel.load(tiny_grader_dir, device="auto")
