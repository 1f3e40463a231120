"""Build the development benchmark from public Debian documentation packages.

    python bench/devbench/build.py [--out bench/data/devbench] [--seed 13] [--sources postgres,gnome,debfaq]

Downloads the packages with ``apt-get download`` into ``<out>/cache/debs`` (run as root on a Debian
machine; ``apt-get update`` is run once if a package is not found), unpacks them with ``dpkg-deb -x``,
and writes one folder per source: ``docs.jsonl``, ``eval/`` (BEIR: the held-out test queries),
``train_pairs.jsonl``, ``embtune.toml`` and ``stats.json``. See README.md beside this file.

Never used, in any form (they are held-out test data elsewhere): LibreOffice's help, the Python
FAQ, git's manual.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

ARTICLE_MAX_WORDS = 1500   # article text is truncated here (CPU encoding time)
POSITIVE_MAX_WORDS = 400   # training positives are cut here (the model truncates long inputs anyway)
MAX_TRAIN_PAIRS = 3000     # per source, sampled with the seed
MAX_PAGES_PER_QUERY = 3    # index entries pointing to more pages are dropped as junk

PACKAGES = {"postgres": "postgresql-doc-15", "gnome": "gnome-user-docs", "debfaq": "debian-faq"}
FORBIDDEN = ("libreoffice", "python3-doc", "python-doc", "git-doc", "git-man")


# --------------------------------------------------------------------------------------------------
# Packages


def fetch_package(pkg: str, cache: Path, state: dict) -> tuple[str, Path]:
    """``apt-get download`` + ``dpkg-deb -x`` (cached); returns (version, unpacked root)."""
    if any(pkg.startswith(f) for f in FORBIDDEN):
        raise SystemExit(f"{pkg} is a forbidden source")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    if not found:
        cmd = ["apt-get", "download", "-q", pkg]
        r = subprocess.run(cmd, cwd=debs, capture_output=True, text=True)
        if r.returncode != 0 and not state.get("updated"):
            print("apt-get update (once) ...", file=sys.stderr)
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            state["updated"] = True
            r = subprocess.run(cmd, cwd=debs, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"apt-get download {pkg} failed:\n{r.stderr}")
        found = sorted(debs.glob(f"{pkg}_*.deb"))
    deb = found[-1]
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True,
                             text=True).stdout.strip()
    root = cache / "unpacked" / f"{pkg}_{version}"
    if not (root / ".done").exists():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        (root / ".done").write_text(deb.name + "\n")
    return version, root


# --------------------------------------------------------------------------------------------------
# Articles: a list of blocks (headings and paragraphs), anchors mapped to block positions

_WS = re.compile(r"\s+")
_NUM = re.compile(r"^(?:(?:Chapter|Part|Appendix)\s+)?(?:[A-Z]|[IVXLC]+|\d+)(?:\.\d+)*\.\s+")


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u00ad\ufeff"))


def norm_ws(s: str) -> str:
    return _WS.sub(" ", s.translate(_INVISIBLE)).strip()


def strip_number(s: str) -> str:
    return _NUM.sub("", norm_ws(s))


@dataclass
class Block:
    text: str
    level: int = 0          # 0: paragraph; n: heading of level n
    words: int = 0


@dataclass
class Article:
    id: str
    title: str
    url: str
    blocks: list[Block]
    anchors: dict[str, int] = field(default_factory=dict)   # anchor id -> index of the next block
    kept_words: int = 0

    def finish(self) -> Article:
        self.blocks = [b for b in self.blocks if b.text.strip()]
        for b in self.blocks:
            b.words = len(b.text.split())
        return self

    @property
    def n_words(self) -> int:
        return sum(b.words for b in self.blocks if not b.level)

    def text(self) -> str:
        """Plain text, ``## Heading`` lines, paragraphs separated by blank lines, cut at the word cap."""
        out, n = [], 0
        for b in self.blocks:
            if b.level:
                out.append("## " + b.text)
                continue
            if n + b.words > ARTICLE_MAX_WORDS:
                rest = ARTICLE_MAX_WORDS - n
                if rest > 10:
                    out.append(" ".join(b.text.split(" ")[:rest]) + " …")
                n = ARTICLE_MAX_WORDS
                break
            out.append(b.text)
            n += b.words
        while out and out[-1].startswith("## "):
            out.pop()
        self.kept_words = n
        return "\n\n".join(out).strip()

    def word_offset(self, i: int) -> int:
        return sum(b.words for b in self.blocks[:i] if not b.level)

    def section_start(self, i: int) -> int:
        """The heading that starts the section holding block ``i`` (-1: the article's start)."""
        if i < len(self.blocks) and self.blocks[i].level:
            return i
        for j in range(min(i, len(self.blocks)) - 1, -1, -1):
            if self.blocks[j].level:
                return j
        return -1

    def section_text(self, start: int, max_words: int = POSITIVE_MAX_WORDS, from_block: int | None = None) -> str:
        """The section's own text and its subsections (``title - heading`` line first), cut.

        ``from_block``: skip the section's text before that block (a window on a long section).
        """
        if from_block is not None:
            head = f"{self.title} - {self.blocks[start].text}" if start >= 0 else self.title
            lvl = self.blocks[start].level if start >= 0 else 0
            body = self.blocks[from_block:]
        elif start < 0:
            head, lvl, body = self.title, 0, self.blocks
        else:
            head, lvl, body = f"{self.title} - {self.blocks[start].text}", self.blocks[start].level, \
                self.blocks[start + 1:]
        out, n = [head], 0
        for b in body:
            if b.level and lvl and b.level <= lvl:
                break
            if b.level:
                out.append(b.text)
                continue
            words = b.text.split(" ")
            out.append(" ".join(words[:max_words - n]))
            n += len(words)
            if n >= max_words:
                break
        return "\n".join(out).strip()

    def sections(self) -> list[tuple[int, str]]:
        """(start, text incl. heading) of every flat section, the intro as start -1."""
        out, cur, start = [], [], -1
        for i, b in enumerate(self.blocks):
            if b.level:
                out.append((start, " ".join(cur)))
                cur, start = [b.text], i
            else:
                cur.append(b.text)
        out.append((start, " ".join(cur)))
        return out


