"""``embtune init DOCS``: a commented ``embtune.toml`` for what DOCS holds, and the commands to run next.

:func:`scaffold` detects the docs format, loads the docs once with the loader every step uses (so a bad
file shows now, not in step 2), suggests whether to split long articles from their lengths, looks for
an eval set beside the docs, and writes the project file atomically. Paths in the file are relative to
it. It never overwrites a project file (:class:`~embtune_core.core.errors.ProjectExistsError`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shlex
import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .core.config import DocsConfig, ProjectConfig, from_dict
from .core.errors import InputError, ProjectExistsError
from .core.models import DEFAULT_MODEL
from .core.sources import Corpus, load_docs, load_eval_set, split_sections
from .core.workspace import write_text

PROJECT_FILE = "embtune.toml"
SPLIT_MIN_WORDS = DocsConfig().split_min_words
#: Splitting is suggested when at least this share of the articles is longer than ``SPLIT_MIN_WORDS``
#: and has two or more ``##`` headings to split at.
SPLIT_SHARE = 0.1
_HEADING = re.compile(r"^##\s+\S", re.M)


@dataclass(frozen=True)
class InitReport:
    """What :func:`scaffold` found and wrote."""

    project_file: str
    #: The docs path as written in the project file (relative to it).
    docs: str
    format: str
    articles: int
    #: Retrieval units with the suggested split.
    sections: int
    #: Pages or records left out (redirect or empty pages, drafts), ``"file[:line]: reason"``.
    skipped: tuple[str, ...]
    median_words: int
    #: Articles longer than ``SPLIT_MIN_WORDS`` with two or more ``##`` headings.
    long_articles: int
    split_sections: bool
    #: The eval set as written in the project file, ``""`` when none was found.
    eval_set: str
    #: Signals the project has no source for yet (``search log``, ``tickets``, ``LLM endpoint``, ``eval set``).
    missing: tuple[str, ...]
    next_commands: tuple[str, ...]

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def summary(self) -> str:
        """What a person reads after ``embtune init``: what was found, what is missing, what to run."""
        lines = [f"wrote {self.project_file}",
                 f"docs: {self.docs} ({self.format}): {self.articles} articles, {self.sections} retrieval units "
                 f"(split long articles: {'yes' if self.split_sections else 'no'}; median {self.median_words} words, "
                 f"{self.long_articles} over {SPLIT_MIN_WORDS} words with headings)"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}: " + "; ".join(self.skipped[:3])
                         + (" ..." if len(self.skipped) > 3 else ""))
        lines.append(f"eval set: {self.eval_set}" if self.eval_set else
                     "eval set: none yet: judge real questions (`embtune judge`, or notebook 03), or put them "
                     "in eval/ (queries.jsonl, qrels.tsv); steps 1, 3 and 5 measure on it and `pairs export` "
                     "audits leakage against it")
        missing = [m for m in self.missing if m != "eval set"]
        if missing:
            lines.append(f"missing: {', '.join(missing)} (see the comments in {PROJECT_FILE} for what each adds)")
        lines.append("next:")
        lines.extend(f"  {c}" for c in self.next_commands)
        return "\n".join(lines)


def scaffold(docs_path: str | Path, out_dir: str | Path | None = None, *, name: str = "") -> InitReport:
    """Write ``OUT_DIR/embtune.toml`` (default: the current folder) for the docs at ``docs_path``.

    Raises :class:`ProjectExistsError` when the file exists, and the loader's :class:`InputError` when
    the docs cannot be read (nothing is written then).
    """
    out = Path(out_dir).expanduser().resolve() if out_dir else Path.cwd()
    target = out / PROJECT_FILE
    if target.exists():
        raise ProjectExistsError(f"{target}: already exists; embtune init never overwrites a project file "
                                 "(edit it, or move it away to start over)")
    docs = Path(docs_path).expanduser().resolve()
    corpus = load_docs(docs, "auto", split=False)
    words = [len(t.split()) for t in corpus.docs["text"]]
    long = sum(w > SPLIT_MIN_WORDS and len(_HEADING.findall(t)) >= 2 for w, t in zip(words, corpus.docs["text"],
                                                                                     strict=True))
    split = long >= max(1, math.ceil(SPLIT_SHARE * len(words)))
    units = split_sections(corpus.docs, split=split, min_words=SPLIT_MIN_WORDS).height
    eval_dir = _find_eval_set(docs, out, corpus)
    missing = ("search log", "tickets", "LLM endpoint") + (() if eval_dir else ("eval set",))
    project = _shell_path(target)
    needs_eval = "" if eval_dir else "   # once you have judged some questions"
    report = InitReport(
        project_file=str(target), docs=_rel(docs, out), format=corpus.format, articles=corpus.docs.height,
        sections=units, skipped=corpus.skipped, median_words=int(statistics.median(words)), long_articles=long,
        split_sections=split, eval_set=_rel(eval_dir, out) if eval_dir else "", missing=missing,
        next_commands=(
            *(() if eval_dir else (
                f"embtune judge --project {project} --query \"a real question\" --list   # the articles to judge",
                f"embtune judge --project {project} --query \"a real question\" --relevant DOC_ID   # "
                f"writes {_rel(out / 'eval', out)}/ (50+ questions)")),
            f"embtune mine --project {project}   # candidate pairs (from the docs alone until you add signals)",
            f"embtune info --project {project} --no-model   # what the project has, and what is missing",
            f"embtune eval --project {project} --ci --save-baseline{needs_eval}",
            f"embtune pairs export --project {project}"
            + ("" if eval_dir else "   # audited for leakage once the eval set exists"),
            f"embtune train --project {project}",
            f"EMBTUNE_PROJECT={shlex.quote(str(target))} ./scripts/workbench   # the six notebooks on this project "
            "(from the embtune checkout)",
        ))
    text = render(report, name=name or out.name or "my help center", export_keys=_export_keys(corpus, docs),
                  example_id=corpus.doc_ids()[0])
    from_dict(ProjectConfig, tomllib.loads(text), "")  # what we write must load
    if target.exists():  # created meanwhile
        raise ProjectExistsError(f"{target}: already exists; embtune init never overwrites a project file")
    write_text(target, text)
    return report


def _rel(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive
        return str(path)


def _shell_path(target: Path) -> str:
    try:
        shown = os.path.relpath(target)
    except ValueError:
        shown = str(target)
    if shown.startswith(".." + os.sep + ".."):
        shown = str(target)
    return shlex.quote(shown)


def _find_eval_set(docs: Path, out: Path, corpus: Corpus) -> Path | None:
    """A BEIR folder beside the docs (a BEIR corpus's own folder, ``OUT/eval``, ``DOCS/../eval``) whose
    judgments load against ``corpus``."""
    candidates = ([docs.parent] if docs.is_file() else []) + [out / "eval", docs.parent / "eval"]
    for folder in dict.fromkeys(candidates):
        if (folder / "queries.jsonl").is_file():
            try:
                load_eval_set(folder, corpus)
                return folder
            except InputError:
                continue
    return None


def _export_keys(corpus: Corpus, docs: Path) -> dict[str, str | None]:
    if corpus.format != "export":
        return {}
    from .core.doc_formats import export_fields, export_records

    first = next((r for _, _, r in export_records(docs) if isinstance(r, dict)), {})
    return export_fields(first)


def _s(value: str) -> str:
    """A TOML basic string."""
    return json.dumps(value, ensure_ascii=False)


def render(r: InitReport, *, name: str, export_keys: dict[str, str | None], example_id: str = "") -> str:
    """The project file's text: every key commented, the missing signals as commented-out tables."""
    out = [
        f"# embtune project, written by `embtune init` for {r.docs}. Every path is relative to this file.",
        "# Every table and key is documented in embtune_core/core/config.py; sample_data/embtune.toml is a",
        "# complete project with every signal.",
        "",
        f"name = {_s(name)}",
        'workspace = "workspace"   # where every step writes what the next reads (keep it out of git)',
        "",
        "[docs]",
        f"# Found {r.articles} articles" + (f"; skipped {len(r.skipped)} (redirect or empty pages, drafts: "
                                           "`embtune init` listed them)" if r.skipped else "") + ".",
        f"path = {_s(r.docs)}",
        f"format = {_s(r.format)}   # detected; auto | markdown | html | jsonl | beir | export",
        f"# Median article: {r.median_words} words; {r.long_articles} of {r.articles} articles are longer than "
        f"{SPLIT_MIN_WORDS} words and",
        f"# have two or more headings. With the setting below: {r.sections} retrieval units (metrics stay per",
        "# article).",
        f"split_sections = {'true' if r.split_sections else 'false'}"
        + ("      # many long articles: a section embeds better than a whole page" if r.split_sections else
           "     # few long articles: whole articles embed fine"),
        f"split_min_words = {SPLIT_MIN_WORDS}",
    ]
    if export_keys:
        out += ["", "# The record keys read from the export (detected on its first record); set one to override.",
                "[docs.fields]"]
        out += [f"# {k} = {_s(v)}" if v else f"# {k} = \"\"   # not found: set it" for k, v in export_keys.items()]
    out += ["", *_signals_block(r), ""]
    if r.eval_set:
        out += ["[eval]", f"path = {_s(r.eval_set)}   # found beside the docs: queries.jsonl + qrels.tsv (BEIR)"]
    else:
        out += ["[eval]",
                "# Not there yet. The held-out, human-judged set every number comes from: 50+ real questions",
                "# (queries.jsonl: {\"_id\", \"text\"}) and the ids of the articles that answer them (qrels.tsv:",
                f"# query-id, corpus-id, score; an id looks like {_s(example_id)}). Write it before training,",
                "# without looking at the mined pairs.",
                'path = "eval"']
    out += ['kind = "human"', "",
            "[model]",
            f"base = {_s(DEFAULT_MODEL)}   # small and fast on a CPU; step 1 compares others on your eval set",
            ""]
    return "\n".join(out)


def _signals_block(r: InitReport) -> list[str]:
    has_eval = bool(r.eval_set)
    steps = [
        "1 base model: " + ("dense vs BM25 vs hybrid on your eval set." if has_eval else
                            "needs the eval set ([eval] below) to measure anything."),
        "2 mine pairs: title -> article and heading -> section pairs from the docs alone (noisy). A search",
        "  log, tickets or an LLM endpoint add real questions; each is a table below.",
        "3 eval set: " + ("a baseline with confidence intervals." if has_eval else
                          "write it by hand (see [eval]); with a search log, notebook 03 also queues"),
        *([] if has_eval else ["  unanswered searches for someone to judge."]),
        "4 train: fine-tunes on whatever step 2 exported; docs-only pairs teach your vocabulary, not",
        "  how customers ask.",
        "5 compare: " + ("base vs tuned on the eval set, with the ship gate." if has_eval else "needs the eval set."),
        "6 ship: re-encodes the docs into a new vector collection and searches it without any signal;",
        "  an A/B analysis needs your search service's event log ([abtest] events).",
    ]
    return [
        "# Signals: no search log, tickets or LLM endpoint yet. Without them each step still does:",
        *(f"#   {s}" for s in steps),
        "",
        "# [search_log]            # one line per search: the query, the results shown, the clicks",
        '# path = "signals/search_log.jsonl"   # JSONL, CSV or Parquet',
        "# [search_log.fields]     # your export's names for: query, session, timestamp, results, clicks,",
        '# query = "query"         # click_url, click_position, click_dwell, search_id',
        "",
        "# [tickets]               # support tickets and the article(s) that resolved them",
        '# path = "signals/tickets.csv"',
        "# [tickets.fields]",
        '# id = "id"',
        '# subject = "subject"',
        '# body = "body"',
        '# resolved = "resolved_articles"',
        "",
        "# [llm]                   # an OpenAI-compatible chat endpoint that writes questions per article",
        '# base_url = "http://127.0.0.1:11434/v1"',
        '# model = "llama3.1:8b"',
        '# api_key_env = "OPENAI_API_KEY"   # the key is read from this environment variable, never from here',
    ]
