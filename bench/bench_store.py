"""Step 6 speed: re-encode throughput including the database, and search latency on 100k rows.

    .venv/bin/python bench/bench_store.py [--model all-MiniLM-L6-v2] [--rows 100000] [--queries 300]
                                          [--skip-reencode]

1. The sample corpus encoded by plain ``model.encode_document`` vs :func:`embtune_core.ship.build_collection`
   (encode + COPY into Postgres + HNSW index + publish), alternated twice in one run; prints the
   throughput ratio (target >= 0.9).
2. A synthetic *hybrid* collection of ``--rows`` units in the embedded Postgres: normalised 384-d vectors
   (clustered, so the index has structure to find; encoding 100k real docs on two cores takes an hour)
   and synthetic texts of 40-150 words drawn from a Zipf-distributed vocabulary of 20,000 words, indexed
   by embtune's BM25 into the postings table, so the postings have a realistic shape (a few terms in
   almost every unit, a long tail in a handful). Insert, HNSW and lexical-side build times; then, one
   query at a time and side by side, p50 / p95 latency of dense-only search through the index (k=10),
   of hybrid search (HNSW dense + BM25 postings, fused in one statement, k=10) for queries of 2-6
   words drawn from the same distribution, of each hybrid side alone, and of exact dense search; the
   index's recall@10 against exact search, for dense and for hybrid.
"""

from __future__ import annotations

import argparse
import json
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embtune_core import ship  # noqa: E402
from embtune_core.core.config import HybridConfig, LexicalConfig  # noqa: E402
from embtune_core.core.lexical import BM25, tokenize  # noqa: E402
from embtune_core.core.models import load_model  # noqa: E402
from embtune_core.core.project import open_project  # noqa: E402
from embtune_core.ship.collection import write_postings  # noqa: E402
from embtune_core.ship.store import CollectionInfo  # noqa: E402
from embtune_core.ship.store.embedded import EmbeddedPostgres  # noqa: E402
from embtune_core.ship.store.pgvector import PROBE_LIMIT, PgVectorStore, _lexical_sql  # noqa: E402


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


VOCAB = 20_000


def zipf_words(rng, n_words: int = VOCAB, exponent: float = 1.0) -> tuple[list[str], np.ndarray]:
    """``n_words`` distinct made-up lowercase words and Zipf probabilities (rank r ~ 1 / r**exponent)."""
    letters = np.array(list(string.ascii_lowercase))
    words: dict[str, None] = {}
    while len(words) < n_words:
        n = int(rng.integers(4, 10))
        words.setdefault("".join(rng.choice(letters, n)), None)
    p = 1.0 / np.arange(1, n_words + 1) ** exponent
    return list(words), p / p.sum()


def synthetic_texts(rng, rows: int, words: list[str], p: np.ndarray, lo: int = 40, hi: int = 150) -> list[str]:
    """``rows`` texts of ``lo``-``hi`` words drawn from the Zipf vocabulary."""
    lengths = rng.integers(lo, hi + 1, rows)
    draws = rng.choice(len(words), size=int(lengths.sum()), p=p)
    w = np.array(words, dtype=object)
    out, s = [], 0
    for n in lengths:
        out.append(" ".join(w[draws[s:s + n]]))
        s += n
    return out


def _percentiles(ms: list[float]) -> str:
    return f"p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms"