class HtmlBlocks:
    """DocBook HTML (PostgreSQL manual, Debian FAQ) to blocks. Navigation and tables of contents go."""

    SKIP_CLASSES = {"navheader", "navfooter", "toc", "list-of-tables", "list-of-figures", "list-of-examples",
                    "titlepage-skip"}
    SKIP_TAGS = {"script", "style", "head", "img", "-comment", "object", "map"}
    BLOCK_TAGS = {"p", "div", "li", "dt", "dd", "ul", "ol", "dl", "blockquote", "table", "tbody", "thead", "tfoot",
                  "caption", "section", "article", "body", "hr", "br", "figure", "address", "center"}
    ADMONITIONS = {"note", "tip", "warning", "caution", "important", "example", "table", "figure", "sidebar"}
    HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}

    def __init__(self):
        self.blocks: list[Block] = []
        self.anchors: dict[str, int] = {}
        self.buf: list[str] = []
        self.prefix = ""
        self.admonition = 0

    def flush(self):
        text = norm_ws("".join(self.buf))
        self.buf = []
        if text:
            self.blocks.append(Block(self.prefix + text))
            self.prefix = ""

    def mark(self, node):
        attrs = node.attributes
        for key in ("id", "name"):
            v = attrs.get(key)
            if v and v not in self.anchors:
                self.anchors[v] = len(self.blocks)

    def walk(self, node):
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self.buf.append(child.text_content or "")
                continue
            if tag in self.SKIP_TAGS:
                continue
            cls = set((child.attributes.get("class") or "").split())
            if cls & self.SKIP_CLASSES:
                continue
            self.mark(child)
            if tag in self.HEADINGS and self.admonition:   # "Note", "Tip": a line, not a section
                self.flush()
                self.blocks.append(Block(norm_ws(child.text(deep=True))))
            elif tag in self.HEADINGS:
                self.flush()
                self.blocks.append(Block(strip_number(child.text(deep=True)), level=self.HEADINGS[tag]))
                for sub in child.css("[id], a[name]"):
                    self.mark(sub)
            elif tag == "pre":
                self.flush()
                text = (child.text(deep=True) or "").strip("\n").rstrip()
                if text.strip():
                    self.blocks.append(Block(text))
            elif tag == "tr":
                self.flush()
                cells = []
                for cell in child.iter():
                    if cell.tag in ("td", "th"):
                        sub = HtmlBlocks()
                        sub.walk(cell)
                        sub.flush()
                        cells.append(" ".join(b.text for b in sub.blocks))
                row = " | ".join(c for c in cells if c)
                if row:
                    self.blocks.append(Block(row))
            elif tag in self.BLOCK_TAGS:
                self.flush()
                if tag == "li":
                    self.prefix = "- "
                admon = bool(cls & self.ADMONITIONS)
                self.admonition += admon
                self.walk(child)
                self.admonition -= admon
                self.flush()
            else:
                self.walk(child)


