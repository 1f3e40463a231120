"""Step 5 · base vs tuned (notebook ``05_compare``).

- :mod:`.comparison`: :func:`compare_runs` (the project-level API) and :func:`compare`: metrics with CIs,
  paired tests, per-query ranks, wins / losses, slices; :meth:`Comparison.verdict` is the gate's check.
- :mod:`.gate`: the one ship gate (``[gate]``), shown here and enforced by promotion in step 6.
- :mod:`.eyeball`: side-by-side top-k lists, the embedding map, the general-domain check.
"""

from .comparison import METRICS, Comparison, compare, compare_runs, evaluate_on_project
from .eyeball import embedding_map, eyeball, general_check
from .gate import Complaints, GateVerdict, check, complaint_losses

__all__ = ["METRICS", "Comparison", "Complaints", "GateVerdict", "check", "compare", "compare_runs",
           "complaint_losses", "embedding_map", "evaluate_on_project", "eyeball", "general_check"]
