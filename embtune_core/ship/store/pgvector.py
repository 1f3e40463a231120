"""Postgres + pgvector implementation of :class:`~embtune_core.ship.store.base.VectorStore` (psycopg 3).

Layout: one table per collection, ``ec_<name>`` (unit_id, doc_id, title, text, embedding vector(dim)),
with an HNSW cosine index; a registry ``embtune_collections``; aliases ``embtune_aliases``
(alias -> collection, with the previous target for rollback); an audit trail ``embtune_alias_log``.
Identifiers are always composed with ``psycopg.sql.Identifier`` after :func:`validate_name`.

A *hybrid* collection also has a BM25 postings table ``ecl_<name>`` (term, unit_id, doc_id, weight real,
head bool), one row per (term, unit) with bm25s' own precomputed weight; ``head`` marks each term's
``[hybrid] depth`` highest weights. Two btree indexes, read by index-only scans: ``(term, unit_id) INCLUDE
(doc_id, weight)`` (a term's postings; one unit's weight) and a partial ``(term, weight DESC) INCLUDE
(unit_id, doc_id) WHERE head`` (a term's best postings, for pruning). A query's BM25 score for a unit
is the sum of its tokens' weights. :meth:`PgVectorStore.search_hybrid` fuses both sides in one statement
(see :func:`_hybrid_sql`).

A collection is built in staging tables (``ecstage_<random>``, and ``ecstage_<random>_lex`` for the
postings) and published by renaming them in one transaction together with the registry row, so readers
see either the old state or the finished collection, never a half-filled one.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import time
from collections.abc import Sequence

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql

from ...core.config import HybridConfig
from ...core.errors import StoreError
from .base import ALIASES, CollectionInfo, Hit, validate_name

_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS embtune_collections (
    name text PRIMARY KEY,
    model text NOT NULL,
    fingerprint text NOT NULL,
    dim integer NOT NULL,
    doc_count integer NOT NULL,
    unit_count integer NOT NULL,
    corpus_hash text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    meta jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS embtune_aliases (
    alias text PRIMARY KEY,
    collection text NOT NULL REFERENCES embtune_collections(name),
    previous text,
    updated timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS embtune_alias_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    alias text NOT NULL,
    collection text,
    previous text,
    note text NOT NULL DEFAULT ''
);
"""


