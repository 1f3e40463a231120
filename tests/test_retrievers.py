"""Retrievers as one concept: specs, BM25 with the project's settings, RRF hybrid, cached evaluation,
and step 1's verdict from the numbers."""

import json

import polars as pl
import pytest

from embtune_core.base_model import recommend
from embtune_core.core.config import HybridConfig, LexicalConfig
from embtune_core.core.embeddings import EmbeddingCache, Encoder
from embtune_core.core.errors import ConfigError
from embtune_core.core.evaluate import evaluate_ranking, fuse_rrf
from embtune_core.core.lexical import BM25
from embtune_core.core.retrievers import RetrieverSpec, evaluate_retriever
from embtune_core.core.sources import Corpus, EvalSet


def test_specs_parse_and_print():
    assert RetrieverSpec.parse("bm25") == RetrieverSpec("lexical")
    assert RetrieverSpec.parse("BM25").kind == "lexical"
    assert RetrieverSpec.parse("hybrid:runs/r1") == RetrieverSpec("hybrid", "runs/r1")
    assert RetrieverSpec.parse("all-MiniLM-L6-v2") == RetrieverSpec("dense", "all-MiniLM-L6-v2")
    for text in ("bm25", "hybrid:runs/r1", "all-MiniLM-L6-v2"):
        assert str(RetrieverSpec.parse(text)) == text
    assert RetrieverSpec.parse("hybrid:a").with_model("b") == RetrieverSpec("hybrid", "b")
    with pytest.raises(ConfigError, match="names its dense model"):
        RetrieverSpec.parse("hybrid:")


def _corpus():
    docs = pl.DataFrame({"doc_id": ["a", "b", "c"], "title": ["Refunds", "Invoices", "Taxes"],
                         "text": ["refund a payment to a customer", "download invoices as pdf",
                                  "sales tax and vat rates"], "url": ["", "", ""]})
    sections = docs.select("doc_id", pl.col("doc_id").alias("section_id"), pl.lit("").alias("heading"), "text")
    return Corpus(docs=docs, sections=sections, source="")


def test_bm25_ranks_only_articles_with_a_query_term_and_honours_settings():
    bm = BM25.over_corpus(_corpus())
    hits = bm.search(["refunding customers", "the and of", "zebra"])
    assert [d for d, _ in hits[0]] == ["a"]  # stemmed: refunding -> refund, customers -> custom
    assert hits[1] == [] and hits[2] == []  # stopwords only / unknown words rank nothing
    raw = BM25.over_corpus(_corpus(), LexicalConfig(stemmer="", stopwords=""))
    assert raw.search(["refunding"])[0] == []  # no stemming: no match
    # the postings reproduce the scores: a unit's score is the sum of its query terms' weights
    tokens = bm.tokenize(["refund customer refund"])[0]
    weights = {(t, u): w for t, u, w in bm.postings()}
    expected = sum(weights.get((t, 0), 0.0) for t in tokens)
    assert bm.unit_scores(tokens)[0] == pytest.approx(expected, rel=1e-6)


def test_hybrid_is_rrf_of_its_parts(sample_project, tiny_model_dir):
    corpus, ev = sample_project.corpus, sample_project.eval_set
    hybrid = sample_project.retriever(f"hybrid:{tiny_model_dir}")
    dense, lexical = hybrid.dense, hybrid.lexical
    depth = sample_project.config.hybrid.depth  # each side contributes its top `depth` articles
    parts = [{q: r[:depth] for q, r in side.ranking(ev.queries).items()} for side in (dense, lexical)]
    expected = fuse_rrf(parts, k_rrf=60)
    got = hybrid.ranking(ev.queries)
    assert got == {q: expected[q] for q in ev.queries}
    res = evaluate_retriever(hybrid, corpus, ev)
    assert res.metrics == evaluate_ranking(expected, ev, n_docs=corpus.docs.height).metrics
    assert res.name.startswith("hybrid RRF (BM25 + ")


def test_rrf_k_and_lexical_settings_come_from_the_project(sample_project, tiny_model_dir):
    import dataclasses

    from embtune_core.core.project import Project

    cfg = dataclasses.replace(sample_project.config, hybrid=HybridConfig(rrf_k=5),
                              lexical=LexicalConfig(stemmer="", stopwords=""))
    p = Project(cfg)
    h = p.retriever(f"hybrid:{tiny_model_dir}")
    assert h.config.rrf_k == 5 and h.lexical.bm25.config.stemmer == ""
    with pytest.raises(ConfigError, match="lexical.stemmer"):
        LexicalConfig(stemmer="klingon")


