"""Postgres + pgvector implementation of :class:`~embtune_core.ship.store.base.VectorStore` (psycopg 3).

Layout: one table per collection, ``ec_<name>`` (unit_id, doc_id, title, text, embedding vector(dim)),
with an HNSW cosine index; a registry ``embtune_collections``; aliases ``embtune_aliases``
(alias -> collection, with the previous target for rollback); an audit trail ``embtune_alias_log``.
Identifiers are always composed with ``psycopg.sql.Identifier`` after :func:`validate_name`.

A collection is built in a staging table (``ecstage_<random>``) and published by renaming it in one
transaction together with its registry row, so readers see either the old state or the finished
collection, never a half-filled one.
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


_STAGE = re.compile(r"^ecstage_(\d+)_[0-9a-f]+$")
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
        return handle

    def _target(self, handle: str) -> sql.Identifier:
        return sql.Identifier(handle) if _STAGE.match(handle) else _table(handle)

    def upsert(self, handle: str, unit_ids: Sequence[str], doc_ids: Sequence[str], titles: Sequence[str],
               texts: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace rows (by ``unit_id``) in a staging table or a published collection."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if not (len(unit_ids) == len(doc_ids) == len(titles) == len(texts) == vectors.shape[0]):
            raise StoreError("upsert: ids, doc ids, titles, texts and vectors differ in length")
        target = self._target(handle)
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
        """Build the HNSW index, then rename the staging table and register it, in one transaction."""
        stage = self._target(handle)
        self.conn.execute("SET maintenance_work_mem = '512MB'")  # the HNSW graph builds in memory: much faster
        self.conn.execute(sql.SQL(
            "CREATE INDEX {} ON {} USING hnsw (embedding vector_cosine_ops) WITH (m = {}, ef_construction = {})"
        ).format(sql.Identifier(f"{handle}_hnsw"), stage, sql.Literal(self.hnsw_m),
                 sql.Literal(self.hnsw_ef_construction)))
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
            self.conn.execute(
                "INSERT INTO embtune_collections (name, model, fingerprint, dim, doc_count, unit_count, "
                "corpus_hash, meta) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (info.name, info.model, info.fingerprint, info.dim, info.doc_count, info.unit_count,
                 info.corpus_hash, json.dumps(info.meta)))

    def discard(self, handle: str) -> None:
        self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(self._target(handle)))

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
                        "ORDER BY s DESC, doc_id LIMIT %s").format(t)
        else:
            q = sql.SQL("SELECT doc_id, max(s) AS s FROM (SELECT doc_id, 1 - (embedding <=> %s) AS s FROM {} "
                        "ORDER BY embedding <=> %s LIMIT %s) AS hits GROUP BY doc_id ORDER BY s DESC, doc_id "
                        "LIMIT %s").format(t)
        out = []
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._tune(cur, exact, k * overfetch)
            for v in np.asarray(vectors, dtype=np.float32):
                cur.execute(q, (v, k) if exact else (v, v, k * overfetch, k))
                out.append([(d, float(s)) for d, s in cur.fetchall()])
        return out

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
                now = {a: self.get_alias(a) for a in expect}
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
        self.conn.execute("DELETE FROM embtune_collections WHERE name = %s", (name,))


def _info(row) -> CollectionInfo:
    name, model, fp, dim, docs, units, corpus_hash, created, meta = row
    return CollectionInfo(name=name, model=model, fingerprint=fp, dim=dim, doc_count=docs, unit_count=units,
                          corpus_hash=corpus_hash, created=created.isoformat(timespec="seconds"), meta=meta or {})
