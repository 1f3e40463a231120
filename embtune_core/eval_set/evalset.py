"""Eval sets: the human-judged one, proxies drawn from signals, a labelling queue, BEIR export.

The **human-judged** set gives the headline numbers. A set drawn from satisfied clicks and tickets is
a **proxy**: users only click what the old search showed them, so it favours what the old search
already found; it is labelled ``proxy`` wherever it shows. Its split is group-aware: a query, its
normalised form, its token set and its near duplicates all land on the same side, and the eval side's
queries are returned as ``held_out`` so miners can keep them out of training.

The **labelling queue** turns zero-click and abandoned searches (where the complaints live) into
judged eval queries: a person picks the article(s) that answer each one; decisions are appended to a
JSONL log (last decision wins) and become a human-judged set.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..core.errors import InputError
from ..core.records import split_lines
from ..core.sources import Corpus, EvalSet
from ..core.text import normalize_query, query_groups


@dataclass(frozen=True)
class ProxySplit:
    evalset: EvalSet
    #: normalised queries on the eval side (and their group mates): never use them for training
    held_out: frozenset[str]
    groups: int


def signal_candidates(search_log: pl.DataFrame | None, tickets: pl.DataFrame | None) -> pl.DataFrame:
    """(query, norm_query, doc_id, source, count) from satisfied clicks and resolved tickets."""
    from ..core.privacy import scrub, signature_entities
    from ..mine_pairs.logs import satisfied_clicks

    frames = []
    if search_log is not None and search_log.height:
        s = satisfied_clicks(search_log)
        frames.append(s.group_by("norm_query", "doc_id").agg(
            pl.col("query").mode().sort().first().alias("query"), pl.len().alias("count"))
            .with_columns(pl.lit("search").alias("source")))
    if tickets is not None and tickets.height:
        # the subject scrubbed with the names and companies of its ticket's sign-off (search queries
        # arrive scrubbed: the log loader scrubs them)
        t = tickets.select(pl.struct("subject", "body").map_elements(
            lambda r: scrub(r["subject"], signature_entities(r["body"] or "")).strip(), return_dtype=pl.String)
            .alias("query"), pl.col("resolved").alias("doc_id")).explode("doc_id")
        t = t.with_columns(pl.col("query").map_elements(normalize_query, return_dtype=pl.String).alias("norm_query"))
        frames.append(t.group_by("norm_query", "doc_id").agg(pl.col("query").first(), pl.len().alias("count"))
                      .with_columns(pl.lit("ticket").alias("source")))
    if not frames:
        return pl.DataFrame(schema={"query": pl.String, "norm_query": pl.String, "doc_id": pl.String,
                                    "source": pl.String, "count": pl.UInt32})
    return pl.concat([f.select("query", "norm_query", "doc_id", "source", "count") for f in frames]) \
        .filter(pl.col("norm_query") != "").sort("norm_query", "doc_id", "source")


def build_proxy_evalset(candidates: pl.DataFrame, *, size: int = 150, seed: int = 0, encoder=None,
                        threshold: float = 0.9) -> ProxySplit:
    """Draw ``size`` query groups from signal candidates as a proxy eval set (group-aware)."""
    uq = sorted(set(candidates["query"].to_list()))
    gid = dict(zip(uq, query_groups(uq, encoder, threshold), strict=True))
    c = candidates.with_columns(pl.col("query").replace_strict(gid, return_dtype=pl.Int64).alias("group"))
    groups = sorted(c["group"].unique().to_list())
    random.Random(seed).shuffle(groups)
    chosen = groups[:size]
    queries, relevant, source, held = {}, {}, {}, set()
    for n, g in enumerate(chosen, start=1):
        rows = c.filter(pl.col("group") == g)
        top = rows.group_by("query").agg(pl.col("count").sum()).sort(["count", "query"], descending=[True, False])
        qid = f"p{n:04d}"
        queries[qid] = top["query"][0]
        relevant[qid] = frozenset(rows["doc_id"].to_list())
        source[qid] = rows["source"][0]
        held |= set(rows["norm_query"].to_list())
    ev = EvalSet(queries=queries, relevant=relevant, path="(proxy from signals)",
                 sha256=_digest(queries, relevant), kind="proxy", query_source=source)
    return ProxySplit(evalset=ev, held_out=frozenset(held), groups=len(groups))


def _digest(queries: dict, relevant: dict) -> str:
    import hashlib

    blob = json.dumps({q: [queries[q], sorted(relevant[q])] for q in sorted(queries)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


# --------------------------------------------------------------------------------------------------
# Labelling queue


class Judgments:
    """Append-only JSONL of judgments (who, when, query, doc_ids); the last one per query wins.

    A record says which articles answer a query, or ``no_answer`` (the docs do not answer it: a content
    gap, never an eval query), or ``skip`` (not judged: it leaves the queue, and changes nothing else).
    Each record is flushed and fsync'd before :meth:`add` returns, under an exclusive lock, so a killed
    kernel loses nothing and two writers interleave whole lines.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def add(self, query: str, doc_ids: list[str], *, who: str = "", skip: bool = False, no_answer: bool = False,
            source: str = "") -> None:
        """Append one judgment. ``source`` says where the query came from (``typed``, ``search log``,
        ``generated``): eval slices use it."""
        rec = {"query": query, "norm_query": normalize_query(query), "doc_ids": sorted(doc_ids), "skip": skip,
               "no_answer": no_answer, "source": source, "who": who or os.environ.get("USER", ""),
               "when": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0, os.SEEK_END)
            if f.tell():  # a line torn by a crash must not swallow this decision
                f.seek(f.tell() - 1)
                torn = f.read(1) != "\n"
                f.seek(0, os.SEEK_END)
                if torn:
                    f.write("\n")
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
            fcntl.flock(f, fcntl.LOCK_UN)

    def records(self) -> list[dict]:
        """Every readable record, oldest first (a line torn by a crash is left out; earlier ones stand)."""
        out = []
        if self.path.exists():
            for line in split_lines(self.path.read_text(encoding="utf-8")):
                if line.strip():
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(rec, dict) and isinstance(rec.get("norm_query"), str):
                        out.append(rec)
        return out

    def latest(self) -> dict[str, dict]:
        """The last record per normalised query, skips included."""
        return {rec["norm_query"]: rec for rec in self.records()}

    def evalset(self, corpus: Corpus) -> EvalSet:
        """The judged queries (skips left out) as a human-judged eval set."""
        ids = set(corpus.doc_ids())
        queries, relevant = {}, {}
        for n, rec in enumerate(sorted(self.latest().values(), key=lambda r: r["norm_query"]), start=1):
            if rec["skip"] or rec.get("no_answer") or not rec["doc_ids"]:
                continue
            unknown = [d for d in rec["doc_ids"] if d not in ids]
            if unknown:
                raise InputError(f"judgment names unknown doc {unknown[0]!r}", path=self.path, field="doc_ids")
            queries[f"l{n:04d}"] = rec["query"]
            relevant[f"l{n:04d}"] = frozenset(rec["doc_ids"])
        return EvalSet(queries=queries, relevant=relevant, path=str(self.path), sha256=_digest(queries, relevant),
                       kind="human", query_source={q: "labelled" for q in queries})