def test_a_beir_folder_is_evaluated_once_then_from_the_cache(tmp_path, tiny_model_dir, cli, monkeypatch):
    monkeypatch.setenv("EMBTUNE_CACHE", str(tmp_path / "cache"))
    from conftest import SAMPLE

    first = cli("eval", "--eval-dir", SAMPLE / "eval", "--model", tiny_model_dir, "--hybrid", "--json")
    assert first.returncode == 0, first.stderr
    shards = sorted((tmp_path / "cache").rglob("shard-*.npz"))
    assert shards  # the corpus and the queries were encoded and cached
    again = cli("eval", "--eval-dir", SAMPLE / "eval", "--model", tiny_model_dir, "--hybrid", "--json")
    assert sorted((tmp_path / "cache").rglob("shard-*.npz")) == shards  # nothing encoded twice
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert a == b and a["retriever"] == f"hybrid:{tiny_model_dir}"
    dense = json.loads(cli("eval", "--eval-dir", SAMPLE / "eval", "--model", tiny_model_dir, "--json").stdout)
    assert set(dense) == set(a)  # same keys as dense
    bm = json.loads(cli("eval", "--eval-dir", SAMPLE / "eval", "--model", "bm25", "--json").stdout)
    assert bm["model_fingerprint"] == "" and 0 < bm["recall@5"] <= 1
    bad = cli("eval", "--eval-dir", SAMPLE / "eval", "--model", "bm25", "--hybrid")
    assert bad.returncode == 1 and "not 'bm25'" in bad.stderr


def test_cached_encoder_counts(tmp_path, tiny_model):
    enc = Encoder(tiny_model, EmbeddingCache(tmp_path))
    enc.encode(["a", "b"], "document")
    enc2 = Encoder(tiny_model, EmbeddingCache(tmp_path))
    enc2.encode(["a", "b"], "document")
    assert enc2.stats == {"cached": 2, "encoded": 0}


# -- step 1's verdict ---------------------------------------------------------------------------------

EV = EvalSet(queries={f"q{i}": f"q{i}" for i in range(60)}, relevant={f"q{i}": frozenset({f"d{i}"}) for i in range(60)},
             path="", sha256="")


def _result(rank_of, name):
    out = {}
    for i, q in enumerate(EV.queries):
        docs = [f"x{j}" for j in range(30)]
        r = rank_of(i)
        if r:
            docs.insert(r - 1, f"d{i}")
        out[q] = [(d, 1.0 - k / 100) for k, d in enumerate(docs[:30])]
    return evaluate_ranking(out, EV, name=name)


def test_verdict_carries_the_hybrid_forward_when_bm25_helps():
    dense = _result(lambda i: 8 if i % 2 else 2, "m")  # found, often ranked low
    bm25 = _result(lambda i: 1 if i % 3 else 12, "BM25")
    hybrid = _result(lambda i: 1 if i % 4 else 3, "hybrid")
    v = recommend("m", dense, bm25, hybrid)
    assert v.carry_forward == "hybrid:m"
    text = v.markdown()
    assert "BM25 already beats m on your queries" in text and "keep lexical in the loop" in text.lower()
    assert "found but ranked low" in text and "Recall@20 is 1.00 and Recall@5 0.50" in text
    assert v.deltas["bm25_vs_dense"]["mrr@10"]["ci95_low"] > 0


def test_verdict_keeps_the_dense_model_when_fusion_does_not_help():
    dense = _result(lambda i: 1 if i % 5 else None, "m")
    bm25 = _result(lambda i: None if i % 2 else 6, "BM25")
    hybrid = _result(lambda i: 1 if i % 5 else None, "hybrid")
    v = recommend("m", dense, bm25, hybrid, production=_result(lambda i: None if i % 3 else 1, "old search"))
    assert v.carry_forward == "m"
    text = v.markdown()
    assert "m beats BM25 on your queries" in text and "vocabulary gap" in text  # BM25 credibly behind
    assert "Against what runs today (old search), m beats it" in text
