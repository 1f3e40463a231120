"""Judge an eval set by hand: pooled candidates for a question, judgments saved as the project's BEIR set.

A person types a question (or takes one from the labelling queue or the generated questions), sees a
**pooled** list of articles — BM25's and the dense base model's top lists interleaved, as TREC pools
runs, so the judged set does not favour either retriever — and marks the relevant articles, skips, or
flags "no answer in the docs". Notebook 03 and ``embtune judge`` make the same calls:

- :func:`pooled_candidates` lists what to judge for one question;
- :func:`judge` appends the judgment to the log first (:class:`~.evalset.Judgments`: fsync'd, locked),
  then :func:`save_judged_set` rewrites ``[eval] path`` (``queries.jsonl``, ``qrels.tsv``,
  ``corpus.jsonl``) in one folder swap (:func:`~.evalset.export_beir`), under a lock beside the folder.
  A killed kernel loses no judgment; two tabs lose no write (each save re-reads the whole log).

The written set keeps the queries the folder already held (a hand-written set grows instead of being
replaced); a judgment of one of its queries updates it, "no answer" removes it.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..core.errors import InputError
from ..core.sources import EvalSet, load_eval_set
from ..core.text import normalize_query
from ..core.workspace import file_lock
from .evalset import Judgments, _digest, export_beir, labelling_queue

#: The tutorial's floor for a held-out set: 50 to 200 real questions.
TARGET_QUERIES = 50
#: What the notebook and ``embtune judge`` say about judging (the tutorial's advice, in our words).
ADVICE = ("Judge real questions: what people typed into your search box, asked support or asked in chat, "
          "not questions written from the articles. Aim for 50 to 200 of them, judge them before you train, "
          "and never put them in the training pairs: they measure every step after this one.")
#: Where the judged queries came from (``query_source`` of the written set).
SOURCES = ("typed", "search log", "generated")
_WORD = re.compile(r"[a-z0-9]{3,}")
_HEADING_MARK = re.compile(r"(?m)^#{1,6}\s+")


@dataclass(frozen=True)
class Candidate:
    """One article of the pool for a question."""

    rank: int
    doc_id: str
    title: str
    #: The heading of the article's section that best matches the question (``""`` when unsplit).
    heading: str
    snippet: str
    url: str
    unit_id: str
    #: The article's rank in each retriever's top list (``None``: not in it). Not shown while judging.
    bm25_rank: int | None
    dense_rank: int | None


@dataclass(frozen=True)
class JudgingProgress:
    """How far the eval set is toward :data:`TARGET_QUERIES`."""

    judged: int
    no_answer: int
    skipped: int
    #: Queries of the saved eval set (the judged ones plus any the folder held before).
    in_set: int
    target: int = TARGET_QUERIES

    @property
    def remaining(self) -> int:
        return max(0, self.target - self.in_set)

    def summary(self) -> str:
        head = f"{self.in_set} of {self.target} eval queries"
        more = f"{self.remaining} to go" if self.remaining else "enough to measure; up to 200 narrows the intervals"
        return (f"{head} ({more}); {self.judged} judged here, {self.no_answer} with no answer in the docs, "
                f"{self.skipped} skipped")


@dataclass(frozen=True)
class SavedEvalSet:
    """The eval set as written to ``[eval] path`` and loaded back (``evalset.sha256`` is what steps record)."""

    path: str
    evalset: EvalSet
    progress: JudgingProgress

    @property
    def sha256(self) -> str:
        return self.evalset.sha256


def judgments_log(project) -> Judgments:
    """The project's judgment log, ``workspace/eval/judgments.jsonl``."""
    return Judgments(project.workspace.path("eval", "judgments.jsonl"))


def eval_folder(project) -> Path:
    """``[eval] path`` of the project, where the judged set is written."""
    folder = project.config.resolve(project.config.eval.path)
    if folder is None:
        raise InputError("[eval] path is empty: set it to the folder the eval set lives in (e.g. \"eval\")")
    return folder


# --------------------------------------------------------------------------------------------------
# The pool


