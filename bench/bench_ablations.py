"""Training ablations, one row per variant, each with paired 95% CIs, on a project's held-out eval set.

Every variant is a set of ``TrainConfig`` overrides trained through the same call the notebook and CLI
make (``embtune_core.train.plan`` + ``train_run``), except ``tutorial`` (the tutorial's plain script: 3
epochs, batch 32, lr 2e-5, 256 tokens, no hard negatives, its final model) and ``merge<N>`` (the
``defaults`` run with N% of the base model's weights averaged in: no retraining). Each row reports the
tuned model alone (dense) and fused with BM25 (hybrid): Recall@5 and MRR@10, their paired deltas against
the base model and against the ``defaults`` row, training wall and CPU seconds.

Rows are appended to ``--out`` (JSONL) as they finish, so a long run can be read while it goes on.

Run: ``.venv/bin/python bench/bench_ablations.py --project sample_data/embtune.toml --variants
defaults,tutorial,gist --out /tmp/ablations.jsonl`` (add ``--pairs FILE`` for a project whose pairs are
not in its workspace, e.g. the development benchmark's ``train_pairs.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

torch.set_num_threads(2)

VARIANTS = {
    "defaults": {},
    "epochs1": {"epochs": 1.0},
    "epochs3": {"epochs": 3.0},
    "len256": {"max_seq_length": 256},
    "no_hard_negatives": {"hard_negatives": 0},
    "absolute_margin": {"hard_negative_margin_kind": "absolute", "hard_negative_margin": 0.05},
    "gist": {"loss": "gist"},
    "symmetric": {"symmetric": True},
    "gist_symmetric": {"loss": "gist", "symmetric": True},
    "no_general": {"general_share": 0.0},
    "val5": {"val_fraction": 0.05},
}
METRICS = ("recall@5", "mrr@10")


def _paired(base, other, metric) -> dict:
    from embtune_core.core.stats import paired_by_query

    d = paired_by_query(base.per_query, other.per_query, metric)
    return {"delta": round(d.delta, 4), "ci95": [round(d.ci_low, 4), round(d.ci_high, 4)]}


def _evaluate(project, model_dir: str, models: dict) -> dict:
    from embtune_core.compare import evaluate_on_project

    return {kind: evaluate_on_project(project, spec, models=models)[0]
            for kind, spec in (("dense", model_dir), ("hybrid", f"hybrid:{model_dir}"))}


def tutorial(pairs_path: Path, out: str) -> str:
    sys.path.insert(0, str(REPO / "bench"))
    from bench_train import tutorial_script

    return tutorial_script(str(pairs_path), out)[0]


def main() -> None:
    from embtune_core.core.models import load_model
    from embtune_core.core.project import open_project
    from embtune_core.train import merge_into, plan, train_run

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", required=True)
    ap.add_argument("--pairs", help="pairs JSONL (default: the project's workspace pairs.jsonl)")
    ap.add_argument("--variants", default="defaults,tutorial,merge50",
                    help=f"comma-separated: {', '.join(VARIANTS)}, tutorial, merge<N>")
    ap.add_argument("--out", required=True, help="JSONL the rows are appended to")
    ap.add_argument("--defaults-run", help="an existing run trained with the defaults on the same pairs (reused)")
    args = ap.parse_args()
    project = open_project(args.project)
    tmp = Path(tempfile.mkdtemp(prefix="ablations-"))
    models: dict = {}
    base = _evaluate(project, project.config.model.base, models)
    runs: dict[str, dict] = {}

    def emit(row):
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    emit({"variant": "base", "project": project.name, "queries": len(project.eval_set),
          **{f"{k}_{m}": round(r.metrics[m], 4) for k, r in base.items() for m in METRICS}})
    for name in args.variants.split(","):
        w, c = time.perf_counter(), time.process_time()
        extra = {}
        if name == "defaults" and args.defaults_run:
            model_dir = args.defaults_run
            extra = {"reused": True}
        elif name == "tutorial":
            p = plan(project, pairs=args.pairs, log=lambda m: None)
            model_dir = tutorial(p.pairs_path, str(tmp / name))
        elif name.startswith("merge"):
            share = int(name.removeprefix("merge")) / 100
            src = runs["defaults"]["dir"]
            model = load_model(src)
            merge_into(model, load_model(project.config.model.base, max_seq_length=model.max_seq_length), share)
            model_dir = str(tmp / name)
            model.save(model_dir, create_model_card=False)
        else:
            p = plan(project, VARIANTS[name], pairs=args.pairs, output_dir=tmp / name, log=lambda m: None)
            run = train_run(p, started_by="bench_ablations", log=lambda m: print(m, file=sys.stderr))
            model_dir = str(run.path)
            extra = {"steps": run.result.steps, "random_negatives": run.result.stats.get("hard_negatives_random"),
                     "config": {k: v for k, v in VARIANTS[name].items()}}
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        res = _evaluate(project, model_dir, models)
        runs[name] = {"dir": model_dir, "res": res}
        row = {"variant": name, "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1), **extra}
        for kind, r in res.items():
            for m in METRICS:
                row[f"{kind}_{m}"] = round(r.metrics[m], 4)
                row[f"{kind}_{m}_vs_base"] = _paired(base[kind], r, m)
                if "defaults" in runs and name != "defaults":
                    row[f"{kind}_{m}_vs_defaults"] = _paired(runs["defaults"]["res"][kind], r, m)
        emit(row)


if __name__ == "__main__":
    main()
