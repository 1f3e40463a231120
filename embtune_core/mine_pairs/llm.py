"""LLM-generated queries through any OpenAI-compatible chat-completions endpoint.

OpenAI, vLLM, Ollama and llama.cpp all speak ``POST {base_url}/chat/completions``. The key is read
from the environment variable named in the config, only at call time, and only ever sent in the
``Authorization`` header. Every answer is cached on disk, one file per (endpoint, model, prompt,
doc hash), written atomically: a rerun is free and an interrupted run resumes where it stopped.
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
        base = base_url.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
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
            raise RemoteError(f"{self.url}: answer has no choices[0].message.content") from None
        if not isinstance(text, str):
            raise RemoteError(f"{self.url}: message content is not text")
        return text, answer.get("usage") or {}


def parse_queries(text: str, n: int) -> list[str]:
    """One query per line, bullets/numbering/quotes stripped, at most ``n``."""
    out = []
    for line in text.splitlines():
        q = _BULLET.sub("", line).strip().strip("\"'“”").strip()
        if q and q not in out:
            out.append(q)
    return out[:n]


def cache_key(url: str, model: str, prompt: str) -> str:
    return hashlib.sha256(f"{url}\0{model}\0{prompt}".encode()).hexdigest()[:24]


def generate_queries(docs: pl.DataFrame, client: ChatClient, cache_dir: str | Path, *, n: int = 4,
                     concurrency: int = 4, progress: Callable[[int, int], None] | None = None
                     ) -> tuple[pl.DataFrame, LlmStats]:
    """Ask for ``n`` queries per article (``doc_id``, ``title``, ``text``), cached per prompt.

    Returns (doc_id, query, source_ref) rows for every article that succeeded, and stats. Articles
    whose request failed are listed in ``stats.failed`` with the reason; everything already cached or
    answered is kept.
    """
    cache_dir = Path(cache_dir)
    stats = LlmStats()
    jobs = []
    for doc_id, title, text in docs.select("doc_id", "title", "text").iter_rows():
        prompt = PROMPT.format(n=n, title=title, text=text[:6000])
        jobs.append((doc_id, prompt, cache_dir / f"{cache_key(client.url, client.model, prompt)}.json"))
    results: dict[str, list[str]] = {}
    todo = []
    for doc_id, prompt, path in jobs:
        if path.exists():
            results[doc_id] = json.loads(path.read_text())["queries"]
            stats.cached += 1
        else:
            todo.append((doc_id, prompt, path))

    def one(job):
        doc_id, prompt, path = job
        text, usage = client.complete(prompt)
        queries = parse_queries(text, n)
        if not queries:
            raise RemoteError(f"{client.url}: no usable lines in the answer for {doc_id!r}")
        write_json(path, {"doc_id": doc_id, "model": client.model, "endpoint": client.url, "queries": queries,
                          "usage": usage})
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


def load_generated(cache_dir: str | Path) -> pl.DataFrame | None:
    """Queries generated earlier into this workspace's cache (no request made), or ``None``."""
    rows = []
    for path in sorted(Path(cache_dir).glob("*.json")):
        obj = json.loads(path.read_text())
        rows += [{"doc_id": obj["doc_id"], "query": q, "source_ref": f"llm:{obj['model']}"} for q in obj["queries"]]
    return pl.DataFrame(rows, schema={"doc_id": pl.String, "query": pl.String, "source_ref": pl.String}) if rows else None
