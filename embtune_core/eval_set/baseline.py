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


def measure_baseline(project: Project, model=None, *, cache=None) -> tuple[EvalResult, dict]:
    """Evaluate the base model (``model``, else the project's) on the eval set through the embedding cache
    and save it as the baseline. Returns the evaluation and the saved record."""
    from ..core.evaluate import evaluate_model
    from ..core.models import fingerprint

    model = model or project.load_base_model()
    res = evaluate_model(model, project.corpus, project.eval_set, name=project.config.model.base,
                         cache=cache if cache is not None else project.embedding_cache())
    return res, save_baseline(project, res, fingerprint(model))


def save_baseline(project: Project, result: EvalResult, model_fingerprint: str) -> dict:
    ev = project.eval_set
    cis = metric_cis(result.per_query, REPORTED)
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
    }
    path = project.workspace.path("baseline.json")
    write_json(path, record)
    project.workspace.record("baseline", path, inputs={"eval": ev.sha256, "docs": project.input_hashes()["docs"]},
                             model_fingerprint=model_fingerprint, config_hash=project.config.hash("model"))
    return record


def load_baseline(project: Project, *, model_fingerprint: str | None = None) -> dict:
    """The saved baseline; :class:`WorkspaceError` if missing or made on another eval set or model."""
    path = project.workspace.path("baseline.json")
    if not path.exists():
        raise WorkspaceError(f"{path}: no baseline yet; run step 3 (or `embtune eval --project P --save-baseline`)")
    record = json.loads(path.read_text(encoding="utf-8"))
    if record["eval_hash"] != project.eval_set.sha256:
        raise WorkspaceError(f"{path}: the baseline was measured on eval set {record['eval_hash'][:12]}, but the "
                             f"project's eval set is now {project.eval_set.sha256[:12]}; re-measure the baseline")
    if model_fingerprint and record["model_fingerprint"] != model_fingerprint:
        raise WorkspaceError(f"{path}: the baseline is for model {record['model_fingerprint']}, not "
                             f"{model_fingerprint}; re-measure the baseline")
    return record
