"""Loaders and validation for what people actually have: docs, search logs, tickets, eval sets.

Docs and eval judgments are *strict*: the first problem raises :class:`InputError` naming file, line
and field. Logs and tickets are *tolerant* the way real exports need: bad lines and clicks on unknown
or deleted articles are counted, skipped and reported with ``file:line``, up to a configured share of
the file; past it, the same clear error.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl

from .errors import InputError
from .records import is_missing, iter_jsonl, read_records, seconds, split_lines, text_or_none, whole_number
from .records import parse_json_object as _parse_json_object
from .records import read_text as _read_text

# --------------------------------------------------------------------------------------------------
# Docs and sections


@dataclass(frozen=True)
class Corpus:
    """Articles and their retrieval units.

    ``docs`` has one row per article (doc_id, title, text, url, category). ``sections`` has one row
    per retrieval unit (section_id, doc_id, heading, text): the whole article when it is short or
    splitting is off, otherwise one row per ``##`` section. Metrics are always article-level.
    """

    docs: pl.DataFrame
    sections: pl.DataFrame
    source: str
    #: The format the docs were read as (``auto`` resolved: markdown, html, jsonl, beir, export).
    format: str = ""
    #: ``"file[:line]: reason"`` for each page or record left out on purpose (redirect or empty HTML
    #: pages, drafts and empty records of an export).
    skipped: tuple[str, ...] = ()

    @property
    def split(self) -> bool:
        return self.sections.height != self.docs.height

    def doc_ids(self) -> list[str]:
        return self.docs["doc_id"].to_list()

    def titles(self) -> dict[str, str]:
        return dict(zip(self.docs["doc_id"], self.docs["title"], strict=True))

    def unit_texts(self) -> list[str]:
        """Texts of the retrieval units in ``sections`` order, as they are embedded."""
        return self.sections["text"].to_list()

    def unit_doc_ids(self) -> list[str]:
        return self.sections["doc_id"].to_list()

    def url_index(self) -> dict[str, str]:
        """Normalised article URL path, doc id and lowercased doc id -> doc_id, for mapping clicked URLs.

        Clicks name articles case-insensitively (``KB-1``, ``kb-1``) and resolve to the corpus's own
        spelling; an exact id wins over a URL path, which wins over a lowercased id (of ids differing
        only in case: the all-lowercase one, else the first in the corpus).
        """
        pairs = list(zip(self.docs["doc_id"], self.docs["url"], strict=True))
        index: dict[str, str] = {}
        for doc_id, _ in pairs:
            index.setdefault(doc_id.lower(), doc_id)
        index.update((normalize_url(url), doc_id) for doc_id, url in pairs if url)
        index.update((doc_id, doc_id) for doc_id, _ in pairs)
        return index


def doc_text(title: str, body: str) -> str:
    """The text embedded for an article or section: its title line, then its body."""
    return f"{title}\n{body}".strip()


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_H2 = re.compile(r"^##\s+(.+?)\s*#*\s*$", re.M)
DOC_FIELDS = ("id", "title", "text", "url", "category")


def load_docs(path: str | Path, fmt: str = "auto", *, split: bool = True, split_min_words: int = 400,
              fields=None) -> Corpus:
    """Load articles from a Markdown folder, a folder of HTML pages, a JSONL file (``id,title,text,url``),
    a BEIR corpus or a help-center export (:mod:`.doc_formats`; ``fields``: its
    :class:`~.config.DocsFields`). ``auto`` picks with :func:`~.doc_formats.detect_docs_format`.

    Raises :class:`InputError` on the first malformed line, missing or misspelt field, wrong type,
    empty text, duplicate id or undecodable file, and when nothing is found (saying what was looked
    for). Empty and redirect HTML pages and export drafts are skipped and listed in ``Corpus.skipped``.
    """
    from .doc_formats import detect_docs_format, export_rows, html_rows, no_documents

    path = Path(path)
    if not path.exists():
        raise InputError("docs not found", path=path)
    detected = fmt == "auto"
    if detected:
        fmt = detect_docs_format(path)
    skipped: list[str] = []
    if fmt == "markdown":
        rows = list(_markdown_rows(path))
    elif fmt in ("jsonl", "beir"):
        id_key = "_id" if fmt == "beir" else "id"
        rows = list(_jsonl_doc_rows(path, id_key))
    elif fmt == "html":
        rows = list(html_rows(path, skipped))
    elif fmt == "export":
        rows = list(export_rows(path, fields, skipped))
    else:
        raise InputError(f"unknown docs format {fmt!r}", path=path)
    if not rows:
        raise no_documents(path, fmt, skipped, detected=detected)
    seen: dict[str, str] = {}
    for r in rows:
        if r["doc_id"] in seen:
            raise InputError(f"duplicate id {r['doc_id']!r} (first seen at {seen[r['doc_id']]})",
                             path=r["_where"][0], line=r["_where"][1], field="id")
        seen[r["doc_id"]] = f"{r['_where'][0]}:{r['_where'][1]}"
    docs = pl.DataFrame(
        {k: [r[k] for r in rows] for k in ("doc_id", "title", "text", "url", "category")},
        schema={k: pl.String for k in ("doc_id", "title", "text", "url", "category")},
    )
    return Corpus(docs=docs, sections=split_sections(docs, split=split, min_words=split_min_words), source=str(path),
                  format=fmt, skipped=tuple(skipped))


def split_sections(docs: pl.DataFrame, *, split: bool = True, min_words: int = 400) -> pl.DataFrame:
    """Retrieval units: the whole article, or one unit per ``##`` section for long articles.

    A section's text carries the article title and its heading so it stands on its own; text before
    the first heading joins the first section.
    """
    ids, doc_ids, heads, texts = [], [], [], []
    for doc_id, title, text in zip(docs["doc_id"], docs["title"], docs["text"], strict=True):
        parts = _H2.split(text) if split and len(text.split()) > min_words else [text]
        if len(parts) < 5:  # fewer than two headings: keep whole
            parts = [text]
        if len(parts) == 1:
            ids.append(doc_id), doc_ids.append(doc_id), heads.append(""), texts.append(doc_text(title, text))
            continue
        intro = parts[0].strip()
        for n, i in enumerate(range(1, len(parts), 2)):
            heading, body = parts[i].strip(), parts[i + 1].strip()
            if n == 0 and intro:
                body = intro + "\n\n" + body
            ids.append(f"{doc_id}#{n + 1}")
            doc_ids.append(doc_id)
            heads.append(heading)
            texts.append(doc_text(f"{title} - {heading}", body))
    return pl.DataFrame({"section_id": ids, "doc_id": doc_ids, "heading": heads, "text": texts},
                        schema={k: pl.String for k in ("section_id", "doc_id", "heading", "text")})


def _markdown_rows(folder: Path) -> Iterator[dict]:
    for p in sorted([*folder.rglob("*.md"), *folder.rglob("*.markdown")]):
        text = _read_text(p)
        meta: dict[str, str] = {}
        m = _FRONT.match(text)
        body = text
        if m:
            for n, line in enumerate(split_lines(m.group(1)), start=2):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if ":" not in line:
                    raise InputError("front matter line is not 'key: value'", path=p, line=n)
                k, v = line.split(":", 1)
                meta[k.strip()] = v.strip().strip("\"'")
            body = text[m.end():]
        body = body.strip()
        title = meta.get("title")
        if not title:
            h1 = re.match(r"#\s+(.+)\n", body)
            if not h1:
                raise InputError("no title: add 'title:' front matter or a '# Heading' first line",
                                 path=p, line=1, field="title")
            title, body = h1.group(1).strip(), body[h1.end():].strip()
        if not body:
            raise InputError("empty text", path=p, line=1, field="text")
        yield {"doc_id": meta.get("id") or p.stem, "title": title, "text": body, "url": meta.get("url", ""),
               "category": meta.get("category", ""), "_where": (p, 1)}


def _require_str(obj: dict, key: str, path: Path, n: int, *, allowed: tuple[str, ...], empty_ok=False) -> str:
    if key not in obj:
        close = difflib.get_close_matches(key, [k for k in obj if k not in allowed], n=1, cutoff=0.6)
        hint = f" (found {close[0]!r}: misspelt?)" if close else ""
        raise InputError(f"missing field{hint}", path=path, line=n, field=key)
    v = obj[key]
    if not isinstance(v, str):
        raise InputError(f"must be a string, got {type(v).__name__}", path=path, line=n, field=key)
    if not empty_ok and not v.strip():
        raise InputError("empty", path=path, line=n, field=key)
    return v


def _jsonl_doc_rows(path: Path, id_key: str) -> Iterator[dict]:
    allowed = (id_key, "title", "text", "url", "category", "metadata", "section")
    for n, line in iter_jsonl(path):
        obj = _parse_json_object(path, n, line)
        doc_id = obj.get(id_key)
        if isinstance(doc_id, int) and not isinstance(doc_id, bool):
            obj[id_key] = str(doc_id)
        doc_id = _require_str(obj, id_key, path, n, allowed=allowed)
        text = _require_str(obj, "text", path, n, allowed=allowed)
        title = _require_str(obj, "title", path, n, allowed=allowed, empty_ok=True) if "title" in obj else ""
        url = _require_str(obj, "url", path, n, allowed=allowed, empty_ok=True) if "url" in obj else ""
        yield {"doc_id": doc_id, "title": title, "text": text, "url": url, "category": str(obj.get("category", "")),
               "_where": (path, n)}


# --------------------------------------------------------------------------------------------------
# URLs

_LOCALE = re.compile(r"^[a-z]{2}([-_][a-z]{2,4})?$", re.I)


def normalize_url(url: str) -> str:
    """Reduce a clicked help-center URL to a stable key: the lowercase path, no locale prefix.

    Drops scheme and host, every query parameter (``utm_*``, ``gclid``, ``ref`` ...), ``#anchors``,
    trailing slashes, ``.html`` suffixes and locale segments (``/en/``, ``/de-de/``, ``/pt_BR/``). A
    bare doc id passes through unchanged (lowercased).
    """
    url = url.strip()
    parts = urlsplit(url if "://" in url or url.startswith("/") else "/" + url)
    segs = [s for s in parts.path.split("/") if s]
    segs = [s for s in segs if not _LOCALE.match(s)]
    if segs and segs[-1].endswith(".html"):
        segs[-1] = segs[-1][:-5]
    return "/".join(segs).lower()


def resolve_doc_id(url: str, index: dict[str, str]) -> str | None:
    """Map a clicked URL (or bare id) to a doc id via :meth:`Corpus.url_index`; ``None`` when unknown.

    The id as written first, then the normalised URL (lowercase), then its last path segment.
    """
    raw = url.strip()
    if raw in index:
        return index[raw]
    key = normalize_url(url)
    if key in index:
        return index[key]
    last = key.rsplit("/", 1)[-1]
    return index.get(last)


# --------------------------------------------------------------------------------------------------
# Tolerant tabular signals: search logs and tickets


@dataclass
class LoadReport:
    """What a tolerant loader skipped, with ``file:line`` for each problem.

    ``max_bad_share`` counts *problem lines*: lines that are unreadable, and lines naming an article the
    docs do not have (a click or a resolving article), each line once.
    """

    path: str
    rows_read: int = 0
    rows_kept: int = 0
    bad_lines: list[str] = field(default_factory=list)
    unknown_doc_refs: list[str] = field(default_factory=list)
    problem_lines: set[int] = field(default_factory=set)

    def bad(self, line: int, reason: str) -> None:
        """Record an unreadable line."""
        self.bad_lines.append(f"{self.path}:{line}: {reason}")
        self.problem_lines.add(line)

    def unknown(self, line: int, ref: object) -> None:
        """Record a reference to an article the docs do not have."""
        from .privacy import mask_secrets

        self.unknown_doc_refs.append(f"{self.path}:{line}: unknown article {mask_secrets(repr(ref), env=False)}")
        self.problem_lines.add(line)

    @property
    def bad_share(self) -> float:
        return len(self.problem_lines) / self.rows_read if self.rows_read else 0.0

    def summary(self) -> str:
        return (f"{self.path}: kept {self.rows_kept} of {self.rows_read} rows; {len(self.bad_lines)} bad lines, "
                f"{len(self.unknown_doc_refs)} references to unknown articles skipped")


def _as_list(v) -> list:
    if v is None or is_missing(v):
        return []
    if isinstance(v, list):
        return v
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return []
        if s.startswith("["):
            return json.loads(s)
        return [x.strip() for x in re.split(r"[|,;]", s) if x.strip()]
    raise ValueError(f"expected a list, got {type(v).__name__}")


def _check_share(report: LoadReport, max_share: float, path: Path) -> None:
    if report.rows_read == 0:
        raise InputError("no rows", path=path)
    if report.bad_share > max_share:
        parts = [f"{len(report.problem_lines)} of {report.rows_read} lines are bad "
                 f"({report.bad_share:.0%} > max_bad_share {max_share:.0%})"]
        if report.bad_lines:
            parts.append(f"{len(report.bad_lines)} unreadable, first: " + "; ".join(report.bad_lines[:3]))
        if report.unknown_doc_refs:
            parts.append(f"{len(report.unknown_doc_refs)} references to articles not in the docs (do the URLs "
                         "or ids match the docs?), e.g. " + "; ".join(report.unknown_doc_refs[:3]))
        raise InputError("; ".join(parts), path=path)


def _fields(fields) -> tuple[str, ...]:
    return tuple(v for v in vars(fields).values() if isinstance(v, str))


def load_search_log(path: str | Path, fields, corpus: Corpus, *, fmt: str = "auto",
                    max_bad_share: float = 0.05) -> tuple[pl.DataFrame, LoadReport]:
    """One row per search: search_id, session_id, timestamp, query, results (doc ids), clicks.

    ``query`` is what the user typed **scrubbed** (:func:`~.privacy.scrub`: e-mails, phone numbers,
    cards, IBANs, API keys and tokens, account ids, names ... become ``[KIND]`` placeholders), so
    nothing read from the log (candidates, pairs, judgments, the labelling queue, proxy sets) holds
    them.

    ``clicks`` is a list of ``{doc_id, position, dwell}``; clicked URLs are normalised to doc ids
    (case-insensitively) and clicks on unknown articles are dropped and reported; their lines count
    toward ``max_bad_share``. A missing or null ``search_id`` becomes ``line<N>``; a search without a
    session is a session of its own. ``position`` must be a whole number; ``dwell`` a number >= 0
    (NaN reads as a missing dwell). ``fields`` is a :class:`SearchLogFields`.
    """
    from .privacy import scrub

    path = Path(path)
    index = corpus.url_index()
    report = LoadReport(str(path))
    rows = []
    for n, rec in read_records(path, fmt, expected=_fields(fields)):
        report.rows_read += 1
        if isinstance(rec, str):
            report.bad(n, rec)
            continue
        try:
            query = rec[fields.query]
            if not isinstance(query, str):
                raise ValueError(f"field '{fields.query}' is not a string")
            results = []
            for u in _as_list(rec.get(fields.results)):
                d = resolve_doc_id(str(u), index)
                if d is not None:
                    results.append(d)
            clicks, unknown = [], []
            for c in _as_list(rec.get(fields.clicks)):
                if isinstance(c, str):
                    c = {fields.click_url: c}
                if not isinstance(c, dict):
                    raise ValueError(f"field '{fields.clicks}': a click is {type(c).__name__}, not an object")
                d = resolve_doc_id(str(c[fields.click_url]), index)
                if d is None:
                    unknown.append(c[fields.click_url])
                    continue
                clicks.append({"doc_id": d, "position": whole_number(c.get(fields.click_position), fields.click_position),
                               "dwell": seconds(c.get(fields.click_dwell), fields.click_dwell)})
            search_id = text_or_none(rec.get(fields.search_id)) or f"line{n}"
            rows.append({
                "search_id": search_id,
                "session_id": text_or_none(rec.get(fields.session)) or f"search:{search_id}",
                "timestamp": text_or_none(rec.get(fields.timestamp)) or "",
                "query": scrub(query.strip()).strip(),
                "results": results,
                "clicks": clicks,
                "line": n,
            })
            for ref in unknown:
                report.unknown(n, ref)
        except (KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
            report.bad(n, f"missing field {e}" if isinstance(e, KeyError) else str(e))
    report.rows_kept = len(rows)
    _check_share(report, max_bad_share, path)
    schema = {"search_id": pl.String, "session_id": pl.String, "timestamp": pl.String, "query": pl.String,
              "results": pl.List(pl.String),
              "clicks": pl.List(pl.Struct({"doc_id": pl.String, "position": pl.Int64, "dwell": pl.Float64})),
              "line": pl.Int64}
    return pl.DataFrame(rows, schema=schema), report


def load_tickets(path: str | Path, fields, corpus: Corpus, *, fmt: str = "auto",
                 max_bad_share: float = 0.05) -> tuple[pl.DataFrame, LoadReport]:
    """One row per ticket: ticket_id, subject, body, resolved (doc ids). Unknown articles are skipped, and
    their lines count toward ``max_bad_share``; a ticket none of whose articles exists is a bad line."""
    path = Path(path)
    index = corpus.url_index()
    report = LoadReport(str(path))
    rows = []
    for n, rec in read_records(path, fmt, expected=_fields(fields)):
        report.rows_read += 1
        if isinstance(rec, str):
            report.bad(n, rec)
            continue
        try:
            subject, body = rec[fields.subject], rec.get(fields.body) or ""
            if not isinstance(subject, str) or not subject.strip():
                raise ValueError(f"field '{fields.subject}' is empty or not a string")
            resolved = []
            for ref in _as_list(rec.get(fields.resolved)):
                d = resolve_doc_id(str(ref), index)
                if d is None:
                    report.unknown(n, ref)
                else:
                    resolved.append(d)
            if not resolved:
                raise ValueError("no resolving article that exists in the docs")
            rows.append({"ticket_id": text_or_none(rec.get(fields.id)) or f"line{n}", "subject": subject.strip(),
                         "body": str(body), "resolved": resolved, "line": n})
        except (KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
            report.bad(n, f"missing field {e}" if isinstance(e, KeyError) else str(e))
    report.rows_kept = len(rows)
    _check_share(report, max_bad_share, path)
    schema = {"ticket_id": pl.String, "subject": pl.String, "body": pl.String, "resolved": pl.List(pl.String),
              "line": pl.Int64}
    return pl.DataFrame(rows, schema=schema), report


# --------------------------------------------------------------------------------------------------
# Eval sets (BEIR layout) and the complaints list: strict


@dataclass(frozen=True)
class EvalSet:
    """Queries and their relevant article ids. ``kind`` is ``human`` or ``proxy`` (click-built)."""

    queries: dict[str, str]
    relevant: dict[str, frozenset[str]]
    path: str
    sha256: str
    kind: str = "human"
    #: Optional per-query source label (e.g. ``search``, ``ticket``, ``human``) for slices.
    query_source: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.queries)


def load_eval_set(folder: str | Path, corpus: Corpus | None = None, *, kind: str = "human") -> EvalSet:
    """Load a BEIR folder's ``queries.jsonl`` and ``qrels.tsv`` (``qrels/test.tsv`` also accepted).

    Judgments naming an unknown query, or a doc missing from ``corpus`` (when given, else from the
    folder's own ``corpus.jsonl``), raise :class:`InputError`. A query without any relevant doc is an
    error too: sentence-transformers would silently drop it from the denominator.
    """
    from .workspace import hash_file

    folder = Path(folder)
    qpath = folder / "queries.jsonl"
    rpath = folder / "qrels.tsv"
    if not rpath.exists() and (folder / "qrels" / "test.tsv").exists():
        rpath = folder / "qrels" / "test.tsv"
    for p in (qpath, rpath):
        if not p.exists():
            raise InputError("missing (BEIR layout needs queries.jsonl and qrels.tsv)", path=p)
    if corpus is not None:
        doc_ids = set(corpus.doc_ids())
    elif (folder / "corpus.jsonl").exists():
        doc_ids = set(load_docs(folder / "corpus.jsonl", "beir", split=False).doc_ids())
    else:
        raise InputError("missing, and no corpus was given to check judgments against", path=folder / "corpus.jsonl")
    queries: dict[str, str] = {}
    source: dict[str, str] = {}
    for n, line in iter_jsonl(qpath):
        obj = _parse_json_object(qpath, n, line)
        if isinstance(obj.get("_id"), int):
            obj["_id"] = str(obj["_id"])
        qid = _require_str(obj, "_id", qpath, n, allowed=("_id", "text", "metadata"))
        text = _require_str(obj, "text", qpath, n, allowed=("_id", "text", "metadata"))
        if qid in queries:
            raise InputError(f"duplicate query id {qid!r}", path=qpath, line=n, field="_id")
        queries[qid] = text
        meta = obj.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("source"), str):
            source[qid] = meta["source"]
    if not queries:
        raise InputError("no queries (the file is empty): judge some first (`embtune judge`)", path=qpath)
    relevant: dict[str, set[str]] = {}
    for n, line in enumerate(split_lines(_read_text(rpath)), start=1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if n == 1 and cols[0].strip().lower() in ("query-id", "query_id", "qid"):
            continue
        if len(cols) != 3:
            raise InputError(f"expected 3 tab-separated columns (query-id, corpus-id, score), got {len(cols)}",
                             path=rpath, line=n)
        qid, did, score = (c.strip() for c in cols)
        if qid not in queries:
            raise InputError(f"unknown query id {qid!r}", path=rpath, line=n, field="query-id")
        if did not in doc_ids:
            close = difflib.get_close_matches(did, list(doc_ids), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(f"unknown doc id {did!r}{hint}", path=rpath, line=n, field="corpus-id")
        try:
            s = float(score)
        except ValueError:
            raise InputError(f"score {score!r} is not a number", path=rpath, line=n, field="score") from None
        if s > 0:
            relevant.setdefault(qid, set()).add(did)
    if not relevant:
        raise InputError("no judgments with a score > 0 (the file is empty?)", path=rpath)
    missing = [q for q in queries if q not in relevant]
    if missing:
        raise InputError(f"{len(missing)} queries have no relevant doc (first: {missing[0]!r}); "
                         "judge them or remove them", path=rpath)
    digest = hash_file(qpath)[:16] + hash_file(rpath)[:16]
    return EvalSet(queries=queries, relevant={q: frozenset(v) for q, v in relevant.items()}, path=str(folder),
                   sha256=digest, kind=kind, query_source=source)


def load_complaints(path: str | Path, corpus: Corpus) -> EvalSet:
    """The complaints list, JSONL ``{"query", "relevant": [doc ids]}``, as a small :class:`EvalSet`."""
    from .workspace import hash_file

    path = Path(path)
    if not path.exists():
        raise InputError("complaints file not found", path=path)
    ids = set(corpus.doc_ids())
    queries, relevant = {}, {}
    for n, line in iter_jsonl(path):
        obj = _parse_json_object(path, n, line)
        q = _require_str(obj, "query", path, n, allowed=("query", "relevant", "note"))
        rel = obj.get("relevant")
        if not isinstance(rel, list) or not rel or not all(isinstance(x, str) for x in rel):
            raise InputError("must be a non-empty list of doc ids", path=path, line=n, field="relevant")
        for d in rel:
            if d not in ids:
                raise InputError(f"unknown doc id {d!r}", path=path, line=n, field="relevant")
        qid = f"c{n:03d}"
        queries[qid], relevant[qid] = q, frozenset(rel)
    if not queries:
        raise InputError("no complaints (the file is empty): add some, or unset [eval] complaints", path=path)
    return EvalSet(queries=queries, relevant=relevant, path=str(path), sha256=hash_file(path)[:32], kind="complaints")


def load_trec_run(path: str | Path, evalset: EvalSet, known_docs: set[str] | None = None) -> dict:
    """Import a TREC run file (``qid Q0 docid rank score tag``) as a ranking over the eval queries.

    Lines for queries outside the eval set are ignored; of duplicate (qid, docid) lines the first counts.
    A malformed line, a score that is not a finite number or an unknown doc id raises
    :class:`InputError` with its line number. Ranked by descending score, ties by doc id.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("run file not found", path=path)
    per_q: dict[str, dict[str, float]] = {}
    for n, line in enumerate(split_lines(_read_text(path)), start=1):
        if not line.strip():
            continue
        cols = line.split()
        if len(cols) != 6:
            raise InputError(f"expected 6 columns 'qid Q0 docid rank score tag', got {len(cols)}", path=path, line=n)
        qid, _, did, _, score, _ = cols
        try:
            s = float(score)
        except ValueError:
            raise InputError(f"score {score!r} is not a number", path=path, line=n, field="score") from None
        if not math.isfinite(s):
            raise InputError(f"score {score!r} is not a finite number", path=path, line=n, field="score")
        if known_docs is not None and did not in known_docs:
            raise InputError(f"unknown doc id {did!r}", path=path, line=n, field="docid")
        if qid in evalset.queries:
            per_q.setdefault(qid, {}).setdefault(did, s)
    return {q: sorted(v.items(), key=lambda t: (-t[1], t[0])) for q, v in per_q.items()}


def load_llm_queries(path: str | Path) -> pl.DataFrame:
    """Pre-generated queries shipped with a project (JSONL ``doc_id``, ``query``), as (doc_id, query, source_ref)."""
    rows = []
    for n, line in iter_jsonl(Path(path)):
        try:
            obj = json.loads(line)
            rows.append({"doc_id": str(obj["doc_id"]), "query": str(obj["query"]), "source_ref": f"llm_cache:{n}"})
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError('expected {"doc_id", "query"}', path=path, line=n) from None
    return pl.DataFrame(rows, schema={"doc_id": pl.String, "query": pl.String, "source_ref": pl.String})
