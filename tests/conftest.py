"""Shared fixtures.

``tiny_model_dir``: a 2-layer, hidden-32 BERT with seeded random weights and the packaged MiniLM
tokenizer, saved once per session as a SentenceTransformer folder; tests load it fresh (cheap), so
no test can change another's model. ``sample_project``: the shipped sample project with its
workspace redirected into a temp folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    from embtune_core.core.models import resolve_model

    torch.manual_seed(0)
    src = resolve_model("all-MiniLM-L6-v2")
    out = tmp_path_factory.mktemp("tiny-model")
    tok = AutoTokenizer.from_pretrained(src)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    raw = out / "raw"
    BertModel(cfg).save_pretrained(raw)
    tok.save_pretrained(raw)
    transformer = Transformer(str(raw), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(32, pooling_mode="mean"), Normalize()], device="cpu")
    target = out / "st"
    model.save(str(target))
    shutil.rmtree(raw)
    return target


@pytest.fixture
def tiny_model(tiny_model_dir):
    from embtune_core.core.models import load_model

    return load_model(str(tiny_model_dir), device="cpu")


@pytest.fixture
def sample_project(tmp_path):
    """The sample project, its workspace in a temp folder (the repository stays clean)."""
    import dataclasses

    from embtune_core.core.config import load_config
    from embtune_core.core.project import Project

    cfg = load_config(SAMPLE / "embtune.toml")
    return Project(dataclasses.replace(cfg, workspace=str(tmp_path / "workspace")))


@pytest.fixture
def tiny_project(tmp_path, tiny_model_dir):
    """A copy of the sample project file (absolute paths) whose base model is the tiny model."""
    import re

    text = (SAMPLE / "embtune.toml").read_text()
    for key in ("path", "cache", "complaints", "eval", "pairs", "run_file", "events"):
        text = re.sub(rf'^({key} = ")([^"/][^"]*)"', lambda m: f'{m.group(1)}{SAMPLE / m.group(2)}"', text, flags=re.M)
    text = re.sub(r'^base = "[^"]*"', f'base = "{tiny_model_dir}"', text, flags=re.M)
    text = text.replace('workspace = "workspace"', f'workspace = "{tmp_path / "ws"}"')
    # a random tiny model finds every query "near" every other: only exact matches count as leaks here
    text = re.sub(r"^leakage_threshold = .*$", "leakage_threshold = 0.99999", text, flags=re.M)
    path = tmp_path / "embtune.toml"
    path.write_text(text)
    return path


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``embtune ARGS`` in this process (``main([...])``); returns returncode, stdout and stderr.

    ``env`` (a dict) sets or, with ``None`` values, removes environment variables for the call."""
    from types import SimpleNamespace

    from embtune_core.cli import main

    def run(*args, env: dict | None = None):
        for k, v in (env or {}).items():
            if v is None:
                monkeypatch.delenv(k, raising=False)
            else:
                monkeypatch.setenv(k, str(v))
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse refusing the arguments
            code = e.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    return run
