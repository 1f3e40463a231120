"""Step 1 · pick a base model honestly (notebook ``01_base_model``).

- :mod:`.candidates`: candidate retrievers (dense models, BM25, hybrid, the production retriever) side by
  side on the project's eval set (:func:`evaluate_candidate`, :func:`default_candidates`).
"""

from .candidates import default_candidates, evaluate_candidate

__all__ = ["default_candidates", "evaluate_candidate"]
