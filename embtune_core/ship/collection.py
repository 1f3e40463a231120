"""Step 6: re-encode the corpus into a new collection, verify it, search it.

* :func:`build_collection` encodes every retrieval unit (normalised, batched, with progress; one process
  per GPU when there are several) into a staging table and publishes it in one transaction. The same
  model and corpus again is a no-op; a failure half-way drops the staging table and touches nothing else.
* :func:`verify` runs the eval set through the database and checks it against the in-memory evaluation
  of the same model: equal with exact search, Recall@5 within 0.01 through the HNSW index.
* :func:`search` refuses a model whose fingerprint differs from the collection's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.errors import StoreError
from ..core.evaluate import MAX_K, evaluate_model, evaluate_ranking
from ..core.models import fingerprint, load_model
from ..core.sources import Corpus, EvalSet
from .store import CollectionInfo, Hit, slug, validate_name

VERIFY_KEYS = ("recall@5", "mrr@10", "ndcg@10", "recall@20")


def corpus_hash(corpus: Corpus) -> str:
    """Hash of what a collection stores: every unit's id, article and text, and every article's title."""
    h = hashlib.sha256()
    for row in corpus.sections.select("section_id", "doc_id", "text").iter_rows():
        h.update(json.dumps(row).encode())
    for row in corpus.docs.select("doc_id", "title").iter_rows():
        h.update(json.dumps(row).encode())
    return h.hexdigest()[:16]


def resolve_label(name_or_path: str) -> str:
    """How a collection records its model: an absolute path for a local folder, else the model id."""
    p = Path(name_or_path).expanduser()
    return str(p.resolve()) if p.exists() else name_or_path


def default_name(label: str, chash: str) -> str:
    """``<model or run>_<corpus hash>``: re-running on the same model and corpus finds the same name."""
    p = Path(label)
    short = f"run_{p.name}" if p.parent.name == "runs" else (p.name if p.exists() else label)
    return f"{slug(short)[:40]}_{chash[:6]}"


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build_collection` did."""

    info: CollectionInfo
    created: bool
    seconds: float = 0.0
    encode_seconds: float = 0.0
    write_seconds: float = 0.0

    def summary(self) -> str:
        if not self.created:
            return f"{self.info.name}: already built from this model and corpus; nothing to do"
        return (f"{self.info.name}: {self.info.unit_count} units of {self.info.doc_count} articles in "
                f"{self.seconds:.1f} s (encode {self.encode_seconds:.1f} s, database {self.write_seconds:.1f} s)")


def _devices() -> list[str] | None:
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(n)] if n > 1 else None


