"""Retrieval metrics with sentence-transformers' exact definitions, at article level.

``InformationRetrievalEvaluator`` is the reference: Accuracy@k, Precision@k, Recall@k, MRR@k, nDCG@k
(binary gains, ideal DCG over all relevant docs) and MAP@k (divided by ``min(k, #relevant)``), with
hits ordered by descending score and ties broken by ascending doc id. A parity test holds this module
to it within 1e-6.

When articles are split into sections, the retrieval unit is the section but every metric is computed
on articles: an article's score is its best section's, so one article never fills several slots.

Scoring is chunked over queries and units, so no full query x unit matrix is ever built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from .cutoffs import ACCURACY_AT, MAP_AT, MAX_K, MRR_AT, NDCG_AT, PR_AT
from .sources import Corpus, EvalSet

#: A ranking: query id -> [(doc_id, score), ...] best first.
Ranking = dict[str, list[tuple[str, float]]]


@dataclass(frozen=True)
class EvalResult:
    """Aggregate metrics, per-query rows and what they were computed on."""

    name: str
    metrics: dict[str, float]
    per_query: pl.DataFrame
    n_queries: int
    n_docs: int
    ranking: Ranking

    def row(self, keys=("recall@5", "recall@20", "recall@100", "mrr@10", "ndcg@10")) -> dict:
        return {"retriever": self.name, **{k: self.metrics[k] for k in keys}}


def metric_keys() -> list[str]:
    keys = [f"accuracy@{k}" for k in ACCURACY_AT]
    keys += [f"{m}@{k}" for k in PR_AT for m in ("precision", "recall")]
    keys += [f"mrr@{k}" for k in MRR_AT] + [f"ndcg@{k}" for k in NDCG_AT] + [f"map@{k}" for k in MAP_AT]
    return keys


def _dcg(rels: list[int], k: int) -> float:
    return sum(rels[i] / math.log2(i + 2) for i in range(min(len(rels), k)))


def query_metrics(hits: list[str], relevant: frozenset[str] | set[str]) -> dict[str, float]:
    """Every metric for one query, given its ranked doc ids (best first, already tie-ordered)."""
    out: dict[str, float] = {}
    for k in ACCURACY_AT:
        out[f"accuracy@{k}"] = float(any(h in relevant for h in hits[:k]))
    for k in PR_AT:
        correct = sum(h in relevant for h in hits[:k])
        out[f"precision@{k}"] = correct / k
        out[f"recall@{k}"] = correct / len(relevant)
    for k in MRR_AT:
        out[f"mrr@{k}"] = next((1.0 / (r + 1) for r, h in enumerate(hits[:k]) if h in relevant), 0.0)
    for k in NDCG_AT:
        out[f"ndcg@{k}"] = _dcg([int(h in relevant) for h in hits[:k]], k) / _dcg([1] * len(relevant), k)
    for k in MAP_AT:
        correct, total = 0, 0.0
        for r, h in enumerate(hits[:k]):
            if h in relevant:
                correct += 1
                total += correct / (r + 1)
        out[f"map@{k}"] = total / min(k, len(relevant))
    return out


def evaluate_ranking(ranking: Ranking, evalset: EvalSet, *, name: str = "", n_docs: int = 0) -> EvalResult:
    """Metrics of a ranking against an eval set. Queries missing from the ranking score zero."""
    rows = []
    for qid, query in evalset.queries.items():
        rel = evalset.relevant[qid]
        hits = [d for d, _ in ranking.get(qid, [])]
        first = next((r + 1 for r, d in enumerate(hits) if d in rel), None)
        rows.append({"query_id": qid, "query": query, "source": evalset.query_source.get(qid, evalset.kind),
                     "first_relevant_rank": first, **query_metrics(hits, rel)})
    per_query = pl.DataFrame(rows, schema_overrides={"first_relevant_rank": pl.Int64})
    metrics = {k: float(np.mean(per_query[k].to_numpy())) for k in metric_keys()}
    return EvalResult(name=name, metrics=metrics, per_query=per_query, n_queries=len(rows), n_docs=n_docs,
                      ranking=ranking)


# --------------------------------------------------------------------------------------------------
# Dense top-k, chunked, article-level


def topk_articles(query_emb: np.ndarray | torch.Tensor, unit_emb: np.ndarray | torch.Tensor,
                  unit_doc_ids: list[str], *, k: int = MAX_K, query_block: int = 256,
                  unit_chunk: int = 50_000) -> list[list[tuple[str, float]]]:
    """Top-k articles per query by cosine of normalised embeddings (best section per article).

    Memory is bounded by ``query_block x (unit_chunk + n_articles)`` floats. Ties are broken by
    ascending doc id, as sentence-transformers does.
    """
    q = torch.as_tensor(np.asarray(query_emb, dtype=np.float32))
    u = torch.as_tensor(np.asarray(unit_emb, dtype=np.float32))
    articles = sorted(set(unit_doc_ids))  # column order == doc id order, so ties resolve by id
    col = {d: i for i, d in enumerate(articles)}
    unit_col = torch.tensor([col[d] for d in unit_doc_ids], dtype=torch.long)
    same = len(articles) == len(unit_doc_ids)
    k = min(k, len(articles))
    out: list[list[tuple[str, float]]] = []
    for qs in range(0, q.shape[0], query_block):
        qb = q[qs:qs + query_block]
        art = torch.full((qb.shape[0], len(articles)), -torch.inf)
        for us in range(0, u.shape[0], unit_chunk):
            s = qb @ u[us:us + unit_chunk].T
            cols = unit_col[us:us + unit_chunk]
            if same:
                art[:, cols] = s
            else:
                art.scatter_reduce_(1, cols.expand_as(s), s, reduce="amax", include_self=True)
        out.extend(_ordered_topk(art, k, articles))
    return out


def _ordered_topk(scores: torch.Tensor, k: int, ids: list[str]) -> list[list[tuple[str, float]]]:
    vals, idx = torch.topk(scores, k, dim=1)
    thr = vals[:, -1:]
    tied = ((scores >= thr).sum(dim=1) > k).tolist()
    res = []
    for r in range(scores.shape[0]):
        if tied[r]:  # boundary ties: take the lowest ids among equal scores (stable sort on id order)
            order = torch.sort(scores[r], descending=True, stable=True).indices[:k]
            cand = [(int(i), float(scores[r, i])) for i in order]
        else:
            cand = [(int(i), float(v)) for i, v in zip(idx[r].tolist(), vals[r].tolist(), strict=True)]
        cand.sort(key=lambda t: (-t[1], t[0]))
        res.append([(ids[i], s) for i, s in cand])
    return res


def dense_ranking(query_emb, unit_emb, corpus: Corpus, evalset: EvalSet, *, k: int = MAX_K) -> Ranking:
    hits = topk_articles(query_emb, unit_emb, corpus.unit_doc_ids(), k=k)
    return dict(zip(evalset.queries, hits, strict=True))


def fuse_rrf(rankings: list[Ranking], *, k_rrf: int = 60, k: int = MAX_K) -> Ranking:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (k_rrf + rank)."""
    out: Ranking = {}
    qids = {q for r in rankings for q in r}
    for qid in qids:
        acc: dict[str, float] = {}
        for r in rankings:
            for rank, (d, _) in enumerate(r.get(qid, []), start=1):
                acc[d] = acc.get(d, 0.0) + 1.0 / (k_rrf + rank)
        out[qid] = sorted(acc.items(), key=lambda t: (-t[1], t[0]))[:k]
    return out