def html_article(path: Path, doc_id: str, url: str, title: str | None = None) -> Article:
    tree = LexborHTMLParser(path.read_text(encoding="utf-8", errors="replace"))
    t = tree.css_first("head > title")
    page_title = strip_number(t.text() if t else doc_id)
    body = tree.css_first("body")
    hb = HtmlBlocks()
    hb.walk(body)
    hb.flush()
    blocks = hb.blocks
    # the page's own top heading is the title: drop it (anchors on it point at the article start)
    if blocks and blocks[0].level and norm_ws(blocks[0].text) == norm_ws(page_title):
        blocks = blocks[1:]
        hb.anchors = {k: max(v - 1, 0) for k, v in hb.anchors.items()}
    return Article(doc_id, title or page_title, url, blocks, hb.anchors).finish()


# --------------------------------------------------------------------------------------------------
# Queries


@dataclass
class Query:
    text: str
    kind: str
    targets: dict[str, str | None] = field(default_factory=dict)  # doc id -> anchor (None: the page)


_TOKEN = re.compile(r"[a-z0-9]+(?:[_'][a-z0-9]+)*")
STOP = set("""a an and are as at be by for from has have how i in is it its of on or that the this to was
what when where which who why will with can do does you your my me not no""".split())


def tokens(s: str) -> list[str]:
    return _TOKEN.findall(s.lower())


def key(s: str) -> str:
    """Dedup key: case, punctuation and underscores do not make a query different."""
    return " ".join(re.findall(r"[a-z0-9]+", s.lower()))


def locate(art: Article, q: Query, anchor: str | None) -> tuple[int, int, str]:
    """Where in the page the query points: (section start, block, how).

    ``anchor``: the section the index links to. ``term``: no anchor; the section sharing most of the
    query's words, and in it the first block with the most of them. ``page``: no word found.
    """
    if anchor and anchor in art.anchors:
        i = art.anchors[anchor]
        start = art.section_start(i)
        return start, max(start, 0), "anchor"
    qt = {t for t in tokens(q.text) if t not in STOP and len(t) > 1}
    best, best_score = -1, 0
    for start, text in art.sections():
        score = len(qt & set(tokens(text)))
        if score > best_score:
            best, best_score = start, score
    if not best_score:
        return -1, 0, "page"
    block, block_score = max(best, 0), -1
    end = next((j for j in range(best + 1, len(art.blocks)) if art.blocks[j].level), len(art.blocks))
    for j in range(max(best, 0), end):
        sc = len(qt & set(tokens(art.blocks[j].text)))
        if sc > block_score:
            block, block_score = j, sc
    return best, block, "term"


# --------------------------------------------------------------------------------------------------
# Source: PostgreSQL manual + its back-of-book index


