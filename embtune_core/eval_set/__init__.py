"""Step 3 · the held-out eval set and the baseline (notebook ``03_eval_set``).

- :mod:`.baseline`: :func:`save_baseline` keeps the base model's metrics, "taped to the monitor", with step
  1's verdict; :func:`carried_retriever` is the retriever that verdict carries forward.
- :mod:`.evalset`: proxy sets from signals, the labelling queue and judgments, BEIR export, cold articles.
- :mod:`.leakage`: the audit of training pairs against the eval set (exact, normalised, near duplicate).
"""

from .baseline import REPORTED, carried_retriever, load_baseline, save_baseline
from .evalset import (
           Judgments,
           build_proxy_evalset,
           cold_articles,
           export_beir,
           labelling_queue,
           signal_candidates,
)
from .leakage import LeakageReport, audit, drop_leaks

__all__ = ["REPORTED", "Judgments", "LeakageReport", "audit", "build_proxy_evalset", "carried_retriever",
           "cold_articles", "drop_leaks", "export_beir", "labelling_queue", "load_baseline", "save_baseline",
           "signal_candidates"]