def pooled_candidates(project, query: str, k: int = 10, *, models: dict | None = None) -> list[Candidate]:
    """The articles to judge for ``query``: BM25's and the dense base model's top ``k`` interleaved
    (one from each in turn, duplicates once), cut at ``k``. Which retriever leads alternates with the
    question (a hash), so neither is systematically on top. Each article shows the section that best
    matches the question under the base model, a snippet around the question's words, and its URL."""
    query = query.strip()
    if not query:
        raise InputError("the question is empty", field="query")
    corpus = project.corpus
    bm25 = project.retriever("bm25", models=models).search([query], k)[0]
    dense_r = project.retriever(project.config.model.base, models=models)
    dense = dense_r.search([query], k)[0]
    lists = [[d for d, _ in dense], [d for d, _ in bm25]]
    if int(hashlib.sha256(normalize_query(query).encode()).hexdigest(), 16) % 2:
        lists.reverse()
    pooled: list[str] = []
    for pair in zip(*(lst + [None] * (k - len(lst)) for lst in lists), strict=True):
        for d in pair:
            if d is not None and d not in pooled:
                pooled.append(d)
    pooled = pooled[:k]
    if not pooled:
        return []
    units = corpus.sections
    unit_vecs = dense_r.encoder.encode(corpus.unit_texts(), "document")
    qv = dense_r.encoder.encode([query], "query")[0]
    scores = unit_vecs @ qv
    best: dict[str, int] = {}
    for i, d in enumerate(units["doc_id"].to_list()):
        if d not in best or scores[i] > scores[best[d]]:
            best[d] = i
    docs = corpus.docs.select("doc_id", "title", "url").rows_by_key("doc_id", unique=True)
    bm_rank = {d: r for r, (d, _) in enumerate(bm25, start=1)}
    dn_rank = {d: r for r, (d, _) in enumerate(dense, start=1)}
    out = []
    for rank, d in enumerate(pooled, start=1):
        u = units.row(best[d], named=True)
        title, url = docs[d]
        out.append(Candidate(rank=rank, doc_id=d, title=title, heading=u["heading"] or "",
                             snippet=snippet(u["text"], query), url=url or "", unit_id=u["section_id"],
                             bm25_rank=bm_rank.get(d), dense_rank=dn_rank.get(d)))
    return out


def snippet(unit_text: str, query: str, width: int = 220) -> str:
    """About ``width`` characters of a retrieval unit's body (its title line dropped), starting at the
    sentence where the question's first word appears (else at the start)."""
    body = unit_text.split("\n", 1)[1] if "\n" in unit_text else unit_text
    body = " ".join(_HEADING_MARK.sub("", body).split())
    low = body.lower()
    hits = [low.find(w) for w in _WORD.findall(query.lower()) if low.find(w) >= 0]
    start = 0
    if hits:
        first = min(hits)
        start = max(low.rfind(". ", 0, first) + 2, 0) if low.rfind(". ", 0, first) >= 0 else 0
    text = body[start:]
    if len(text) <= width:
        return ("… " if start else "") + text
    cut = text.rfind(" ", 0, width)
    return ("… " if start else "") + text[:cut if cut > 0 else width] + " …"


def candidates_frame(cands: list[Candidate]) -> pl.DataFrame:
    """The pool as a table (what the notebook shows and ``embtune judge --list`` prints)."""
    return pl.DataFrame([{"rank": c.rank, "doc_id": c.doc_id, "title": c.title, "section": c.heading,
                          "snippet": c.snippet, "url": c.url} for c in cands],
                        schema={"rank": pl.Int64, "doc_id": pl.String, "title": pl.String, "section": pl.String,
                                "snippet": pl.String, "url": pl.String})


# --------------------------------------------------------------------------------------------------
# Questions to judge


def question_sources(project, judgments: Judgments | None = None, *, limit: int = 500) -> pl.DataFrame:
    """Questions waiting for a judgment: zero-click and abandoned searches (most frequent first), then
    generated questions (the project's LLM queries and those step 2 generated), none judged yet.
    Columns: query, source (``search log`` / ``generated``), detail."""
    judgments = judgments or judgments_log(project)
    done = set(judgments.latest())
    queue = labelling_queue(project.search_log, judgments).head(limit).select(
        "query", pl.lit("search log").alias("source"),
        pl.format("{} searches, {} abandoned", "searches", "abandoned").alias("detail"))
    frames = [queue]
    gen = _generated(project)
    if gen is not None and gen.height:
        titles = project.corpus.titles()
        gen = (gen.with_columns(pl.col("query").map_elements(normalize_query, return_dtype=pl.String).alias("_n"))
               .filter(~pl.col("_n").is_in(list(done))).unique("_n", keep="first", maintain_order=True)
               .head(limit))
        frames.append(gen.select("query", pl.lit("generated").alias("source"),
                                 pl.col("doc_id").replace_strict(titles, default="").alias("_t"))
                      .select("query", "source", (pl.lit("written for: ") + pl.col("_t")).alias("detail")))
    return pl.concat(frames, how="vertical_relaxed")


def _generated(project) -> pl.DataFrame | None:
    from ..mine_pairs.llm import project_generated

    frames = [f for f in (project.llm_queries, project_generated(project))
              if f is not None and f.height]
    if not frames:
        return None
    known = set(project.corpus.doc_ids())
    return pl.concat([f.select("doc_id", "query") for f in frames]).filter(pl.col("doc_id").is_in(list(known)))


# --------------------------------------------------------------------------------------------------
# Judging and saving