def build_collection(store, model, corpus: Corpus, *, name: str | None = None, model_label: str | None = None,
                     batch_size: int = 64, write_batch: int = 256, replace: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> BuildResult:
    """Encode ``corpus`` with ``model`` into a new collection (see the module docstring)."""
    label = resolve_label(model_label or getattr(model, "embtune_name", "model"))
    fp, chash = fingerprint(model), corpus_hash(corpus)
    name = validate_name(name if name is not None else default_name(label, chash))
    existing = store.get(name)
    if existing is not None:
        if existing.fingerprint == fp and existing.corpus_hash == chash:
            return BuildResult(existing, created=False)
        if not replace:
            raise StoreError(f"collection {name!r} exists with another model or corpus "
                             f"(model {existing.model}, built {existing.created}); pick another name or replace it")
    texts = corpus.sections["text"].to_list()
    unit_ids, doc_ids = corpus.sections["section_id"].to_list(), corpus.sections["doc_id"].to_list()
    info = CollectionInfo(name=name, model=str(label), fingerprint=fp,
                          dim=int(model.get_embedding_dimension()), doc_count=corpus.docs.height,
                          unit_count=len(texts), corpus_hash=chash,
                          meta={"max_seq_length": int(model.max_seq_length), "normalized": True})
    titles = dict(zip(corpus.docs["doc_id"], corpus.docs["title"], strict=True))
    # Longest first, like sentence-transformers' own length sort, so chunking costs no padding.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    chunk = max(write_batch, batch_size)
    t0 = time.perf_counter()
    enc_s = write_s = 0.0
    devices = _devices()
    handle = store.create(info)
    try:
        for s in range(0, len(order), chunk):
            idx = order[s:s + chunk]
            t = time.perf_counter()
            vecs = model.encode_document([texts[i] for i in idx], batch_size=batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False, device=devices)
            enc_s += time.perf_counter() - t
            t = time.perf_counter()
            store.upsert(handle, [unit_ids[i] for i in idx], [doc_ids[i] for i in idx],
                         [titles.get(doc_ids[i], "") for i in idx], [texts[i] for i in idx],
                         np.asarray(vecs, dtype=np.float32))
            write_s += time.perf_counter() - t
            if progress:
                progress(min(s + chunk, len(order)), len(order))
        t = time.perf_counter()
        store.publish(handle, info, replace=replace)
        write_s += time.perf_counter() - t
    except BaseException:
        with contextlib.suppress(Exception):  # never hide the real error behind a failed cleanup
            store.discard(handle)
        raise
    return BuildResult(store.get(name), created=True, seconds=time.perf_counter() - t0,
                       encode_seconds=enc_s, write_seconds=write_s)


def check_model(store, name: str, model) -> CollectionInfo:
    """The collection's registry row, after checking ``model`` is the one that encoded it."""
    info = store.get(validate_name(name))
    if info is None:
        raise StoreError(f"no collection {name!r} (collections: {', '.join(c.name for c in store.list()) or 'none'})")
    fp = fingerprint(model)
    if fp != info.fingerprint:
        raise StoreError(f"collection {name!r} was encoded by {info.model} (fingerprint {info.fingerprint}); this "
                         f"model's fingerprint is {fp}. Vectors from different models are not comparable: search "
                         "it with its own model, or re-encode the corpus into a new collection")
    return info


def search(store, name: str, model, queries: list[str], k: int = 5) -> list[list[Hit]]:
    """Search collection ``name`` for each query, embedded by ``model`` (which must be the collection's)."""
    check_model(store, name, model)
    vecs = model.encode_query(queries, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    return store.search(name, np.asarray(vecs, dtype=np.float32), k)


def load_collection_model(store, name: str):
    """Load the model a collection records (a run folder or a model name) and check its fingerprint."""
    info = store.get(validate_name(name))
    if info is None:
        raise StoreError(f"no collection {name!r}")
    model = load_model(info.model)
    check_model(store, name, model)
    return model


@dataclass(frozen=True)
class VerifyReport:
    """Metrics of the same model in memory, through exact database search, and through the HNSW index."""

    collection: str
    memory: dict[str, float]
    exact: dict[str, float]
    hnsw: dict[str, float]

    @property
    def exact_ok(self) -> bool:
        return all(abs(self.memory[k] - self.exact[k]) <= 1e-6 for k in self.memory)

    @property
    def hnsw_ok(self) -> bool:
        return abs(self.memory["recall@5"] - self.hnsw["recall@5"]) <= 0.01

    @property
    def ok(self) -> bool:
        return self.exact_ok and self.hnsw_ok

    def rows(self) -> list[dict]:
        return [{"search": s, **{k: round(d[k], 4) for k in VERIFY_KEYS}}
                for s, d in (("in memory", self.memory), ("database, exact", self.exact),
                             ("database, HNSW", self.hnsw))]

    def summary(self) -> str:
        verdict = "OK" if self.ok else "MISMATCH"
        return (f"{verdict}: Recall@5 in memory {self.memory['recall@5']:.4f}, exact {self.exact['recall@5']:.4f}, "
                f"HNSW {self.hnsw['recall@5']:.4f}; MRR@10 {self.memory['mrr@10']:.4f} / "
                f"{self.exact['mrr@10']:.4f} / {self.hnsw['mrr@10']:.4f}")


def verify(store, name: str, model, corpus: Corpus, evalset: EvalSet, *, cache=None) -> VerifyReport:
    """Evaluate collection ``name`` through the database and against the in-memory evaluation."""
    from ..core.embeddings import Encoder

    check_model(store, name, model)
    memory = evaluate_model(model, corpus, evalset, cache=cache)
    qids = list(evalset.queries)
    qv = Encoder(model, cache).encode([evalset.queries[q] for q in qids], "query")
    out = {}
    for mode, exact in (("exact", True), ("hnsw", False)):
        hits = store.search_articles(name, qv, k=MAX_K, exact=exact)
        out[mode] = evaluate_ranking(dict(zip(qids, hits, strict=True)), evalset).metrics
    return VerifyReport(name, {k: memory.metrics[k] for k in VERIFY_KEYS},
                        {k: out["exact"][k] for k in VERIFY_KEYS}, {k: out["hnsw"][k] for k in VERIFY_KEYS})
