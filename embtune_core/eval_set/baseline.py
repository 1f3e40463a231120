"""The baseline, "taped to the monitor": the base model's metrics, saved once per eval set.

Saved in the workspace as ``baseline.json`` with the model fingerprint, the eval set's hash and the
bootstrap CIs, and recorded in the manifest. Later steps read it instead of recomputing, and refuse
it when it was made on a different eval set or with a different model.
"""

from __future__ import annotations

import json

from ..core.errors import WorkspaceError
from ..core.evaluate import EvalResult
from ..core.project import Project
from ..core.stats import metric_cis
from ..core.workspace import write_json

REPORTED = ("recall@5", "recall@10", "recall@20", "recall@100", "mrr@10", "ndcg@10", "accuracy@1",
            "accuracy@5", "map@100")


def save_baseline(project: Project, result: EvalResult, model_fingerprint: str, *, verdict=None) -> dict:
    """Save the base model's evaluation as the baseline, with step 1's verdict (the retriever to carry
    forward) when given; a verdict already saved for the same eval set and model is kept otherwise."""
    ev = project.eval_set
    cis = metric_cis(result.per_query, REPORTED)
    path = project.workspace.path("baseline.json")
    if verdict is None and path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old.get("eval_hash") == ev.sha256 and old.get("model_fingerprint") == model_fingerprint:
            verdict = old.get("verdict")
    record = {
        "model": result.name,
        "model_fingerprint": model_fingerprint,
        "eval_hash": ev.sha256,
        "eval_kind": ev.kind,
        "n_queries": result.n_queries,
        "n_docs": result.n_docs,
        "metrics": {k: result.metrics[k] for k in REPORTED},
        "ci95": {k: list(v) for k, v in cis.items()},
        "per_query": result.per_query.select("query_id", "first_relevant_rank", *REPORTED).to_dicts(),
        "verdict": verdict.as_dict() if hasattr(verdict, "as_dict") else verdict,
    }
    write_json(path, record)
    project.workspace.record("baseline", path, inputs={"eval": ev.sha256, "docs": project.input_hashes()["docs"]},
                             model_fingerprint=model_fingerprint, config_hash=project.config.hash("model"))
    return record


def carried_retriever(project: Project) -> str:
    """The retriever spec step 1 carried forward (from the saved baseline), else the base model."""
    path = project.workspace.path("baseline.json")
    if path.exists() and project.has_eval_set:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("eval_hash") == project.eval_set.sha256 and record.get("verdict"):
            return record["verdict"]["carry_forward"]
    return project.config.model.base


def load_baseline(project: Project, *, model_fingerprint: str | None = None) -> dict:
    """The saved baseline; :class:`WorkspaceError` if missing or made on another eval set or model."""
    path = project.workspace.path("baseline.json")
    if not path.exists():
        raise WorkspaceError(f"{path}: no baseline yet; run step 3 (or `embtune eval --project P --save-baseline`)")
    record = json.loads(path.read_text(encoding="utf-8"))
    if not project.has_eval_set:
        raise WorkspaceError(f"{path}: the project has no eval set any more, so this baseline measures nothing; "
                             "judge one (`embtune judge`, or notebook 03)")
    if record["eval_hash"] != project.eval_set.sha256:
        raise WorkspaceError(f"{path}: the baseline was measured on eval set {record['eval_hash'][:12]}, but the "
                             f"project's eval set is now {project.eval_set.sha256[:12]}; re-measure the baseline")
    if model_fingerprint and record["model_fingerprint"] != model_fingerprint:
        raise WorkspaceError(f"{path}: the baseline is for model {record['model_fingerprint']}, not "
                             f"{model_fingerprint}; re-measure the baseline")
    return record
