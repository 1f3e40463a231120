"""Leakage audit: do training pairs give the eval set away?

A training pair leaks when its query is the same as an eval query — exactly, after normalisation
(case, punctuation, accents), as a token set, or as a near duplicate (cosine >= a threshold under the
base model). On top of that, an eval query is *answered* by training when every one of its relevant
articles is the positive of a near-duplicate training query. The report counts both, with examples;
:func:`drop_leaks` removes the leaking pairs. :func:`audit_held_out` audits against everything that is
measured: the eval set and the complaints list (the ship gate checks the complaints, so a pair that copies
one voids that check).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..core.sources import EvalSet
from ..core.text import normalize_query, token_set

KINDS = ("exact", "normalized", "token_set", "near_duplicate")


@dataclass(frozen=True)
class LeakageReport:
    """Leaking pairs (one row per pair, with the eval query it matches and how) and answered queries."""

    leaks: pl.DataFrame
    answered_eval_queries: list[str]
    n_pairs: int
    n_eval: int
    threshold: float
    examples: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c = {k: 0 for k in KINDS}
        for k, n in self.leaks.group_by("kind").len().iter_rows():
            c[k] = n
        return {**c, "leaking_pairs": self.leaks.height, "answered_eval_queries": len(self.answered_eval_queries),
                "pairs": self.n_pairs, "eval_queries": self.n_eval}

    def as_dict(self) -> dict:
        return {"counts": self.counts(), "threshold": self.threshold, "examples": self.examples,
                "answered_eval_queries": self.answered_eval_queries}


def audit(pairs: pl.DataFrame, evalset: EvalSet, *, encoder=None, threshold: float = 0.9,
          n_examples: int = 10) -> LeakageReport:
    """Audit ``pairs`` (columns ``query``, ``doc_id``, optional ``pair_id``/``source``) against ``evalset``.

    ``encoder`` (anything with ``encode(texts, kind)`` returning normalised vectors, e.g. an
    :class:`~embtune_core.core.embeddings.Encoder` over the base model) enables the near-duplicate check.
    """
    eq_ids = list(evalset.queries)
    eq_text = [evalset.queries[q] for q in eq_ids]
    exact = {t: q for q, t in zip(eq_ids, eq_text, strict=True)}
    norm = {normalize_query(t): q for q, t in zip(eq_ids, eq_text, strict=True)}
    toks = {token_set(t): q for q, t in zip(eq_ids, eq_text, strict=True)}
    queries = pairs["query"].to_list()
    kinds: list[str | None] = [None] * len(queries)
    match: list[str | None] = [None] * len(queries)
    sims = [None] * len(queries)
    for i, q in enumerate(queries):
        for kind, table, key in (("exact", exact, q), ("normalized", norm, normalize_query(q)),
                                 ("token_set", toks, token_set(q))):
            if key in table:
                kinds[i], match[i], sims[i] = kind, table[key], 1.0
                break
    near_best = None
    if encoder is not None and queries:
        uq = sorted(set(queries))
        pv = encoder.encode(uq, "query")
        ev = encoder.encode(eq_text, "query")
        sim = pv @ ev.T
        near_best = {q: (int(sim[j].argmax()), float(sim[j].max()), sim[j]) for j, q in enumerate(uq)}
        for i, q in enumerate(queries):
            j, s, _ = near_best[q]
            if kinds[i] is None and s >= threshold:
                kinds[i], match[i], sims[i] = "near_duplicate", eq_ids[j], s
    frame = pairs.with_columns(pl.Series("kind", kinds, dtype=pl.String),
                               pl.Series("eval_query_id", match, dtype=pl.String),
                               pl.Series("similarity", sims, dtype=pl.Float64))
    leaks = frame.filter(pl.col("kind").is_not_null())
    # eval queries whose every relevant article is a positive of a near-duplicate training query
    positives_near: dict[str, set[str]] = {}
    for d, m in zip(pairs["doc_id"].to_list(), match, strict=True):
        if m is not None:
            positives_near.setdefault(m, set()).add(d)
    if near_best is not None:
        for q, d in zip(queries, pairs["doc_id"].to_list(), strict=True):
            for j in np.nonzero(near_best[q][2] >= threshold)[0]:
                positives_near.setdefault(eq_ids[j], set()).add(d)
    answered = sorted(q for q, docs in positives_near.items() if evalset.relevant[q] <= docs)
    examples = [{"pair_query": r["query"], "eval_query": evalset.queries[r["eval_query_id"]], "kind": r["kind"],
                 "similarity": round(r["similarity"], 4), "doc_id": r["doc_id"]}
                for r in leaks.head(n_examples).iter_rows(named=True)]
    return LeakageReport(leaks=leaks, answered_eval_queries=answered, n_pairs=pairs.height, n_eval=len(eq_ids),
                         threshold=threshold, examples=examples)


def drop_leaks(pairs: pl.DataFrame, report: LeakageReport) -> pl.DataFrame:
    """``pairs`` without the rows the report flags (matched on query and doc id)."""
    bad = report.leaks.select("query", "doc_id").unique()
    return pairs.join(bad, on=["query", "doc_id"], how="anti")


def audit_held_out(pairs: pl.DataFrame, evalset: EvalSet | None, complaints: EvalSet | None, *, encoder=None,
                   threshold: float = 0.9) -> dict[str, LeakageReport]:
    """:func:`audit` against the eval set (``"eval"``) and the complaints list (``"complaints"``), each when
    there is one."""
    return {name: audit(pairs, held, encoder=encoder, threshold=threshold)
            for name, held in (("eval", evalset), ("complaints", complaints)) if held is not None}
