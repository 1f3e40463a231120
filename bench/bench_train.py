"""Training quality and speed, side by side in one run, on the sample project's exported pairs.

Rows:
1. the base model (no training);
2. **embtune defaults** (``TrainConfig.defaults``: 128 tokens, 1 epoch, batch 32, lr 5e-5, 1 hard
   negative, NO_DUPLICATES, checkpoint chosen on a validation split of the pairs);
3. **the tutorial's script** on the same two columns: MNRL, 3 epochs, batch 32, lr 2e-5, warmup 0.1, no
   hard negatives, the model's default max length (256), its own 90/10 ``train_test_split`` for the eval
   loss. It selects nothing on our eval set (the tutorial's ``load_best_model_at_end`` on the reported
   eval set is a leak, so the peer keeps its final model).
Each tuned row: Recall@5 and MRR@10 on the held-out eval set with paired-bootstrap 95% CIs of the delta
against the base, and training CPU seconds (``time.process_time``, torch threads fixed to 2) next to
wall seconds, since the machine may be shared.

4. Throughput: embtune's trainer against a bare ``SentenceTransformerTrainer`` with identical settings
   (same pairs, batch, length, sampler, steps, no evaluator), pairs per second of each and their ratio.

Run: ``.venv/bin/python bench/bench_train.py [pairs.jsonl]`` (~35 minutes on 2 cores). Without a pairs
file it mines and exports the sample project's pairs into a temp workspace first.
"""

from __future__ import annotations

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


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def tutorial_script(pairs_path: str, out: str):
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
    dataset = dataset.train_test_split(test_size=0.1, seed=42)
    args = SentenceTransformerTrainingArguments(
        output_dir=out, num_train_epochs=3, per_device_train_batch_size=32, learning_rate=2e-5, warmup_steps=0.1,
        eval_strategy="steps", eval_steps=100, save_strategy="no", logging_steps=20, report_to="none",
        use_cpu=True, disable_tqdm=True, seed=42)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset["train"],
                                         eval_dataset=dataset["test"], loss=MultipleNegativesRankingLoss(model))
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # keep stdout one JSON object
    trainer.train()
    model.save(out + "/final")
    return out + "/final", len(dataset["train"])


def throughput(pairs, corpus, steps: int = 15) -> dict:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from embtune_core.core.models import load_model
    from embtune_core.train import TrainConfig, TrainState, build_trainer, prepare

    bs, length = 32, 128
    with tempfile.TemporaryDirectory() as d:
        cfg = TrainConfig(output_dir=d + "/e", batch_size=bs, max_seq_length=length, hard_negatives=0,
                          max_steps=steps, checkpoint_steps=10_000, logging_steps=10_000)
        model = load_model("all-MiniLM-L6-v2", max_seq_length=length)
        data = prepare(pairs, corpus, cfg)
        ours, _ = build_trainer(model, data, corpus, cfg, TrainState())
        ours.evaluator = None
        ours.args.eval_strategy = "no"
        ours.args.load_best_model_at_end = False
        _, ours_wall, _ = timed(ours.train)

        model = load_model("all-MiniLM-L6-v2", max_seq_length=length)
        ds = Dataset.from_dict({"anchor": data.train["anchor"].to_list(), "positive": data.train["positive"].to_list()})
        args = SentenceTransformerTrainingArguments(
            output_dir=d + "/b", max_steps=steps, per_device_train_batch_size=bs, learning_rate=cfg.learning_rate,
            warmup_steps=0.1, batch_sampler=BatchSamplers.NO_DUPLICATES, save_strategy="no", report_to="none",
            use_cpu=True, disable_tqdm=True, seed=cfg.seed, logging_steps=10_000)
        bare = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                          loss=MultipleNegativesRankingLoss(model))
        _, bare_wall, _ = timed(bare.train)
    n = steps * bs
    return {"steps": steps, "batch": bs, "max_seq_length": length, "embtune_pairs_per_s": round(n / ours_wall, 2),
            "bare_st_pairs_per_s": round(n / bare_wall, 2), "ratio": round(bare_wall / ours_wall, 3)}


def main(pairs_path: str | None) -> dict:
    from embtune_core.core.evaluate import evaluate_model
    from embtune_core.core.models import load_model
    from embtune_core.core.project import open_project
    from embtune_core.core.stats import paired_delta
    from embtune_core.train import TrainConfig, load_pairs, train

    tmp = tempfile.mkdtemp(prefix="bench-train-")
    os.environ["EMBTUNE_WORKSPACE"] = tmp + "/ws"
    project = open_project()
    if pairs_path is None:
        from embtune_core import cli

        cli.main(["mine", "--json"])
        cli.main(["pairs", "export", "--json"])
        pairs_path = tmp + "/ws/pairs.jsonl"
    corpus, ev = project.corpus, project.eval_set
    pairs = load_pairs(pairs_path, corpus)
    base = evaluate_model(load_model("all-MiniLM-L6-v2"), corpus, ev, name="base")
    rows = [{"run": "base all-MiniLM-L6-v2", "recall@5": base.metrics["recall@5"], "mrr@10": base.metrics["mrr@10"]}]

    def row(name, model_dir, wall, cpu, extra):
        res = evaluate_model(load_model(model_dir), corpus, ev, name=name)
        r = {"run": name, "recall@5": res.metrics["recall@5"], "mrr@10": res.metrics["mrr@10"],
             "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1), **extra}
        for m in ("recall@5", "mrr@10"):
            d = paired_delta(base.per_query[m].to_list(), res.per_query[m].to_list(), metric=m)
            r[f"{m}_delta"] = round(d.delta, 4)
            r[f"{m}_delta_ci95"] = [round(d.ci_low, 4), round(d.ci_high, 4)]
            r[f"{m}_p"] = round(d.p_value, 4)
        rows.append(r)

    cfg = TrainConfig.defaults(pairs.height, output_dir=tmp + "/embtune")
    res, wall, cpu = timed(lambda: train(pairs, corpus, cfg, log=lambda m: None))
    row("embtune defaults", res.output_dir, wall, cpu, {"steps": res.steps})
    (out, n_train), wall, cpu = timed(lambda: tutorial_script(pairs_path, tmp + "/tutorial"))
    row("tutorial script", out, wall, cpu, {"train_pairs": n_train})
    e, t = rows[1], rows[2]
    return {"pairs": pairs.height, "rows": rows,
            "embtune_beats_tutorial": e["recall@5"] > t["recall@5"] and e["mrr@10"] > t["mrr@10"],
            "cpu_time_ratio_embtune_over_tutorial": round(e["train_cpu_s"] / t["train_cpu_s"], 3),
            "throughput": throughput(pairs, corpus)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else None), indent=2))
