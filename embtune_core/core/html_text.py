"""HTML to article text: the page's main content, its title and ``##`` section headings, no page chrome.

Parsing is selectolax's lexbor (a full HTML5 parser, entities decoded); this module only decides what
is content and how it becomes text. The HTML folder loader and the help-center export loader
(:mod:`.doc_formats`) both use :func:`extract_html`.

- **Content root**: the first ``<main>``, else ``<article>``, else ``[role=main]``, else ``<body>``
  (the first of each that is not itself inside page chrome).
- **Page chrome** (dropped wherever it sits): the tags in :data:`CHROME_TAGS`, elements whose ``role``
  is in :data:`CHROME_ROLES`, ``hidden`` or ``aria-hidden="true"`` elements, and elements with a class
  or id token that is (or whose ``-``/``_`` parts include) one of :data:`CHROME_NAMES` or that
  contains one of :data:`CHROME_SUBSTRINGS`. Buttons, form fields, images and media carry no text.
- **Title**: the first ``<h1>`` of the content, removed from the text. An ``<h1>`` inside an article's
  own ``<header>`` (Docusaurus, Zendesk themes) counts, though the header itself is dropped.
- **Text**: one line per paragraph, list item (``- item``), table row (``cell | cell``), ``<br>`` and
  code line; whitespace collapsed (``&nbsp;`` included); other ``<h1>``, ``<h2>`` and ``<h3>`` become
  ``## Heading`` lines, so :func:`~embtune_core.core.sources.split_sections` splits long pages by them;
  ``<h4>``-``<h6>`` are plain lines.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

#: Tags that are page chrome wherever they appear.
CHROME_TAGS = frozenset({"nav", "header", "footer", "aside", "script", "style", "noscript", "form", "template"})
#: ARIA landmark roles of page chrome.
CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo"})
#: Class/id tokens of page chrome, matched whole or as a ``-``/``_`` part (``article-toc``, ``menu__list``).
CHROME_NAMES = frozenset({"toc", "menu", "navbar", "headerlink", "breadcrumb", "breadcrumbs", "sidebar"})
#: Class/id substrings of page chrome (``sphinxsidebar``, ``skip-link``, ``skip-to-content``).
CHROME_SUBSTRINGS = ("breadcrumb", "sidebar", "skip-link", "skiplink", "skip-to", "table-of-contents")

_NO_TEXT = frozenset({"-comment", "head", "title", "meta", "link", "img", "picture", "svg", "video", "audio",
                      "canvas", "iframe", "object", "embed", "map", "button", "input", "select", "textarea"})
_BLOCK = frozenset({"p", "div", "section", "article", "main", "body", "blockquote", "ul", "ol", "dl", "dt", "dd",
                    "li", "figure", "figcaption", "table", "thead", "tbody", "tfoot", "caption", "address",
                    "details", "summary", "hr", "center", "fieldset", "legend"})
_SECTION_HEADINGS = frozenset({"h1", "h2", "h3"})
_MINOR_HEADINGS = frozenset({"h4", "h5", "h6"})
_WS = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
_PARTS = re.compile(r"[-_]+")
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\"]+)", re.I)
#: " | Site", " — Site", " – Site", " · Site", " - Site" at the end of a <title>.
_TITLE_SEP = re.compile(r"\s+[|\u2014\u2013\u00b7-]\s+")


@dataclass(frozen=True)
class HtmlPage:
    """What :func:`extract_html` found on one page ("" for whatever is absent)."""

    #: The first ``<h1>`` of the content.
    title: str
    #: The ``<title>`` element, as written (a site-name suffix included).
    page_title: str
    text: str
    #: ``<link rel="canonical">``'s ``href``.
    canonical: str
    #: The target of a ``<meta http-equiv="refresh" content="0; url=...">``: a redirect page.
    redirect: str


def decode_html(data: bytes) -> tuple[str, str]:
    """Decode an HTML file's bytes; returns ``(text, encoding)``. Never raises.

    A byte-order mark wins, then a ``<meta charset>`` (or ``http-equiv`` Content-Type) in the first 4 KB;
    as browsers do, ``iso-8859-1``/``ascii`` labels mean cp1252. A file that declares nothing is UTF-8
    when it decodes as UTF-8, else **cp1252** (what undeclared pages saved on Windows usually are).
    Bytes that do not fit the chosen encoding become U+FFFD.
    """
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(enc, errors="replace"), enc
    m = _META_CHARSET.search(data[:4096])
    if m:
        try:
            enc = codecs.lookup(m.group(1).decode("ascii")).name
        except LookupError:
            enc = ""
        if enc in ("iso8859-1", "ascii"):
            enc = "cp1252"
        elif enc.startswith("utf-16"):  # a meta tag readable as ASCII means the bytes are not UTF-16
            enc = "utf-8"
        if enc:
            return data.decode(enc, errors="replace"), enc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def normalize_space(text: str) -> str:
    """Collapse every run of whitespace (non-breaking and zero-width spaces too) into one space."""
    return _WS.sub(" ", text).strip()


def is_chrome(node) -> bool:
    """Whether an element is page chrome (see the module docstring). ``<html>`` and ``<body>`` never are
    (their classes describe page state: ``sidebar-visible``)."""
    if node.tag in CHROME_TAGS:
        return True
    if node.tag in ("html", "body"):
        return False
    attrs = node.attributes
    if (attrs.get("role") or "").strip().lower() in CHROME_ROLES or "hidden" in attrs:
        return True
    if (attrs.get("aria-hidden") or "").strip().lower() == "true":
        return True
    tokens = (attrs.get("class") or "").lower().split() + (attrs.get("id") or "").lower().split()
    return any(t in CHROME_NAMES or any(s in t for s in CHROME_SUBSTRINGS)
               or any(p in CHROME_NAMES for p in _PARTS.split(t)) for t in tokens)


def _ancestors(node):
    node = node.parent
    while node is not None and node.tag not in ("body", "html", "-document"):
        yield node
        node = node.parent


def _inside_chrome(node, *, content_header_ok: bool = False) -> bool:
    for a in _ancestors(node):
        if content_header_ok and a.tag == "header" and any(b.tag in ("article", "main") for b in _ancestors(a)):
            continue
        if is_chrome(a):
            return True
    return False


def _content_root(tree):
    for selector in ("main", "article", "[role=main]"):
        for node in tree.css(selector):
            if not _inside_chrome(node) and not is_chrome(node):
                return node
    return tree.body


class _Lines:
    """Walks the content root and collects its text as lines (see the module docstring)."""

    def __init__(self, skip_id: int | None):
        self.lines: list[str] = []
        self.buf: list[str] = []
        self.prefix = ""
        self.skip_id = skip_id

    def flush(self) -> None:
        text = normalize_space("".join(self.buf))
        self.buf = []
        if text:
            self.lines.append(self.prefix + (" " + text if text.startswith("#") else text))
            self.prefix = ""

    def walk(self, node) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self.buf.append(child.text_content or "")
            elif tag in _NO_TEXT or child.mem_id == self.skip_id or is_chrome(child):
                continue
            elif tag in _SECTION_HEADINGS or tag in _MINOR_HEADINGS:
                self.flush()
                text = inline_text(child)
                if text:
                    self.lines.append(f"## {text}" if tag in _SECTION_HEADINGS else text)
            elif tag == "br":
                self.flush()
            elif tag == "pre":
                self.flush()
                code = [line.replace("\xa0", " ").rstrip() for line in (child.text(deep=True) or "").split("\n")]
                self.lines.extend(" " + c if c.startswith("#") else c for c in code if c.strip())
            elif tag == "tr":
                self.flush()
                cells = [inline_text(c) for c in child.iter() if c.tag in ("td", "th") and not is_chrome(c)]
                row = " | ".join(c for c in cells if c)
                if row:
                    self.lines.append(row)
            elif tag in _BLOCK:
                self.flush()
                if tag == "li":
                    self.prefix = "- "
                self.walk(child)
                self.flush()
                if tag == "li":
                    self.prefix = ""
            else:
                self.walk(child)


def inline_text(node) -> str:
    """An element's text on one line, chrome (``¶`` header links, buttons ...) left out."""
    parts: list[str] = []

    def walk(n):
        for c in n.iter(include_text=True):
            if c.tag == "-text":
                parts.append(c.text_content or "")
            elif c.tag not in _NO_TEXT and not is_chrome(c):
                walk(c)
                if c.tag in _BLOCK or c.tag == "br":
                    parts.append(" ")

    walk(node)
    return normalize_space("".join(parts))


