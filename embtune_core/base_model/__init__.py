"""Step 1 · pick a base model honestly (notebook ``01_base_model``).

- :mod:`.candidates`: candidate retrievers (dense models, BM25, their hybrid, the production retriever) side
  by side on the project's eval set (:func:`evaluate_candidates`), and :func:`choose_retriever`.
- :mod:`.verdict`: what to do next, in plain words from the user's own numbers, and the retriever to carry
  forward (saved with the baseline).
"""

from .candidates import (
           PRODUCTION,
           choose_retriever,
           default_candidates,
           evaluate_candidate,
           evaluate_candidates,
)
from .verdict import Verdict, recommend

__all__ = ["PRODUCTION", "Verdict", "choose_retriever", "default_candidates", "evaluate_candidate",
           "evaluate_candidates", "recommend"]
