"""Pairs from the docs themselves: title -> body, and heading -> its section. Free, noisy augmentation."""

from __future__ import annotations

import polars as pl

from ..core.sources import Corpus


def mine_docs(corpus: Corpus) -> pl.DataFrame:
    """Title -> article (or its first section), and each heading -> its own section.

    The positive is the body *without* the query's own title line, so the pair is not a copy.
    """
    rows = []
    titles = corpus.titles()
    for sid, doc, heading, text in corpus.sections.select("section_id", "doc_id", "heading", "text").iter_rows():
        body = text.split("\n", 1)[1] if "\n" in text else text
        if heading:
            rows.append({"query": heading, "doc_id": doc, "section_id": sid, "positive": body,
                         "source_ref": f"heading:{sid}"})
        if sid == doc or sid.endswith("#1"):
            rows.append({"query": titles[doc], "doc_id": doc, "section_id": sid, "positive": body,
                         "source_ref": f"title:{doc}"})
    return pl.DataFrame(rows, schema={k: pl.String for k in ("query", "doc_id", "section_id", "positive",
                                                                "source_ref")}).with_columns(
        pl.lit(1, dtype=pl.UInt32).alias("weight"), pl.lit([], dtype=pl.List(pl.String)).alias("hard_negatives"),
        pl.lit("docs").alias("source"))
