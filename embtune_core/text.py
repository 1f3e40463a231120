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