def labelling_queue(search_log: pl.DataFrame | None, judgments: Judgments) -> pl.DataFrame:
    """Zero-click and abandoned searches not judged yet, most frequent first (empty without a search log)."""
    from ..mine_pairs.logs import unanswered_searches

    done = set(judgments.latest())
    return unanswered_searches(search_log).filter(~pl.col("norm_query").is_in(list(done)))


# --------------------------------------------------------------------------------------------------
# BEIR export


BEIR_FILES = ("corpus.jsonl", "queries.jsonl", "qrels.tsv")


def export_beir(evalset: EvalSet, corpus: Corpus, folder: str | Path) -> Path:
    """Write ``corpus.jsonl``, ``queries.jsonl`` and ``qrels.tsv``; the folder appears whole or not at all.

    The new folder is built beside the old one and swapped in; anything else the old folder held (a
    README, checksums) is carried over. A swap interrupted by a crash is finished by the next call.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    old = folder.with_name(f".{folder.name}.old")
    if not folder.exists() and old.exists():  # a crash between the two renames below: put the old set back
        os.replace(old, folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        os.chmod(tmp, folder.stat().st_mode & 0o7777 if folder.is_dir() else 0o755)  # mkdtemp makes it 0700
        if folder.is_dir():
            for item in folder.iterdir():
                if item.name not in BEIR_FILES:
                    (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
        with open(tmp / "corpus.jsonl", "w", encoding="utf-8") as f:
            for d, t, x in corpus.docs.select("doc_id", "title", "text").iter_rows():
                f.write(json.dumps({"_id": d, "title": t, "text": x}, ensure_ascii=False) + "\n")
        with open(tmp / "queries.jsonl", "w", encoding="utf-8") as f:
            for q, text in evalset.queries.items():
                meta = {"source": evalset.query_source.get(q, evalset.kind), "kind": evalset.kind}
                f.write(json.dumps({"_id": q, "text": text, "metadata": meta}, ensure_ascii=False) + "\n")
        with open(tmp / "qrels.tsv", "w", encoding="utf-8") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for q in evalset.queries:
                for d in sorted(evalset.relevant[q]):
                    f.write(f"{q}\t{d}\t1\n")
        for name in BEIR_FILES:
            with open(tmp / name, "rb") as f:
                os.fsync(f.fileno())
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def cold_articles(corpus: Corpus, *covered: pl.DataFrame | None) -> set[str]:
    """Articles no signal frame (with a ``doc_id`` column, or ``resolved`` / ``clicks`` lists) touches."""
    touched: set[str] = set()
    for f in covered:
        if f is None:
            continue
        if "doc_id" in f.columns:
            touched |= set(f["doc_id"].to_list())
        if "resolved" in f.columns:
            touched |= set(f["resolved"].explode().drop_nulls().to_list())
        if "clicks" in f.columns:
            touched |= set(f["clicks"].explode().drop_nulls().struct.field("doc_id").to_list())
    return set(corpus.doc_ids()) - touched


__all__ = ["Judgments", "ProxySplit", "build_proxy_evalset", "cold_articles", "export_beir", "labelling_queue",
           "signal_candidates"]