def build_postgres(root: Path, version: str) -> tuple[dict[str, Article], list[Query], dict]:
    html = root / "usr/share/doc/postgresql-doc-15/html"
    major = version.split(".")[0]
    arts = {}
    for p in sorted(html.glob("*.html")):
        if p.name in ("bookindex.html",):
            continue
        a = html_article(p, p.stem, f"https://www.postgresql.org/docs/{major}/{p.name}")
        if a.n_words >= 20:
            arts[a.id] = a
    tree = LexborHTMLParser((html / "bookindex.html").read_text(encoding="utf-8"))
    entries: dict[str, tuple[str, list[tuple[str, str | None]], list[str]]] = {}  # ientry id -> (term, links, sees)
    raw: list[tuple[str, list[tuple[str, str | None]], list[str]]] = []

    def parse_dl(dl, prefix: str):
        dts = [c for c in dl.iter() if c.tag in ("dt", "dd")]
        last = None
        for c in dts:
            if c.tag == "dt":
                head = ""   # the term is the text before the first link: "term, <a>page</a>, <a>page</a>"
                for t in c.iter(include_text=True):
                    if t.tag != "-text":
                        break
                    head += t.text_content or ""
                term_text = norm_ws(head.split("(see")[0]).rstrip(",").strip()
                term = f"{prefix} {term_text}".strip() if prefix else term_text
                links, sees = [], []
                for a in c.css("a"):
                    href = a.attributes.get("href") or ""
                    if href.startswith("#ientry-"):
                        sees.append(href[1:])
                    elif "indexterm" in (a.attributes.get("class") or "") and href:
                        page, _, anchor = href.partition("#")
                        links.append((page.removesuffix(".html"), anchor or None))
                raw.append((term, links, sees))
                if c.attributes.get("id"):
                    entries[c.attributes["id"]] = (term, links, sees)
                last = term
            else:
                sub = c.css_first("dl")
                if sub is not None and last:
                    parse_dl(sub, last)

    for div in tree.css("div.indexdiv"):
        dl = div.css_first("dl")
        if dl is not None:
            parse_dl(dl, "")

    queries: dict[str, Query] = {}
    counts = {"index_entries": len(raw), "see_entries_resolved": 0}
    for term, links, sees in raw:
        if not links and sees:
            for s in sees:   # "auto-increment (see serial)": the target entry's pages
                if s in entries:
                    links = links + entries[s][1]
            if links:
                counts["see_entries_resolved"] += 1
        if not links:
            continue
        k = key(term)
        q = queries.setdefault(k, Query(term, "index"))
        for page, anchor in links:
            if page in arts and page not in q.targets:
                q.targets[page] = anchor
    return arts, list(queries.values()), counts


# --------------------------------------------------------------------------------------------------
# Source: GNOME user help (Mallard)

MAL = "{http://projectmallard.org/1.0/}"
IF = "{http://projectmallard.org/if/1.0/}"
FALSE_CONDITIONS = {"platform:gnome-classic", "platform:ubuntu", "target:mobile", "action:install"}


def _cond(test: str) -> bool:
    """Mallard conditional: commas are OR, spaces AND; we are plain GNOME on a desktop."""
    def term(t):
        neg = t.startswith("!")
        t = t.lstrip("!")
        val = t not in FALSE_CONDITIONS and not t.startswith(("platform:", "target:", "action:"))
        return (not val) if neg else val
    return any(all(term(t) for t in alt.split()) for alt in test.split(","))


def _local(tag) -> str:
    return tag.split("}")[-1] if isinstance(tag, str) else ""


class Mallard:
    SKIP = {"info", "comment", "links", "media", "include", "credit", "revision", "desc", "thumb", "rules"}
    INLINE = {"gui", "key", "link", "em", "cmd", "app", "input", "output", "file", "sys", "var", "span", "cite",
              "guiseq", "keyseq", "hi", "date", "name", "email", "years", "code_inline"}

    def __init__(self, titles: dict[str, str]):
        self.titles = titles

    def inline(self, el) -> str:
        tag = _local(el.tag)
        if el.tag.startswith(IF):
            return self.inline_children(el) if _cond(el.get("test", "")) else ""
        if tag in ("media", "comment", "include"):
            return ""
        if tag == "keyseq":
            return "+".join(norm_ws(self.inline(c)) for c in el)
        if tag == "guiseq":
            return " ▸ ".join(norm_ws(self.inline(c)) for c in el)
        s = self.inline_children(el)
        if tag == "link" and not norm_ws(s):
            xref = (el.get("xref") or "").split("#")[0]
            s = self.titles.get(xref, el.get("href") or "")
        return s

    def inline_children(self, el) -> str:
        out = [el.text or ""]
        for c in el:
            out.append(self.inline(c))
            out.append(c.tail or "")
        return "".join(out)

    def blocks(self, el, out: list[Block], level: int, anchors: dict, prefix: str = ""):
        for c in el:
            tag = _local(c.tag)
            if c.tag.startswith(IF):
                if tag == "choose":
                    chosen = next((w for w in c if _local(w.tag) == "when" and _cond(w.get("test", ""))), None)
                    if chosen is None:
                        chosen = next((w for w in c if _local(w.tag) == "else"), None)
                    if chosen is not None:
                        self.blocks(chosen, out, level, anchors)
                elif tag == "if" and _cond(c.get("test", "")):
                    self.blocks(c, out, level, anchors)
                continue
            # other namespaces (tt: video captions, its: rules, uix: thumbnails) are not text
            if tag in self.SKIP or not c.tag.startswith((MAL, "{http://projectmallard.org/ui/")):
                continue
            if c.get("id"):
                anchors.setdefault(c.get("id"), len(out))
            if tag == "section":
                t = c.find(MAL + "title")
                if t is not None:
                    out.append(Block(norm_ws(self.inline(t)), level=level + 1))
                self.blocks(c, out, level + 1, anchors)
            elif tag == "title":
                if _local(getattr(el, "tag", "")) in ("item", "table", "figure", "example", "note", "listing",
                                                       "expander"):
                    out.append(Block(prefix + norm_ws(self.inline(c))))
                    prefix = ""
            elif tag in ("p", "subtitle"):
                text = norm_ws(self.inline(c))
                if text:
                    out.append(Block(prefix + text))
                    prefix = ""
            elif tag in ("code", "screen"):
                text = self.inline(c).strip("\n").rstrip()
                if text.strip():
                    out.append(Block(text))
            elif tag == "tr":
                cells = []
                for cell in c:
                    sub: list[Block] = []
                    self.blocks(cell, sub, level, {})
                    cells.append(" ".join(b.text for b in sub) or norm_ws(self.inline(cell)))
                row = " | ".join(x for x in cells if x)
                if row:
                    out.append(Block(row))
            elif tag == "item":
                n = len(out)
                self.blocks(c, out, level, anchors, prefix="- ")
                if len(out) == n and norm_ws(self.inline(c)):
                    out.append(Block("- " + norm_ws(self.inline(c))))
            else:   # containers: steps, list, terms, note, table, tbody, figure, example, synopsis, quote ...
                self.blocks(c, out, level, anchors)