def encode_and_rank(encoder, corpus: Corpus, evalset: EvalSet, *, k: int = MAX_K, progress=None) -> Ranking:
    """Rank articles for every eval query with anything that has ``encode(texts, kind)``.

    ``encoder`` is an :class:`~embtune_core.core.embeddings.Encoder` (a local model through the cache) or a
    :class:`~embtune_core.core.remote.RemoteEmbedder`; both return normalised float32 vectors.
    """
    kw = {"progress": progress} if progress else {}
    units = encoder.encode(corpus.unit_texts(), "document", **kw)
    queries = encoder.encode(list(evalset.queries.values()), "query")
    return dense_ranking(queries, units, corpus, evalset, k=k)


def evaluate_model(model, corpus: Corpus, evalset: EvalSet, *, cache=None, name: str = "",
                   batch_size: int = 64, progress=None) -> EvalResult:
    """Encode a SentenceTransformer (through the cache, when given) and evaluate it."""
    from .embeddings import Encoder

    ranking = encode_and_rank(Encoder(model, cache, batch_size=batch_size), corpus, evalset, progress=progress)
    return evaluate_ranking(ranking, evalset, name=name or getattr(model, "embtune_name", "model"),
                            n_docs=corpus.docs.height)


def slice_metrics(result: EvalResult, evalset: EvalSet, cold_docs: set[str] | None = None,
                  metrics=("recall@5", "mrr@10")) -> pl.DataFrame:
    """Metrics per slice: the eval query's source, and cold (no signal touches its articles) vs covered."""
    pq = result.per_query
    cold_docs = cold_docs or set()
    pq = pq.with_columns(pl.Series("coverage", ["cold" if evalset.relevant[q] <= cold_docs else "covered"
                                                for q in pq["query_id"]]))
    parts = []
    for col in ("source", "coverage"):
        parts.append(pq.group_by(col).agg(pl.len().alias("queries"), *[pl.col(m).mean() for m in metrics])
                     .rename({col: "slice"}).with_columns(pl.lit(col).alias("by")))
    return pl.concat(parts).select("by", "slice", "queries", *metrics).sort("by", "slice")
