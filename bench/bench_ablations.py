"""Training ablations, one row per variant, each with paired 95% CIs, on a project's held-out eval set.

Every variant is a set of ``TrainConfig`` overrides trained through the same call the notebook and CLI
make (``embtune_core.train.plan`` + ``train_run``), except ``tutorial`` (the tutorial's plain script: 3
epochs, batch 32, lr 2e-5, 256 tokens, no hard negatives, its final model) and ``merge<N>`` (the
``defaults`` run with N% of the base model's weights averaged in: no retraining) and ``remine`` (one
epoch of the defaults, then two more from that model with hard negatives mined again by it: ANCE-style
re-mining, where the base model's blind spots no longer decide the negatives). Each row reports the
tuned model alone (dense) and fused with BM25 (hybrid): Recall@5 and MRR@10, their paired deltas against
the base model and against the ``defaults`` row, training wall and CPU seconds, and the tutorial's
forgetting check: the change in Recall@5 on a general-domain BEIR set (``--general``: the project's
``[general] eval``, else the sample's ``sample_data/general``) against the base model.

Rows are appended to ``--out`` (JSONL) as they finish, so a long run can be read while it goes on.

Run: ``.venv/bin/python bench/bench_ablations.py --project sample_data/embtune.toml --variants
defaults,tutorial,gist --out /tmp/ablations.jsonl`` (add ``--pairs FILE`` for a project whose pairs are
not in its workspace, e.g. the development benchmark's ``train_pairs.jsonl``).
"""

from __future__ import annotations

import argparse
import dataclasses
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

torch.set_num_threads(int(os.environ.get("EMBTUNE_BENCH_THREADS", "2")))  # 1 to run two benches side by side

VARIANTS = {
    "defaults": {},
    "epochs1.5": {"epochs": 1.5},  # the defaults before the 3-epoch rows
    "epochs5": {"epochs": 5.0},
    "len256": {"max_seq_length": 256},
    "no_hard_negatives": {"hard_negatives": 0},
    "absolute_margin": {"hard_negative_margin_kind": "absolute", "hard_negative_margin": 0.05},
    "gist": {"loss": "gist"},
    "symmetric": {"contrast": "symmetric"},
    "improved": {"contrast": "improved"},
    "hardness9": {"hardness": 9.0},
    "gist_symmetric": {"loss": "gist", "contrast": "symmetric"},
    "no_general": {"general_share": 0.0},
    "val5": {"val_fraction": 0.05},
}
METRICS = ("recall@5", "mrr@10")


def _paired(base, other, metric) -> dict:
    from embtune_core.core.stats import paired_by_query

    d = paired_by_query(base.per_query, other.per_query, metric)
    return {"delta": round(d.delta, 4), "ci95": [round(d.ci_low, 4), round(d.ci_high, 4)]}


@dataclasses.dataclass(frozen=True)
class Replicates:
    """Several runs of one recipe scored as one: each query's metrics averaged over the runs, so a paired
    CI against another variant reflects the recipe rather than one draw of its seed."""

    per_query: object  # query_id + METRICS, each the mean over the runs

    @property
    def metrics(self) -> dict:
        return {m: float(self.per_query[m].mean()) for m in METRICS}


def _evaluate(project, model_dir: str, models: dict) -> dict:
    """Dense and hybrid evaluations of ``model_dir``; ``DIR1+DIR2+...`` (replicate runs) gives their
    per-query means (:class:`Replicates`)."""
    import polars as pl

    from embtune_core.compare import evaluate_on_project

    dirs = model_dir.split("+")
    out = {}
    for kind, prefix in (("dense", ""), ("hybrid", "hybrid:")):
        results = [evaluate_on_project(project, prefix + d, models=models)[0] for d in dirs]
        out[kind] = results[0] if len(results) == 1 else Replicates(
            pl.concat([r.per_query.select("query_id", *METRICS) for r in results]).group_by("query_id").mean())
    return out


def tutorial_script(pairs_path: str, out: str, seed: int = 42):
    """The tutorial's step-4 script, on CPU (fp16 removed: it fails on CPU), without selecting on the eval set."""
    from datasets import load_dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from embtune_core.core.models import resolve_model

    model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    dataset = load_dataset("json", data_files=pairs_path, split="train").select_columns(["query", "positive"])
    dataset = dataset.train_test_split(test_size=0.1, seed=seed)
    args = SentenceTransformerTrainingArguments(
        output_dir=out, num_train_epochs=3, per_device_train_batch_size=32, learning_rate=2e-5, warmup_steps=0.1,
        eval_strategy="steps", eval_steps=100, save_strategy="no", logging_steps=20, report_to="none",
        use_cpu=True, disable_tqdm=True, seed=seed)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset["train"],
                                         eval_dataset=dataset["test"], loss=MultipleNegativesRankingLoss(model))
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # keep stdout one JSON object
    trainer.train()
    model.save(out + "/final")
    return out + "/final", len(dataset["train"])