def extract_html(html: str) -> HtmlPage:
    """Title, main-content text, canonical URL and redirect target of one HTML page or fragment."""
    tree = LexborHTMLParser(html)
    t = tree.css_first("title")
    page_title = normalize_space(t.text()) if t else ""
    link = tree.css_first('link[rel="canonical"]')
    canonical = ((link.attributes.get("href") or "").strip() if link else "")
    redirect = ""
    for meta in tree.css("meta[http-equiv]"):
        if (meta.attributes.get("http-equiv") or "").strip().lower() == "refresh":
            m = _REFRESH_URL.search(meta.attributes.get("content") or "")
            redirect = m.group(1).strip() if m else ""
    root = _content_root(tree)
    if root is None:
        return HtmlPage("", page_title, "", canonical, redirect)
    h1 = next((h for h in root.css("h1") if not _inside_chrome(h, content_header_ok=True)), None)
    title = inline_text(h1) if h1 is not None else ""
    lines = _Lines(h1.mem_id if title else None)
    lines.walk(root)
    lines.flush()
    out: list[str] = []
    for line in lines.lines:
        if line.startswith("## ") and out:
            out.append("")
        out.append(line)
    return HtmlPage(title, page_title, "\n".join(out).strip(), canonical, redirect)


def common_title_suffix(titles: list[str]) -> str:
    """The " | Site name" suffix that ends most (over half, at least two) of these ``<title>`` texts, else ""."""
    ends = Counter()
    for title in titles:
        seps = list(_TITLE_SEP.finditer(title))
        if seps and seps[-1].start() > 0:
            ends[title[seps[-1].start():]] += 1
    if not ends:
        return ""
    suffix, n = ends.most_common(1)[0]
    return suffix if n >= 2 and n * 2 > len(titles) else ""


def strip_title_suffix(title: str, suffix: str) -> str:
    """``title`` without ``suffix`` (from :func:`common_title_suffix`) when it ends with it."""
    if suffix and title.endswith(suffix) and len(title) > len(suffix):
        return title[: -len(suffix)].strip()
    return title
