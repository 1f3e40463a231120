"""Retrievers side by side in one run: which one should ship, and what a cached re-evaluation costs.

1. Quality on a project's eval set: base dense, BM25, base + BM25 (RRF), tuned dense and tuned + BM25,
   each with its bootstrap 95% interval; then the paired deltas (95% CI) of the tuned hybrid against
   each of its two parts and against the better of them per metric. The shipped hybrid must not be
   credibly worse than the better of its parts (CI upper bound >= 0).
2. Cached re-evaluation of a hybrid: the first evaluation (empty embedding cache, BM25 built) against
   the second one in a fresh cache object over the same folder (vectors read back from disk): ratio of
   seconds (target >= 20x).

Run: ``.venv/bin/python bench/bench_hybrid.py --run WORKSPACE/runs/<id> [--project embtune.toml]``
(without ``--run``, only the base model's rows). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

METRICS = ("recall@5", "mrr@10", "recall@20")


def _row(res) -> dict:
    from embtune_core.core.stats import metric_cis

    cis = metric_cis(res.per_query, METRICS)
    return {m: {"value": round(res.metrics[m], 4), "ci95": [round(x, 4) for x in cis[m]]} for m in METRICS}


def _delta(base, other, metric) -> dict:
    from embtune_core.core.stats import paired_by_query

    d = paired_by_query(base.per_query, other.per_query, metric)
    return {"delta": round(d.delta, 4), "ci95": [round(d.ci_low, 4), round(d.ci_high, 4)]}


def quality(project, run: str | None) -> dict:
    from embtune_core.core.retrievers import evaluate_retriever

    base = project.config.model.base
    specs = {"base dense": base, "BM25": "bm25", "base hybrid": f"hybrid:{base}"}
    if run:
        specs |= {"tuned dense": run, "tuned hybrid": f"hybrid:{run}"}
    models: dict = {}
    res = {name: evaluate_retriever(project.retriever(spec, models=models), project.corpus, project.eval_set)
           for name, spec in specs.items()}
    out = {"queries": len(project.eval_set), "retrievers": {n: _row(r) for n, r in res.items()}}
    if run:
        h = res["tuned hybrid"]
        out["tuned hybrid vs"] = {part: {m: _delta(res[part], h, m) for m in METRICS}
                                  for part in ("tuned dense", "BM25", "base hybrid", "base dense")}
        better = {m: max(("tuned dense", "BM25"), key=lambda p: res[p].metrics[m]) for m in METRICS}
        out["tuned hybrid vs the better part"] = {m: {"part": p, **_delta(res[p], h, m)} for m, p in better.items()}
        # the ship criterion is on the gate's metrics (Recall@5, MRR@10); Recall@20 is reported beside them
        out["not worse than the better part (recall@5, mrr@10)"] = all(
            out["tuned hybrid vs the better part"][m]["ci95"][1] >= 0 for m in ("recall@5", "mrr@10"))
    return out


def cached_reeval(project, spec: str) -> dict:
    from embtune_core.core.embeddings import EmbeddingCache, Encoder
    from embtune_core.core.models import load_model
    from embtune_core.core.retrievers import build, evaluate_retriever

    model = load_model(spec.split(":", 1)[-1])
    times = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(2):
            cache = EmbeddingCache(d)  # a new object: the second pass reads the vectors back from disk
            t = time.perf_counter()
            r = build(spec, project.corpus, load_encoder=lambda name, c=cache: Encoder(model, c),
                      lexical=project.config.lexical, hybrid=project.config.hybrid)
            evaluate_retriever(r, project.corpus, project.eval_set)
            times.append(time.perf_counter() - t)
    return {"retriever": spec, "first_s": round(times[0], 2), "cached_s": round(times[1], 3),
            "ratio": round(times[0] / times[1], 1), "target": ">= 20"}


def main() -> None:
    from embtune_core.core.project import open_project

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", help="embtune.toml (default: the sample project)")
    ap.add_argument("--run", help="a tuned run folder")
    args = ap.parse_args()
    project = open_project(args.project)
    out = {"project": project.name, "quality": quality(project, args.run),
           "cached_reevaluation": cached_reeval(project, f"hybrid:{args.run or project.config.model.base}")}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
