"""Step 6 speed: re-encode throughput including the database, and search latency on 100k rows.

    .venv/bin/python bench/bench_store.py [--model all-MiniLM-L6-v2] [--rows 100000] [--queries 300]

1. The sample corpus encoded by plain ``model.encode_document`` vs :func:`embtune_core.ship.build_collection`
   (encode + COPY into Postgres + HNSW index + publish), alternated twice in one run; prints the
   throughput ratio (target >= 0.9).
2. A synthetic collection of ``--rows`` normalised 384-d vectors (clustered, so the index has structure
   to find; encoding 100k real docs on two cores takes an hour) in the embedded Postgres: insert and
   HNSW build time, then p50 / p95 search latency through the index and with exact search, and the
   index's recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embtune_core import ship  # noqa: E402
from embtune_core.core.models import load_model  # noqa: E402
from embtune_core.core.project import open_project  # noqa: E402
from embtune_core.ship.store import CollectionInfo  # noqa: E402
from embtune_core.ship.store.embedded import EmbeddedPostgres  # noqa: E402
from embtune_core.ship.store.pgvector import PgVectorStore  # noqa: E402


def reencode(store, model, corpus, reps: int = 3) -> None:
    texts = corpus.unit_texts()
    model.encode_document(texts[:64], batch_size=64)  # warm-up
    plain, built = [], []
    for r in range(reps):  # alternated, so background load hits both sides alike
        t = time.perf_counter()
        model.encode_document(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)
        plain.append(time.perf_counter() - t)
        res = ship.build_collection(store, model, corpus, name=f"bench_reencode_{r}", batch_size=64)
        built.append(res.seconds)
        print(f"  rep {r}: plain encode {plain[-1]:.1f} s; build_collection {res.seconds:.1f} s "
              f"(encode {res.encode_seconds:.1f} s, database {res.write_seconds:.2f} s)")
        store.drop(res.info.name)
    n = len(texts)
    p, b = statistics.median(plain), statistics.median(built)
    print(f"re-encode {n} units: plain {n / p:.1f} units/s, into pgvector {n / b:.1f} units/s -> "
          f"throughput ratio {p / b:.3f} (target >= 0.9)")


def synthetic(store, rows: int, n_queries: int, dim: int = 384) -> None:
    rng = np.random.default_rng(0)
    # Text embeddings have a low intrinsic dimension: 32 latent factors, projected to 384-d, plus noise.
    # (Isotropic random vectors would be a worst case no real corpus looks like.)
    proj = rng.standard_normal((32, dim)).astype(np.float32)
    latent = rng.standard_normal((rows, 32)).astype(np.float32)
    vecs = latent @ proj + 0.5 * rng.standard_normal((rows, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    info = CollectionInfo("bench_synthetic", "synthetic", "synthetic", dim, rows, rows, "synthetic")
    t = time.perf_counter()
    handle = store.create(info)
    ids = [f"u{i}" for i in range(rows)]
    for s in range(0, rows, 10_000):
        store.upsert(handle, ids[s:s + 10_000], ids[s:s + 10_000], [""] * len(ids[s:s + 10_000]),
                     [""] * len(ids[s:s + 10_000]), vecs[s:s + 10_000])
    t_insert = time.perf_counter() - t
    t = time.perf_counter()
    store.publish(handle, info)
    t_index = time.perf_counter() - t
    print(f"synthetic {rows:,} x {dim}: insert {t_insert:.1f} s ({rows / t_insert:,.0f} rows/s), "
          f"HNSW build + publish {t_index:.1f} s")
    q = (rng.standard_normal((n_queries, 32)).astype(np.float32) @ proj
         + 0.5 * rng.standard_normal((n_queries, dim)).astype(np.float32))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    lat = {"hnsw": [], "exact": []}
    found = {}
    for mode in ("hnsw", "exact"):
        res = []
        for v in q:
            t = time.perf_counter()
            res.append(store.search("bench_synthetic", v[None, :], k=10, exact=mode == "exact")[0])
            lat[mode].append((time.perf_counter() - t) * 1000)
        found[mode] = res
    recall = np.mean([len({h.unit_id for h in a} & {h.unit_id for h in b}) / 10
                      for a, b in zip(found["hnsw"], found["exact"], strict=True)])
    for mode, ms in lat.items():
        print(f"  {mode:>5} search k=10: p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms "
              f"({n_queries} queries, one at a time)")
    print(f"  HNSW recall@10 vs exact: {recall:.3f} (ef_search {store.ef_search}); exact/HNSW p50 latency ratio "
          f"{np.percentile(lat['exact'], 50) / np.percentile(lat['hnsw'], 50):.1f}x")
    store.drop("bench_synthetic")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    project = open_project(None)
    model = load_model(args.model)
    with tempfile.TemporaryDirectory(prefix="embtune-bench-") as tmp, EmbeddedPostgres(Path(tmp) / "store") as url:
        store = PgVectorStore(url)
        reencode(store, model, project.corpus)
        synthetic(store, args.rows, args.queries)
        store.close()


if __name__ == "__main__":
    main()