_STAGE = re.compile(r"^ecstage_(\d+)_[0-9a-f]+(_lex)?$")
#: A staging table older than this was left by a build that crashed; the next build drops it.
STALE_STAGING_SECONDS = 24 * 3600


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _database_errors_as_store_errors(cls):
    """Every public method raises :class:`StoreError` with the database's first line instead of a psycopg
    exception, so the CLI and notebook 06 show the same one-line message."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except psycopg.Error as e:
                raise StoreError(f"vector store: {_first_line(e)}") from None
        return call

    for name, fn in list(vars(cls).items()):
        if callable(fn) and not name.startswith("_"):
            setattr(cls, name, wrap(fn))
    return cls


def _table(name: str) -> sql.Identifier:
    return sql.Identifier(f"ec_{validate_name(name)}")


def _postings(name: str) -> sql.Identifier:
    return sql.Identifier(f"ecl_{validate_name(name)}")


#: Tie order everywhere: doc ids compared byte-wise (Python's ``str`` order, which the in-memory evaluation
#: uses), whatever the database's default collation is.
_BY_ID = 'COLLATE "C"'


def _hybrid_sql(vectors: sql.Identifier, postings: sql.Identifier, *, exact: bool, units: bool) -> sql.Composed:
    """One statement: the dense ranking and the BM25 ranking of articles, fused by reciprocal rank fusion.

    This is :class:`~embtune_core.core.retrievers.HybridRetriever` step by step:

    * ``dense``: an article scores its best section by cosine; its top ``depth`` articles (every row with
      ``exact``, else the HNSW index's ``fetch`` nearest sections);
    * ``lex``: the query's tokens (``unnest``; a repeated token counts again) against the postings: a unit
      scores the sum of its tokens' weights, an article its best unit, score > 0, top ``depth``. Sums are
      float8: a few float32 weights add up exactly in float8, so they do not depend on the order Postgres
      adds them in and equal :meth:`~embtune_core.core.lexical.BM25.unit_scores` bit for bit;
    * fused: ``1 / (rrf_k + dense rank) + 1 / (rrf_k + lexical rank)`` (a full outer join), ties by doc id.

    The lexical side prunes exactly (MaxScore): a term adds at most ``ub`` = its highest weight times
    its count. The full scores of the units among each term's ``depth`` highest weights (the ``head``
    postings) give ``theta``, a lower bound of the ``depth``-th best article score. Terms whose ``ub``
    add up to less than ``theta`` (the commonest) cannot lift a unit into the top on their own, so only
    units holding one of the other terms are candidates; a candidate whose partial score plus those
    ``ub`` stays below ``theta`` is dropped; the rest get the common terms' weights added (index probes
    for a few candidates, a scan beyond ``probe``). Every article of the top ``depth`` keeps its best
    unit with its exact score, so the ranking is the full scan's, ties included (tested against it).

    With ``units`` each result also carries its best section (the dense side's when the article is among
    the dense candidates, else BM25's) and title.
    """
    dense_u = ("SELECT unit_id, doc_id, 1 - (embedding <=> %(q)s) AS s FROM {vectors}" if exact else
               "SELECT unit_id, doc_id, 1 - (embedding <=> %(q)s) AS s FROM {vectors} "
               "ORDER BY embedding <=> %(q)s LIMIT %(fetch)s")
    body = f"""
WITH dense_u AS ({dense_u}),
dense AS (
    SELECT doc_id, row_number() OVER (ORDER BY max(s) DESC, doc_id {_BY_ID}) AS r
    FROM dense_u GROUP BY doc_id ORDER BY r LIMIT %(depth)s),{_LEXICAL_CTES},
fused AS (
    SELECT coalesce(d.doc_id, l.doc_id) AS doc_id,
           coalesce(1.0::float8 / (%(rrf_k)s + d.r), 0) + coalesce(1.0::float8 / (%(rrf_k)s + l.r), 0) AS score
    FROM dense AS d FULL OUTER JOIN lex AS l ON l.doc_id = d.doc_id)"""
    if not units:
        tail = f"\nSELECT doc_id, score FROM fused ORDER BY score DESC, doc_id {_BY_ID} LIMIT %(k)s"
    else:
        tail = f""",
top AS (SELECT doc_id, score FROM fused ORDER BY score DESC, doc_id {_BY_ID} LIMIT %(k)s),
best AS (
    SELECT DISTINCT ON (doc_id) doc_id, unit_id FROM (
        SELECT doc_id, unit_id, 0 AS side, s FROM dense_u WHERE doc_id IN (SELECT doc_id FROM top)
        UNION ALL
        SELECT doc_id, unit_id, 1 AS side, s FROM lex_u WHERE doc_id IN (SELECT doc_id FROM top)) AS c
    ORDER BY doc_id, side, s DESC, unit_id {_BY_ID})
SELECT t.doc_id, t.score, b.unit_id, v.title
FROM top AS t JOIN best AS b ON b.doc_id = t.doc_id JOIN {{vectors}} AS v ON v.unit_id = b.unit_id
ORDER BY t.score DESC, t.doc_id {_BY_ID}"""
    return sql.SQL(body + tail).format(vectors=vectors, postings=postings)


def _lexical_sql(postings: sql.Identifier) -> sql.Composed:
    """The lexical side of :func:`_hybrid_sql` alone: ``(doc_id, score)``, the top ``depth`` articles by BM25."""
    return sql.SQL(f"WITH{_LEXICAL_CTES}\nSELECT l.doc_id, max(u.s) AS s FROM lex AS l JOIN lex_u AS u "
                   f"ON u.doc_id = l.doc_id GROUP BY l.doc_id, l.r ORDER BY l.r").format(postings=postings)


_LEXICAL_CTES = f"""
qt AS (SELECT term, count(*)::float8 AS n FROM unnest(%(terms)s::text[]) AS q(term) GROUP BY term),
tb AS MATERIALIZED (
    SELECT qt.term, qt.n, qt.n * m.w AS ub FROM qt CROSS JOIN LATERAL (
        SELECT p.weight::float8 AS w FROM {{postings}} AS p WHERE p.term = qt.term AND p.head
        ORDER BY p.weight DESC LIMIT 1) AS m),
seed_u AS (
    SELECT DISTINCT p.unit_id, p.doc_id FROM tb CROSS JOIN LATERAL (
        SELECT unit_id, doc_id FROM {{postings}} AS p WHERE p.term = tb.term AND p.head
        ORDER BY p.weight DESC LIMIT %(depth)s) AS p),
seed AS (
    SELECT su.doc_id, (SELECT sum(tb.n * p.weight::float8) FROM tb JOIN {{postings}} AS p
                       ON p.term = tb.term AND p.unit_id = su.unit_id) AS s
    FROM seed_u AS su),
theta AS (
    SELECT coalesce((SELECT s FROM (SELECT max(s) AS s FROM seed GROUP BY doc_id) AS a
                     ORDER BY s DESC OFFSET %(depth)s - 1 LIMIT 1), 0) AS t),
cum AS MATERIALIZED (SELECT tb.term, tb.n, sum(tb.ub) OVER (ORDER BY tb.ub, tb.term) AS c, theta.t FROM tb, theta),
bound AS (SELECT coalesce(max(c) FILTER (WHERE c < t), 0) AS rest, min(t) AS t FROM cum),
cand AS MATERIALIZED (
    SELECT p.unit_id, min(p.doc_id) AS doc_id, sum(cum.n * p.weight::float8) AS s
    FROM cum JOIN {{postings}} AS p ON p.term = cum.term WHERE cum.c >= cum.t GROUP BY p.unit_id
    HAVING sum(cum.n * p.weight::float8) + (SELECT rest FROM bound) >= (SELECT t FROM bound)),
ncand AS (SELECT count(*) AS n FROM cand),
lex_u AS MATERIALIZED (
    SELECT c.unit_id, c.doc_id, c.s + coalesce((SELECT sum(cum.n * p.weight::float8) FROM cum JOIN {{postings}} AS p
           ON p.term = cum.term AND p.unit_id = c.unit_id WHERE cum.c < cum.t), 0) AS s
    FROM cand AS c WHERE (SELECT n FROM ncand) <= %(probe)s
    UNION ALL
    SELECT c.unit_id, c.doc_id, c.s + coalesce(r.s, 0) FROM cand AS c LEFT JOIN (
        SELECT p.unit_id, sum(cum.n * p.weight::float8) AS s FROM cum JOIN {{postings}} AS p ON p.term = cum.term
        WHERE cum.c < cum.t AND p.unit_id IN (SELECT unit_id FROM cand) GROUP BY p.unit_id) AS r
        ON r.unit_id = c.unit_id
    WHERE (SELECT n FROM ncand) > %(probe)s),
lex AS (
    SELECT doc_id, row_number() OVER (ORDER BY max(s) DESC, doc_id {_BY_ID}) AS r
    FROM lex_u GROUP BY doc_id HAVING max(s) > 0 ORDER BY r LIMIT %(depth)s)"""


#: Above this many candidate units, the lexical side scans the common terms' postings once instead of
#: probing the index for each candidate.
PROBE_LIMIT = 2000


@_database_errors_as_store_errors
class PgVectorStore:
    """Collections in one Postgres database with the ``vector`` extension."""

    def __init__(self, url: str, *, ef_search: int = 100, hnsw_m: int = 16, hnsw_ef_construction: int = 64,
                 on_close=None):
        self._on_close = on_close
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(727274)")  # two first-time setups at once
                self.conn.execute(_SCHEMA)
            register_vector(self.conn)
        except psycopg.Error as e:
            raise StoreError(f"cannot use the vector store: {_first_line(e)}") from None
        self.ef_search = ef_search
        #: seconds the last :meth:`publish` spent on each index (``hnsw``, ``postings_index``)
        self.publish_seconds: dict[str, float] = {}
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction

    def close(self) -> None:
        self.conn.close()
        if self._on_close is not None:
            self._on_close, release = None, self._on_close
            release()

    # -- building ----------------------------------------------------------------------------------
    def create(self, info: CollectionInfo) -> str:
        validate_name(info.name)
        self._drop_stale_staging()
        handle = f"ecstage_{int(time.time())}_{secrets.token_hex(4)}"
        self.conn.execute(sql.SQL(
            "CREATE TABLE {} (unit_id text PRIMARY KEY, doc_id text NOT NULL, title text NOT NULL DEFAULT '', "
            "text text NOT NULL DEFAULT '', embedding vector({}) NOT NULL)"
        ).format(sql.Identifier(handle), sql.Literal(int(info.dim))))
        if info.kind == "hybrid":
            try:
                self.conn.execute(sql.SQL(
                    "CREATE TABLE {} (term text NOT NULL, unit_id text NOT NULL, doc_id text NOT NULL, "
                    "weight real NOT NULL, head boolean NOT NULL)").format(sql.Identifier(f"{handle}_lex")))
            except BaseException:
                self.discard(handle)
                raise
        return handle

    def _target(self, handle: str) -> sql.Identifier:
        return sql.Identifier(handle) if _STAGE.match(handle) else _table(handle)

    def write_postings(self, handle: str, terms: Sequence[str], unit_ids: Sequence[str], doc_ids: Sequence[str],
                       weights: Sequence[float], heads: Sequence[bool]) -> None:
        """Append BM25 postings to a hybrid build's staging side (``COPY``; the indexes come at publish).

        ``heads[i]``: posting ``i`` is among its term's ``[hybrid] depth`` highest weights. Every term's
        highest weight must be a head (pruning bounds a term's contribution by it); more heads than that
        (ties) are fine. Only a staging handle: a unit's BM25 weights depend on the whole corpus (idf,
        average length), so a published hybrid collection is rebuilt, never patched."""
        if not _STAGE.match(handle) or handle.endswith("_lex"):
            raise StoreError("write_postings: BM25 postings go to a build's staging handle (weights depend on the "
                             "whole corpus: rebuild the collection instead of patching it)")
        if not (len(terms) == len(unit_ids) == len(doc_ids) == len(weights) == len(heads)):
            raise StoreError("write_postings: terms, unit ids, doc ids, weights and heads differ in length")
        with self.conn.transaction(), self.conn.cursor() as cur:
            with cur.copy(sql.SQL("COPY {} (term, unit_id, doc_id, weight, head) FROM STDIN WITH (FORMAT BINARY)")
                          .format(sql.Identifier(f"{handle}_lex"))) as copy:
                copy.set_types(["text", "text", "text", "float4", "bool"])
                for row in zip(terms, unit_ids, doc_ids, weights, heads, strict=True):
                    copy.write_row(row)

    def upsert(self, handle: str, unit_ids: Sequence[str], doc_ids: Sequence[str], titles: Sequence[str],
               texts: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace rows (by ``unit_id``) in a staging table or a published collection."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if not (len(unit_ids) == len(doc_ids) == len(titles) == len(texts) == vectors.shape[0]):
            raise StoreError("upsert: ids, doc ids, titles, texts and vectors differ in length")
        target = self._target(handle)
        if not _STAGE.match(handle):
            info = self._require(handle)
            if info.kind == "hybrid":
                raise StoreError(f"collection {handle!r} is hybrid: its BM25 weights depend on the whole corpus, so "
                                 "changed texts need a rebuild (embtune ship ... --hybrid), not an upsert")
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE TEMP TABLE embtune_upsert (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP")
                        .format(target))
            with cur.copy("COPY embtune_upsert (unit_id, doc_id, title, text, embedding) FROM STDIN "
                          "WITH (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "text", "vector"])
                for row in zip(unit_ids, doc_ids, titles, texts, vectors, strict=True):
                    copy.write_row(row)
            cur.execute(sql.SQL(
                "INSERT INTO {} SELECT * FROM embtune_upsert ON CONFLICT (unit_id) DO UPDATE SET "
                "doc_id = EXCLUDED.doc_id, title = EXCLUDED.title, text = EXCLUDED.text, "
                "embedding = EXCLUDED.embedding").format(target))

    def publish(self, handle: str, info: CollectionInfo, *, replace: bool = False) -> None:
        """Build the HNSW index (and a hybrid build's postings indexes), then rename the staging tables and
        register the collection, in one transaction. ``publish_seconds`` records how long each part took."""
        stage = self._target(handle)
        hybrid = info.kind == "hybrid"
        t0 = time.perf_counter()
        self.conn.execute("SET maintenance_work_mem = '512MB'")  # the HNSW graph builds in memory: much faster
        self.conn.execute(sql.SQL(
            "CREATE INDEX {} ON {} USING hnsw (embedding vector_cosine_ops) WITH (m = {}, ef_construction = {})"
        ).format(sql.Identifier(f"{handle}_hnsw"), stage, sql.Literal(self.hnsw_m),
                 sql.Literal(self.hnsw_ef_construction)))
        t1 = time.perf_counter()
        if hybrid:
            self._index_postings(handle)
        t2 = time.perf_counter()
        self.publish_seconds = {"hnsw": t1 - t0, "postings_index": t2 - t1}
        with self.conn.transaction():
            # one publisher per name at a time (a notebook and the CLI building the same collection)
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"embtune:{info.name}",))
            existing = self.get(info.name)
            if existing is not None:
                if not replace:
                    raise StoreError(f"collection {info.name!r} already exists (model {existing.model}); "
                                     "choose another name or drop it first")
                self._drop_unaliased(info.name)
            self.conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage, _table(info.name)))
            self.conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(f"{handle}_hnsw"), sql.Identifier(f"ec_{info.name}_hnsw")))
            if hybrid:
                self.conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                    sql.Identifier(f"{handle}_lex"), _postings(info.name)))
                for suffix in ("term", "head"):
                    self.conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                        sql.Identifier(f"{handle}_lex_{suffix}"), sql.Identifier(f"ecl_{info.name}_{suffix}")))
            self.conn.execute(
                "INSERT INTO embtune_collections (name, model, fingerprint, dim, doc_count, unit_count, "
                "corpus_hash, meta) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (info.name, info.model, info.fingerprint, info.dim, info.doc_count, info.unit_count,
                 info.corpus_hash, json.dumps(info.meta)))

    def _index_postings(self, handle: str) -> None:
        """The postings' two covering indexes, then statistics and the visibility map (``VACUUM``, outside
        any transaction) so a query reads the indexes alone."""
        lex = sql.Identifier(f"{handle}_lex")
        self.conn.execute(sql.SQL("CREATE INDEX {} ON {} (term, unit_id) INCLUDE (doc_id, weight)").format(
            sql.Identifier(f"{handle}_lex_term"), lex))
        self.conn.execute(sql.SQL("CREATE INDEX {} ON {} (term, weight DESC) INCLUDE (unit_id, doc_id) WHERE head")
                          .format(sql.Identifier(f"{handle}_lex_head"), lex))
        self.conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(lex))

    def discard(self, handle: str) -> None:
        target = self._target(handle)
        self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        if _STAGE.match(handle) and not handle.endswith("_lex"):
            self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(f"{handle}_lex")))

    def _drop_stale_staging(self) -> None:
        """Drop staging tables a crashed build left more than a day ago (a running build's is younger)."""
        for (t,) in self.conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'ecstage%'").fetchall():
            m = _STAGE.match(t)
            if m and time.time() - int(m.group(1)) > STALE_STAGING_SECONDS:
                self.discard(t)

    # -- reading -----------------------------------------------------------------------------------
    def _require(self, name: str) -> CollectionInfo:
        info = self.get(validate_name(name))
        if info is None:
            known = ", ".join(c.name for c in self.list()) or "none"
            raise StoreError(f"no collection {name!r} (collections: {known})")
        return info

    def search(self, name: str, vectors: np.ndarray, k: int = 10, *, exact: bool = False) -> list[list[Hit]]:
        """Top-``k`` retrieval units per query vector, best first (cosine similarity)."""
        self._require(name)
        out = []
        q = sql.SQL("SELECT unit_id, doc_id, title, 1 - (embedding <=> %s) AS score FROM {} "
                    "ORDER BY embedding <=> %s, unit_id LIMIT %s").format(_table(name))
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._tune(cur, exact, k)
            for v in np.asarray(vectors, dtype=np.float32):
                cur.execute(q, (v, v, k))
                out.append([Hit(u, d, float(s), t) for u, d, t, s in cur.fetchall()])
        return out

    def search_articles(self, name: str, vectors: np.ndarray, k: int = 10, *,
                        exact: bool = False, overfetch: int = 4) -> list[list[tuple[str, float]]]:
        """Top-``k`` articles per query (an article scores its best section), as evaluation ranks them.

        ``exact`` scans every row (the reference); otherwise the HNSW index returns ``k * overfetch``
        sections, grouped into articles.
        """
        self._require(name)
        t = _table(name)
        if exact:
            q = sql.SQL("SELECT doc_id, max(1 - (embedding <=> %s)) AS s FROM {} GROUP BY doc_id "
                        "ORDER BY s DESC, doc_id " + _BY_ID + " LIMIT %s").format(t)
        else:
            q = sql.SQL("SELECT doc_id, max(s) AS s FROM (SELECT doc_id, 1 - (embedding <=> %s) AS s FROM {} "
                        "ORDER BY embedding <=> %s LIMIT %s) AS hits GROUP BY doc_id ORDER BY s DESC, doc_id "
                        + _BY_ID + " LIMIT %s").format(t)
        out = []
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._tune(cur, exact, k * overfetch)
            for v in np.asarray(vectors, dtype=np.float32):
                cur.execute(q, (v, k) if exact else (v, v, k * overfetch, k))
                out.append([(d, float(s)) for d, s in cur.fetchall()])
        return out

    def _require_hybrid(self, name: str) -> CollectionInfo:
        info = self._require(name)
        if info.kind != "hybrid":
            raise StoreError(f"collection {name!r} was built dense-only; re-ship with --hybrid "
                             f"(embtune ship --model ... --hybrid) to search it with BM25 too")
        return info

    def _hybrid(self, name: str, vectors: np.ndarray, token_lists, k: int, exact: bool, overfetch: int,
                units: bool, depth: int | None = None) -> list[list[tuple]]:
        info = self._require_hybrid(name)
        vectors = np.asarray(vectors, dtype=np.float32)
        token_lists = [[str(t) for t in tokens] for tokens in token_lists]
        if vectors.shape[0] != len(token_lists):
            raise StoreError("search_hybrid: one token list per query vector")
        q = _hybrid_sql(_table(name), _postings(name), exact=exact, units=units)
        settings = HybridConfig(**info.meta["hybrid"])
        depth = settings.depth if depth is None else depth
        fetch = depth * overfetch
        params = {"depth": int(depth), "fetch": fetch, "k": int(k), "rrf_k": settings.rrf_k, "probe": PROBE_LIMIT}
        out = []
        with self.conn.transaction(), self.conn.cursor() as cur:
            if not exact:  # exact: no ORDER BY distance, so no index scan of the vectors to turn off
                self._tune(cur, exact, fetch)
            cur.execute("SET LOCAL work_mem = '64MB'")  # many candidates aggregate in memory, not on disk
            # The plan depends on the query's terms (how common, how many candidates): a cached generic plan
            # (psycopg prepares a statement run 5 times) was 1.5x slower at p50 on the bench.
            cur.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            for v, tokens in zip(vectors, token_lists, strict=True):
                cur.execute(q, params | {"q": v, "terms": tokens})
                out.append(cur.fetchall())
        return out

    def search_hybrid(self, name: str, vectors: np.ndarray, token_lists, k: int = 10, *, exact: bool = False,
                      overfetch: int = 4, depth: int | None = None) -> list[list[tuple[str, float]]]:
        """Top-``k`` articles per query of a hybrid collection: the dense ranking (best section by cosine, top
        ``depth`` articles; every row with ``exact``, else ``depth * overfetch`` sections through the HNSW
        index) and the BM25 ranking of ``token_lists`` (each query's tokens as
        :func:`~embtune_core.core.lexical.tokenize` gives them with the collection's settings) fused by
        reciprocal rank fusion with the collection's ``rrf_k``, in one statement. Scores are the fused ones;
        ties go to the lower doc id. ``depth``: the collection's ``[hybrid] depth`` unless given (tests and
        the bench try others)."""
        return [[(d, float(s)) for d, s in rows]
                for rows in self._hybrid(name, vectors, token_lists, k, exact, overfetch, units=False, depth=depth)]

    def search_hybrid_hits(self, name: str, vectors: np.ndarray, token_lists, k: int = 10, *, exact: bool = False,
                           overfetch: int = 4) -> list[list[Hit]]:
        """:meth:`search_hybrid`, one hit per article with its best section and title (for display)."""
        return [[Hit(u, d, float(s), t) for d, s, u, t in rows]
                for rows in self._hybrid(name, vectors, token_lists, k, exact, overfetch, units=True)]

    def _tune(self, cur, exact: bool, limit: int) -> None:
        if exact:
            cur.execute("SET LOCAL enable_indexscan = off")
        else:
            cur.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(
                sql.Literal(min(1000, max(self.ef_search, limit)))))

    def get(self, name: str) -> CollectionInfo | None:
        row = self.conn.execute(
            "SELECT name, model, fingerprint, dim, doc_count, unit_count, corpus_hash, created, meta "
            "FROM embtune_collections WHERE name = %s", (name,)).fetchone()
        return _info(row) if row else None

    def list(self) -> list[CollectionInfo]:
        rows = self.conn.execute(
            "SELECT name, model, fingerprint, dim, doc_count, unit_count, corpus_hash, created, meta "
            "FROM embtune_collections ORDER BY created, name").fetchall()
        return [_info(r) for r in rows]

    def aliases(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT alias, collection FROM embtune_aliases").fetchall())

    def get_alias(self, alias: str) -> str | None:
        row = self.conn.execute("SELECT collection FROM embtune_aliases WHERE alias = %s", (alias,)).fetchone()
        return row[0] if row else None

    # -- changing ----------------------------------------------------------------------------------
    def set_alias(self, alias: str, name: str | None, *, note: str = "") -> str | None:
        """Point ``alias`` at collection ``name`` (``None`` removes it); returns the previous target."""
        if alias not in ALIASES:
            raise StoreError(f"unknown alias {alias!r}: use one of {', '.join(ALIASES)}")
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(727275)")  # the lock every alias change takes
            return self._set_alias(alias, name, note)

    def _set_alias(self, alias: str, name: str | None, note: str, *, remember: bool = True) -> str | None:
        """Point ``alias`` at ``name``. Its ``previous`` becomes the old target when ``remember`` and the target
        changes; a rollback passes ``remember=False`` so a second rollback cannot undo the first."""
        row = self.conn.execute("SELECT collection, previous FROM embtune_aliases WHERE alias = %s FOR UPDATE",
                                (alias,)).fetchone()
        current, previous = (row[0], row[1]) if row else (None, None)
        if name is None:
            self.conn.execute("DELETE FROM embtune_aliases WHERE alias = %s", (alias,))
        else:
            self._require(name)
            if not remember:
                previous = None
            elif current is not None and current != name:
                previous = current
            self.conn.execute(
                "INSERT INTO embtune_aliases (alias, collection, previous) VALUES (%s, %s, %s) ON CONFLICT (alias) "
                "DO UPDATE SET collection = EXCLUDED.collection, previous = EXCLUDED.previous, updated = now()",
                (alias, name, previous))
        self.conn.execute("INSERT INTO embtune_alias_log (alias, collection, previous, note) VALUES (%s, %s, %s, %s)",
                          (alias, name, current, note))
        return current

    def swap(self, moves: dict[str, str | None], *, expect: dict[str, str | None] | None = None, note: str = "",
             remember: bool = True) -> dict[str, str | None]:
        """Move several aliases in one transaction (promotion and rollback); returns their old targets.

        ``expect`` is what the caller saw before deciding (compare-and-swap): if another process moved an
        alias since, nothing changes and :class:`StoreError` says so.
        """
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(727275)")
            if expect is not None:
                rows = self.conn.execute("SELECT alias, collection FROM embtune_aliases WHERE alias = ANY(%s) "
                                         "FOR UPDATE", (list(expect),)).fetchall()
                now = {a: dict(rows).get(a) for a in expect}
                if now != expect:
                    raise StoreError(f"the aliases changed while deciding (expected {expect}, now {now}); "
                                     "look at them again and retry")
            return {a: self._set_alias(a, n, note, remember=remember) for a, n in moves.items()}

    def previous(self, alias: str) -> str | None:
        row = self.conn.execute("SELECT previous FROM embtune_aliases WHERE alias = %s", (alias,)).fetchone()
        return row[0] if row else None

    def drop(self, name: str) -> None:
        """Drop a collection and its registry row; refused while an alias points at it."""
        with self.conn.transaction():
            self._require(name)
            self._drop_unaliased(name)

    def _drop_unaliased(self, name: str) -> None:
        held = [a for a, c in self.aliases().items() if c == name]
        if held:
            raise StoreError(f"collection {name!r} is aliased as {', '.join(held)}; move the alias first")
        self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(name)))
        self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_postings(name)))
        self.conn.execute("DELETE FROM embtune_collections WHERE name = %s", (name,))


def _info(row) -> CollectionInfo:
    name, model, fp, dim, docs, units, corpus_hash, created, meta = row
    return CollectionInfo(name=name, model=model, fingerprint=fp, dim=dim, doc_count=docs, unit_count=units,
                          corpus_hash=corpus_hash, created=created.isoformat(timespec="seconds"), meta=meta or {})
