"""Evaluation speed and memory, measured side by side in one run.

1. First evaluation (empty embedding cache) against sentence-transformers' InformationRetrievalEvaluator
   on the same model, data and batch size: ratio = ST seconds / embtune seconds (>= 0.95 means "no slower").
2. Re-evaluating the same model (cache warm): ratio = ST seconds / embtune seconds (target >= 20x).
3. A synthetic 100k-doc, 1k-query evaluation from cached embeddings, in a fresh process: peak RSS
   (target < 2 GiB).

Run: ``.venv/bin/python bench/bench_eval.py`` (takes ~2 minutes on 2 cores). Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def st_eval(model, corpus, evalset, batch_size):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    ev = InformationRetrievalEvaluator(
        evalset.queries, dict(zip(corpus.doc_ids(), corpus.unit_texts(), strict=True)),
        {q: set(v) for q, v in evalset.relevant.items()}, batch_size=batch_size, write_csv=False,
        accuracy_at_k=[1, 3, 5, 10], precision_recall_at_k=[1, 3, 5, 10, 20, 100], map_at_k=[100])
    t = time.perf_counter()
    m = ev(model)
    return time.perf_counter() - t, m


def speed(repeats: int = 3) -> dict:
    from embtune_core.core.embeddings import EmbeddingCache
    from embtune_core.core.evaluate import evaluate_model
    from embtune_core.core.models import load_model
    from embtune_core.core.project import open_project
    from embtune_core.core.sources import load_docs

    project = open_project()
    corpus = load_docs(project.config.resolve("docs"), split=False)  # ST has no sections: compare unsplit
    evalset = project.eval_set
    model = load_model("all-MiniLM-L6-v2", device="cpu")
    bs = 32  # ST's default, used on both sides
    st_eval(model, corpus, evalset, bs)  # warm-up (threads, allocator)
    st_times, first, warm = [], [], []
    for _ in range(repeats):
        s, st_m = st_eval(model, corpus, evalset, bs)
        st_times.append(s)
        with tempfile.TemporaryDirectory() as d:
            cache = EmbeddingCache(d)
            t = time.perf_counter()
            ours = evaluate_model(model, corpus, evalset, cache=cache, batch_size=bs)
            first.append(time.perf_counter() - t)
            t = time.perf_counter()
            evaluate_model(model, corpus, evalset, cache=EmbeddingCache(d), batch_size=bs)  # a fresh process's view
            warm.append(time.perf_counter() - t)
    key = next(k for k in st_m if k.endswith("recall@5"))
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    return {
        "threads": __import__("torch").get_num_threads(),
        "queries": len(evalset), "docs": corpus.docs.height,
        "st_seconds": round(med(st_times), 3),
        "embtune_first_seconds": round(med(first), 3),
        "embtune_cached_seconds": round(med(warm), 3),
        "first_eval_ratio_st_over_embtune": round(med(st_times) / med(first), 3),
        "reeval_speedup_st_over_embtune": round(med(st_times) / med(warm), 1),
        "recall@5_st": round(st_m[key], 6), "recall@5_embtune": round(ours.metrics["recall@5"], 6),
    }


MEMORY_CHILD = r"""
import resource, sys, numpy as np
sys.path.insert(0, sys.argv[2])
from embtune_core.core.embeddings import EmbeddingCache
from embtune_core.core.evaluate import evaluate_ranking, topk_articles
from embtune_core.core.sources import EvalSet
cache = EmbeddingCache(sys.argv[1])
n_docs, n_q = 100_000, 1_000
docs = cache.get_many("docs", [f"d{i}" for i in range(n_docs)])
qs = cache.get_many("queries", [f"q{i}" for i in range(n_q)])
units, queries = np.stack(docs), np.stack(qs)
del docs, qs
doc_ids = [f"doc{i:06d}" for i in range(n_docs)]
rng = np.random.default_rng(0)
rel = {f"q{i}": frozenset({doc_ids[j]}) for i, j in enumerate(rng.integers(0, n_docs, n_q))}
ev = EvalSet(queries={f"q{i}": "" for i in range(n_q)}, relevant=rel, path="", sha256="")
hits = topk_articles(queries, units, doc_ids, k=100)
res = evaluate_ranking(dict(zip(ev.queries, hits)), ev)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, res.metrics["recall@100"])
"""


def memory() -> dict:
    import numpy as np

    from embtune_core.core.embeddings import EmbeddingCache

    with tempfile.TemporaryDirectory() as d:
        cache = EmbeddingCache(d)
        rng = np.random.default_rng(0)
        for name, n in (("docs", 100_000), ("queries", 1_000)):
            prefix = "d" if name == "docs" else "q"
            for s in range(0, n, 20_000):
                v = rng.normal(size=(min(20_000, n - s), 384)).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
                cache.put_many(name, [f"{prefix}{i}" for i in range(s, s + len(v))], v)
        del cache
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, d, str(REPO)], capture_output=True, text=True,
                             check=True)
        rss, r100 = out.stdout.split()
    return {"synthetic_docs": 100_000, "synthetic_queries": 1_000, "dim": 384,
            "peak_rss_gib": round(int(rss) / 2**30, 3), "seconds": round(time.perf_counter() - t, 1),
            "recall@100_random": float(r100)}


if __name__ == "__main__":
    result = {"speed": speed(), "memory_100k": memory(),
              "parent_peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)}
    print(json.dumps(result, indent=2))
