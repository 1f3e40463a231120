"""OpenAI-compatible HTTP endpoints (``/v1/embeddings``), with an on-disk cache.

The API key is read from an environment variable at call time and only ever goes into the
``Authorization`` header: never into the cache, the manifest, a log line or an error message. It is
never sent to another host either: a redirect to another scheme, host or port is refused (urllib's
default opener would re-send the header to wherever a redirect points, https -> http included).
Endpoints are shown and stored with their secrets masked (:func:`~.privacy.mask_secrets`: ``?key=``,
``token=``, passwords). Cached vectors are keyed by (endpoint, model, text hash), so a rerun is free
and an interrupted run resumes.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import json
import math
import os
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import numpy as np

from .embeddings import EmbeddingCache, text_hash
from .errors import RemoteError
from .privacy import mask_secrets

RETRY_STATUS = {429, 500, 502, 503, 504}
#: Longest wait between two attempts, whatever the server asks.
MAX_WAIT = 30.0


def retry_after(value: str | None, default: float, *, now: float | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110).

    A date in the past or a negative number waits 0 s; a missing or unreadable value waits ``default``;
    the result is capped at :data:`MAX_WAIT`.
    """
    if value is None or not value.strip():
        return min(default, MAX_WAIT)
    value = value.strip()
    try:
        wait = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return min(default, MAX_WAIT)
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        wait = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(wait):
        return min(default, MAX_WAIT)
    return min(max(wait, 0.0), MAX_WAIT)


def _origin(url: str) -> tuple[str, str, int | None]:
    u = urlsplit(url)
    try:
        port = u.port or {"http": 80, "https": 443}.get(u.scheme.lower())
    except ValueError:
        port = None
    return u.scheme.lower(), (u.hostname or "").lower(), port


class KeyGuardRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Redirects never carry the API key away: a redirect of a request with an ``Authorization`` header
    to another scheme, host or port (https -> http included) is refused with a :class:`RemoteError`;
    one to the same origin is followed, a 307/308 re-POSTing the same body."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if req.has_header("Authorization") and _origin(newurl) != _origin(req.full_url):
            raise RemoteError(f"{mask_secrets(req.full_url)}: HTTP {code} redirect to {mask_secrets(newurl)} not "
                              "followed: the API key is never sent to another host or over plain http; point "
                              "base_url at the final address")
        if code in (307, 308) and req.get_method() == "POST":
            return urllib.request.Request(newurl, data=req.data, headers=dict(req.header_items()), method="POST",
                                          origin_req_host=req.origin_req_host, unverifiable=True)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


#: The opener every request goes through (urllib's defaults, with :class:`KeyGuardRedirectHandler`).
OPENER = urllib.request.build_opener(KeyGuardRedirectHandler)


def post_json(url: str, payload: dict, *, api_key: str | None, timeout: float = 30.0, retries: int = 4,
              backoff: float = 0.5) -> dict:
    """POST JSON and decode the JSON answer, retrying 429, 5xx and timeouts with exponential backoff.

    Messages name the endpoint with its secrets masked, and never hold the key, even when the server
    echoes it back."""
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    shown = mask_secrets(url, [api_key] if api_key else ())
    last = ""
    for attempt in range(retries + 1):
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with OPENER.open(req, timeout=timeout) as resp:
                raw = resp.read()
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                first = mask_secrets(repr(raw[:80]), [api_key] if api_key else ())
                raise RemoteError(f"{shown}: answer is not JSON (first bytes: {first})") from None
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
            if e.code not in RETRY_STATUS:
                detail = mask_secrets(e.read()[:200].decode("utf-8", "replace"), [api_key] if api_key else ())
                raise RemoteError(f"{shown}: {last}: {detail}") from None
            wait = retry_after(e.headers.get("Retry-After"), backoff * 2**attempt)
        except (TimeoutError, urllib.error.URLError, ConnectionError) as e:
            last = mask_secrets(f"{type(e).__name__}: {getattr(e, 'reason', e)}", [api_key] if api_key else ())
            wait = backoff * 2**attempt
        if attempt < retries:
            time.sleep(min(wait, MAX_WAIT))
    raise RemoteError(f"{shown}: gave up after {retries + 1} attempts (last: {last})")


class RemoteEmbedder:
    """Embeds texts through an OpenAI-compatible ``/v1/embeddings`` endpoint, cached on disk."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 cache: EmbeddingCache | None = None, batch_size: int = 64, timeout: float = 30.0):
        if not base_url or not model:
            raise RemoteError("an embeddings endpoint needs both a base_url and a model")
        self.url = base_url.rstrip("/") + ("/embeddings" if base_url.rstrip("/").endswith("/v1") else "/v1/embeddings")
        #: the endpoint as shown and stored: secrets in it (``?key=``, a password) masked
        self.shown_url = mask_secrets(self.url)
        self.model = model
        self.api_key_env = api_key_env
        self.cache = cache
        self.batch_size = batch_size
        self.timeout = timeout
        self.stats = {"cached": 0, "requests": 0, "encoded": 0, "tokens": 0}
        self.fingerprint = "remote-" + hashlib.sha256(f"{self.url}\0{model}".encode()).hexdigest()[:12]

    def encode(self, texts: list[str], kind: str = "document") -> np.ndarray:
        key = self.fingerprint
        hashes = [text_hash(t) for t in texts]
        found = self.cache.get_many(key, hashes) if self.cache else [None] * len(texts)
        todo = [i for i, v in enumerate(found) if v is None]
        self.stats["cached"] += len(texts) - len(todo)
        api_key = os.environ.get(self.api_key_env) or None
        for s in range(0, len(todo), self.batch_size):
            idx = todo[s:s + self.batch_size]
            answer = post_json(self.url, {"model": self.model, "input": [texts[i] for i in idx]},
                               api_key=api_key, timeout=self.timeout)
            self.stats["requests"] += 1
            try:
                data = sorted(answer["data"], key=lambda d: d["index"])
                vecs = np.array([d["embedding"] for d in data], dtype=np.float32)
            except (KeyError, TypeError, ValueError):
                raise RemoteError(f"{self.shown_url}: answer has no usable 'data[].embedding'") from None
            if vecs.shape[0] != len(idx):
                raise RemoteError(f"{self.shown_url}: asked for {len(idx)} embeddings, got {vecs.shape[0]}")
            self.stats["tokens"] += int((answer.get("usage") or {}).get("total_tokens") or 0)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True).clip(min=1e-12)
            if self.cache:
                self.cache.put_many(key, [hashes[i] for i in idx], vecs,
                                    {"endpoint": self.shown_url, "model": self.model})
            for j, i in enumerate(idx):
                found[i] = vecs[j]
            self.stats["encoded"] += len(idx)
        return np.stack(found).astype(np.float32) if texts else np.zeros((0, 0), np.float32)
