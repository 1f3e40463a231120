"""Step 2 · mine (query, positive) pairs (notebook ``02_mine_pairs``).

- :mod:`.mine`: run every miner the project has data for (:func:`mine_project`), with provenance, stable
  pair ids and best sections; :func:`filtered_candidates` and :func:`review_store` for the next moves.
- :mod:`.logs`, :mod:`.tickets`, :mod:`.docs`, :mod:`.llm`: one miner per signal.
- :mod:`.filters`: scores and thresholds; every rejected pair keeps its reason.
- :mod:`.review`: the reviewer's decisions (SQLite, last decision wins).
- :mod:`.export`: ``pairs.jsonl`` as the tutorial writes it, leaks into the eval set dropped
  (:func:`export_project`).
"""

from . import filters
from .export import ExportReport, export_pairs, export_project
from .mine import filtered_candidates, load_candidates, mine_all, mine_project, pair_id, review_store
from .review import ReviewStore

__all__ = ["ExportReport", "ReviewStore", "export_pairs", "export_project", "filtered_candidates", "filters",
           "load_candidates", "mine_all", "mine_project", "pair_id", "review_store"]
