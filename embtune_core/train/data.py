"""Training data: read the pairs, split off a validation set, mix in general pairs, add hard negatives.

- only the loss's text columns (anchor, positive, negatives) reach the trainer later: sentence-transformers
  6 feeds any other column (``doc_id``, ``source``) to the model and ``NO_DUPLICATES`` then compares it;
- the validation split is of the *pairs*, grouped by normalised and near-duplicate query, never the eval
  set;
- hard negatives come from ``mine_hard_negatives`` with a relative margin against false negatives, never
  a sibling section of the positive's article.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..core.config import TrainConfig
from ..core.errors import InputError
from ..core.sources import Corpus, iter_jsonl
from ..core.text import query_groups


@dataclass(frozen=True)
class TrainData:
    train: pl.DataFrame  # anchor, positive[, negative_1..n], doc_id
    val: pl.DataFrame  # anchor, doc_id
    stats: dict = field(default_factory=dict)


def load_pairs(path: str | Path, corpus: Corpus | None = None) -> pl.DataFrame:
    """Read the tutorial's pairs JSONL (``query``, ``positive``; optional ``doc_id``, ``source``).

    Missing or empty fields are an :class:`InputError` naming the line; duplicates are dropped and
    counted in the frame's ``duplicates_dropped`` attribute of :func:`pairs_report`; positives that are
    not in the corpus (when a corpus is given and no ``doc_id`` maps them) are an error.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("pairs file not found", path=path)
    rows = []
    for n, line in iter_jsonl(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"malformed JSON ({e.msg})", path=path, line=n) from None
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", path=path, line=n)
        for key in ("query", "positive"):
            v = obj.get(key)
            if not isinstance(v, str) or not v.strip():
                raise InputError("missing or empty" if v is None or isinstance(v, str) else "must be a string",
                                 path=path, line=n, field=key)
        rows.append({"query": obj["query"].strip(), "positive": obj["positive"].strip(),
                     "doc_id": str(obj.get("doc_id") or ""), "source": str(obj.get("source") or "pairs"), "line": n})
    if not rows:
        raise InputError("no pairs", path=path)
    frame = pl.DataFrame(rows)
    if corpus is not None:
        by_text = {t.strip(): d for t, d in zip(corpus.unit_texts(), corpus.unit_doc_ids(), strict=True)}
        for d, t, x in corpus.docs.select("doc_id", "title", "text").iter_rows():
            by_text.setdefault(x.strip(), d)
            by_text.setdefault(f"{t}\n{x}".strip(), d)
        known = set(corpus.doc_ids())
        doc_ids = []
        for r in frame.iter_rows(named=True):
            d = r["doc_id"] if r["doc_id"] in known else by_text.get(r["positive"])
            if d is None and r["doc_id"]:
                raise InputError(f"doc_id {r['doc_id']!r} is not in the corpus", path=path, line=r["line"],
                                 field="doc_id")
            if d is None:
                # a section or passage of an article: find the article whose text contains it
                d = next((doc for doc, _, x in corpus.docs.select("doc_id", "title", "text").iter_rows()
                          if r["positive"][:200] in x), None)
            if d is None:
                raise InputError("positive is not a passage of the corpus (give doc_id, or pass the matching "
                                 "--corpus)", path=path, line=r["line"], field="positive")
            doc_ids.append(d)
        frame = frame.with_columns(pl.Series("doc_id", doc_ids))
    return frame.drop("line")


