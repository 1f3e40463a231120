"""Docs beyond Markdown and JSONL: a folder of HTML pages, a help-center export, and ``auto`` detection.

**HTML folder** (``format = "html"``): every ``*.html``/``*.htm`` under the folder (recursively; hidden
folders skipped), through :func:`~.html_text.extract_html`. Doc id: the path relative to the folder
without its extension (``guide/install``, ``guide/index``); URL: the page's canonical link, else that
relative path; title: the content's first ``<h1>``, else ``<title>`` without the site-name suffix most
pages share, else the file name. Unlike a Markdown article, which must have text (an empty one raises
:class:`InputError`), an empty page or a redirect page is *skipped and reported*: saved sites are full
of them.

**Help-center export** (``format = "export"``): Zendesk (``{"articles": [...]}``) or Intercom
(``{"data": [...]}``, or a bare list) as one JSON document, or one record per line (JSONL). Keys come
from ``[docs.fields]``; an unset key is the first of :data:`FIELD_CANDIDATES` a record has. Drafts
(``draft: true``, or a ``state`` other than ``published``) and records whose body has no text are
skipped and reported; a malformed record raises :class:`InputError` naming the file, the line (JSONL)
or the record (``articles[3]``, JSON) and the field. Bodies are HTML (plain text is kept as written).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError
from .html_text import common_title_suffix, decode_html, extract_html, normalize_space, strip_title_suffix
from .records import iter_jsonl
from .records import parse_json_object as _parse_json_object
from .records import read_text as _read_text

MARKDOWN_SUFFIXES = (".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
#: Keys tried in order for each field of an export record when ``[docs.fields]`` leaves it unset.
FIELD_CANDIDATES = {
    "id": ("id", "article_id", "_id"),
    "title": ("title", "name"),
    "body": ("body", "body_html", "html", "content", "text"),
    "url": ("html_url", "url", "link"),
}
#: Keys of the record list in a JSON export (Zendesk ``articles``, Intercom ``data``).
_LIST_KEYS = ("articles", "data", "items", "results", "records")
_LOOKS_HTML = re.compile(r"<[a-zA-Z!/][^>]*>")


# --------------------------------------------------------------------------------------------------
# Detection


def _files(folder: Path) -> list[Path]:
    """Files under ``folder``, sorted, none inside a hidden folder or hidden themselves."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def detect_docs_format(path: Path) -> str:
    """What ``format = "auto"`` reads ``path`` as.

    A folder: ``html`` when it holds more ``*.html``/``*.htm`` than ``*.md``/``*.markdown`` files, else
    ``markdown``. A file: ``beir`` for ``corpus.jsonl`` or records with ``_id`` and ``text``; ``export``
    for a ``.json`` file or records with an HTML body key (``body``, ``html`` ...) and no ``text``;
    else ``jsonl``. Only the first record of a JSONL file is looked at.
    """
    path = Path(path)
    if path.is_dir():
        counts = Counter(p.suffix.lower() for p in _files(path))
        html, md = sum(counts[s] for s in HTML_SUFFIXES), sum(counts[s] for s in MARKDOWN_SUFFIXES)
        return "html" if html > md else "markdown"
    if path.name == "corpus.jsonl":
        return "beir"
    if path.suffix.lower() == ".json":
        return "export"
    first = _first_record(path)
    if first is None:
        return "jsonl"
    if "_id" in first and "text" in first:
        return "beir"
    if "text" not in first and any(k in first for k in FIELD_CANDIDATES["body"]):
        return "export"
    return "jsonl"


