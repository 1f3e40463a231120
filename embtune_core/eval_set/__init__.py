"""Step 3 · the held-out eval set and the baseline (notebook ``03_eval_set``).

- :mod:`.baseline`: :func:`save_baseline` keeps the base model's metrics, "taped to the monitor", with step
  1's verdict; :func:`carried_retriever` is the retriever that verdict carries forward.
- :mod:`.evalset`: proxy sets from signals, the labelling queue and judgments, BEIR export, cold articles.
- :mod:`.judging`: judge an eval set by hand: :func:`pooled_candidates` (BM25 and the base model, pooled),
  :func:`judge` / :func:`save_judged_set` (the project's BEIR set, written atomically under a lock).
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
from .judging import (
           ADVICE,
           TARGET_QUERIES,
           Candidate,
           JudgingProgress,
           SavedEvalSet,
           judge,
           judging_progress,
           judgments_log,
           pooled_candidates,
           question_sources,
           save_judged_set,
)
from .leakage import LeakageReport, audit, drop_leaks

__all__ = ["ADVICE", "REPORTED", "TARGET_QUERIES", "Candidate", "JudgingProgress", "Judgments", "LeakageReport",
           "SavedEvalSet", "audit", "build_proxy_evalset", "carried_retriever", "cold_articles", "drop_leaks",
           "export_beir", "judge", "judging_progress", "judgments_log", "labelling_queue", "load_baseline",
           "pooled_candidates", "question_sources", "save_baseline", "save_judged_set", "signal_candidates"]
