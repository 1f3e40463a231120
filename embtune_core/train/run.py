"""Step 4 for a project: plan a run, train it, record it. Called alike by notebook 04, ``embtune train``
and ``embtune run``, so the three build the same settings and the same validation split.

:func:`plan` resolves everything a run needs: the pairs (the workspace's ``pairs.jsonl`` by default),
the corpus, the settings (``[train]`` of the project, then overrides, then :meth:`TrainConfig.defaults`
for the rest; the general-domain mix from ``[general] pairs``) and the base model's encoder, which groups
near-duplicate queries when the validation split is drawn. :func:`train_run` trains the plan into
``runs/<id>/`` and records the run in the workspace manifest, whoever started it. Before training it
writes ``inputs.json`` into the run folder (hashes of the pairs, the general pairs and the settings,
atomically); ``--resume`` refuses, with a :class:`WorkspaceError`, a checkpoint whose inputs differ.

Without a project (``embtune train --pairs P --out D [--corpus C]``) the same two functions run on the
given files, with the base model's encoder (uncached) and no manifest.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..core.config import TrainConfig
from ..core.errors import WorkspaceError
from ..core.models import DEFAULT_MODEL, load_model
from ..core.project import Project
from ..core.sources import Corpus
from ..core.workspace import hash_bytes, hash_file, write_json
from .data import load_pairs
from .trainer import TrainResult, TrainState, train

#: The settings a run summary shows (the full config is in ``run.json``).
SHOWN_SETTINGS = ("epochs", "batch_size", "learning_rate", "max_seq_length", "hard_negatives", "general_share",
                  "precision", "loss")


def new_run_id() -> str:
    """``YYYYmmdd-HHMMSS`` (UTC): the folder name of a run under ``runs/``."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")


@dataclass(frozen=True)
class TrainPlan:
    """Everything one training run needs, resolved (see :func:`plan`)."""

    pairs: pl.DataFrame
    pairs_path: Path
    corpus: Corpus
    config: TrainConfig
    #: The base model behind the workspace's embedding cache: groups near-duplicate queries in the split.
    encoder: object
    project: Project | None = None

    def with_output(self, output_dir: str | Path) -> TrainPlan:
        return dataclasses.replace(self, config=dataclasses.replace(self.config, output_dir=str(output_dir)))


@dataclass(frozen=True)
class Run:
    """A finished (or stopped) training run."""

    run_id: str
    path: Path
    config: TrainConfig
    result: TrainResult

    def summary(self) -> dict:
        return {"run": self.run_id, **self.result.summary(),
                "config": {k: getattr(self.config, k) for k in SHOWN_SETTINGS}}


def plan(project: Project | None, overrides: dict | None = None, *, pairs: str | Path | None = None,
         corpus: Corpus | None = None, base_model: str | None = None, output_dir: str | Path | None = None,
         log: Callable[[str], None] = print) -> TrainPlan:
    """Resolve a run's inputs and settings. ``overrides`` are :class:`TrainConfig` fields (CLI flags, the
    notebook form) on top of the project's ``[train]`` table."""
    from ..core.embeddings import Encoder

    if project is None and corpus is None:
        raise WorkspaceError("training needs a corpus: give a project or a corpus")
    corpus = corpus if corpus is not None else project.corpus
    pairs_path = Path(pairs) if pairs else project.workspace.path("pairs.jsonl") if project else None
    if pairs_path is None:
        raise WorkspaceError("no pairs file given")
    if not pairs_path.exists() and pairs is None:
        raise WorkspaceError(f"{pairs_path}: no pairs yet; export them in step 2 (`embtune pairs export`)")
    frame = load_pairs(pairs_path, corpus)
    over = dict(overrides or {})
    if project is not None:
        general = project.config.resolve(project.config.general.pairs)
        if general and "general_pairs" not in over:
            over["general_pairs"] = str(general)
        model_name = base_model or project.config.model.base
        model = project.load_base_model() if model_name == project.config.model.base else load_model(model_name)
        encoder = Encoder(model, project.embedding_cache(), batch_size=project.config.model.batch_size)
        table = project.config.train
    else:
        model_name = base_model or DEFAULT_MODEL
        encoder, table = Encoder(load_model(model_name)), None
    config = TrainConfig.defaults(frame.height, table=table, base_model=model_name,
                                  output_dir=str(output_dir or ""), **over)
    return TrainPlan(pairs=frame, pairs_path=pairs_path, corpus=corpus, config=config, encoder=encoder,
                     project=project)


