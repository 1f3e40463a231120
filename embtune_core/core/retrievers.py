"""Retrievers as one concept: what gets evaluated, compared, gated and shipped.

A retriever is named by a spec string:

- ``bm25``: lexical, BM25 through bm25s with the ``[lexical]`` settings;
- a model id or path (``all-MiniLM-L6-v2``, ``workspace/runs/20261201-101500``): dense;
- ``hybrid:<model>``: the dense model and BM25 fused by reciprocal rank fusion (``[hybrid] rrf_k``).

Every kind ranks articles the same way (an article scores its best section) and goes through the same
article-level evaluation (:func:`~.evaluate.evaluate_ranking`), the embedding cache, the confidence
intervals and the paired tests. :func:`build` makes one for a corpus; :func:`evaluate_retriever`
evaluates one on an eval set.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import HybridConfig, LexicalConfig
from .errors import ConfigError
from .evaluate import MAX_K, EvalResult, Ranking, evaluate_ranking, fuse_rrf, topk_articles
from .sources import Corpus, EvalSet

KINDS = ("dense", "lexical", "hybrid")
LEXICAL = "bm25"
HYBRID_PREFIX = "hybrid:"


@dataclass(frozen=True)
class RetrieverSpec:
    """A parsed retriever spec (see the module docstring)."""

    kind: str
    model: str = ""

    @classmethod
    def parse(cls, text: str) -> RetrieverSpec:
        text = str(text).strip()
        if text.lower() == LEXICAL:
            return cls("lexical")
        if text.lower().startswith(HYBRID_PREFIX):
            model = text[len(HYBRID_PREFIX):].strip()
            if not model:
                raise ConfigError(f"retriever {text!r}: a hybrid names its dense model, e.g. 'hybrid:all-MiniLM-L6-v2'")
            return cls("hybrid", model)
        if not text:
            raise ConfigError("empty retriever spec: give a model id or path, 'bm25', or 'hybrid:<model>'")
        return cls("dense", text)

    @classmethod
    def of(cls, value: str | RetrieverSpec) -> RetrieverSpec:
        return value if isinstance(value, RetrieverSpec) else cls.parse(value)

    def __str__(self) -> str:
        return {"lexical": LEXICAL, "hybrid": f"{HYBRID_PREFIX}{self.model}"}.get(self.kind, self.model)

    def with_model(self, model: str) -> RetrieverSpec:
        """The same kind over another dense model (a lexical spec stays lexical)."""
        return self if self.kind == "lexical" else RetrieverSpec(self.kind, model)


class Retriever:
    """Ranks a corpus's articles for queries: :meth:`search` (texts) and :meth:`ranking` (an eval set)."""

    spec: RetrieverSpec
    label: str
    #: the dense model's fingerprint (``""`` for BM25 alone)
    fingerprint: str = ""

    def search(self, queries: list[str], k: int = MAX_K) -> list[list[tuple[str, float]]]:
        raise NotImplementedError

    def ranking(self, queries: dict[str, str], k: int = MAX_K) -> Ranking:
        return dict(zip(queries, self.search(list(queries.values()), k), strict=True))


class DenseRetriever(Retriever):
    """A sentence-transformers model (or anything with ``encode(texts, kind)``) through the cache."""

    def __init__(self, encoder, corpus: Corpus, spec: RetrieverSpec, label: str = ""):
        self.encoder, self.corpus, self.spec = encoder, corpus, spec
        self.label = label or spec.model
        self.fingerprint = encoder.fingerprint
        self._units = None

    def search(self, queries, k=MAX_K):
        if self._units is None:
            self._units = self.encoder.encode(self.corpus.unit_texts(), "document")
        return topk_articles(self.encoder.encode(list(queries), "query"), self._units, self.corpus.unit_doc_ids(),
                             k=k)


class LexicalRetriever(Retriever):
    def __init__(self, corpus: Corpus, config: LexicalConfig):
        from .lexical import BM25

        self.bm25 = BM25.over_corpus(corpus, config)
        self.spec, self.label = RetrieverSpec("lexical"), "BM25 (bm25s)"

    def search(self, queries, k=MAX_K):
        return self.bm25.search(list(queries), k)


class HybridRetriever(Retriever):
    """Dense and lexical rankings (each its top ``[hybrid] depth`` articles) fused by reciprocal rank fusion."""

    def __init__(self, dense: DenseRetriever, lexical: LexicalRetriever, config: HybridConfig):
        self.dense, self.lexical, self.config = dense, lexical, config
        self.spec = RetrieverSpec("hybrid", dense.spec.model)
        self.fingerprint = dense.fingerprint
        self.label = f"hybrid RRF (BM25 + {dense.label})"

    def search(self, queries, k=MAX_K):
        queries = list(queries)
        keys = [str(i) for i in range(len(queries))]
        parts = [dict(zip(keys, r.search(queries, self.config.depth), strict=True)) for r in (self.dense, self.lexical)]
        fused = fuse_rrf(parts, k_rrf=self.config.rrf_k, k=k)
        return [fused.get(key, []) for key in keys]


def build(spec: str | RetrieverSpec, corpus: Corpus, *, load_encoder, lexical: LexicalConfig | None = None,
          hybrid: HybridConfig | None = None, label: str = "") -> Retriever:
    """A retriever for ``corpus``. ``load_encoder(model_name)`` returns an encoder with
    ``encode(texts, kind)`` (an :class:`~.embeddings.Encoder` over the cache), so the caller decides how
    models load (a project applies its prompts and max length to its base model)."""
    spec = RetrieverSpec.of(spec)
    lexical, hybrid = lexical or LexicalConfig(), hybrid or HybridConfig()
    if spec.kind == "lexical":
        return LexicalRetriever(corpus, lexical)
    dense = DenseRetriever(load_encoder(spec.model), corpus, RetrieverSpec("dense", spec.model), label)
    if spec.kind == "dense":
        return dense
    return HybridRetriever(dense, LexicalRetriever(corpus, lexical), hybrid)


def evaluate_retriever(retriever: Retriever, corpus: Corpus, evalset: EvalSet, *, name: str = "") -> EvalResult:
    """Article-level metrics of ``retriever`` on ``evalset`` (the same evaluation for every kind)."""
    return evaluate_ranking(retriever.ranking(evalset.queries), evalset, name=name or retriever.label,
                            n_docs=corpus.docs.height)
