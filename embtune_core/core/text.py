"""Query normalisation shared by mining, splitting and the leakage audit."""

from __future__ import annotations

import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_WS = re.compile(r"\s+")


def normalize_query(q: str) -> str:
    """Lowercase, accents folded, punctuation dropped, whitespace collapsed."""
    q = unicodedata.normalize("NFKD", q)
    q = "".join(c for c in q if not unicodedata.combining(c)).lower()
    return _WS.sub(" ", _PUNCT.sub(" ", q)).strip()


def token_set(q: str) -> str:
    """The sorted set of a query's normalised tokens: "refund invoice" == "invoice, refund!"."""
    return " ".join(sorted(set(normalize_query(q).split())))


def query_groups(queries: list[str], encoder=None, threshold: float = 0.9) -> list[int]:
    """Group ids for ``queries``: union-find over equal normalised form, equal token set and, with an
    ``encoder``, cosine >= ``threshold`` (near duplicates)."""
    parent = list(range(len(queries)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a, b):
        parent[find(a)] = find(b)

    for keyfn in (normalize_query, token_set):
        first: dict[str, int] = {}
        for i, q in enumerate(queries):
            k = keyfn(q)
            if k in first:
                union(i, first[k])
            else:
                first[k] = i
    if encoder is not None and len(queries) > 1:
        v = encoder.encode(queries, "query")
        for s in range(0, len(queries), 512):
            sim = v[s:s + 512] @ v.T
            for a, b in zip(*(sim >= threshold).nonzero(), strict=True):
                if s + a != b:
                    union(s + a, b)
    return [find(i) for i in range(len(queries))]
