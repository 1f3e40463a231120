"""Miners: turn real signals (search logs, tickets, docs, LLM queries) into candidate pairs.

:func:`mine_all` runs every configured miner and returns one frame of candidates with provenance
(``source``, ``source_ref``, ``weight``), a stable ``pair_id`` and, for split articles, the article's
best-matching section as the positive (``section_id`` records which).
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from ..core.sources import Corpus
from ..core.text import normalize_query
from ..core.workspace import write_parquet
from .filters import apply, score
from .review import ReviewStore

#: Column order of a candidate frame.
COLUMNS = ("pair_id", "query", "doc_id", "section_id", "positive", "source", "source_ref", "weight",
           "hard_negatives")


def pair_id(query: str, doc_id: str, source: str) -> str:
    """Stable id: hash of the normalised *original* query, the article and the source."""
    return hashlib.sha256(f"{normalize_query(query)}\0{doc_id}\0{source}".encode()).hexdigest()[:16]


def _align(frame: pl.DataFrame) -> pl.DataFrame:
    for col, dtype in (("section_id", pl.String), ("positive", pl.String), ("weight", pl.UInt32),
                       ("hard_negatives", pl.List(pl.String))):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(col))
    return frame.with_columns(pl.col("weight").cast(pl.UInt32).fill_null(1),
                              pl.col("hard_negatives").fill_null([]))


def mine_all(project, encoder, *, llm: pl.DataFrame | None = None, progress=None) -> pl.DataFrame:
    """Every miner the project has data for, merged, with best sections and pair ids.

    ``encoder`` (base model, cached) picks the best-matching section of split articles. ``llm`` adds
    freshly generated queries (``doc_id``, ``query``, ``source_ref``) to the project's shipped cache.
    """
    from .docs import mine_docs
    from .logs import mine_clicks
    from .tickets import mine_tickets

    cfg = project.config
    frames = []
    if project.search_log is not None:
        frames.append(mine_clicks(project.search_log, min_dwell=cfg.mining.min_dwell))
    if project.tickets is not None:
        frames.append(mine_tickets(project.tickets))
    llm_frames = [f for f in (project.llm_queries, llm) if f is not None]
    known = set(project.corpus.doc_ids())
    for f in llm_frames:
        frames.append(f.filter(pl.col("doc_id").is_in(list(known))).with_columns(pl.lit("llm").alias("source")))
    if cfg.mining.doc_pairs:
        frames.append(mine_docs(project.corpus))
    cand = pl.concat([_align(f).select("query", "doc_id", "section_id", "positive", "source", "source_ref",
                                       "weight", "hard_negatives") for f in frames], how="vertical_relaxed")
    cand = cand.filter(pl.col("query").str.strip_chars() != "")
    cand = cand.with_columns(pl.struct("query", "doc_id", "source").map_elements(
        lambda r: pair_id(r["query"], r["doc_id"], r["source"]), return_dtype=pl.String).alias("pair_id"))
    cand = (cand.group_by("pair_id", maintain_order=True)
            .agg(pl.col("query").first(), pl.col("doc_id").first(), pl.col("section_id").first(),
                 pl.col("positive").first(), pl.col("source").first(),
                 pl.col("source_ref").str.join(";"), pl.col("weight").sum(),
                 pl.col("hard_negatives").list.explode(keep_nulls=False, empty_as_null=False).unique().sort()))
    return assign_sections(cand, project.corpus, encoder).select(COLUMNS)


def assign_sections(cand: pl.DataFrame, corpus: Corpus, encoder) -> pl.DataFrame:
    """Fill ``section_id``/``positive`` with the article's best-matching unit under the base model."""
    units = corpus.sections
    cand = cand.with_row_index("_row")
    todo = cand.filter(pl.col("section_id").is_null())
    if todo.height == 0:
        return cand.drop("_row")
    unit_vec = encoder.encode(units["text"].to_list(), "document")
    by_doc: dict[str, list[int]] = {}
    for i, d in enumerate(units["doc_id"].to_list()):
        by_doc.setdefault(d, []).append(i)
    queries = todo["query"].to_list()
    qv = encoder.encode(queries, "query")
    sids, positives = [], []
    unit_ids, unit_text = units["section_id"].to_list(), units["text"].to_list()
    for q, d in zip(range(len(queries)), todo["doc_id"].to_list(), strict=True):
        idx = by_doc[d]
        best = idx[int(np.argmax(unit_vec[idx] @ qv[q]))] if len(idx) > 1 else idx[0]
        sids.append(unit_ids[best])
        positives.append(unit_text[best])
    filled = todo.with_columns(pl.Series("section_id", sids), pl.Series("positive", positives))
    return pl.concat([cand.filter(pl.col("section_id").is_not_null()), filled]).sort("_row").drop("_row")


def mine_project(project, encoder=None, *, llm: pl.DataFrame | None = None) -> pl.DataFrame:
    """Mine, score (base model) and save ``workspace/candidates.parquet``; returns the scored frame.

    Scores depend on the base model only, so thresholds can change afterwards without re-mining.
    ``encoder`` defaults to the project's base encoder.
    """
    encoder = encoder or project.base_encoder()
    scored = score(mine_all(project, encoder, llm=llm), project.corpus, encoder)
    path = project.workspace.path("candidates.parquet")
    write_parquet(path, scored)
    project.workspace.record("candidates", path, inputs={k: v for k, v in project.input_hashes().items()
                                                         if k not in ("eval", "config")},
                             config_hash=project.config.hash("mining"), model_fingerprint=encoder.fingerprint)
    return scored


def load_candidates(project) -> pl.DataFrame | None:
    """The saved scored candidates, or ``None`` when step 2 has not run yet."""
    path = project.workspace.path("candidates.parquet")
    return pl.read_parquet(path) if path.exists() else None


def filtered_candidates(project, encoder=None) -> pl.DataFrame:
    """The saved candidates (mined first when step 2 has not run) under the project's filter thresholds."""
    scored = load_candidates(project)
    if scored is None:
        scored = mine_project(project, encoder)
    return apply(scored, project.config.filters)


def review_store(project) -> ReviewStore:
    """The project's review log (``workspace/review.sqlite``)."""
    return ReviewStore(project.workspace.path("review.sqlite"))
