"""Step 6: re-encode the corpus into a new collection, verify it, search it.

* :func:`build_collection` encodes every retrieval unit (normalised, batched, with progress; one process
  per GPU when there are several) into a staging table and publishes it in one transaction. The same
  model and corpus again is a no-op; a failure half-way drops the staging table and touches nothing else.
  With ``lexical`` settings the collection is *hybrid*: it also gets the corpus's BM25 postings, built in
  the same staging -> publish transaction, and records its ``[lexical]`` / ``[hybrid]`` settings in the
  registry, so it is self-describing: searching it always tokenizes with the settings it was built with.
* :func:`verify` runs the eval set through the database and checks it against the in-memory evaluation
  of the same retriever (the model, or the model fused with BM25): equal with exact search, Recall@5
  within 0.01 through the HNSW index.
* :func:`search` refuses a model whose fingerprint differs from the collection's; a hybrid collection is
  searched hybrid (dense + BM25, reciprocal rank fusion, one SQL statement).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.config import HybridConfig, LexicalConfig
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


def default_name(label: str, chash: str, settings: dict | None = None) -> str:
    """``<model or run>_<corpus hash>``: re-running on the same model and corpus finds the same name.

    A hybrid collection (``settings``: its registry settings, :func:`hybrid_settings`) is
    ``hybrid_<model or run>_<corpus hash>_<settings hash>``: other BM25 settings make another collection.
    """
    p = Path(label)
    short = f"run_{p.name}" if p.parent.name == "runs" else (p.name if p.exists() else label)
    if not settings:
        return f"{slug(short)[:40]}_{chash[:6]}"
    shash = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:4]
    return f"{slug('hybrid_' + short)[:36]}_{chash[:6]}_{shash}"


def hybrid_settings(lexical: LexicalConfig, hybrid: HybridConfig | None = None) -> dict:
    """What a hybrid collection records in its registry ``meta``: ``{"lexical": {...}, "hybrid": {...}}``."""
    return {"lexical": dataclasses.asdict(lexical), "hybrid": dataclasses.asdict(hybrid or HybridConfig())}


def collection_settings(info: CollectionInfo) -> tuple[LexicalConfig, HybridConfig] | None:
    """A hybrid collection's stored ``[lexical]`` and ``[hybrid]`` settings (``None`` for a dense one)."""
    if info.kind != "hybrid":
        return None
    try:
        return LexicalConfig(**info.meta["lexical"]), HybridConfig(**info.meta.get("hybrid", {}))
    except (TypeError, ValueError) as e:  # written by another embtune version
        raise StoreError(f"collection {info.name!r} records BM25 settings this embtune cannot reproduce "
                         f"({info.meta.get('lexical')}, {info.meta.get('hybrid')}): {e}") from None


