"""Our metrics equal sentence-transformers' InformationRetrievalEvaluator to 1e-6.

Both sides get identical embeddings: a stand-in model hands ST the very vectors we rank with, so the
only thing compared is the metric code (ranking, tie-breaking, every metric definition).
"""

import numpy as np
import pytest
import torch
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
from sentence_transformers.util import cos_sim

from embtune_core.core.evaluate import (
    ACCURACY_AT,
    MAP_AT,
    MRR_AT,
    NDCG_AT,
    PR_AT,
    dense_ranking,
    evaluate_ranking,
)
from embtune_core.core.sources import Corpus, EvalSet, split_sections


class FixedVectors:
    """Answers encode_query/encode_document from a text -> vector table."""

    def __init__(self, table):
        self.table = table

    def _enc(self, texts, **kw):
        return torch.tensor(np.stack([self.table[t] for t in texts]))

    encode_query = encode_document = _enc


def st_metrics(queries, corpus_texts, relevant, table):
    ev = InformationRetrievalEvaluator(queries, corpus_texts, relevant, accuracy_at_k=list(ACCURACY_AT),
                                       precision_recall_at_k=list(PR_AT), mrr_at_k=list(MRR_AT),
                                       ndcg_at_k=list(NDCG_AT), map_at_k=list(MAP_AT), corpus_chunk_size=37,
                                       write_csv=False)
    ev.score_functions = {"cosine": cos_sim}
    scores = ev.compute_all_metrics(FixedVectors(table))["cosine"]
    return {f"{m.removesuffix('@k')}@{k}": float(v) for m, d in scores.items() for k, v in d.items()}


def make_corpus(ids, texts):
    import polars as pl

    docs = pl.DataFrame({"doc_id": ids, "title": [""] * len(ids), "text": texts, "url": [""] * len(ids),
                         "category": [""] * len(ids)})
    return Corpus(docs=docs, sections=split_sections(docs, split=False), source="test")


def check_parity(queries, doc_ids, doc_texts, relevant, q_emb, d_emb):
    corpus = make_corpus(doc_ids, doc_texts)
    ev = EvalSet(queries=queries, relevant={q: frozenset(v) for q, v in relevant.items()}, path="", sha256="")
    ours = evaluate_ranking(dense_ranking(q_emb, d_emb, corpus, ev), ev).metrics
    table = {t: v for t, v in zip(list(queries.values()), q_emb, strict=True)}
    table.update({t: v for t, v in zip(corpus.unit_texts(), d_emb, strict=True)})
    theirs = st_metrics(queries, dict(zip(doc_ids, corpus.unit_texts(), strict=True)), relevant, table)
    assert set(theirs) <= set(ours)
    for k, v in theirs.items():
        assert ours[k] == pytest.approx(v, abs=1e-6), k
    return ours


def normed(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parity_seeded_random_case(seed):
    rng = np.random.default_rng(seed)
    n_docs, n_q = 230, 60
    doc_ids = [f"d{i:03d}" for i in rng.permutation(n_docs)]  # ids not in index order
    d_emb = normed(rng.normal(size=(n_docs, 16)))
    d_emb[5] = d_emb[9]  # exact ties must be broken by doc id on both sides
    d_emb[17] = d_emb[9]
    q_emb = normed(rng.normal(size=(n_q, 16)))
    queries = {f"q{i}": f"query {i}" for i in range(n_q)}
    relevant = {f"q{i}": set(rng.choice(doc_ids, size=rng.integers(1, 4), replace=False)) for i in range(n_q)}
    m = check_parity(queries, doc_ids, [f"doc {d}" for d in doc_ids], relevant, q_emb, d_emb)
    assert 0 < m["recall@100"] <= 1


def test_parity_on_unsplit_sample_corpus(sample_project, tiny_model):
    from embtune_core.core.embeddings import Encoder
    from embtune_core.core.sources import load_docs

    corpus = load_docs(sample_project.config.resolve("docs"), split=False)
    ev = sample_project.eval_set
    enc = Encoder(tiny_model)
    d_emb = enc.encode(corpus.unit_texts(), "document")
    q_emb = enc.encode(list(ev.queries.values()), "query")
    m = check_parity(ev.queries, corpus.doc_ids(), corpus.docs["text"].to_list(),
                     {q: set(v) for q, v in ev.relevant.items()}, q_emb, d_emb)
    assert m["recall@100"] > 0


def test_article_level_metrics_use_best_section():
    import polars as pl

    docs = pl.DataFrame({"doc_id": ["a", "b"], "title": ["A", "B"], "text": ["x", "y"], "url": ["", ""],
                         "category": ["", ""]})
    sections = pl.DataFrame({"section_id": ["a#1", "a#2", "a#3", "b"], "doc_id": ["a", "a", "a", "b"],
                             "heading": ["", "", "", ""], "text": ["1", "2", "3", "4"]})
    corpus = Corpus(docs=docs, sections=sections, source="t")
    ev = EvalSet(queries={"q": "q"}, relevant={"q": frozenset({"b"})}, path="", sha256="")
    q = np.array([[1.0, 0.0]], np.float32)
    units = normed(np.array([[1, 0.1], [1, 0.2], [1, 0.3], [1, 0.5]], np.float32))
    res = evaluate_ranking(dense_ranking(q, units, corpus, ev), ev)
    # three sections of "a" outscore "b" but "a" takes one slot only: b is at rank 2
    assert [d for d, _ in res.ranking["q"]] == ["a", "b"]
    assert res.per_query["first_relevant_rank"][0] == 2 and res.metrics["mrr@10"] == 0.5
