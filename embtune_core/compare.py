"""Step 5: base vs tuned, query by query.

Aggregate metrics hide the query that got worse. :func:`compare` puts both models' metrics side by side
with confidence intervals and a paired test per delta, every query's rank of its first relevant article
under both, wins / losses / ties with the biggest regressions first, slices (query source, cold vs
covered articles, per article) and the ship gate's verdict. :func:`eyeball` shows top-k lists side by
side for any queries and points at query terms that no training query covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .config import GateConfig
from .evaluate import MAX_K, EvalResult, topk_articles
from .gate import GateVerdict, check
from .sources import Corpus, EvalSet
from .stats import bootstrap_ci, paired_delta
from .text import normalize_query

METRICS = ("recall@5", "recall@20", "mrr@10", "ndcg@10", "accuracy@1", "map@100")
MISSING_RANK = MAX_K + 1


@dataclass(frozen=True)
class Comparison:
    metrics: pl.DataFrame  # metric, base, base_ci, tuned, tuned_ci, delta, ci95_low, ci95_high, p_value
    per_query: pl.DataFrame  # query_id, query, source, coverage, base_rank, tuned_rank, rank_change, outcome
    slices: pl.DataFrame  # by, slice, queries, base recall@5, tuned recall@5, delta ...
    verdict: GateVerdict

    @property
    def counts(self) -> dict[str, int]:
        c = dict(self.per_query.group_by("outcome").len().iter_rows())
        return {k: int(c.get(k, 0)) for k in ("win", "loss", "tie")}

    def regressions(self, n: int = 10) -> pl.DataFrame:
        return self.per_query.filter(pl.col("outcome") == "loss").sort("rank_change").head(n)

    def as_dict(self) -> dict:
        return {"metrics": self.metrics.to_dicts(), **self.counts,
                "largest_regressions": self.regressions().select("query_id", "query", "base_rank", "tuned_rank")
                .to_dicts(), "gate": {"passed": self.verdict.passed, "reasons": self.verdict.reasons}}


def compare(base: EvalResult, tuned: EvalResult, evalset: EvalSet, *, cold_docs: set[str] | None = None,
            gate: GateConfig | None = None, complaints: tuple[EvalResult, EvalResult, dict] | None = None
            ) -> Comparison:
    """Compare two evaluations of the same eval set (same query ids)."""
    b, t = base.per_query.sort("query_id"), tuned.per_query.sort("query_id")
    if b["query_id"].to_list() != t["query_id"].to_list():
        raise ValueError("base and tuned were evaluated on different queries")
    rows = []
    for m in METRICS:
        d = paired_delta(b[m].to_list(), t[m].to_list(), metric=m)
        rows.append({"metric": m, "base": d.base, "base_ci95": list(bootstrap_ci(b[m].to_numpy())), "tuned": d.tuned,
                     "tuned_ci95": list(bootstrap_ci(t[m].to_numpy())), "delta": d.delta, "ci95_low": d.ci_low,
                     "ci95_high": d.ci_high, "p_value": d.p_value})
    cold_docs = cold_docs or set()
    br = b["first_relevant_rank"].fill_null(MISSING_RANK)
    tr = t["first_relevant_rank"].fill_null(MISSING_RANK)
    per_query = pl.DataFrame({
        "query_id": b["query_id"], "query": b["query"], "source": b["source"],
        "coverage": ["cold" if evalset.relevant[q] <= cold_docs else "covered" for q in b["query_id"]],
        "relevant": [" ".join(sorted(evalset.relevant[q])) for q in b["query_id"]],
        "base_rank": b["first_relevant_rank"], "tuned_rank": t["first_relevant_rank"],
        "rank_change": (br - tr).cast(pl.Int64),  # positive: the relevant article moved up
        "base_mrr@10": b["mrr@10"], "tuned_mrr@10": t["mrr@10"],
    }).with_columns(pl.when(pl.col("rank_change") > 0).then(pl.lit("win"))
                    .when(pl.col("rank_change") < 0).then(pl.lit("loss")).otherwise(pl.lit("tie")).alias("outcome"))
    slices = _slices(b, t, per_query)
    kw = {}
    if complaints is not None:
        kw = dict(complaints_base=complaints[0], complaints_tuned=complaints[1], complaints_relevant=complaints[2])
    verdict = check(base, tuned, gate or GateConfig(), **kw)
    return Comparison(metrics=pl.DataFrame(rows), per_query=per_query, slices=slices, verdict=verdict)


def _slices(b: pl.DataFrame, t: pl.DataFrame, pq: pl.DataFrame) -> pl.DataFrame:
    j = pq.select("query_id", "source", "coverage", "relevant").with_columns(
        b["recall@5"].alias("base_r5"), t["recall@5"].alias("tuned_r5"), b["mrr@10"].alias("base_mrr"),
        t["mrr@10"].alias("tuned_mrr"))
    parts = []
    for col in ("source", "coverage", "relevant"):
        parts.append(j.group_by(col).agg(
            pl.len().alias("queries"), pl.col("base_r5").mean().alias("base_recall@5"),
            pl.col("tuned_r5").mean().alias("tuned_recall@5"), pl.col("base_mrr").mean().alias("base_mrr@10"),
            pl.col("tuned_mrr").mean().alias("tuned_mrr@10")).rename({col: "slice"})
            .with_columns(pl.lit("article" if col == "relevant" else col).alias("by")))
    return (pl.concat(parts).with_columns((pl.col("tuned_recall@5") - pl.col("base_recall@5")).alias("delta_recall@5"))
            .select("by", "slice", "queries", "base_recall@5", "tuned_recall@5", "delta_recall@5", "base_mrr@10",
                    "tuned_mrr@10").sort("by", "slice"))


# --------------------------------------------------------------------------------------------------
# Eyeballing


def eyeball(queries: list[str], base_encoder, tuned_encoder, corpus: Corpus, *, relevant: dict | None = None,
            k: int = 3, training_queries: list[str] | None = None) -> pl.DataFrame:
    """Top-k of base and tuned side by side for each query (rank, title, score, relevant?).

    ``relevant`` maps a query text to its relevant doc ids (e.g. the complaints list). When
    ``training_queries`` are given, ``uncovered_terms`` lists the query's words no training query uses:
    the terms to bridge with new pairs.
    """
    titles = corpus.titles()
    seen: set[str] = set()
    for q in training_queries or []:
        seen.update(normalize_query(q).split())
    rows = []
    hits = {}
    for name, enc in (("base", base_encoder), ("tuned", tuned_encoder)):
        units = enc.encode(corpus.unit_texts(), "document")
        qv = enc.encode(queries, "query")
        hits[name] = topk_articles(qv, units, corpus.unit_doc_ids(), k=k)
    for i, q in enumerate(queries):
        rel = set((relevant or {}).get(q, ()))
        tuned_hit = any(d in rel for d, _ in hits["tuned"][i])
        uncovered = [w for w in normalize_query(q).split() if len(w) > 2 and w not in seen] if training_queries else []
        for r in range(k):
            row = {"query": q, "rank": r + 1}
            for name in ("base", "tuned"):
                d, s = hits[name][i][r]
                row |= {f"{name}_title": titles[d], f"{name}_score": round(s, 3), f"{name}_relevant": d in rel}
            row |= {"tuned_top_has_relevant": tuned_hit if rel else None, "uncovered_terms": " ".join(uncovered)}
            rows.append(row)
    return pl.DataFrame(rows)


def embedding_map(evalset: EvalSet, corpus: Corpus, encoders: dict, *, max_queries: int = 150) -> pl.DataFrame:
    """A 2-D PCA projection of eval queries and their relevant articles, per model.

    Rows: model, kind (query|article), id, text, query_id (the query an article belongs to), x, y. Each
    model gets its own projection (fit on its query and article vectors together).
    """
    qids = list(evalset.queries)[:max_queries]
    docs = sorted({d for q in qids for d in evalset.relevant[q]})
    titles = corpus.titles()
    doc_text = {d: t for d, t in zip(corpus.docs["doc_id"], corpus.docs["text"], strict=True)}
    rows = []
    for name, enc in encoders.items():
        qv = enc.encode([evalset.queries[q] for q in qids], "query")
        dv = enc.encode([f"{titles[d]}\n{doc_text[d]}" for d in docs], "document")
        x = np.vstack([qv, dv]).astype(np.float64)
        x -= x.mean(axis=0)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        xy = x @ vt[:2].T
        for i, q in enumerate(qids):
            rows.append({"model": name, "kind": "query", "id": q, "text": evalset.queries[q], "query_id": q,
                         "x": xy[i, 0], "y": xy[i, 1]})
        for j, d in enumerate(docs):
            owner = next(q for q in qids if d in evalset.relevant[q])
            rows.append({"model": name, "kind": "article", "id": d, "text": titles[d], "query_id": owner,
                         "x": xy[len(qids) + j, 0], "y": xy[len(qids) + j, 1]})
    return pl.DataFrame(rows)


def general_check(base_model, tuned_model, folder, *, cache=None) -> dict:
    """The tutorial's "worse on general queries" check: both models on a general-domain BEIR set."""
    from .evaluate import evaluate_model
    from .sources import load_docs, load_eval_set

    corpus = load_docs(f"{folder}/corpus.jsonl", "beir", split=False)
    ev = load_eval_set(folder, corpus)
    b = evaluate_model(base_model, corpus, ev, cache=cache, name="base")
    t = evaluate_model(tuned_model, corpus, ev, cache=cache, name="tuned")
    out = {"queries": len(ev), "docs": corpus.docs.height}
    for m in ("recall@5", "mrr@10", "ndcg@10"):
        d = paired_delta(b.per_query[m].to_list(), t.per_query[m].to_list(), metric=m)
        out[m] = {"base": d.base, "tuned": d.tuned, "delta": d.delta, "ci95": [d.ci_low, d.ci_high]}
    return out
