"""Search logs and click-through: which clicks mean "this answered my search"."""

from __future__ import annotations

import polars as pl

from ..core.text import normalize_query

#: A click with at least this dwell (seconds) is a satisfied click.
MIN_DWELL = 30.0
#: The last click of a session counts as satisfied unless it was a bounce shorter than this.
LAST_CLICK_MIN_DWELL = 10.0


def satisfied_clicks(log: pl.DataFrame, *, min_dwell: float = MIN_DWELL,
                     last_click_min_dwell: float = LAST_CLICK_MIN_DWELL) -> pl.DataFrame:
    """One row per satisfied click: a long dwell, or the last click of its session.

    Columns: search_id, session_id, query, norm_query, doc_id, position, dwell, reason, line (the log
    line: unique per search, unlike a ``search_id`` an export may repeat). A NaN dwell is a missing dwell.
    """
    clicks = (log.select("search_id", "session_id", "timestamp", "query", "clicks", "line")
              .explode("clicks").drop_nulls("clicks").unnest("clicks")
              .with_columns(pl.int_range(pl.len()).alias("_order"), pl.col("dwell").fill_nan(None)))
    if clicks.height == 0:
        return pl.DataFrame(schema={"search_id": pl.String, "session_id": pl.String, "query": pl.String,
                                    "norm_query": pl.String, "doc_id": pl.String, "position": pl.Int64,
                                    "dwell": pl.Float64, "reason": pl.String, "line": pl.Int64})
    last = pl.col("_order") == pl.col("_order").max().over("session_id")
    long = pl.col("dwell").fill_null(0) >= min_dwell
    last_ok = last & (pl.col("dwell").is_null() | (pl.col("dwell") >= last_click_min_dwell))
    return (clicks.filter(long | last_ok)
            .with_columns(pl.when(long).then(pl.lit("dwell")).otherwise(pl.lit("last_click")).alias("reason"),
                          pl.col("query").map_elements(normalize_query, return_dtype=pl.String).alias("norm_query"))
            .select("search_id", "session_id", "query", "norm_query", "doc_id", "position", "dwell", "reason",
                    "line"))


#: Columns of :func:`unanswered_searches`.
UNANSWERED_SCHEMA = {"norm_query": pl.String, "query": pl.String, "searches": pl.UInt32, "abandoned": pl.UInt32}


def unanswered_searches(log: pl.DataFrame | None) -> pl.DataFrame:
    """Zero-click searches, counted per normalised query, most frequent first: the complaints live here.

    Columns: norm_query, query (most common spelling), searches, abandoned (how many ended a session).
    A project without a search log (``None``) or an empty log has none: an empty frame of those columns.
    """
    if log is None or log.height == 0:
        return pl.DataFrame(schema=UNANSWERED_SCHEMA)
    last = log.with_columns(pl.int_range(pl.len()).alias("_order")).with_columns(
        (pl.col("_order") == pl.col("_order").max().over("session_id")).alias("_last"))
    zero = last.filter(pl.col("clicks").list.len() == 0).with_columns(
        pl.col("query").map_elements(normalize_query, return_dtype=pl.String).alias("norm_query"))
    return (zero.group_by("norm_query")
            .agg(pl.col("query").mode().first().alias("query"), pl.len().alias("searches"),
                 pl.col("_last").sum().alias("abandoned"))
            .filter(pl.col("norm_query") != "")
            .sort(["searches", "norm_query"], descending=[True, False]))


def mine_clicks(log: pl.DataFrame, *, min_dwell: float = MIN_DWELL) -> pl.DataFrame:
    """Candidate pairs from satisfied clicks, aggregated per (normalised query, article).

    ``weight`` is how many satisfied clicks support the pair; ``hard_negatives`` are results shown
    *above* a satisfied click and skipped (candidates only: a skipped result may still be relevant);
    ``source_ref`` lists the log lines.
    """
    sat = satisfied_clicks(log, min_dwell=min_dwell)
    shown = log.select("line", "results")  # joined on the log line: a repeated search_id must not fan out
    sat = sat.join(shown, on="line", how="left").with_columns(
        pl.struct("results", "position", "doc_id").map_elements(
            lambda r: [d for d in (r["results"] or [])[: max((r["position"] or 1) - 1, 0)] if d != r["doc_id"]],
            return_dtype=pl.List(pl.String)).alias("skipped"))
    return (sat.group_by("norm_query", "doc_id")
            .agg(pl.col("query").mode().sort().first().alias("query"), pl.len().alias("weight"),
                 pl.col("skipped").list.explode(keep_nulls=False, empty_as_null=False).unique().sort().alias("hard_negatives"),
                 pl.col("line").sort().cast(pl.String).str.join(",").alias("lines"))
            .with_columns(pl.lit("search").alias("source"),
                          (pl.lit("search_log:") + pl.col("lines")).alias("source_ref"))
            .drop("lines", "norm_query"))
