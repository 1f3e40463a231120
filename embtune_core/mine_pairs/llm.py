"""LLM-generated queries through any OpenAI-compatible chat-completions endpoint.

OpenAI, vLLM, Ollama and llama.cpp all speak ``POST {base_url}/chat/completions``. The key is read
from the environment variable named in the config, only at call time, and only ever sent in the
``Authorization`` header. Every answer is cached on disk, one file per (endpoint, model, prompt,
article version), written atomically: a rerun is free and an interrupted run resumes where it stopped.
:func:`load_generated` reads back only the answers the current endpoint, model, prompt and article
versions would be served from, never those of another model or of an edited article.
Requests run with bounded concurrency; 429s, 5xx and timeouts are retried with backoff.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..core.errors import RemoteError
from ..core.privacy import mask_secrets
from ..core.remote import post_json
from ..core.workspace import write_json

PROMPT = """You help build the search of a software company's help center.
Read the article below and write {n} different things real customers would type into the help-center
search box or ask support when this article is what they need. Write them the way customers talk:
their own words rather than the article's terms, some short keyword searches, some full questions,
some describing the symptom they see. One per line, no numbering, nothing else.

Title: {title}

{text}"""

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|q\d*[:.)])\s*", re.I)


@dataclass
class LlmStats:
    requests: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.requests} requests ({self.cached} docs from cache), {self.prompt_tokens} prompt + "
                f"{self.completion_tokens} completion tokens, {len(self.failed)} docs failed")


class ChatClient:
    """A minimal OpenAI-compatible chat client (no SDK needed)."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", timeout: float = 60.0,
                 retries: int = 4, backoff: float = 1.0, temperature: float = 0.7):
        if not base_url or not model:
            raise RemoteError("an LLM endpoint needs [llm] base_url and model in embtune.toml")
        self.url = chat_url(base_url)
        #: the endpoint as shown and stored (cache records, messages): ``?key=``, passwords masked
        self.shown_url = mask_secrets(self.url)
        self.model, self.api_key_env = model, api_key_env
        self.timeout, self.retries, self.backoff, self.temperature = timeout, retries, backoff, temperature

    def complete(self, prompt: str) -> tuple[str, dict]:
        answer = post_json(self.url, {"model": self.model, "temperature": self.temperature,
                                      "messages": [{"role": "user", "content": prompt}]},
                           api_key=os.environ.get(self.api_key_env) or None, timeout=self.timeout,
                           retries=self.retries, backoff=self.backoff)
        try:
            text = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise RemoteError(f"{self.shown_url}: answer has no choices[0].message.content") from None
        if not isinstance(text, str):
            raise RemoteError(f"{self.shown_url}: message content is not text")
        return text, answer.get("usage") or {}


def parse_queries(text: str, n: int) -> list[str]:
    """One query per line, bullets/numbering/quotes stripped, at most ``n``."""
    out = []
    for line in text.splitlines():
        q = _BULLET.sub("", line).strip().strip("\"'“”").strip()
        if q and q not in out:
            out.append(q)
    return out[:n]


def chat_url(base_url: str) -> str:
    """The chat-completions URL of an OpenAI-compatible base URL (``.../v1`` or the server root)."""
    base = base_url.rstrip("/")
    return base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")


def doc_version(title: str, text: str) -> str:
    """A hash of the whole article (the prompt holds only its first 6,000 characters)."""
    return hashlib.sha256(f"{title}\0{text}".encode()).hexdigest()[:16]


def cache_key(url: str, model: str, prompt: str, version: str = "") -> str:
    """The cache file name of one answer: endpoint, model, prompt and article version."""
    return hashlib.sha256(f"{url}\0{model}\0{prompt}\0{version}".encode()).hexdigest()[:24]