def build_gnome(root: Path, version: str) -> tuple[dict[str, Article], list[Query], dict]:
    base = root / "usr/share/help/C/gnome-help"
    pages = {}
    for p in sorted(base.glob("*.page")):
        el = ET.parse(p).getroot()
        pages[el.get("id") or p.stem] = el
    titles = {}
    mal0 = Mallard({})
    for pid, el in pages.items():
        t = el.find(MAL + "title")
        titles[pid] = norm_ws(mal0.inline(t)) if t is not None else pid
    mal = Mallard(titles)
    arts, queries = {}, {}
    counts = {"pages": len(pages), "desc_removed_from_body": 0, "skipped_short": 0}
    for pid, el in pages.items():
        blocks: list[Block] = []
        anchors: dict[str, int] = {}
        mal.blocks(el, blocks, 1, anchors)
        info = el.find(MAL + "info")
        desc_el = info.find(MAL + "desc") if info is not None else None
        desc = norm_ws(mal.inline(desc_el)) if desc_el is not None else ""
        # the desc is not in the body (it lives in <info>); if a body paragraph repeats it, drop that sentence
        if desc:
            for b in blocks:
                if desc in b.text:
                    b.text = norm_ws(b.text.replace(desc, ""))
                    counts["desc_removed_from_body"] += 1
        for b in blocks:   # "(<media .../>)": an icon in the text
            b.text = re.sub(r" \(\s*\)", "", b.text)
        art = Article(pid, titles[pid], f"https://help.gnome.org/users/gnome-help/stable/{pid}.html.en",
                      blocks, anchors).finish()
        if art.n_words < 15:
            counts["skipped_short"] += 1
            continue
        arts[pid] = art
        if desc:
            q = queries.setdefault(key(desc), Query(desc, "desc"))
            q.targets.setdefault(pid, None)
        # title variants (<title type="link"|"text">) that differ from the page title: training only
        if info is not None:
            for t in info.findall(MAL + "title"):
                v = norm_ws(mal.inline(t))
                if v and key(v) != key(titles[pid]):
                    q = queries.setdefault(key(v), Query(v, "title_variant"))
                    q.targets.setdefault(pid, None)
    return arts, list(queries.values()), counts


# --------------------------------------------------------------------------------------------------
# Source: Debian FAQ (DocBook HTML): each question's section is an article, the question the query


