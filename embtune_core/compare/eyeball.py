"""Step 5, by eye: top-k lists of two models side by side, an embedding map, the general-domain check.

:func:`eyeball` shows top-k lists side by side for any queries (the complaints list, a typed query) and
points at query terms no training query covers; :func:`embedding_map` projects eval queries and their
articles to 2-D per model; :func:`general_check` is the tutorial's "worse on general queries" check.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ..core.evaluate import evaluate_model
from ..core.sources import Corpus, EvalSet, load_docs, load_eval_set
from ..core.stats import paired_delta
from ..core.text import normalize_query


def eyeball(queries: list[str], base, tuned, corpus: Corpus, *, relevant: dict | None = None,
            k: int = 3, training_queries: list[str] | None = None) -> pl.DataFrame:
    """Top-k of two retrievers (``base``, ``tuned``: anything with ``search(queries, k)``, see
    :mod:`~..core.retrievers`) side by side for each query (rank, title, score, relevant?). A retriever
    that ranks fewer than ``k`` articles (BM25 on a query of unknown words) leaves those cells empty.

    ``relevant`` maps a query text to its relevant doc ids (e.g. the complaints list). When
    ``training_queries`` are given, ``uncovered_terms`` lists the query's words no training query uses:
    the terms to bridge with new pairs.
    """
    titles = corpus.titles()
    seen: set[str] = set()
    for q in training_queries or []:
        seen.update(normalize_query(q).split())
    rows = []
    hits = {"base": base.search(queries, k), "tuned": tuned.search(queries, k)}
    for i, q in enumerate(queries):
        rel = set((relevant or {}).get(q, ()))
        tuned_hit = any(d in rel for d, _ in hits["tuned"][i])
        uncovered = [w for w in normalize_query(q).split() if len(w) > 2 and w not in seen] if training_queries else []
        for r in range(k):
            row = {"query": q, "rank": r + 1}
            for name in ("base", "tuned"):
                d, s = hits[name][i][r] if r < len(hits[name][i]) else (None, None)
                row |= {f"{name}_title": titles.get(d, ""), f"{name}_score": round(s, 3) if s is not None else None,
                        f"{name}_relevant": d in rel}
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

    corpus = load_docs(f"{folder}/corpus.jsonl", "beir", split=False)
    ev = load_eval_set(folder, corpus)
    b = evaluate_model(base_model, corpus, ev, cache=cache, name="base")
    t = evaluate_model(tuned_model, corpus, ev, cache=cache, name="tuned")
    out = {"queries": len(ev), "docs": corpus.docs.height}
    for m in ("recall@5", "mrr@10", "ndcg@10"):
        d = paired_delta(b.per_query[m].to_list(), t.per_query[m].to_list(), metric=m)
        out[m] = {"base": d.base, "tuned": d.tuned, "delta": d.delta, "ci95": [d.ci_low, d.ci_high]}
    return out
