"""BM25 (bm25s, English stopwords, Snowball stemming) over the corpus's retrieval units.

Scores are aggregated to articles (best section), like the dense retriever, so both are ranked the
same way and compared on the same metrics.
"""

from __future__ import annotations

import bm25s
import numpy as np
import Stemmer

from .evaluate import MAX_K, Ranking, _ordered_topk
from .sources import Corpus


class BM25:
    """A BM25 index over texts, each belonging to an article id."""

    def __init__(self, texts: list[str], doc_ids: list[str]):
        self._stemmer = Stemmer.Stemmer("english")
        self.doc_ids = doc_ids
        self.articles = sorted(set(doc_ids))
        col = {d: i for i, d in enumerate(self.articles)}
        self._cols = np.array([col[d] for d in doc_ids])
        self.index = bm25s.BM25()
        self.index.index(self._tok(texts), show_progress=False)

    def _tok(self, texts: list[str]):
        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False)

    @classmethod
    def over_corpus(cls, corpus: Corpus, *, titles_only: bool = False) -> BM25:
        if titles_only:
            return cls(corpus.docs["title"].to_list(), corpus.doc_ids())
        return cls(corpus.unit_texts(), corpus.unit_doc_ids())

    def search(self, queries: list[str], k: int = MAX_K) -> list[list[tuple[str, float]]]:
        """Top-k articles per query, ties broken by doc id."""
        import torch

        toks = bm25s.tokenize(queries, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False)
        rows = []
        for t in toks:
            unit = self.index.get_scores(t) if t else np.zeros(len(self.doc_ids), dtype=np.float32)
            art = np.zeros(len(self.articles), dtype=np.float32)
            np.maximum.at(art, self._cols, unit.astype(np.float32))
            rows.append(art)
        return _ordered_topk(torch.as_tensor(np.stack(rows)), min(k, len(self.articles)), self.articles)

    def ranking(self, queries: dict[str, str], k: int = MAX_K) -> Ranking:
        return dict(zip(queries, self.search(list(queries.values()), k), strict=True))