def main() -> None:
    from embtune_core.compare import general_check
    from embtune_core.core.models import load_model
    from embtune_core.core.project import open_project
    from embtune_core.train import merge_into, plan, train_run

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", required=True)
    ap.add_argument("--pairs", help="pairs JSONL (default: the project's workspace pairs.jsonl)")
    ap.add_argument("--variants", default="defaults,tutorial,merge50",
                    help=f"comma-separated: {', '.join(VARIANTS)}, tutorial, remine, merge<N>")
    ap.add_argument("--out", required=True, help="JSONL the rows are appended to")
    ap.add_argument("--reuse", action="append", default=[], metavar="VARIANT=DIR",
                    help="evaluate an existing model for this variant, trained on the same pairs, instead of training "
                         "it again (e.g. defaults=runs/X, tutorial=/tmp/ablations-Y/tutorial/final); DIR1+DIR2 (runs "
                         "of --seed replicates) scores their per-query mean; repeatable")
    ap.add_argument("--pairs-limit", type=int, default=0,
                    help="train on a seeded share of N pairs (whole query groups; e.g. 1000, the held-out set's size)")
    ap.add_argument("--general", help="general-domain BEIR folder for the forgetting check")
    ap.add_argument("--seed", type=int, default=0,
                    help="another seed for every variant trained here (split, order, fills; the tutorial's too): a "
                         "replicate of a run, to see how far two builds of one recipe differ (default: each's own)")
    args = ap.parse_args()
    reuse = dict(r.split("=", 1) for r in args.reuse)
    project = open_project(args.project)
    tmp = Path(tempfile.mkdtemp(prefix="ablations-"))
    pairs_file = args.pairs
    if args.pairs_limit:  # one fixed subset, written once, so every variant trains on the same pairs
        from embtune_core.core.workspace import write_jsonl
        from embtune_core.train import subsample

        full = plan(project, pairs=args.pairs, log=lambda m: None).pairs
        part = subsample(full, min(1.0, args.pairs_limit / full.height), seed=42)
        pairs_file = str(tmp / "pairs.jsonl")
        write_jsonl(pairs_file, part.to_dicts())
        print(f"training on {part.height} of {full.height} pairs -> {pairs_file}", file=sys.stderr)
    general = args.general or (project.config.resolve(project.config.general.eval) if project.config.general.eval
                               else str(REPO / "sample_data" / "general"))
    models: dict = {}
    base = _evaluate(project, project.config.model.base, models)
    runs: dict[str, dict] = {}

    def emit(row):
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    emit({"variant": "base", "project": project.name, "queries": len(project.eval_set), "seed": args.seed or None,
          **{f"{k}_{m}": round(r.metrics[m], 4) for k, r in base.items() for m in METRICS}})
    for name in args.variants.split(","):
        w, c = time.perf_counter(), time.process_time()
        extra = {}
        if name in reuse:
            model_dir, extra = reuse[name], {"reused": reuse[name]}
        elif name == "tutorial":
            p = plan(project, pairs=pairs_file, log=lambda m: None)
            model_dir = tutorial_script(str(p.pairs_path), str(tmp / name), seed=args.seed or 42)[0]
        elif name.startswith("merge"):
            share = int(name.removeprefix("merge")) / 100
            src = runs["defaults"]["dir"]
            if "+" in src:
                raise SystemExit(f"{name}: merges one defaults run into the base, not replicates ({src})")
            model = load_model(src)
            merge_into(model, load_model(project.config.model.base, max_seq_length=model.max_seq_length), share)
            model_dir = str(tmp / name)
            model.save(model_dir, create_model_card=False)
        else:
            stages = [(VARIANTS.get(name, {}), tmp / name)]
            if name == "remine":
                stages = [({"epochs": 1.0}, tmp / name / "epoch1"), ({"epochs": 2.0}, tmp / name)]
            start, results = None, []
            for over, folder in stages:
                over = {**over, "seed": args.seed} if args.seed else over
                p = plan(project, over, pairs=pairs_file, output_dir=folder, log=lambda m: None)
                if start:  # continue from the last stage's model, which also mines the negatives; same split
                    p = dataclasses.replace(p, config=dataclasses.replace(p.config, base_model=start))
                run = train_run(p, started_by="bench_ablations", log=lambda m: print(m, file=sys.stderr))
                start = str(run.path)
                results.append(run.result)
            model_dir = str(run.path)
            validation_s = sum(r.validation_seconds for r in results)
            extra = {"steps": sum(r.steps for r in results),
                     "random_negatives": [r.stats.get("hard_negatives_random") for r in results],
                     "validation_s": round(validation_s, 1),
                     "validation_share": round(validation_s / sum(r.seconds for r in results), 3),
                     "config": {k: v for k, v in VARIANTS.get(name, {}).items()}}
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        res = _evaluate(project, model_dir, models)
        runs[name] = {"dir": model_dir, "res": res}
        row = {"variant": name, "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1), **extra}
        # the models _evaluate loaded, by spec: no second load
        checks = [general_check(models[project.config.model.base], models[d], general)["recall@5"]
                  for d in model_dir.split("+")]
        checks = [{"delta": round(g["delta"], 4), "ci95": [round(x, 4) for x in g["ci95"]]} for g in checks]
        row["general_recall@5_vs_base"] = checks[0] if len(checks) == 1 else checks  # one per replicate
        for kind, r in res.items():
            for m in METRICS:
                row[f"{kind}_{m}"] = round(r.metrics[m], 4)
                row[f"{kind}_{m}_vs_base"] = _paired(base[kind], r, m)
                for ref in ("defaults", "tutorial"):
                    if ref in runs and name != ref:
                        row[f"{kind}_{m}_vs_{ref}"] = _paired(runs[ref]["res"][kind], r, m)
        emit(row)


if __name__ == "__main__":
    main()
