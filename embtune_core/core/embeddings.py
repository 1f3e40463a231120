"""Encoding with an on-disk embedding cache.

The cache is keyed by (model fingerprint, prompt, max_seq_length, normalisation) and, inside that, by
the SHA-256 of each text: evaluating the same model twice never re-encodes, and editing one doc
re-encodes one doc. Each encode call that computes something new writes one shard file atomically, so
an interrupted run loses nothing already written.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .models import fingerprint
from .workspace import atomic_path


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class EmbeddingCache:
    """A folder of ``<key>/shard-*.npz`` files (text hashes + float32 vectors)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._mem: dict[str, dict[str, np.ndarray]] = {}

    def _load(self, key: str) -> dict[str, np.ndarray]:
        if key not in self._mem:
            table: dict[str, np.ndarray] = {}
            for shard in sorted((self.root / key).glob("shard-*.npz")):
                with np.load(shard) as z:
                    for h, v in zip(z["hashes"], z["vectors"], strict=True):
                        table[str(h)] = v
            self._mem[key] = table
        return self._mem[key]

    def get_many(self, key: str, hashes: list[str]) -> list[np.ndarray | None]:
        table = self._load(key)
        return [table.get(h) for h in hashes]

    def put_many(self, key: str, hashes: list[str], vectors: np.ndarray, meta: dict | None = None) -> None:
        if not hashes:
            return
        folder = self.root / key
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256("".join(hashes).encode()).hexdigest()[:16]
        with atomic_path(folder / f"shard-{name}.npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, hashes=np.array(hashes), vectors=vectors.astype(np.float32))
        if meta and not (folder / "key.json").exists():
            with atomic_path(folder / "key.json") as tmp:
                tmp.write_text(json.dumps(meta, indent=2))
        self._load(key).update(zip(hashes, vectors.astype(np.float32), strict=True))


def user_cache() -> EmbeddingCache:
    """The cache for evaluations outside a project (``embtune eval --eval-dir``): ``$EMBTUNE_CACHE``, else
    ``$XDG_CACHE_HOME/embtune/embeddings`` (``~/.cache/embtune/embeddings``)."""
    root = os.environ.get("EMBTUNE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") \
        / "embtune" / "embeddings"
    return EmbeddingCache(root)


class Encoder:
    """Encodes queries or documents with a SentenceTransformer, normalised, through a cache.

    ``stats`` counts texts served from the cache and texts actually encoded.
    """

    def __init__(self, model, cache: EmbeddingCache | None = None, *, batch_size: int = 64,
                 model_fingerprint: str | None = None):
        self.model = model
        self.cache = cache
        self.batch_size = batch_size
        self.fingerprint = model_fingerprint or fingerprint(model)
        self.stats = {"cached": 0, "encoded": 0}

    def _key(self, kind: str) -> tuple[str, dict]:
        prompt = (self.model.prompts or {}).get(kind, "")
        meta = {"fingerprint": self.fingerprint, "kind": kind, "prompt": prompt,
                "max_seq_length": int(self.model.max_seq_length), "normalize": True}
        return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:20], meta

    def encode(self, texts: list[str], kind: str = "document",
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Normalised float32 embeddings, ``kind`` is ``query`` or ``document`` (picks the prompt)."""
        hashes = [text_hash(t) for t in texts]
        key, meta = self._key(kind)
        found = self.cache.get_many(key, hashes) if self.cache else [None] * len(texts)
        todo = sorted({h: i for i, (h, v) in enumerate(zip(hashes, found, strict=True)) if v is None}.values())
        self.stats["cached"] += len(texts) - len(todo)
        new: dict[str, np.ndarray] = {}
        if todo:
            fn = self.model.encode_query if kind == "query" else self.model.encode_document
            step = max(self.batch_size * 8, 256)
            for s in range(0, len(todo), step):
                idx = todo[s:s + step]
                vecs = fn([texts[i] for i in idx], batch_size=self.batch_size, convert_to_numpy=True,
                          normalize_embeddings=True, show_progress_bar=False)
                vecs = np.asarray(vecs, dtype=np.float32)
                if self.cache:
                    self.cache.put_many(key, [hashes[i] for i in idx], vecs, meta)
                new.update(zip((hashes[i] for i in idx), vecs, strict=True))
                if progress:
                    progress(min(s + step, len(todo)), len(todo))
            self.stats["encoded"] += len(todo)
        dim = next(v for v in list(new.values()) + [f for f in found if f is not None]).shape[0] if texts else 0
        out = np.empty((len(texts), dim), dtype=np.float32)
        for i, (h, v) in enumerate(zip(hashes, found, strict=True)):
            out[i] = v if v is not None else new[h]
        return out
