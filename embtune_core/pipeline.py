"""The whole pipeline headless, for scheduled re-training: ``embtune run --project P``.

A short sequence of the steps' project-level calls, the same ones the notebooks and the other commands
make: mine -> export pairs (leaks dropped) -> baseline on the eval set -> plan and train a run -> compare
it with the base model on the same set -> the ship gate. Everything lands in the workspace; the run
folder is ``runs/<id>/`` with the model, ``run.json``, its train log and ``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Callable

from .compare import compare_runs
from .core.models import fingerprint, load_model
from .core.project import open_project
from .core.workspace import write_json
from .eval_set import measure_baseline
from .mine_pairs import export_project, mine_project
from .train import plan, train_run

SUMMARY_METRICS = ("recall@5", "mrr@10", "recall@20")


def run_all(project_path=None, *, log: Callable[[str], None] = print, max_steps: int = -1,
            started_by: str = "embtune run") -> dict:
    project = open_project(project_path)
    base = project.load_base_model()
    encoder = project.base_encoder(base)
    log("mining pairs ...")
    mine_project(project, encoder)
    exported = export_project(project, encoder=encoder)
    log(f"exported {exported.total} pairs ({exported.leakage.leaks.height} leaking dropped)")
    measure_baseline(project, base, cache=encoder.cache)
    overrides = {"max_steps": max_steps} if max_steps > 0 else {}
    run = train_run(plan(project, overrides, log=log), started_by=started_by, log=log)
    tuned = load_model(str(run.path))
    comparison = compare_runs(project, base, tuned, cache=encoder.cache)
    verdict = comparison.verdict(project.config.gate)
    metrics = {"run": run.run_id,
               **{side: {k: r.metrics[k] for k in SUMMARY_METRICS}
                  for side, r in (("base", comparison.base), ("tuned", comparison.tuned))},
               "deltas": [d.as_row() for d in verdict.deltas],
               "gate": {"passed": verdict.passed, "reasons": verdict.reasons},
               "train": run.result.summary(), "eval_hash": project.eval_set.sha256,
               "model_fingerprint": fingerprint(tuned)}
    write_json(run.path / "metrics.json", metrics)
    return metrics