def build_debfaq(root: Path, version: str) -> tuple[dict[str, Article], list[Query], dict]:
    base = root / "usr/share/doc/debian/FAQ"
    arts, queries = {}, {}
    counts = {"questions": 0}
    for p in sorted(base.glob("*.en.html")):
        if p.name == "index.en.html":
            continue
        tree = LexborHTMLParser(p.read_text(encoding="utf-8", errors="replace"))
        h1 = tree.css_first("h1")
        chapter = strip_number(h1.text()) if h1 else p.stem
        for sec in tree.css("div.chapter > div.section, div.appendix > div.section"):
            h = sec.css_first("div.titlepage h2")
            if h is None:
                continue
            a = h.css_first("a[id]")
            anchor = a.attributes["id"] if a is not None else (sec.attributes.get("id") or "")
            question = strip_number(h.text(deep=True))
            hb = HtmlBlocks()
            hb.walk(sec)
            hb.flush()
            blocks = [b for b in hb.blocks if not (b.level == 2 and b.text == question)]
            doc_id = anchor or f"{p.stem}-{len(arts)}"
            # the title is the chapter's: the question itself would make the query a copy of the title
            art = Article(doc_id, chapter, f"https://www.debian.org/doc/manuals/debian-faq/{p.name}#{anchor}",
                          blocks, {}).finish()
            counts["questions"] += 1
            if art.n_words < 10:
                continue
            arts[doc_id] = art
            kind = "question" if question.endswith("?") else "heading"   # "Availability": train only
            q = queries.setdefault(key(question), Query(question, kind))
            q.targets.setdefault(doc_id, None)
    return arts, list(queries.values()), counts


# --------------------------------------------------------------------------------------------------
# Split and write

SOURCES = {
    "postgres": dict(build=build_postgres, test=300, corpus_cap=1500, test_kinds=("index",),
                     name="PostgreSQL 15 manual (devbench)"),
    "gnome": dict(build=build_gnome, test=150, corpus_cap=1500, test_kinds=("desc",),
                  name="GNOME user help (devbench)"),
    "debfaq": dict(build=build_debfaq, test=60, corpus_cap=1500, test_kinds=("question",),
                   name="Debian FAQ (devbench)"),
}


def title_overlap(q: str, title: str) -> float:
    qt = set(tokens(q))
    return len(qt & set(tokens(title))) / len(qt) if qt else 0.0


def write_jsonl(path: Path, rows) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n


