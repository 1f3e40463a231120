"""Hand review of candidate pairs: accept, reject or edit, one decision per row of a SQLite log.

Decisions are keyed by the stable ``pair_id`` (hash of the normalised *original* query, the article and
the source), so an edited query keeps its id and decisions survive re-mining. Every decision is its own
committed transaction in a WAL-mode database with a busy timeout: a killed process loses nothing, and
two browser tabs or two reviewers writing at once lose no write. The last decision for a pair wins.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import polars as pl

from ..core.config import FilterConfig

DECISIONS = ("accept", "reject", "edit")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pair_id TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'edit')),
    query TEXT,
    who TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_pair ON decisions (pair_id, id);
"""


class ReviewStore:
    """The review log of one workspace (``review.sqlite``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def decide(self, pair_id: str, decision: str, *, query: str | None = None, who: str = "") -> None:
        """Record one decision (``edit`` needs the new query; an edited pair counts as accepted). An edited
        query is typed text: it is scrubbed (:func:`~embtune_core.core.privacy.scrub`) before it is stored."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
        if decision == "edit" and not (query and query.strip()):
            raise ValueError("an edit needs the new query text")
        if query and query.strip():
            from ..core.privacy import scrub

            query = scrub(query)
        at = _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO decisions (pair_id, decision, query, who, at) VALUES (?, ?, ?, ?, ?)",
                       (pair_id, decision, query.strip() if query else None, who or os.environ.get("USER", ""), at))
            db.execute("COMMIT")

    def decide_many(self, pair_ids, decision: str, *, who: str = "") -> None:
        for pid in pair_ids:
            self.decide(pid, decision, who=who)

    def latest(self) -> pl.DataFrame:
        """The last decision per pair: pair_id, decision, query (edited text or null), who, at."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT pair_id, decision, query, who, at FROM decisions WHERE id IN "
                              "(SELECT MAX(id) FROM decisions GROUP BY pair_id) ORDER BY pair_id").fetchall()
        return pl.DataFrame(rows, schema={"pair_id": pl.String, "decision": pl.String, "edited_query": pl.String,
                                          "who": pl.String, "at": pl.String}, orient="row")

    def count(self) -> int:
        with closing(self._connect()) as db:
            return db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]


def with_decisions(filtered: pl.DataFrame, store: ReviewStore) -> pl.DataFrame:
    """Join the last decisions; ``final`` is whether the pair is exported, ``final_query`` its text.

    A pair is exported when a person accepted or edited it, or when the filters kept it and nobody
    rejected it (auto-accepted).
    """
    d = store.latest()
    out = filtered.join(d, on="pair_id", how="left")
    return out.with_columns(
        (pl.col("decision").is_in(["accept", "edit"]) | (pl.col("kept") & pl.col("decision").is_null())).alias("final"),
        pl.coalesce("edited_query", "query").alias("final_query"))


def review_queue(filtered: pl.DataFrame, cfg: FilterConfig, store: ReviewStore) -> pl.DataFrame:
    """Undecided pairs, nearest a filter threshold first (where a person's judgment matters most)."""
    decided = store.latest()["pair_id"].to_list()
    margin = pl.min_horizontal(
        (pl.col("near_dup_sim") - cfg.near_duplicate).abs(),
        (pl.col("easy_score") - cfg.too_easy).abs(),
        pl.when(pl.col("source") == "llm").then(
            (pl.col("base_rank").fill_null(1000) - cfg.roundtrip_k).abs() / cfg.roundtrip_k).otherwise(1.0),
    )
    return (filtered.filter(~pl.col("pair_id").is_in(decided))
            .with_columns(margin.alias("margin")).sort(["margin", "pair_id"]))


def progress(filtered: pl.DataFrame, store: ReviewStore) -> pl.DataFrame:
    """Per source: pairs, reviewed, accepted (incl. edited), rejected."""
    j = with_decisions(filtered, store)
    return (j.group_by("source").agg(
        pl.len().alias("pairs"), pl.col("decision").is_not_null().sum().alias("reviewed"),
        pl.col("decision").is_in(["accept", "edit"]).sum().alias("accepted"),
        (pl.col("decision") == "reject").sum().alias("rejected"), pl.col("final").sum().alias("exported"))
        .sort("source"))