def split_validation(pairs: pl.DataFrame, *, fraction: float, seed: int, encoder=None,
                     threshold: float = 0.9) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train/validation split of the pairs, grouped so no query twin (normalised, token set, near
    duplicate) is on both sides. A group bigger than the validation budget stays in training; if the
    near-duplicate groups leave no room (an encoder that finds everything similar), the split falls back
    to normalised and token-set groups."""
    queries = pairs["query"].to_list()
    uq = sorted(set(queries))
    target = max(1, int(len(pairs) * fraction))
    for enc in ((encoder, None) if encoder is not None else (None,)):
        gid = dict(zip(uq, query_groups(uq, enc, threshold), strict=True))
        g_col = pl.col("query").replace_strict(gid, return_dtype=pl.Int64)
        size = dict(pairs.group_by(g_col.alias("g")).len().iter_rows())
        groups = sorted(size)
        random.Random(seed).shuffle(groups)
        val_groups, n = set(), 0
        for g in groups:
            if n >= target:
                break
            if n + size[g] <= target * 1.5:
                val_groups.add(g)
                n += size[g]
        if val_groups:
            break
    is_val = g_col.is_in(list(val_groups))
    return pairs.filter(~is_val), pairs.filter(is_val)


def prepare(pairs: pl.DataFrame, corpus: Corpus, config: TrainConfig, *, model=None, encoder=None,
            log: Callable[[str], None] = print) -> TrainData:
    """Dedupe, split, add general pairs and hard negatives. Only text columns go to the trainer later."""
    before = pairs.height
    pairs = pairs.unique(subset=["query", "positive"], keep="first", maintain_order=True)
    stats = {"pairs": before, "duplicates_dropped": before - pairs.height}
    train, val = split_validation(pairs, fraction=config.val_fraction, seed=config.seed, encoder=encoder)
    if train.height < config.batch_size:
        raise InputError(f"only {train.height} training pairs after the validation split, fewer than one batch "
                         f"of {config.batch_size}: mine more pairs or lower the batch size")
    stats.update(train=train.height, val=val.height,
                 per_source=dict(train.group_by("source").len().sort("source").iter_rows()))
    train = train.select(pl.col("query").alias("anchor"), "positive", "doc_id", "source")
    if config.general_pairs and config.general_share > 0:
        general = load_pairs(config.general_pairs)
        n = min(general.height, int(round(train.height * config.general_share / (1 - config.general_share))))
        general = general.sample(n, seed=config.seed, shuffle=True)
        train = pl.concat([train, general.select(pl.col("query").alias("anchor"), "positive",
                                                  pl.lit("__general__").alias("doc_id"),
                                                  pl.lit("general").alias("source"))])
        stats["general_pairs"] = n
    if config.hard_negatives and model is not None:
        train, random_per_source = add_hard_negatives(train, corpus, model, config, log=log)
        stats["hard_negatives"] = config.hard_negatives
        stats["hard_negatives_random"] = random_per_source
    return TrainData(train=train, val=val.select(pl.col("query").alias("anchor"), "doc_id"), stats=stats)


def describe_random_negatives(stats: dict) -> str | None:
    """The random-negative fills of a run (``stats`` of :func:`prepare`) in plain words, per source;
    ``None`` when every negative was mined."""
    filled = stats.get("hard_negatives_random") or {}
    if not sum(filled.values()):
        return None
    per = stats.get("per_source") or {}
    parts = [f"{source} {n:,} of {per[source]:,}" if source in per else f"{source} {n:,}"
             for source, n in sorted(filled.items(), key=lambda kv: -kv[1])]
    return (f"{sum(filled.values()):,} pairs trained against a random section instead of a hard negative "
            f"({', '.join(parts)}). For those queries the base model ranked no other article close enough to be "
            "a useful contrast without being suspiciously close to the answer: often the vocabulary gaps "
            "tuning is meant to close. A random negative is safe but teaches less; a high share for one "
            "source means its queries look little like the docs.")


def add_hard_negatives(train: pl.DataFrame, corpus: Corpus, model, config: TrainConfig,
                       log: Callable[[str], None] = print) -> tuple[pl.DataFrame, dict[str, int]]:
    """Mine ``config.hard_negatives`` per pair with sentence-transformers' ``mine_hard_negatives``.

    Candidates are the corpus's retrieval units ranked by the current model within
    ``hard_negative_range``, under the false-negative margin (``hard_negative_margin_kind``). A sibling
    section of the positive's article is never a negative (it is a false negative by construction);
    pairs left without enough candidates get a random unit from another article, so no pair is lost
    (none when every unit belongs to the pair's own articles). Returns the frame and, per source, how
    many negatives were filled at random.
    """
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    units, unit_docs = corpus.unit_texts(), corpus.unit_doc_ids()
    doc_of = dict(zip(units, unit_docs, strict=True))
    want = config.hard_negatives
    extra = want + 4  # room to drop sibling sections
    lo, hi = config.hard_negative_range
    ds = Dataset.from_dict({"anchor": train["anchor"].to_list(), "positive": train["positive"].to_list()})
    mined = mine_hard_negatives(ds, model, corpus=units, range_min=lo, range_max=hi,
                                num_negatives=extra, **{f"{config.hard_negative_margin_kind}_margin":
                                                        config.hard_negative_margin},
                                sampling_strategy="top", output_format="labeled-list", batch_size=64,
                                verbose=False)
    found: dict[str, list[str]] = {}
    for a, texts, labels in zip(mined["anchor"], mined["positive"], mined["labels"], strict=True):
        found.setdefault(a, []).extend(t for t, lab in zip(texts, labels, strict=True) if lab == 0)
    # every article the anchor is paired with is a positive: none of their sections may be a negative
    anchor_docs: dict[str, set[str]] = {}
    for a, d in train.select("anchor", "doc_id").iter_rows():
        anchor_docs.setdefault(a, set()).add(d)
    rng = random.Random(config.seed)
    out, random_per_source = [], {}
    for a, source in train.select("anchor", "source").iter_rows():
        negs = list(dict.fromkeys(t for t in found.get(a, []) if doc_of.get(t) not in anchor_docs[a]))[:want]
        if len(negs) < want:
            others = [t for t in units if doc_of[t] not in anchor_docs[a] and t not in negs]
            picked = rng.sample(others, min(want - len(negs), len(others)))
            random_per_source[source] = random_per_source.get(source, 0) + len(picked)
            negs += picked
        if not negs:
            raise InputError(f"no unit of the corpus lies outside the articles of the query {a!r}: there is no "
                             "negative to train against; set train.hard_negatives = 0 or add articles")
        out.append(negs + [negs[-1]] * (want - len(negs)))
    filled = sum(random_per_source.values())
    log(f"hard negatives: {want} per pair from mine_hard_negatives (ranks {lo}-{hi}, {config.hard_negative_margin_kind} "
        f"margin {config.hard_negative_margin}); {filled} of {len(out) * want} filled at random because no "
        "candidate passed the margin" + (f" ({', '.join(f'{s}: {n}' for s, n in sorted(random_per_source.items()))})"
                                         if filled else ""))
    frame = train.with_columns([pl.Series(f"negative_{i + 1}", [n[i] for n in out]) for i in range(want)])
    return frame, random_per_source