def build_source(name: str, out: Path, cache: Path, seed: int, state: dict) -> dict:
    spec = SOURCES[name]
    pkg = PACKAGES[name]
    t0 = time.time()
    version, root = fetch_package(pkg, cache, state)
    arts, queries, counts = spec["build"](root, version)
    rng = random.Random(f"{seed}:{name}")

    # junk: too short, pure symbols, no target, too many targets
    kept, dropped = [], {"short": 0, "symbols": 0, "no_target": 0, "too_many_pages": 0}
    for q in queries:
        t = norm_ws(q.text)
        if len(t) < 3:
            dropped["short"] += 1
        elif not re.search(r"[A-Za-z0-9]", t):
            dropped["symbols"] += 1
        elif not q.targets:
            dropped["no_target"] += 1
        elif len(q.targets) > MAX_PAGES_PER_QUERY:
            dropped["too_many_pages"] += 1
        else:
            q.text = t
            kept.append(q)
    kept.sort(key=lambda q: key(q.text))

    # where each (query, page) points; "inside" when that place survives the article word cap
    texts = {d: a.text() for d, a in arts.items()}
    loc = {}
    for q in kept:
        for d, anchor in q.targets.items():
            a = arts[d]
            start, block, how = locate(a, q, anchor)
            inside = a.word_offset(block) < ARTICLE_MAX_WORDS
            loc[(q.text, d)] = (start, block, how, inside)

    eligible = [q for q in kept if q.kind in spec["test_kinds"] and 1 <= len(q.targets) <= 3
                and all(loc[(q.text, d)][3] for d in q.targets)]
    n_test = min(spec["test"], len(eligible))
    test = rng.sample(eligible, n_test)
    test_keys = {key(q.text) for q in test}
    train_q = [q for q in kept if key(q.text) not in test_keys]
    rng.shuffle(train_q)
    pairs = []
    for q in train_q:
        if len(pairs) + len(q.targets) > MAX_TRAIN_PAIRS:
            break
        for d in sorted(q.targets):
            start, block, how, _ = loc[(q.text, d)]
            a = arts[d]
            kind = ("section:" if start >= 0 else "article:") + how
            # a term deep in a long section (a row of a function table): a window from its block on
            if how == "term" and a.word_offset(block) - a.word_offset(max(start, 0)) > POSITIVE_MAX_WORDS // 2:
                positive, kind = a.section_text(start, from_block=block), "window:term"
            else:
                positive = a.section_text(start)
            pairs.append({"query": q.text, "positive": positive, "doc_id": d, "source": "bench",
                          "positive_from": kind})
    assert not ({key(p["query"]) for p in pairs} & test_keys)

    # corpus: every page relevant to some kept query, then others (seeded) up to the cap
    relevant = sorted({d for q in kept for d in q.targets})
    others = sorted(set(arts) - set(relevant))
    rng.shuffle(others)
    corpus_ids = set(relevant + others[:max(0, spec["corpus_cap"] - len(relevant))])
    corpus = [arts[d] for d in sorted(corpus_ids)]

    sdir = out / name
    (sdir / "eval").mkdir(parents=True, exist_ok=True)
    write_jsonl(sdir / "docs.jsonl", ({"id": a.id, "title": a.title, "text": texts[a.id], "url": a.url}
                                      for a in corpus))
    write_jsonl(sdir / "eval/corpus.jsonl", ({"_id": a.id, "title": a.title, "text": texts[a.id]} for a in corpus))
    test.sort(key=lambda q: key(q.text))
    qids = {q.text: f"{name[:2]}{i:04d}" for i, q in enumerate(test, 1)}
    write_jsonl(sdir / "eval/queries.jsonl", ({"_id": qids[q.text], "text": q.text,
                                               "metadata": {"source": q.kind, "kind": "devbench"}} for q in test))
    with open(sdir / "eval/qrels.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q in test:
            for d in sorted(q.targets):
                f.write(f"{qids[q.text]}\t{d}\t1\n")
    write_jsonl(sdir / "train_pairs.jsonl", pairs)
    (sdir / "embtune.toml").write_text(
        f'# Development benchmark, rebuilt by bench/devbench/build.py (not committed).\n'
        f'name = "{spec["name"]}"\nworkspace = "workspace"\n\n'
        f'[docs]\npath = "docs.jsonl"\n\n[eval]\npath = "eval"\n', encoding="utf-8")

    words = [len(texts[a.id].split()) for a in corpus]
    rel_counts = [len(q.targets) for q in test]
    easy = sum(max(title_overlap(q.text, arts[d].title) for d in q.targets) >= 0.8 for q in test)
    stats = {
        "source": name, "package": pkg, "version": version,
        "articles": len(corpus), "articles_parsed": len(arts),
        "articles_truncated": sum(a.n_words > ARTICLE_MAX_WORDS for a in corpus),
        "mean_words_per_article": round(sum(words) / len(words), 1),
        "queries_total": len(kept), "queries_test": len(test), "queries_train": len({p["query"] for p in pairs}),
        "queries_not_used": len(train_q) - len({p["query"] for p in pairs}),
        "train_pairs": len(pairs),
        "test_eligible": len(eligible),
        "relevant_docs_per_test_query": {str(k): rel_counts.count(k) for k in sorted(set(rel_counts))},
        "mean_relevant_docs_per_query_all": round(sum(len(q.targets) for q in kept) / len(kept), 3),
        "query_kinds": {k: sum(q.kind == k for q in kept) for k in sorted({q.kind for q in kept})},
        "dropped": dropped,
        "positive_from": {k: sum(p["positive_from"] == k for p in pairs)
                          for k in sorted({p["positive_from"] for p in pairs})},
        "test_title_overlap_ge_0_8": round(easy / len(test), 3) if test else 0.0,
        "test_targets_seen_in_train": round(sum(any(d in {p["doc_id"] for p in pairs} for d in q.targets)
                                                for q in test) / max(len(test), 1), 3),
        "parse": counts, "seed": seed, "build_seconds": round(time.time() - t0, 1),
    }
    (sdir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="bench/data/devbench")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--sources", default=",".join(SOURCES))
    args = ap.parse_args(argv)
    out = Path(args.out)
    cache = out / "cache"
    state: dict = {}
    t0 = time.time()
    for name in args.sources.split(","):
        s = build_source(name.strip(), out, cache, args.seed, state)
        print(f"{name}: {s['package']} {s['version']}: {s['articles']} articles, {s['queries_test']} test queries, "
              f"{s['train_pairs']} train pairs ({s['build_seconds']}s)")
    print(f"done in {time.time() - t0:.0f}s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
