"""The whole pipeline headless, for scheduled re-training: ``embtune run --project P``.

mine -> export pairs (leaks dropped) -> baseline on the eval set -> train with the defaults -> evaluate
the tuned model on the same set -> the ship gate. Everything lands in the workspace; the run folder is
``runs/<timestamp>/`` with the model, its train log and ``metrics.json``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from . import filters
from .baseline import save_baseline
from .evaluate import evaluate_model
from .gate import check
from .mining import mine_project
from .models import fingerprint, load_model
from .pairs import export_pairs
from .project import open_project
from .review import ReviewStore
from .train import TrainConfig, load_pairs, train
from .workspace import write_json


def evaluate_pair(project, base_model, tuned_model, cache):
    """Base and tuned on the eval set and on the complaints list (when the project has one)."""
    out = {"base": evaluate_model(base_model, project.corpus, project.eval_set, cache=cache, name="base"),
           "tuned": evaluate_model(tuned_model, project.corpus, project.eval_set, cache=cache, name="tuned")}
    if project.complaints is not None:
        out["complaints_base"] = evaluate_model(base_model, project.corpus, project.complaints, cache=cache)
        out["complaints_tuned"] = evaluate_model(tuned_model, project.corpus, project.complaints, cache=cache)
    return out


def run_all(project_path=None, *, log: Callable[[str], None] = print, max_steps: int = -1) -> dict:
    project = open_project(project_path)
    m = project.config.model
    base = project.load_base_model()
    cache = project.embedding_cache()
    encoder = project.base_encoder(base)
    log("mining pairs ...")
    scored = mine_project(project, encoder)
    filtered = filters.apply(scored, project.config.filters)
    exported = export_pairs(project, filtered, ReviewStore(project.workspace.path("review.sqlite")), encoder)
    log(f"exported {exported.total} pairs ({exported.leakage.leaks.height} leaking dropped)")
    base_res = evaluate_model(base, project.corpus, project.eval_set, cache=cache, name=m.base)
    save_baseline(project, base_res, fingerprint(base))
    run_id = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = project.workspace.path("runs", run_id)
    pairs = load_pairs(exported.path, project.corpus)
    general = project.config.resolve(project.config.general.pairs)
    cfg = TrainConfig.defaults(pairs.height, base_model=m.base, output_dir=str(run_dir), max_steps=max_steps,
                               general_pairs=str(general) if general else "", general_share=0.1 if general else 0.0)
    log(f"training {run_id} ...")
    result = train(pairs, project.corpus, cfg, encoder=encoder, log=log)
    tuned = load_model(result.output_dir)
    ev = evaluate_pair(project, base, tuned, cache)
    verdict = check(ev["base"], ev["tuned"], project.config.gate, complaints_base=ev.get("complaints_base"),
                    complaints_tuned=ev.get("complaints_tuned"),
                    complaints_relevant=project.complaints.relevant if project.complaints else None)
    metrics = {"run": run_id, "base": {k: ev["base"].metrics[k] for k in ("recall@5", "mrr@10", "recall@20")},
               "tuned": {k: ev["tuned"].metrics[k] for k in ("recall@5", "mrr@10", "recall@20")},
               "deltas": [d.as_row() for d in verdict.deltas],
               "gate": {"passed": verdict.passed, "reasons": verdict.reasons},
               "train": result.summary(), "eval_hash": project.eval_set.sha256,
               "model_fingerprint": fingerprint(tuned)}
    write_json(run_dir / "metrics.json", metrics)
    project.workspace.record(f"run:{run_id}", run_dir / "metrics.json",
                             inputs={"artifact:pairs": project.workspace.get("pairs").sha256,
                                     "eval": project.eval_set.sha256},
                             model_fingerprint=metrics["model_fingerprint"], config_hash=project.config.hash())
    return metrics
