"""Support tickets -> the article(s) that resolved them. Personal data is scrubbed first."""

from __future__ import annotations

import re

import polars as pl

from ..core.privacy import scrub, signature_entities

_GREETING = re.compile(r"^(hi|hello|hey|dear|good (morning|afternoon))\b[^\n]*$", re.I)


def first_meaningful_sentence(body: str) -> str:
    """The first sentence of the body that is not a greeting or a placeholder line."""
    for para in scrub(body).split("\n"):
        para = para.strip()
        if not para or _GREETING.match(para) or para.startswith("["):
            continue
        return re.split(r"(?<=[.!?])\s", para, maxsplit=1)[0].strip()
    return ""


def mine_tickets(tickets: pl.DataFrame, *, with_body: bool = True) -> pl.DataFrame:
    """One candidate per (ticket, resolving article): the scrubbed subject, plus the body's first
    meaningful sentence when ``with_body``."""
    rows = []
    for t in tickets.iter_rows(named=True):
        entities = signature_entities(t["body"])
        subject = scrub(t["subject"], entities).strip()
        query = subject
        if with_body:
            first = first_meaningful_sentence(t["body"])
            first = scrub(first, entities)
            if first and first.lower() not in subject.lower():
                query = f"{subject}. {first}" if subject else first
        for d in t["resolved"]:
            rows.append({"query": query, "doc_id": d, "weight": 1, "hard_negatives": [], "source": "ticket",
                         "source_ref": f"ticket:{t['ticket_id']}"})
    schema = {"query": pl.String, "doc_id": pl.String, "weight": pl.UInt32, "hard_negatives": pl.List(pl.String),
              "source": pl.String, "source_ref": pl.String}
    return pl.DataFrame(rows, schema=schema)
