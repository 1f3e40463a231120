"""Notebook 04, ``embtune train --project`` and ``embtune run`` build a run the same way: the same
settings (``[train]`` of the project, then the defaults) and the same validation split for the seed."""

import dataclasses
import json
import os
from types import SimpleNamespace

import pytest

from embtune_core import cli


class Captured(Exception):
    pass


@pytest.fixture
def capture(monkeypatch):
    """Stop every training right after the data is prepared, keeping the config and the split."""
    import embtune_core.train.trainer as trainer

    seen = []

    def stop(model, data, corpus, config, state, guide=None):
        seen.append({"config": {k: v for k, v in dataclasses.asdict(config).items() if k != "output_dir"},
                     "val": sorted(data.val["anchor"].to_list()), "train": sorted(data.train["anchor"].to_list())})
        raise Captured

    monkeypatch.setattr(trainer, "build_trainer", stop)
    return seen


@pytest.mark.slow
def test_notebook_cli_and_run_plan_the_same_run(tiny_project, capture, monkeypatch):
    from test_notebooks import load_notebook

    monkeypatch.delenv("EMBTUNE_WORKSPACE", raising=False)
    text = tiny_project.read_text()  # a project that sets part of [train]
    tiny_project.write_text(text.replace("[train]\n", "[train]\nepochs = 3\nhard_negatives = 1\nseed = 7\n", 1))
    with pytest.raises(Captured):  # mines, exports pairs, measures the baseline, then trains
        cli.main(["run", "--project", str(tiny_project)])
    with pytest.raises(Captured):
        cli.main(["train", "--project", str(tiny_project)])
    monkeypatch.setenv("EMBTUNE_PROJECT", str(tiny_project))
    nb = load_notebook("04_train.py")
    _, defs = nb.app.run()
    with pytest.raises(Captured):
        nb.train_model.run(train_btn=SimpleNamespace(value=True), train_plan=defs["train_plan"],
                           set_result=lambda r: None, live={"state": None})
    run, train, notebook = capture
    assert run["config"]["epochs"] == 3.0 and run["config"]["seed"] == 7
    assert run["config"]["general_share"] == 0.1 and run["config"]["general_pairs"]  # [general] pairs is set
    assert run == train == notebook
    assert run["val"] and not set(run["val"]) & set(run["train"])


def test_every_run_is_recorded_in_the_manifest(tiny_project, tmp_path, monkeypatch, capsys):
    """A run trained with `embtune train --project` lands in the manifest, with its inputs."""
    from embtune_core import open_project
    from embtune_core.mine_pairs import export_project

    monkeypatch.delenv("EMBTUNE_WORKSPACE", raising=False)
    project = open_project(tiny_project)
    export_project(project)
    assert cli.main(["train", "--project", str(tiny_project), "--max-steps", "2", "--no-hard-negatives"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rec = project.workspace.get(f"run:{summary['run']}")
    assert rec is not None and rec.extra["started_by"] == "embtune train"
    assert rec.inputs["artifact:pairs"] == project.workspace.get("pairs").sha256
    saved = json.loads(project.workspace.path("runs", summary["run"], "run.json").read_text())
    assert saved["config"]["max_steps"] == 2 and saved["steps"] == 2
    # the pairs change: the run is reported stale
    pairs = project.workspace.path("pairs.jsonl")
    lines = pairs.read_text().splitlines()
    pairs.write_text("\n".join(lines[:-1]) + "\n")
    project.workspace.record("pairs", pairs)
    assert any(s.name == f"run:{summary['run']}" for s in project.stale())
    assert os.path.exists(project.workspace.path("runs", summary["run"], "model.safetensors"))
