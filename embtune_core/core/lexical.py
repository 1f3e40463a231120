"""BM25 (bm25s) over the corpus's retrieval units, with the project's ``[lexical]`` settings.

Scores are aggregated to articles (best section), like the dense retriever, so both are ranked the
same way and compared on the same metrics. An article with no query term scores nothing and is not
ranked at all (a query of stopwords only ranks nothing).

:meth:`BM25.postings` exposes the index's precomputed per-(term, unit) weights: a query's BM25 score for
a unit is the sum of its terms' weights (repeated terms counted again), which is how a hybrid
collection reproduces this ranking inside Postgres.
"""

from __future__ import annotations

from collections.abc import Iterator

import bm25s
import numpy as np

from .config import LexicalConfig
from .evaluate import MAX_K, Ranking
from .sources import Corpus


def tokenize(texts: list[str], config: LexicalConfig | None = None, *, ids: bool = False, stemmer=None):
    """What :meth:`BM25.tokenize` gives, without an index: a hybrid collection tokenizes its queries with
    the settings it was built with (``stemmer``: a ready PyStemmer object, else made from ``config``)."""
    config = config or LexicalConfig()
    if stemmer is None and config.stemmer:
        import Stemmer

        stemmer = Stemmer.Stemmer(config.stemmer)
    return bm25s.tokenize(texts, stopwords=config.stopwords or None, stemmer=stemmer, return_ids=ids,
                          show_progress=False)


class BM25:
    """A BM25 index over texts, each belonging to an article id."""

    def __init__(self, texts: list[str], doc_ids: list[str], config: LexicalConfig | None = None):
        self.config = config or LexicalConfig()
        self._stemmer = None
        if self.config.stemmer:
            import Stemmer

            self._stemmer = Stemmer.Stemmer(self.config.stemmer)
        self.doc_ids = doc_ids
        self.articles = sorted(set(doc_ids))
        col = {d: i for i, d in enumerate(self.articles)}
        self._cols = np.array([col[d] for d in doc_ids])
        self.index = bm25s.BM25(k1=self.config.k1, b=self.config.b)
        self.index.index(self.tokenize(texts, ids=True), show_progress=False)

    def tokenize(self, texts: list[str], *, ids: bool = False):
        """Lower-cased, stopword-filtered, stemmed tokens of each text (strings), as the index sees them."""
        return tokenize(texts, self.config, ids=ids, stemmer=self._stemmer)

    @classmethod
    def over_corpus(cls, corpus: Corpus, config: LexicalConfig | None = None, *, titles_only: bool = False) -> BM25:
        if titles_only:
            return cls(corpus.docs["title"].to_list(), corpus.doc_ids(), config)
        return cls(corpus.unit_texts(), corpus.unit_doc_ids(), config)

    def unit_scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every unit for one tokenized query (zeros when no token is in the vocabulary): the
        sum of its tokens' float32 weights (:meth:`postings`), added in float64. A sum of a few float32
        values is exact in float64, so it does not depend on the order of the additions: Postgres adds the
        same postings in its own order (a hybrid collection) and gets the same numbers, ties included.
        (bm25s' ``get_scores`` adds in float32, which rounds differently from one order to another.)"""
        s = self.index.scores
        out = np.zeros(len(self.doc_ids), dtype=np.float64)
        for t in self.index.get_tokens_ids(tokens):  # a repeated token counts again, as in bm25s
            lo, hi = s["indptr"][t], s["indptr"][t + 1]
            out[s["indices"][lo:hi]] += s["data"][lo:hi]  # a term's units are distinct: no lost update
        return out

    def search(self, queries: list[str], k: int = MAX_K) -> list[list[tuple[str, float]]]:
        """Top-k articles per query (best section, score > 0), ties broken by doc id."""
        out = []
        for tokens in self.tokenize(queries):
            art = np.zeros(len(self.articles), dtype=np.float64)
            np.maximum.at(art, self._cols, self.unit_scores(tokens))
            hit = np.flatnonzero(art > 0)
            order = sorted(hit.tolist(), key=lambda i: (-float(art[i]), i))[:k]
            out.append([(self.articles[i], float(art[i])) for i in order])
        return out

    def ranking(self, queries: dict[str, str], k: int = MAX_K) -> Ranking:
        return dict(zip(queries, self.search(list(queries.values()), k), strict=True))

    def postings(self) -> Iterator[tuple[str, int, float]]:
        """``(term, unit index, weight)`` for every term of every unit: the index's own BM25 weights."""
        s = self.index.scores
        data, indices, indptr = s["data"], s["indices"], s["indptr"]
        for term, t in self.index.vocab_dict.items():
            if not term:  # bm25s' placeholder for an empty text
                continue
            for j in range(indptr[t], indptr[t + 1]):
                yield term, int(indices[j]), float(data[j])
