"""Filters for candidate pairs. Every rejection keeps its reason.

Scoring (:func:`score`) runs the base model once: the article's rank for each query (round trip and
headroom), and each query's similarity to the best *other* query for the same article (near
duplicates). Applying thresholds (:func:`apply`) is plain polars on those scores, so moving a slider in
notebook 02 re-filters thousands of pairs in milliseconds.

Reasons: ``too_short``, ``too_long``, ``duplicate`` (same normalised query and article from a
higher-priority source), ``near_duplicate``, ``too_easy`` (copies the title or a sentence of the
positive; not applied to docs pairs whose query *is* the title), ``garbage`` (refusals, prompt echoes,
non-language), for **docs pairs only** ``ambiguous`` (a heading that names more than
``ambiguous_max_articles`` articles, like "Overview", "OPTIONS" or "Troubleshooting", is no query), and
for **LLM queries only** ``roundtrip`` (the base model does not rank their article in
its top ``roundtrip_k``). Click and ticket pairs the base model misses are never dropped: they are the
vocabulary gap fine-tuning closes, reported as *headroom*.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import Stemmer

from ..core.config import FilterConfig
from ..core.evaluate import topk_articles
from ..core.sources import Corpus
from ..core.text import normalize_query

#: When the same query/article pair comes from several sources, the first one here wins.
SOURCE_PRIORITY = ("search", "ticket", "llm", "docs")
REASONS = ("too_short", "too_long", "duplicate", "near_duplicate", "too_easy", "garbage", "ambiguous", "roundtrip")
_REFUSAL = re.compile(r"\b(i'?m sorry|i cannot|i can'?t (help|assist)|as an ai|language model|i am unable)\b", re.I)
_ECHO = re.compile(r"\b(generate|write|list)\b.*\b(questions?|queries)\b|\b(this|the) article\b", re.I)
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")


_STEM = Stemmer.Stemmer("english")
_STOP = frozenset("""a an and are as at be by can do does for from get has have how i if in is it its my of on or
our the their there this to was we what when where which who why will with you your""".split())


def _tokens(s: str) -> set[str]:
    """Stemmed content words: "Fixing accounting sync errors" ~ "how do I fix accounting sync error"."""
    return set(_STEM.stemWords([w for w in normalize_query(s).split() if w not in _STOP and len(w) > 1]))


def easy_score(query: str, title: str, positive: str) -> float:
    """Max of token overlap with the title (Jaccard) and containment of the query in one sentence."""
    q = _tokens(query)
    if not q:
        return 0.0
    t = _tokens(title)
    best = len(q & t) / len(q | t) if t else 0.0
    if len(q) >= 4:  # shorter queries share a sentence's words by chance
        for sent in _SENT.split(positive):
            s = _tokens(sent)
            if s:
                best = max(best, len(q & s) / len(q))
    return best


def is_garbage(query: str) -> bool:
    """Refusals, prompt echoes, and non-language (mostly symbols or digits, or keyboard mash).

    Short abbreviations users really type ("nrr", "csv", "asc 606") are language.
    """
    chars = [c for c in query if not c.isspace()]
    letters = sum(c.isalpha() for c in chars)
    mash = any(len(w) >= 8 and not re.search(r"[aeiouy]", w, re.I) for w in re.findall(r"[^\W\d_]+", query))
    return bool(_REFUSAL.search(query) or _ECHO.search(query) or letters < 0.4 * max(len(chars), 1) or mash)


def score(cand: pl.DataFrame, corpus: Corpus, encoder, *, k: int = 100) -> pl.DataFrame:
    """Add model and text scores: base_rank, near_dup_sim, easy_score, garbage, priority, dup_rank."""
    titles = corpus.titles()
    unit_vec = encoder.encode(corpus.unit_texts(), "document")
    queries = cand["query"].to_list()
    qv = encoder.encode(queries, "query")
    hits = topk_articles(qv, unit_vec, corpus.unit_doc_ids(), k=k)
    ranks = [next((r + 1 for r, (d, _) in enumerate(h) if d == doc), None)
             for h, doc in zip(hits, cand["doc_id"].to_list(), strict=True)]
    prio = {s: i for i, s in enumerate(SOURCE_PRIORITY)}
    out = cand.with_columns(
        pl.Series("base_rank", ranks, dtype=pl.Int64),
        pl.Series("easy_score", [easy_score(q, titles[d], p) for q, d, p in
                                 zip(queries, cand["doc_id"].to_list(), cand["positive"].to_list(), strict=True)]),
        pl.Series("garbage", [is_garbage(q) for q in queries]),
        pl.col("source").replace_strict(prio, default=len(prio), return_dtype=pl.Int64).alias("priority"),
        pl.Series("norm_query", [normalize_query(q) for q in queries]),
        pl.Series("_row", range(len(queries))),
    )
    # how many articles the same (normalised) query points at, among pairs of its source
    out = out.with_columns(pl.col("doc_id").n_unique().over(["norm_query", "source"]).alias("n_articles"))
    # order inside each article: higher-priority source, then more support, then pair id
    out = out.sort(["doc_id", "priority", "weight", "pair_id"], descending=[False, False, True, False])
    out = out.with_columns(pl.col("_row").cum_count().over(["norm_query", "doc_id"]).sub(1).alias("dup_rank"))
    near = np.zeros(out.height)
    rows = out["_row"].to_numpy()
    docs = out["doc_id"].to_list()
    start = 0
    for i in range(1, out.height + 1):
        if i == out.height or docs[i] != docs[start]:
            block = rows[start:i]
            if len(block) > 1:
                v = qv[block]
                sim = np.tril(v @ v.T, k=-1)  # only compare with pairs ranked above
                near[start:i] = sim.max(axis=1)
            start = i
    return out.with_columns(pl.Series("near_dup_sim", near)).drop("_row")


def apply(scored: pl.DataFrame, cfg: FilterConfig) -> pl.DataFrame:
    """Add ``reasons`` (list of reasons, empty when kept) and ``kept``. Cheap: no model involved."""
    if "n_articles" not in scored.columns:  # candidates scored before the ambiguous filter existed
        norm = pl.col("query").map_elements(normalize_query, return_dtype=pl.String)
        scored = scored.with_columns(pl.col("doc_id").n_unique().over(norm, "source").alias("n_articles"))
    words = pl.col("query").str.split(" ").list.len()
    checks = [
        ("too_short", pl.col("query").str.strip_chars().str.len_chars() < cfg.min_chars),
        ("too_long", words > cfg.max_words),
        ("duplicate", pl.col("dup_rank") > 0),
        ("near_duplicate", (pl.col("dup_rank") == 0) & (pl.col("near_dup_sim") >= cfg.near_duplicate)),
        ("too_easy", (pl.col("source") != "docs") & (pl.col("easy_score") >= cfg.too_easy)),
        ("garbage", pl.col("garbage")),
        ("ambiguous", (pl.col("source") == "docs") & (pl.col("n_articles") > cfg.ambiguous_max_articles)),
        ("roundtrip", (pl.col("source") == "llm")
         & (pl.col("base_rank").is_null() | (pl.col("base_rank") > cfg.roundtrip_k))),
    ]
    reasons = pl.concat_list([pl.when(cond).then(pl.lit(name)).otherwise(pl.lit(None)) for name, cond in checks])
    return scored.with_columns(reasons.list.drop_nulls().alias("reasons")).with_columns(
        (pl.col("reasons").list.len() == 0).alias("kept"))


def summary(filtered: pl.DataFrame) -> pl.DataFrame:
    """Per source: candidates, kept, and rejections per reason (a pair may have several)."""
    base = filtered.group_by("source").agg(pl.len().alias("candidates"), pl.col("kept").sum().alias("kept"))
    reasons = (filtered.select("source", "reasons").explode("reasons").drop_nulls("reasons")
               .group_by("source", "reasons").len().pivot(on="reasons", index="source", values="len"))
    out = base.join(reasons, on="source", how="left")
    for r in REASONS:
        if r not in out.columns:
            out = out.with_columns(pl.lit(0, dtype=pl.UInt32).alias(r))
    return out.select("source", "candidates", "kept", *REASONS).fill_null(0).sort("source")


def headroom(scored: pl.DataFrame, k: int = 5) -> dict:
    """How many click and ticket pairs the base model misses (article not in its top ``k``)."""
    real = scored.filter(pl.col("source").is_in(["search", "ticket"]))
    missed = real.filter(pl.col("base_rank").is_null() | (pl.col("base_rank") > k)).height
    return {"pairs": real.height, "missed_at_k": missed, "k": k,
            "share": missed / real.height if real.height else 0.0}
