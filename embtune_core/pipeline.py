"""The whole pipeline headless, for scheduled re-training: ``embtune run --project P``.

A short sequence of the steps' project-level calls, the same ones the notebooks and the other commands
make: mine -> export pairs (leaks dropped) -> step 1's candidates and verdict, saved with the baseline ->
plan and train a run -> compare the retriever step 1 carried forward (the base model alone, or fused
with BM25) against the same retriever over the tuned model -> the ship gate. Everything lands in the
workspace; the run folder is ``runs/<id>/`` with the model, ``run.json``, its train log and
``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Callable

from .base_model import choose_retriever, evaluate_candidates
from .compare import compare_runs
from .core.errors import InputError
from .core.models import fingerprint, load_model
from .core.project import open_project
from .core.retrievers import RetrieverSpec
from .core.workspace import write_json
from .eval_set import save_baseline
from .mine_pairs import export_project, mine_project
from .train import TrainState, plan, train_run

SUMMARY_METRICS = ("recall@5", "mrr@10", "recall@20")


def run_all(project_path=None, *, log: Callable[[str], None] = print, max_steps: int = -1,
            started_by: str = "embtune run", state: TrainState | None = None) -> dict:
    """Every step, headless. ``state`` watches and steers training (progress, Stop, a deadline that leaves
    time for the evaluation that follows it)."""
    project = open_project(project_path)
    if not project.has_eval_set:  # every step after mining measures on it: say so before an hour of work
        raise InputError("missing: `embtune run` measures every step on the eval set; judge one first "
                         "(`embtune judge`, or notebook 03)", path=project.config.resolve(project.config.eval.path))
    base_name = project.config.model.base
    base = project.load_base_model()
    models = {base_name: base}
    encoder = project.base_encoder(base)
    log("mining pairs ...")
    mine_project(project, encoder)
    exported = export_project(project, encoder=encoder)
    log(f"exported {exported.total} pairs ({exported.leaks_dropped} leaking dropped)")
    results = evaluate_candidates(project, models=models)
    verdict = choose_retriever(project, results)
    save_baseline(project, results[base_name], encoder.fingerprint, verdict=verdict)
    log(f"step 1: {verdict.headline}")
    overrides = {"max_steps": max_steps} if max_steps > 0 else {}
    state = state or TrainState()
    state.after_texts = len(project.corpus.unit_texts()) + len(project.eval_set)  # the tuned model's evaluation
    run = train_run(plan(project, overrides, log=log), state=state, started_by=started_by, log=log)
    carried = RetrieverSpec.parse(verdict.carry_forward)
    shipped = carried.with_model(str(run.path))
    comparison = compare_runs(project, carried, shipped, models=models)
    verdict_gate = comparison.verdict(project.config.gate)
    metrics = {"run": run.run_id, "retriever": {"base": str(carried), "tuned": str(shipped)},
               **{side: {k: r.metrics[k] for k in SUMMARY_METRICS}
                  for side, r in (("base", comparison.base), ("tuned", comparison.tuned))},
               "deltas": [d.as_row() for d in verdict_gate.deltas],
               "gate": {"passed": verdict_gate.passed, "reasons": verdict_gate.reasons},
               "train": run.result.summary(), "eval_hash": project.eval_set.sha256,
               "model_fingerprint": fingerprint(load_model(str(run.path)))}
    write_json(run.path / "metrics.json", metrics)
    return metrics
