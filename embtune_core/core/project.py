"""A project: its config, its sources loaded once, and its workspace.

``open_project("sample_data/embtune.toml")`` is what every notebook and CLI command starts from.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .config import ProjectConfig, load_config
from .errors import ConfigError
from .sources import (
    Corpus,
    EvalSet,
    LoadReport,
    load_complaints,
    load_docs,
    load_eval_set,
    load_llm_queries,
    load_search_log,
    load_tickets,
)
from .workspace import Workspace, hash_file

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PROJECT = REPO_ROOT / "sample_data" / "embtune.toml"
#: Files whose presence under ``[eval] path`` means the project has an eval set (BEIR layout).
EVAL_FILES = ("queries.jsonl", "qrels.tsv", "qrels/test.tsv")


@dataclass(frozen=True)
class MissingInput:
    """An optional input a project lacks: what it is, which steps need it, how to add it."""

    input: str
    needed_by: str
    how: str


#: Every optional input, in the order ``embtune info`` lists what is missing.
OPTIONAL_INPUTS = (
    MissingInput("eval set", "steps 1, 3 and 5 (every metric), the leakage audit of `pairs export`, and "
                 "`ship --verify`", "judge real questions in notebook 03 or with `embtune judge`"),
    MissingInput("search log", "step 2 (click pairs, headroom) and step 3 (labelling queue, proxy set)",
                 "[search_log] path: one line per search with the results shown and the clicks"),
    MissingInput("tickets", "step 2 (ticket pairs, headroom) and step 3 (proxy set)",
                 "[tickets] path: tickets and the article(s) that resolved them"),
    MissingInput("LLM", "step 2 (generated questions per article)",
                 "[llm] base_url and model (an OpenAI-compatible endpoint), or [llm] cache"),
    MissingInput("complaints", "step 5 (the complaints side by side) and the ship gate's complaints check",
                 "[eval] complaints: JSONL of the queries your team keeps hearing about"),
)


def default_project_path() -> Path:
    """``$EMBTUNE_PROJECT`` if set, else the sample project shipped in the repository."""
    return Path(os.environ.get("EMBTUNE_PROJECT") or SAMPLE_PROJECT)


class Project:
    """Config + lazily loaded sources + workspace of one ``embtune.toml``."""

    def __init__(self, config: ProjectConfig):
        self.config = config
        self.workspace = Workspace(config.resolve(config.workspace))

    @property
    def name(self) -> str:
        return self.config.name

    @functools.cached_property
    def corpus(self) -> Corpus:
        d = self.config.docs
        return load_docs(self.config.resolve(d.path), d.format, split=d.split_sections,
                         split_min_words=d.split_min_words, fields=d.fields)

    @property
    def has_eval_set(self) -> bool:
        """Whether ``[eval] path`` holds an eval set (its ``queries.jsonl`` or a qrels file). A set that is
        there but malformed still raises when :attr:`eval_set` loads it; a project without one has only
        its docs so far (judge one with notebook 03 or ``embtune judge``)."""
        folder = self.config.resolve(self.config.eval.path)
        return bool(folder) and any((folder / n).is_file() for n in EVAL_FILES)

    @functools.cached_property
    def eval_set(self) -> EvalSet:
        """The eval set of ``[eval] path`` (strict: raises :class:`InputError` when absent or malformed;
        ask :attr:`has_eval_set` first where a project may not have one yet)."""
        return load_eval_set(self.config.resolve(self.config.eval.path), self.corpus, kind=self.config.eval.kind)

    def reload_eval_set(self) -> EvalSet | None:
        """Forget the loaded eval set (it was just rewritten) and load it again; ``None`` when there is none."""
        self.__dict__.pop("eval_set", None)
        return self.eval_set if self.has_eval_set else None

    def missing_inputs(self) -> tuple[MissingInput, ...]:
        """The optional inputs this project lacks, each with the steps that need it (docs are never optional)."""
        c = self.config
        has = {"eval set": self.has_eval_set, "search log": bool(c.search_log.path),
               "tickets": bool(c.tickets.path), "LLM": bool(c.llm.base_url or c.llm.cache),
               "complaints": bool(c.eval.complaints)}
        return tuple(m for m in OPTIONAL_INPUTS if not has[m.input])

    @functools.cached_property
    def complaints(self) -> EvalSet | None:
        p = self.config.resolve(self.config.eval.complaints)
        return load_complaints(p, self.corpus) if p else None

    @functools.cached_property
    def _search_log(self) -> tuple[pl.DataFrame, LoadReport] | None:
        c = self.config.search_log
        p = self.config.resolve(c.path)
        return load_search_log(p, c.fields, self.corpus, fmt=c.format, max_bad_share=c.max_bad_share) if p else None

    @property
    def search_log(self) -> pl.DataFrame | None:
        return self._search_log[0] if self._search_log else None

    @functools.cached_property
    def _tickets(self) -> tuple[pl.DataFrame, LoadReport] | None:
        c = self.config.tickets
        p = self.config.resolve(c.path)
        return load_tickets(p, c.fields, self.corpus, fmt=c.format, max_bad_share=c.max_bad_share) if p else None

    @property
    def tickets(self) -> pl.DataFrame | None:
        return self._tickets[0] if self._tickets else None

    def load_reports(self) -> list[LoadReport]:
        return [r for _, r in filter(None, (self._search_log, self._tickets))]

    @functools.cached_property
    def llm_queries(self) -> pl.DataFrame | None:
        """Cached LLM-generated queries (``doc_id``, ``query``), when the project ships or made some."""
        p = self.config.resolve(self.config.llm.cache)
        return load_llm_queries(p) if p and p.exists() else None

    def input_hashes(self) -> dict[str, str]:
        """Current hashes of the project's inputs, for :meth:`Workspace.status`."""
        out = {"docs": hash_file(self.config.resolve(self.config.docs.path))[:16],
               "config": self.config.hash()}
        for key, rel in (("search_log", self.config.search_log.path), ("tickets", self.config.tickets.path),
                         ("llm", self.config.llm.cache)):
            p = self.config.resolve(rel)
            if p and p.exists():
                out[key] = hash_file(p)[:16]
        if self.has_eval_set:
            # the hash artifacts record (baseline, pairs, runs): the eval set as loaded
            out["eval"] = self.eval_set.sha256
        return out

    def runs(self) -> list[Path]:
        """Training runs with a saved model (``workspace/runs/<id>``), newest first."""
        root = self.workspace.path("runs")
        found = [p for p in root.glob("*") if (p / "modules.json").exists()] if root.is_dir() else []
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    def stale(self):
        return self.workspace.status(self.input_hashes())

    def stale_markdown(self) -> str:
        """The banner every notebook shows when an input changed since an artifact was made ("" if none)."""
        stale = self.stale()
        return ("**Stale artifacts:** " + "; ".join(f"`{s.name}`: {s.reason}" for s in stale)) if stale else ""

    def embedding_cache(self):
        from .embeddings import EmbeddingCache

        return EmbeddingCache(self.workspace.path("cache", "embeddings"))

    def load_base_model(self):
        """The configured base model with the project's max length and query/document prompts."""
        from .models import load_model

        m = self.config.model
        return load_model(m.base, max_seq_length=m.max_seq_length,
                          prompts={"query": m.query_prompt, "document": m.document_prompt})

    def base_encoder(self, model=None):
        """An :class:`~embtune_core.core.embeddings.Encoder` over the base model and the workspace's cache."""
        from .embeddings import Encoder

        return Encoder(model or self.load_base_model(), self.embedding_cache(), batch_size=self.config.model.batch_size)

    def retriever(self, spec, *, models: dict | None = None, corpus: Corpus | None = None):
        """A retriever (:mod:`.retrievers`: ``bm25``, a model, ``hybrid:<model>``, or a loaded model) over
        the project's corpus (or ``corpus``), through the embedding cache, with the project's ``[lexical]``
        and ``[hybrid]`` settings. The base model loads with the project's prompts and max length;
        ``models`` keeps loaded models by name across calls."""
        from .embeddings import Encoder
        from .models import load_model
        from .retrievers import DenseRetriever, Retriever, RetrieverSpec, build

        corpus = corpus if corpus is not None else self.corpus
        models = {} if models is None else models
        cache, bs = self.embedding_cache(), self.config.model.batch_size
        if isinstance(spec, Retriever):
            return spec
        if not isinstance(spec, str | Path | RetrieverSpec):  # a loaded model
            name = getattr(spec, "embtune_name", "model")
            return DenseRetriever(Encoder(spec, cache, batch_size=bs), corpus, RetrieverSpec("dense", name))

        def encoder(name: str):
            if name not in models:
                models[name] = self.load_base_model() if name == self.config.model.base else load_model(name)
            return Encoder(models[name], cache, batch_size=bs)

        return build(str(spec) if isinstance(spec, Path) else spec, corpus, load_encoder=encoder,
                     lexical=self.config.lexical, hybrid=self.config.hybrid)

    def info(self, *, with_model: bool = True) -> dict:
        """Sizes of everything the project holds, and the resolved base model with its fingerprint."""
        log, tickets, llm = self.search_log, self.tickets, self.llm_queries
        out = {
            "project": self.name,
            "docs": self.corpus.docs.height,
            "sections": self.corpus.sections.height,
            "searches": log.height if log is not None else 0,
            "sessions": log["session_id"].n_unique() if log is not None else 0,
            "tickets": tickets.height if tickets is not None else 0,
            "llm_queries": llm.height if llm is not None else 0,
            "eval_queries": len(self.eval_set) if self.has_eval_set else 0,
            "eval_kind": self.eval_set.kind if self.has_eval_set else None,
            "eval_hash": self.eval_set.sha256 if self.has_eval_set else None,
            "complaints": len(self.complaints) if self.complaints else 0,
            "skipped": {r.path: {"bad_lines": len(r.bad_lines), "unknown_doc_refs": len(r.unknown_doc_refs)}
                        for r in self.load_reports()},
            "missing": [dataclasses.asdict(m) for m in self.missing_inputs()],
        }
        if with_model:
            from .models import resolve_model, summarize

            m = self.config.model
            s = summarize(self.load_base_model(), m.base)
            out["base_model"] = {"name": m.base, "resolved": resolve_model(m.base), "fingerprint": s.fingerprint,
                                 "dim": s.dim, "max_seq_length": s.max_seq_length}
        return out


def open_project(path: str | Path | None = None) -> Project:
    """Load a project file (default: :func:`default_project_path`). Raises :class:`ConfigError`.

    ``$EMBTUNE_WORKSPACE``, when set, replaces the workspace folder (tests and CI use it to keep the
    repository clean).
    """
    p = Path(path) if path else default_project_path()
    if not p.exists():
        raise ConfigError(f"{p}: project file not found")
    cfg = load_config(p)
    if os.environ.get("EMBTUNE_WORKSPACE"):
        cfg = dataclasses.replace(cfg, workspace=os.environ["EMBTUNE_WORKSPACE"])
    return Project(cfg)