def _first_record(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8-sig", newline="\n") as f:  # a BOM is no key; lines end at \n only
            for line in f:
                if line.strip():
                    obj = json.loads(line)
                    return obj if isinstance(obj, dict) else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        pass
    return None


def no_documents(path: Path, fmt: str, skipped: list[str], *, detected: bool) -> InputError:
    """The error for a load that found nothing: what was looked for, what is there, what was skipped."""
    msg = "no documents found"
    if path.is_dir() and fmt in ("markdown", "html"):
        suffixes = (MARKDOWN_SUFFIXES + HTML_SUFFIXES) if detected else \
            (MARKDOWN_SUFFIXES if fmt == "markdown" else HTML_SUFFIXES)
        msg += ": looked for " + ", ".join(f"*{s}" for s in suffixes)
        if not skipped:
            others = Counter(p.suffix.lower() or "(no extension)" for p in _files(path)
                             if p.suffix.lower() not in suffixes)
            msg += "; found " + (", ".join(f"{n} *{s}" if s.startswith(".") else f"{n} {s}"
                                           for s, n in others.most_common(5)) if others else "no files")
    if skipped:
        msg += f"; all {len(skipped)} skipped (first: {skipped[0]})"
    return InputError(msg, path=path)


# --------------------------------------------------------------------------------------------------
# A folder of HTML pages


def html_rows(folder: Path, skipped: list[str]) -> Iterator[dict]:
    """Article rows (as :func:`~.sources.load_docs` wants them) of the HTML pages under ``folder``.

    Redirect pages and pages without text are appended to ``skipped`` as ``"path: reason"``.
    """
    pages = []
    for p in (q for q in _files(folder) if q.suffix.lower() in HTML_SUFFIXES):
        try:
            data = p.read_bytes()
        except OSError as e:
            raise InputError(f"cannot read ({e.strerror})", path=p) from None
        pages.append((p, extract_html(decode_html(data)[0])))
    suffix = common_title_suffix([page.page_title for _, page in pages if page.page_title])
    for p, page in pages:
        if page.redirect:
            skipped.append(f"{p}: redirect page (to {page.redirect})")
            continue
        if not page.text:
            skipped.append(f"{p}: no text after extraction")
            continue
        rel = p.relative_to(folder)
        yield {"doc_id": rel.with_suffix("").as_posix(),
               "title": page.title or strip_title_suffix(page.page_title, suffix) or p.stem,
               "text": page.text, "url": page.canonical or rel.as_posix(),
               "category": rel.parent.as_posix() if rel.parent.parts else "", "_where": (p, 1)}


# --------------------------------------------------------------------------------------------------
# A help-center export


def export_records(path: Path) -> Iterator[tuple[str, int | None, object]]:
    """``(where, line, record)`` of an export: ``line`` for JSONL, ``where`` like ``articles[3]`` for JSON.

    A ``.json`` file that holds one object per line is read as JSONL.
    """
    if path.suffix.lower() == ".json":
        text = _read_text(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            if e.msg != "Extra data":
                raise InputError(f"malformed JSON ({e.msg} at column {e.colno})", path=path, line=e.lineno) from None
        else:
            key = ""
            if isinstance(data, dict):
                key = next((k for k in _LIST_KEYS if isinstance(data.get(k), list)), "")
                if not key:
                    raise InputError("not a help-center export: expected a list of records, or an object with "
                                     f"one under {', '.join(repr(k) for k in _LIST_KEYS)}", path=path)
                data = data[key]
            if not isinstance(data, list):
                raise InputError(f"not a help-center export: expected a list of records, got "
                                 f"{type(data).__name__}", path=path)
            for i, rec in enumerate(data):
                yield f"{key}[{i}]", None, rec
            return
    for n, line in iter_jsonl(path):
        yield f"line {n}", n, _parse_json_object(path, n, line)


def _key(rec: dict, field: str, configured: str) -> str | None:
    if configured:
        return configured
    return next((k for k in FIELD_CANDIDATES[field] if k in rec), None)


def export_fields(rec: dict, fields=None) -> dict[str, str | None]:
    """The keys ``[docs.fields]`` (``fields``: a :class:`~.config.DocsFields` or ``None``) resolves to on ``rec``."""
    return {f: _key(rec, f, getattr(fields, f, "") if fields is not None else "") for f in FIELD_CANDIDATES}


def _unpublished(rec: dict) -> str:
    if rec.get("draft") is True:
        return "draft"
    state = rec.get("state")
    if isinstance(state, str) and state.strip().lower() != "published":
        return f"state {state!r}"
    return ""


def body_text(body: str) -> tuple[str, str]:
    """``(first h1, text)`` of an export body: HTML through the extractor, plain text kept line by line."""
    if _LOOKS_HTML.search(body):
        page = extract_html(body)
        return page.title, page.text
    lines = [normalize_space(line) for line in body.splitlines()]
    return "", "\n".join(line for line in lines if line)


def _bad_record(path: Path, where: str, line: int | None):
    """An :class:`InputError` maker for one record: ``file:line`` (JSONL) or ``file ... articles[3]:`` (JSON)."""
    def bad(msg: str, field: str | None = None) -> InputError:
        return InputError(msg if line else f"{where}: {msg}", path=path, line=line, field=field)
    return bad


def export_rows(path: Path, fields, skipped: list[str]) -> Iterator[dict]:
    """Article rows of a Zendesk- or Intercom-style export (see the module docstring)."""
    seen: dict[str, str] = {}
    for where, line, rec in export_records(path):
        label = f"{path}:{line}" if line else f"{path} {where}"
        bad = _bad_record(path, where, line)
        if not isinstance(rec, dict):
            raise bad(f"expected a JSON object, got {type(rec).__name__}")
        keys = export_fields(rec, fields)
        for f in ("id", "title", "body"):
            if keys[f] is None or keys[f] not in rec:
                tried = ", ".join(repr(k) for k in FIELD_CANDIDATES[f])
                hint = f"set [docs.fields] {f}" if keys[f] is None else "check [docs.fields]"
                raise bad(f"missing field (looked for {repr(keys[f]) if keys[f] else tried}; {hint})", keys[f] or f)
        doc_id = rec[keys["id"]]
        if isinstance(doc_id, int) and not isinstance(doc_id, bool):
            doc_id = str(doc_id)
        if not isinstance(doc_id, str) or not doc_id.strip():
            raise bad(f"must be a non-empty string or an integer, got {doc_id!r}", keys["id"])
        reason = _unpublished(rec)
        if reason:
            skipped.append(f"{label}: {reason} (id {doc_id!r})")
            continue
        title, body = rec[keys["title"]], rec[keys["body"]]
        if not isinstance(title, str) or not title.strip():
            raise bad(f"must be a non-empty string, got {title!r}", keys["title"])
        if body is not None and not isinstance(body, str):
            raise bad(f"must be a string (HTML), got {type(body).__name__}", keys["body"])
        url = rec.get(keys["url"]) if keys["url"] else ""
        if url is not None and not isinstance(url, str):
            raise bad(f"must be a string, got {type(url).__name__}", keys["url"])
        h1, text = body_text(body or "")
        title = normalize_space(title)
        if h1 and h1 != title:
            text = f"{h1}\n{text}".strip()
        if not text:
            skipped.append(f"{label}: no text after extraction (id {doc_id!r})")
            continue
        if doc_id in seen:
            raise bad(f"duplicate id {doc_id!r} (first seen at {seen[doc_id]})", keys["id"])
        seen[doc_id] = label
        yield {"doc_id": doc_id, "title": title, "text": text, "url": url or "", "category": "",
               "_where": (path, line)}