#: What a run was started from, in its folder: checked by ``--resume``.
INPUTS = "inputs.json"
_CHECKED = (("pairs", "pairs_sha256"), ("general pairs", "general_pairs_sha256"), ("settings", "config_sha256"))
#: Settings a resumed run may change: where training stops and how often it logs, not what it learns from.
RESUME_MAY_CHANGE = ("output_dir", "max_steps", "logging_steps")


def run_inputs(p: TrainPlan) -> dict:
    """Hashes of what a run trains on: the pairs file, the general pairs and the settings (all but
    :data:`RESUME_MAY_CHANGE`), with the settings themselves so a refusal can name what changed."""
    config = json.loads(json.dumps({k: v for k, v in dataclasses.asdict(p.config).items()
                                    if k not in RESUME_MAY_CHANGE}))
    general = Path(p.config.general_pairs) if p.config.general_pairs else None
    return {"pairs": str(p.pairs_path), "pairs_sha256": hash_file(p.pairs_path),
            "general_pairs_sha256": hash_file(general) if general and general.exists() else "",
            "config_sha256": hash_bytes(json.dumps(config, sort_keys=True).encode()), "config": config}


def check_resume(out: Path, inputs: dict, *, log: Callable[[str], None] = print) -> bool:
    """Whether ``out`` holds a record of the same inputs; ``False`` (logged) for a run that has none. Raises
    :class:`WorkspaceError` when the pairs, the general pairs or the settings differ from the recorded ones."""
    path = Path(out) / INPUTS
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        log(f"{path}: no record of the run's inputs (an older run): resuming unchecked")
        return False
    except (OSError, ValueError) as e:
        raise WorkspaceError(f"{path}: unreadable ({e}); cannot check what the checkpoint was trained on") from None
    changed = [what for what, key in _CHECKED if recorded.get(key) != inputs[key]]
    if not changed:
        return True
    keys = sorted(k for k in inputs["config"] if (recorded.get("config") or {}).get(k) != inputs["config"][k])
    detail = f" ({', '.join(keys)})" if keys and "settings" in changed else ""
    raise WorkspaceError(f"{out}: cannot --resume: the {' and '.join(changed)}{detail} differ from what the run "
                         f"started with ({INPUTS}); start a new run, or restore them")


def train_run(p: TrainPlan, *, state: TrainState | None = None, resume: bool = False, started_by: str = "api",
              log: Callable[[str], None] = print) -> Run:
    """Train ``p`` into its output folder (a new ``runs/<id>/`` of the project when none was set) and, in a
    project, record the run in the manifest with its inputs."""
    if not p.config.output_dir:
        if p.project is None:
            raise WorkspaceError("no output folder for the run")
        p = p.with_output(p.project.workspace.path("runs", new_run_id()))
    out = Path(p.config.output_dir)
    fresh = not out.exists()
    inputs = run_inputs(p)
    if not (resume and check_resume(out, inputs, log=log)):
        write_json(out / INPUTS, inputs)
    try:
        result = train(p.pairs, p.corpus, p.config, state=state, resume=resume, encoder=p.encoder, log=log)
    except BaseException:  # an abort (second Ctrl-C), a time limit spent early, a failure: no half-made run
        if fresh and not any((out / "checkpoints").glob("checkpoint-*")):
            shutil.rmtree(out, ignore_errors=True)
        raise
    run = Run(run_id=out.name, path=out, config=p.config, result=result)
    record = {"run": run.run_id, "started_by": started_by, "config": dataclasses.asdict(p.config),
              "pairs": str(p.pairs_path), "pairs_sha256": hash_file(p.pairs_path), **result.summary()}
    write_json(out / "run.json", record)
    if p.project is not None:
        ws = p.project.workspace
        inputs = {"docs": p.project.input_hashes()["docs"]}
        pairs_rec = ws.get("pairs")
        if pairs_rec is not None and ws.path(pairs_rec.path).resolve() == p.pairs_path.resolve():
            inputs["artifact:pairs"] = pairs_rec.sha256
        ws.record(f"run:{run.run_id}", out / "run.json", inputs=inputs,
                  config_hash=p.project.config.hash("train", "model"),
                  extra={"started_by": started_by, "steps": result.steps})
    return run