def _settings_of(meta: dict) -> dict:
    return {k: meta.get(k) for k in ("lexical", "hybrid")}


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build_collection` did."""

    info: CollectionInfo
    created: bool
    seconds: float = 0.0
    encode_seconds: float = 0.0
    write_seconds: float = 0.0
    #: hybrid collections: BM25 postings written, and the seconds to index the corpus with BM25, write the
    #: postings and index them in the database (not in ``write_seconds``)
    postings: int = 0
    lexical_seconds: float = 0.0

    def summary(self) -> str:
        kind = " (hybrid: dense + BM25)" if self.info.kind == "hybrid" else ""
        if not self.created:
            what = "model, corpus and BM25 settings" if kind else "model and corpus"
            return f"{self.info.name}: already built from this {what}; nothing to do"
        lex = (f", BM25 postings {self.postings:,} in {self.lexical_seconds:.1f} s" if self.info.kind == "hybrid"
               else "")
        return (f"{self.info.name}{kind}: {self.info.unit_count} units of {self.info.doc_count} articles in "
                f"{self.seconds:.1f} s (encode {self.encode_seconds:.1f} s, database {self.write_seconds:.1f} s"
                f"{lex})")


def _devices() -> list[str] | None:
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(n)] if n > 1 else None


def build_collection(store, model, corpus: Corpus, *, name: str | None = None, model_label: str | None = None,
                     batch_size: int = 64, write_batch: int = 256, replace: bool = False,
                     progress: Callable[[int, int], None] | None = None, lexical: LexicalConfig | None = None,
                     hybrid: HybridConfig | None = None, postings_batch: int = 50_000) -> BuildResult:
    """Encode ``corpus`` with ``model`` into a new collection (see the module docstring).

    ``lexical`` (the project's ``[lexical]``) makes it hybrid, fused with ``hybrid`` (``[hybrid]``; its
    defaults when omitted, and giving it alone implies the default ``[lexical]``). The same name with
    another model, corpus or settings is refused unless ``replace``.
    """
    label = resolve_label(model_label or getattr(model, "embtune_name", "model"))
    fp, chash = fingerprint(model), corpus_hash(corpus)
    if hybrid is not None and lexical is None:
        lexical = LexicalConfig()
    settings = hybrid_settings(lexical, hybrid) if lexical is not None else {}
    name = validate_name(name if name is not None else default_name(label, chash, settings))
    existing = store.get(name)
    if existing is not None:
        same = _settings_of(existing.meta) == _settings_of(settings)
        if existing.fingerprint == fp and existing.corpus_hash == chash and same:
            return BuildResult(existing, created=False)
        if not replace:
            differs = ("another model" if existing.fingerprint != fp else "another corpus"
                       if existing.corpus_hash != chash else
                       f"other BM25 settings ({existing.kind}: {_settings_of(existing.meta)}; asked: "
                       f"{'dense' if not settings else settings})")
            raise StoreError(f"collection {name!r} exists with {differs} (model {existing.model}, built "
                             f"{existing.created}); pick another name or replace it")
    texts = corpus.sections["text"].to_list()
    unit_ids, doc_ids = corpus.sections["section_id"].to_list(), corpus.sections["doc_id"].to_list()
    info = CollectionInfo(name=name, model=str(label), fingerprint=fp,
                          dim=int(model.get_embedding_dimension()), doc_count=corpus.docs.height,
                          unit_count=len(texts), corpus_hash=chash,
                          meta={"max_seq_length": int(model.max_seq_length), "normalized": True, **settings})
    titles = dict(zip(corpus.docs["doc_id"], corpus.docs["title"], strict=True))
    # Longest first, like sentence-transformers' own length sort, so chunking costs no padding.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    chunk = max(write_batch, batch_size)
    t0 = time.perf_counter()
    enc_s = write_s = 0.0
    devices = _devices()
    lex_s, n_postings = 0.0, 0
    handle = store.create(info)
    try:
        if lexical is not None:
            from ..core.lexical import BM25

            t = time.perf_counter()
            n_postings = write_postings(store, handle, BM25.over_corpus(corpus, lexical), unit_ids, doc_ids,
                                        depth=(hybrid or HybridConfig()).depth, batch=postings_batch)
            lex_s = time.perf_counter() - t
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
        postings_index = getattr(store, "publish_seconds", {}).get("postings_index", 0.0)
        write_s += time.perf_counter() - t - postings_index
        lex_s += postings_index
    except BaseException:
        with contextlib.suppress(Exception):  # never hide the real error behind a failed cleanup
            store.discard(handle)
        raise
    return BuildResult(store.get(name), created=True, seconds=time.perf_counter() - t0,
                       encode_seconds=enc_s, write_seconds=write_s, postings=n_postings, lexical_seconds=lex_s)


def write_postings(store, handle: str, bm25, unit_ids: list[str], doc_ids: list[str], *, depth: int,
                   batch: int = 50_000) -> int:
    """Write the postings of ``bm25`` (a :class:`~embtune_core.core.lexical.BM25` over the units, in
    ``unit_ids`` order: the same index the in-memory hybrid builds) to the build ``handle``, each term's
    ``depth`` highest weights (``[hybrid] depth``) marked as its heads (ties included); returns how many."""
    from itertools import groupby

    cols: tuple[list, list, list, list, list] = ([], [], [], [], [])
    n = 0
    for term, rows in groupby(bm25.postings(), key=lambda r: r[0]):  # postings come term by term
        rows = list(rows)
        weights = np.fromiter((w for _, _, w in rows), dtype=np.float64, count=len(rows))
        floor = -np.inf if len(rows) <= depth else np.partition(weights, -depth)[-depth]
        for (_, unit, weight), head in zip(rows, (weights >= floor).tolist(), strict=True):
            for col, v in zip(cols, (term, unit_ids[unit], doc_ids[unit], weight, head), strict=True):
                col.append(v)
        if len(cols[0]) >= batch:
            store.write_postings(handle, *cols)
            n += len(cols[0])
            cols = ([], [], [], [], [])
    if cols[0]:
        store.write_postings(handle, *cols)
        n += len(cols[0])
    return n


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


def search_kind(info: CollectionInfo, hybrid: bool | None = None) -> str:
    """How :func:`search` searches ``info``: ``hybrid`` or ``dense``. ``None``: the collection's own kind;
    ``True`` on a dense-only collection is refused; ``False`` searches a hybrid collection's vectors alone."""
    if hybrid and info.kind != "hybrid":
        raise StoreError(f"collection {info.name!r} was built dense-only; re-ship with --hybrid "
                         f"(embtune ship --model {info.model} --hybrid) to search it with BM25 too")
    return info.kind if hybrid is None else ("hybrid" if hybrid else "dense")


def search(store, name: str, model, queries: list[str], k: int = 5, *, hybrid: bool | None = None) -> list[list[Hit]]:
    """Search collection ``name`` for each query, embedded by ``model`` (which must be the collection's).

    A hybrid collection is searched hybrid (``hybrid=False``: its vectors alone): one hit per article,
    best first, its score the fused RRF score, its section the article's best by cosine (else by BM25).
    The query is tokenized with the collection's stored ``[lexical]`` settings. Defined edge cases: a
    query of stopwords only has no BM25 side, so the result is the dense ranking; a query longer than
    the model's max length is truncated by the model for the dense side, while BM25 uses every token.
    """
    info = check_model(store, name, model)
    kind = search_kind(info, hybrid)
    vecs = model.encode_query(queries, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    vecs = np.asarray(vecs, dtype=np.float32)
    if kind == "hybrid":
        from ..core.lexical import tokenize

        lexical, _ = collection_settings(info)
        return store.search_hybrid_hits(name, vecs, tokenize(list(queries), lexical), k)
    return store.search(name, vecs, k)


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
    """Metrics of the same retriever in memory, through exact database search, and through the HNSW index.

    ``kind`` is the collection's: ``dense`` (the model) or ``hybrid`` (the model fused with BM25: in memory
    :class:`~embtune_core.core.retrievers.HybridRetriever` with the collection's stored settings; in the
    database exact or HNSW dense search, both with the BM25 postings)."""

    collection: str
    memory: dict[str, float]
    exact: dict[str, float]
    hnsw: dict[str, float]
    kind: str = "dense"

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
        lex = " + BM25 postings" if self.kind == "hybrid" else ""
        names = (("in memory (hybrid RRF)" if lex else "in memory", self.memory),
                 (f"database, exact{lex}", self.exact), (f"database, HNSW{lex}", self.hnsw))
        return [{"retriever": self.kind, "search": s, **{k: round(d[k], 4) for k in VERIFY_KEYS}} for s, d in names]

    def summary(self) -> str:
        verdict = "OK" if self.ok else "MISMATCH"
        kind = " (hybrid: dense + BM25)" if self.kind == "hybrid" else ""
        return (f"{verdict}{kind}: Recall@5 in memory {self.memory['recall@5']:.4f}, exact "
                f"{self.exact['recall@5']:.4f}, HNSW {self.hnsw['recall@5']:.4f}; MRR@10 {self.memory['mrr@10']:.4f}"
                f" / {self.exact['mrr@10']:.4f} / {self.hnsw['mrr@10']:.4f}")


def verify(store, name: str, model, corpus: Corpus, evalset: EvalSet, *, cache=None) -> VerifyReport:
    """Evaluate collection ``name`` through the database and against the in-memory evaluation of the same
    retriever: the model, or for a hybrid collection the model fused with BM25 under the collection's own
    stored ``[lexical]`` / ``[hybrid]`` settings."""
    from ..core.embeddings import Encoder

    info = check_model(store, name, model)
    if corpus_hash(corpus) != info.corpus_hash:
        raise StoreError(f"collection {name!r} was built from another corpus (hash {info.corpus_hash}, this one "
                         f"{corpus_hash(corpus)}): verify it with the corpus it holds")
    qids = list(evalset.queries)
    texts = [evalset.queries[q] for q in qids]
    encoder = Encoder(model, cache)
    settings = collection_settings(info)
    if settings is None:
        memory = evaluate_model(model, corpus, evalset, cache=cache)

        def db(exact: bool):
            return store.search_articles(name, qv, k=MAX_K, exact=exact)
    else:
        from ..core.lexical import tokenize
        from ..core.retrievers import build, evaluate_retriever

        lexical, hybrid = settings
        retriever = build(f"hybrid:{info.model}", corpus, load_encoder=lambda _name: encoder, lexical=lexical,
                          hybrid=hybrid)
        memory = evaluate_retriever(retriever, corpus, evalset)
        tokens = tokenize(texts, lexical)

        def db(exact: bool):
            return store.search_hybrid(name, qv, tokens, k=MAX_K, exact=exact)
    qv = encoder.encode(texts, "query")
    out = {mode: evaluate_ranking(dict(zip(qids, db(exact), strict=True)), evalset).metrics
           for mode, exact in (("exact", True), ("hnsw", False))}
    return VerifyReport(name, {k: memory.metrics[k] for k in VERIFY_KEYS},
                        {k: out["exact"][k] for k in VERIFY_KEYS}, {k: out["hnsw"][k] for k in VERIFY_KEYS},
                        kind=info.kind)
