"""Baselines on the devbench test queries: BM25, the base model and their hybrid, Recall@5 and MRR@10.

    python bench/devbench/baselines.py [--data bench/data/devbench] [--sources postgres,gnome,debfaq]
                                       [--units article,sections] [--threads 1]

``article``: one unit per article (``eval/corpus.jsonl``; the model sees only its first 256 tokens).
``sections``: ``docs.jsonl`` split by ``##`` headings the way an embtune project splits its docs, an
article scored by its best section. Everything goes through embtune's own loaders, retrievers and
article-level metrics (the ones with ``InformationRetrievalEvaluator`` parity); embeddings are cached in
the user cache. Writes ``<data>/baselines.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def query_class(text: str) -> str:
    """PostgreSQL index terms: a bare identifier/keyword (``pg_wal_lsn_diff``, ``CLOSE``, ``x configuration
    parameter``) or a phrase (``escape string syntax``)."""
    t = text.removesuffix(" configuration parameter")
    return "identifier" if len(t.split()) == 1 else "phrase"


def main(argv=None) -> int:
    import torch

    from embtune_core.core.embeddings import Encoder, user_cache
    from embtune_core.core.models import load_model
    from embtune_core.core.retrievers import build, evaluate_retriever
    from embtune_core.core.sources import load_docs, load_eval_set

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="bench/data/devbench")
    ap.add_argument("--sources", default="postgres,gnome,debfaq")
    ap.add_argument("--units", default="article,sections")
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (keep it light)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, cache = load_model(args.model), user_cache()
    root = Path(args.data)
    results = {}
    for source in args.sources.split(","):
        data = root / source
        for mode in args.units.split(","):
            corpus = (load_docs(data / "eval" / "corpus.jsonl", "beir", split=False) if mode == "article"
                      else load_docs(data / "docs.jsonl", "jsonl", split=True))
            ev = load_eval_set(data / "eval", corpus)
            classes = {q: query_class(t) for q, t in ev.queries.items()}
            for spec in ("bm25", args.model, f"hybrid:{args.model}"):
                t0 = time.time()
                r = build(spec, corpus, load_encoder=lambda name: Encoder(model, cache))
                res = evaluate_retriever(r, corpus, ev)
                row = {m: round(res.metrics[m], 4) for m in ("recall@5", "mrr@10")} | {
                    "n": res.n_queries, "units": corpus.sections.height, "seconds": round(time.time() - t0, 1)}
                if source == "postgres":
                    pq = res.per_query
                    row["by_query_class"] = {
                        c: {"n": int(sub.height), **{m: round(float(sub[m].mean()), 4) for m in ("recall@5", "mrr@10")}}
                        for c in sorted(set(classes.values()))
                        if (sub := pq.filter(pq["query_id"].is_in([q for q, k in classes.items() if k == c]))).height}
                results[f"{source}/{mode}/{spec}"] = row
                print(f"{source:9s} {mode:9s} {spec:28s} R@5 {row['recall@5']:.3f}  MRR@10 {row['mrr@10']:.3f}  "
                      f"({row['n']} queries, {row['units']} units, {row['seconds']}s)", flush=True)
    (root / "baselines.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
