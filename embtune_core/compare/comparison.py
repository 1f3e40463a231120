"""Step 5: base vs tuned, query by query.

Aggregate metrics hide the query that got worse. :func:`compare_runs` evaluates two models on the
project's eval set and complaints list (through the embedding cache); :func:`compare` puts the two
evaluations side by side: metrics with confidence intervals and a paired test per delta, every query's
rank of its first relevant article under both, wins / losses / ties with the biggest regressions first,
slices (query source, cold vs covered articles, per article). :meth:`Comparison.verdict` is the ship
gate's check of that comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ..core.config import GateConfig
from ..core.evaluate import MAX_K, EvalResult
from ..core.retrievers import evaluate_retriever
from ..core.sources import EvalSet
from ..core.stats import bootstrap_ci, paired_delta
from .gate import Complaints, GateVerdict, check

METRICS = ("recall@5", "recall@20", "mrr@10", "ndcg@10", "accuracy@1", "map@100")
MISSING_RANK = MAX_K + 1


@dataclass(frozen=True)
class Comparison:
    base: EvalResult
    tuned: EvalResult
    metrics: pl.DataFrame  # metric, base, base_ci, tuned, tuned_ci, delta, ci95_low, ci95_high, p_value
    per_query: pl.DataFrame  # query_id, query, source, coverage, base_rank, tuned_rank, rank_change, outcome
    slices: pl.DataFrame  # by, slice, queries, base recall@5, tuned recall@5, delta ...
    complaints: Complaints | None = None

    def verdict(self, gate: GateConfig | None = None) -> GateVerdict:
        """The ship gate (``[gate]`` of the project; its defaults when ``None``) on this comparison."""
        return check(self.base, self.tuned, gate or GateConfig(), complaints=self.complaints)

    @property
    def counts(self) -> dict[str, int]:
        c = dict(self.per_query.group_by("outcome").len().iter_rows())
        return {k: int(c.get(k, 0)) for k in ("win", "loss", "tie")}

    def regressions(self, n: int = 10) -> pl.DataFrame:
        return self.per_query.filter(pl.col("outcome") == "loss").sort("rank_change").head(n)

    def as_dict(self, gate: GateConfig | None = None) -> dict:
        v = self.verdict(gate)
        return {"metrics": self.metrics.to_dicts(), **self.counts,
                "largest_regressions": self.regressions().select("query_id", "query", "base_rank", "tuned_rank")
                .to_dicts(), "gate": {"passed": v.passed, "reasons": v.reasons}}


def compare(base: EvalResult, tuned: EvalResult, evalset: EvalSet, *, cold_docs: set[str] | None = None,
            complaints: Complaints | None = None) -> Comparison:
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
    return Comparison(base=base, tuned=tuned, metrics=pl.DataFrame(rows), per_query=per_query,
                      slices=_slices(b, t, per_query), complaints=complaints)


def evaluate_on_project(project, retriever, *, name: str = "", models: dict | None = None
                        ) -> tuple[EvalResult, EvalResult | None]:
    """A retriever (a spec such as ``bm25`` / a model / ``hybrid:<model>``, a loaded model, or a
    :class:`~..core.retrievers.Retriever`) on the project's eval set, and on its complaints list when it
    has one (else ``None``)."""
    r = project.retriever(retriever, models=models)
    res = evaluate_retriever(r, project.corpus, project.eval_set, name=name)
    cpl = project.complaints
    return res, (evaluate_retriever(r, project.corpus, cpl, name=name) if cpl is not None else None)


def compare_runs(project, base, tuned, *, cold_docs: set[str] | None = None, models: dict | None = None
                 ) -> Comparison:
    """Compare two retrievers on the project's eval set and complaints list.

    ``base`` and ``tuned`` are retriever specs (``all-MiniLM-L6-v2``, ``bm25``, ``hybrid:RUN_DIR``),
    loaded models or retrievers. ``cold_docs`` defaults to the articles no signal covers.
    """
    from ..eval_set.evalset import cold_articles

    models = {} if models is None else models
    b, cb = evaluate_on_project(project, base, models=models)
    t, ct = evaluate_on_project(project, tuned, models=models)
    if cold_docs is None:
        cold_docs = cold_articles(project.corpus, project.search_log, project.tickets, project.llm_queries)
    complaints = Complaints(cb, ct, project.complaints.relevant) if cb is not None else None
    return compare(b, t, project.eval_set, cold_docs=cold_docs, complaints=complaints)


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