def cache_jobs(docs: pl.DataFrame, url: str, model: str, cache_dir: str | Path, n: int) -> list[tuple]:
    """(doc_id, prompt, version, cache file) per article of ``docs`` (``doc_id``, ``title``, ``text``)."""
    jobs = []
    for doc_id, title, text in docs.select("doc_id", "title", "text").iter_rows():
        prompt = PROMPT.format(n=n, title=title, text=text[:6000])
        version = doc_version(title, text)
        jobs.append((doc_id, prompt, version, Path(cache_dir) / f"{cache_key(url, model, prompt, version)}.json"))
    return jobs


def generate_queries(docs: pl.DataFrame, client: ChatClient, cache_dir: str | Path, *, n: int = 4,
                     concurrency: int = 4, progress: Callable[[int, int], None] | None = None
                     ) -> tuple[pl.DataFrame, LlmStats]:
    """Ask for ``n`` queries per article (``doc_id``, ``title``, ``text``), cached per prompt.

    Returns (doc_id, query, source_ref) rows for every article that succeeded, and stats. Articles
    whose request failed are listed in ``stats.failed`` with the reason; everything already cached or
    answered is kept.
    """
    stats = LlmStats()
    jobs = cache_jobs(docs, client.url, client.model, cache_dir, n)
    results: dict[str, list[str]] = {}
    todo = []
    for job in jobs:
        cached = _read_cached(job[3])
        if cached is not None:
            results[job[0]] = cached
            stats.cached += 1
        else:
            todo.append(job)

    def one(job):
        doc_id, prompt, version, path = job
        text, usage = client.complete(prompt)
        queries = parse_queries(text, n)
        if not queries:
            raise RemoteError(f"{client.shown_url}: no usable lines in the answer for {doc_id!r}")
        write_json(path, {"doc_id": doc_id, "model": client.model, "endpoint": client.shown_url, "doc_version": version,
                          "queries": queries, "usage": usage})
        return doc_id, queries, usage

    done = 0
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {pool.submit(one, j): j[0] for j in todo}
        for fut in as_completed(futures):
            done += 1
            stats.requests += 1
            try:
                doc_id, queries, usage = fut.result()
                results[doc_id] = queries
                stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
                stats.completion_tokens += int(usage.get("completion_tokens") or 0)
            except RemoteError as e:
                stats.failed.append(f"{futures[fut]}: {e}")
            if progress:
                progress(done, len(todo))
    rows = [{"doc_id": d, "query": q, "source_ref": f"llm:{client.model}"} for d, qs in sorted(results.items())
            for q in qs]
    return pl.DataFrame(rows, schema={"doc_id": pl.String, "query": pl.String, "source_ref": pl.String}), stats


def _read_cached(path: Path) -> list[str] | None:
    """The queries of one cache file; ``None`` when it is missing or unreadable (asked again)."""
    try:
        queries = json.loads(path.read_text(encoding="utf-8"))["queries"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return queries if isinstance(queries, list) and all(isinstance(q, str) for q in queries) else None


def load_generated(cache_dir: str | Path, *, docs: pl.DataFrame, base_url: str, model: str, n: int
                   ) -> pl.DataFrame | None:
    """Queries generated earlier into this cache for exactly this endpoint, model, ``n`` and these article
    versions (no request made), or ``None``: answers of another model or endpoint, or for an article
    edited since, are not read."""
    if not base_url or not model:
        return None
    rows = []
    for doc_id, _, _, path in cache_jobs(docs, chat_url(base_url), model, cache_dir, n):
        queries = _read_cached(path)
        rows += [{"doc_id": doc_id, "query": q, "source_ref": f"llm:{model}"} for q in queries or ()]
    return pl.DataFrame(rows, schema={"doc_id": pl.String, "query": pl.String, "source_ref": pl.String}) if rows else None


def project_generated(project) -> pl.DataFrame | None:
    """:func:`load_generated` for a project: its workspace cache, ``[llm]`` endpoint, model and
    ``queries_per_doc``, and its articles as they are now."""
    c = project.config.llm
    return load_generated(project.workspace.path("cache", "llm"), docs=project.corpus.docs, base_url=c.base_url,
                          model=c.model, n=c.queries_per_doc)
