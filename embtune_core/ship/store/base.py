"""The store's vocabulary: collection names, registry rows, hits and the :class:`VectorStore` protocol."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ...core.errors import StoreError

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

    @property
    def kind(self) -> str:
        """``hybrid`` when the collection also holds BM25 postings (``meta["lexical"]``), else ``dense``."""
        return "hybrid" if self.meta.get("lexical") else "dense"

    @property
    def retriever(self) -> str:
        """The retriever spec the collection serves: ``hybrid:<model>`` or the model."""
        return f"hybrid:{self.model}" if self.kind == "hybrid" else self.model


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

    def write_postings(self, handle: str, terms: Sequence[str], unit_ids: Sequence[str], doc_ids: Sequence[str],
                       weights: Sequence[float], heads: Sequence[bool]) -> None:
        """Add BM25 postings ``(term, unit, article, weight)`` to a hybrid build's staging side; ``heads``
        marks each term's ``[hybrid] depth`` highest weights (its highest at least)."""

    def discard(self, handle: str) -> None: ...

    def search(self, name: str, vectors: np.ndarray, k: int = 10, *, exact: bool = False) -> list[list[Hit]]: ...

    def search_articles(self, name: str, vectors: np.ndarray, k: int = 10, *,
                        exact: bool = False) -> list[list[tuple[str, float]]]: ...

    def search_hybrid(self, name: str, vectors: np.ndarray, token_lists: Sequence[Sequence[str]], k: int = 10, *,
                      exact: bool = False) -> list[list[tuple[str, float]]]:
        """Top-``k`` articles per query, dense and BM25 fused by reciprocal rank fusion (one statement)."""

    def search_hybrid_hits(self, name: str, vectors: np.ndarray, token_lists: Sequence[Sequence[str]],
                           k: int = 10, *, exact: bool = False) -> list[list[Hit]]:
        """:meth:`search_hybrid` with each article's best section and title, for display."""

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