def judge(project, query: str, relevant: list[str] | tuple[str, ...] = (), *, no_answer: bool = False,
          skip: bool = False, source: str = "typed", who: str = "",
          judgments: Judgments | None = None) -> SavedEvalSet:
    """Record one judgment and save the project's eval set. Exactly one of ``relevant`` (article ids),
    ``no_answer`` or ``skip``. Unknown article ids raise :class:`InputError` before anything is written;
    after that the judgment is in the log even if saving the set fails (a malformed set on disk).
    The question is scrubbed (:func:`~embtune_core.core.privacy.scrub`) before it is written anywhere."""
    from ..core.privacy import scrub

    query = " ".join(scrub(query or "").split())
    if not query:
        raise InputError("the question is empty", field="query")
    relevant = sorted(dict.fromkeys(relevant))
    if sum((bool(relevant), no_answer, skip)) != 1:
        raise InputError("judge a question one way: the relevant article ids, or no answer in the docs, or skip",
                         field="relevant")
    if source not in SOURCES:
        raise InputError(f"unknown question source {source!r} (one of {', '.join(SOURCES)})", field="source")
    known = project.corpus.doc_ids()
    for d in relevant:
        if d not in set(known):
            close = difflib.get_close_matches(d, known, n=1)
            raise InputError(f"unknown article id {d!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                             field="relevant")
    judgments = judgments or judgments_log(project)
    with _set_lock(project):
        judgments.add(query, relevant, who=who, skip=skip, no_answer=no_answer, source=source)
        return _save(project, judgments)


def save_judged_set(project, judgments: Judgments | None = None) -> SavedEvalSet:
    """Write the judged eval set to ``[eval] path`` and load it back as the project's eval set.

    Under a lock beside the folder: read the set the folder holds (strict: a malformed set raises and
    nothing is written), apply the log's judgments (the last non-skip one per normalised query wins),
    write the three BEIR files in one folder swap. Judged queries get ids from their normalised text
    (``j`` + a hash), so two writers write the same set."""
    with _set_lock(project):
        return _save(project, judgments or judgments_log(project))


def _set_lock(project):
    """The lock of the eval set's folder, held beside it (a lock file inside would be swapped away)."""
    folder = eval_folder(project)
    return file_lock(folder.with_name(f".{folder.name}.lock"))


def _save(project, judgments: Judgments) -> SavedEvalSet:
    folder, corpus = eval_folder(project), project.corpus
    known = set(corpus.doc_ids())
    existing = load_eval_set(folder, corpus, kind="human") if project.has_eval_set else None
    records = judgments.records()
    latest = {r["norm_query"]: r for r in records if not r.get("skip")}
    for rec in latest.values():
        gone = [d for d in rec["doc_ids"] if d not in known]
        if gone:
            raise InputError(f"the judgment of {rec['query']!r} names {gone[0]!r}, which the docs no longer hold; "
                             "judge the question again", path=judgments.path, field="doc_ids")
    queries, relevant, source = {}, {}, {}
    seen: set[str] = set()
    for qid, text in (existing.queries.items() if existing is not None else ()):
        norm = normalize_query(text)
        rec = latest.get(norm)
        seen.add(norm)
        if rec is None:
            queries[qid], relevant[qid] = text, existing.relevant[qid]
            source[qid] = existing.query_source.get(qid, "human")
        elif not rec.get("no_answer") and rec["doc_ids"]:
            queries[qid], relevant[qid] = text, frozenset(rec["doc_ids"])
            source[qid] = existing.query_source.get(qid) or rec.get("source") or "typed"
    for norm, rec in latest.items():
        if norm in seen or rec.get("no_answer") or not rec["doc_ids"]:
            continue
        qid = "j" + hashlib.sha256(norm.encode()).hexdigest()[:10]
        queries[qid], relevant[qid] = rec["query"], frozenset(rec["doc_ids"])
        source[qid] = rec.get("source") or "typed"
    if not queries and existing is None:  # nothing judged yet: a folder without queries is no eval set
        return SavedEvalSet(str(folder), EvalSet({}, {}, str(folder), _digest({}, {})), _progress(records, 0))
    export_beir(EvalSet(queries, relevant, str(folder), _digest(queries, relevant), kind="human",
                        query_source=source), corpus, folder)
    saved = project.reload_eval_set()
    return SavedEvalSet(str(folder), saved, _progress(records, len(saved)))


def _progress(records: list[dict], in_set: int) -> JudgingProgress:
    judged = {r["norm_query"]: r for r in records if not r.get("skip")}
    skipped = {r["norm_query"] for r in records if r.get("skip")} - set(judged)
    return JudgingProgress(judged=sum(1 for r in judged.values() if not r.get("no_answer") and r["doc_ids"]),
                           no_answer=sum(1 for r in judged.values() if r.get("no_answer")),
                           skipped=len(skipped), in_set=in_set)


def judging_progress(project, judgments: Judgments | None = None) -> JudgingProgress:
    """Progress toward :data:`TARGET_QUERIES` without writing anything."""
    records = (judgments or judgments_log(project)).records()
    return _progress(records, len(project.eval_set) if project.has_eval_set else 0)


__all__ = ["ADVICE", "TARGET_QUERIES", "Candidate", "JudgingProgress", "SavedEvalSet", "candidates_frame",
           "eval_folder", "judge", "judging_progress", "judgments_log", "pooled_candidates", "question_sources",
           "save_judged_set", "snippet"]
