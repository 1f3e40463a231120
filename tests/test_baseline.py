import dataclasses

import pytest

from embtune_core.core.errors import WorkspaceError
from embtune_core.core.evaluate import evaluate_model
from embtune_core.core.models import fingerprint
from embtune_core.core.sources import EvalSet
from embtune_core.eval_set.baseline import load_baseline, save_baseline


def test_baseline_saved_with_hash_and_refused_on_another_set(sample_project, tiny_model):
    p = sample_project
    res = evaluate_model(tiny_model, p.corpus, p.eval_set)
    fp = fingerprint(tiny_model)
    rec = save_baseline(p, res, fp)
    assert rec["eval_hash"] == p.eval_set.sha256 and rec["ci95"]["recall@5"][0] <= rec["metrics"]["recall@5"]
    assert load_baseline(p, model_fingerprint=fp)["metrics"] == rec["metrics"]
    assert p.workspace.get("baseline").inputs["eval"] == p.eval_set.sha256
    assert p.stale() == []  # a fresh baseline is not reported stale (it once always was)
    with pytest.raises(WorkspaceError, match="is for model"):
        load_baseline(p, model_fingerprint="0" * 16)
    other = EvalSet(queries={"x": "y"}, relevant={"x": frozenset({"refunds"})}, path="", sha256="deadbeef")
    p.__dict__["eval_set"] = dataclasses.replace(other)
    with pytest.raises(WorkspaceError, match="measured on eval set"):
        load_baseline(p)