def synthetic(store, rows: int, n_queries: int, dim: int = 384, depths: tuple[int, ...] = ()) -> None:
    rng = np.random.default_rng(0)
    # Text embeddings have a low intrinsic dimension: 32 latent factors, projected to 384-d, plus noise.
    # (Isotropic random vectors would be a worst case no real corpus looks like.)
    proj = rng.standard_normal((32, dim)).astype(np.float32)
    latent = rng.standard_normal((rows, 32)).astype(np.float32)
    vecs = latent @ proj + 0.5 * rng.standard_normal((rows, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    words, p = zipf_words(np.random.default_rng(1))
    trng = np.random.default_rng(2)
    texts = synthetic_texts(trng, rows, words, p)
    lexical, hybrid = LexicalConfig(), HybridConfig()
    name = "bench_synthetic"
    info = CollectionInfo(name, "synthetic", "synthetic", dim, rows, rows, "synthetic",
                          meta=ship.hybrid_settings(lexical, hybrid))
    t = time.perf_counter()
    handle = store.create(info)
    ids = [f"u{i}" for i in range(rows)]
    for s in range(0, rows, 10_000):
        store.upsert(handle, ids[s:s + 10_000], ids[s:s + 10_000], [""] * len(ids[s:s + 10_000]),
                     [""] * len(ids[s:s + 10_000]), vecs[s:s + 10_000])
    t_insert = time.perf_counter() - t
    # The lexical side exactly as build_collection writes it: embtune's BM25 index, then its postings.
    t = time.perf_counter()
    bm25 = BM25(texts, ids, lexical)
    t_bm25 = time.perf_counter() - t
    t = time.perf_counter()
    n_postings = write_postings(store, handle, bm25, ids, ids, depth=hybrid.depth)
    t_copy = time.perf_counter() - t
    t = time.perf_counter()
    store.publish(handle, info)
    t_index = time.perf_counter() - t
    size = store.conn.execute("SELECT pg_total_relation_size(%s), pg_total_relation_size(%s)",
                              (f"ec_{name}", f"ecl_{name}")).fetchone()
    ps = store.publish_seconds
    print(f"synthetic {rows:,} x {dim}: insert vectors {t_insert:.1f} s ({rows / t_insert:,.0f} rows/s); "
          f"publish {t_index:.1f} s: HNSW build {ps['hnsw']:.1f} s, postings indexes + VACUUM ANALYZE "
          f"{ps['postings_index']:.1f} s")
    print(f"  lexical side: {sum(len(t.split()) for t in texts) / rows:.0f} words per unit, vocabulary "
          f"{len(bm25.index.vocab_dict):,} terms, {n_postings:,} postings ({n_postings / rows:.0f} per unit); build: BM25 "
          f"index {t_bm25:.1f} s + postings COPY {t_copy:.1f} s + indexes {ps['postings_index']:.1f} s = "
          f"{t_bm25 + t_copy + ps['postings_index']:.1f} s; tables: vectors {size[0] / 2**20:.0f} MiB, "
          f"postings {size[1] / 2**20:.0f} MiB (with indexes)")
    q = (rng.standard_normal((n_queries, 32)).astype(np.float32) @ proj
         + 0.5 * rng.standard_normal((n_queries, dim)).astype(np.float32))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    qrng = np.random.default_rng(3)
    qtexts = [" ".join(qrng.choice(words, int(qrng.integers(2, 7)), p=p)) for _ in range(n_queries)]
    qtokens = tokenize(qtexts, lexical)
    df = np.diff(bm25.index.scores["indptr"])
    vocab = bm25.index.vocab_dict
    touched = [sum(int(df[vocab[t]]) for t in toks if t in vocab) for toks in qtokens]
    print(f"  queries: {n_queries} of 2-6 words; postings read per query: median {np.median(touched):,.0f}, "
          f"p95 {np.percentile(touched, 95):,.0f}")
    # The lexical side alone, as shipped (pruned), and without pruning: every posting of every query term.
    pruned = _lexical_sql(sql.Identifier(f"ecl_{name}"))
    full_scan = sql.SQL(
        "SELECT doc_id, max(s) AS s FROM (SELECT p.unit_id, min(p.doc_id) AS doc_id, sum(p.weight::float8) AS s "
        "FROM unnest(%(terms)s::text[]) AS q(term) JOIN {} AS p ON p.term = q.term GROUP BY p.unit_id) AS u "
        "GROUP BY doc_id HAVING max(s) > 0 ORDER BY s DESC, doc_id COLLATE \"C\" LIMIT %(depth)s"
    ).format(sql.Identifier(f"ecl_{name}"))

    def lexical_only(query):
        def run(i):
            with store.conn.transaction():
                store.conn.execute("SET LOCAL work_mem = '64MB'")  # as search_hybrid does
                store.conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
                return store.conn.execute(query, {"terms": qtokens[i], "depth": hybrid.depth,
                                                  "probe": PROBE_LIMIT}).fetchall()
        return run

    runs = {  # name -> (function of query index, what it is)
        "dense": lambda i: store.search(name, q[i:i + 1], k=10)[0],
        "hybrid": lambda i: store.search_hybrid(name, q[i:i + 1], [qtokens[i]], k=10)[0],
        "dense side": lambda i: store.search_articles(name, q[i:i + 1], k=hybrid.depth)[0],
        "lexical side": lexical_only(pruned),
        "lexical full scan": lexical_only(full_scan),
        "dense exact": lambda i: store.search(name, q[i:i + 1], k=10, exact=True)[0],
        "hybrid exact": lambda i: store.search_hybrid(name, q[i:i + 1], [qtokens[i]], k=10, exact=True)[0],
    }
    for d in depths:  # what a shallower fusion depth would cost (each side's top d articles)
        runs[f"hybrid depth {d}"] = lambda i, d=d: store.search_hybrid(name, q[i:i + 1], [qtokens[i]], k=10,
                                                                      depth=d)[0]
    lat: dict[str, list[float]] = {r: [] for r in runs}
    found: dict[str, list] = {r: [] for r in runs}
    # Two passes: what serves traffic (through the indexes), then the scans (exact, unpruned), so a scan
    # never evicts the indexes' pages (shared_buffers is 128 MB) between two served queries.
    for group in (("dense", "hybrid", "dense side", "lexical side", *(f"hybrid depth {d}" for d in depths)),
                  ("lexical full scan", "dense exact", "hybrid exact")):
        for i in range(min(20, n_queries)):  # warm-up: caches, prepared statements
            for r in group:
                runs[r](i)
        for i in range(n_queries):  # interleaved, so background load hits every variant alike
            for r in group:
                t = time.perf_counter()
                found[r].append(runs[r](i))
                lat[r].append((time.perf_counter() - t) * 1000)
    what = {"dense": "dense-only, HNSW, k=10 units", "hybrid": "hybrid (HNSW dense + BM25 postings, RRF), k=10",
            "dense side": f"  its dense side alone: {hybrid.depth} articles via HNSW (ef_search "
                          f"{min(1000, max(store.ef_search, 4 * hybrid.depth))})",
            "lexical side": f"  its lexical side alone: BM25 top {hybrid.depth}, pruned (as shipped)",
            "lexical full scan": "  the lexical side without pruning (every posting of every term)",
            "dense exact": "dense-only, exact scan, k=10", "hybrid exact": "hybrid, exact dense + BM25 postings, k=10",
            **{f"hybrid depth {d}": f"hybrid, fusion depth {d} instead of {hybrid.depth}" for d in depths}}
    for r, ms in lat.items():
        print(f"  {what[r]:<58} {_percentiles(ms)}")
    ratio = np.percentile(lat["hybrid"], 50) / np.percentile(lat["dense"], 50)
    ratio95 = np.percentile(lat["hybrid"], 95) / np.percentile(lat["dense"], 95)
    print(f"  hybrid / dense-only latency: p50 {ratio:.2f}x, p95 {ratio95:.2f}x (target <= 2x)")
    recall = np.mean([len({h.unit_id for h in a} & {h.unit_id for h in b}) / 10
                      for a, b in zip(found["dense"], found["dense exact"], strict=True)])
    hrecall = np.mean([len({d for d, _ in a} & {d for d, _ in b}) / 10
                       for a, b in zip(found["hybrid"], found["hybrid exact"], strict=True)])
    same = sum(a == b for a, b in zip(found["lexical side"], found["lexical full scan"], strict=True))
    print(f"  pruned lexical side == full scan (articles, scores, order): {same}/{n_queries} queries")
    print(f"  HNSW recall@10 vs exact: dense {recall:.3f} (ef_search {store.ef_search}), hybrid {hrecall:.3f}; "
          f"exact/HNSW p50 latency ratio {np.percentile(lat['dense exact'], 50) / np.percentile(lat['dense'], 50):.1f}x")
    store.drop(name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--skip-reencode", action="store_true", help="only the synthetic 100k-row part")
    ap.add_argument("--depths", default="", help="also time hybrid search at these fusion depths (e.g. 50,30)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="embtune-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "store")
        with server as url:
            store = PgVectorStore(url)
            if not args.skip_reencode:
                reencode(store, load_model(args.model), open_project(None).corpus)
            synthetic(store, args.rows, args.queries,
                      depths=tuple(int(d) for d in args.depths.split(",") if d))
            store.close()
        deadline = time.monotonic() + 30  # the watchdog writes its last state right after the server stops
        while time.monotonic() < deadline and json.loads(server.state_file.read_text()).get("watchdog"):
            time.sleep(0.2)


if __name__ == "__main__":
    main()
