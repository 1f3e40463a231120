"""The cut-offs evaluation computes, in one place: :mod:`.evaluate` computes them, and the project file's
``[gate]`` may only name these (:class:`~.config.GateConfig` checks it without importing torch)."""

ACCURACY_AT = (1, 3, 5, 10)
PR_AT = (1, 3, 5, 10, 20, 100)
MRR_AT = (10,)
NDCG_AT = (10,)
MAP_AT = (100,)
MAX_K = 100
