"""Training speed: embtune's trainer against a bare ``SentenceTransformerTrainer``, side by side in one run.

Identical settings (same pairs, batch 32, 128 tokens, NO_DUPLICATES sampler, 15 steps, no evaluator):
pairs per second of each and their ratio (target >= 0.95). Quality against the tutorial's script, and
each run's validation-pass time and share, are rows of ``bench/bench_ablations.py``.

Run: ``.venv/bin/python bench/bench_train.py [pairs.jsonl]`` (a few minutes on 2 cores). Without a pairs
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
    from embtune_core.core.project import open_project
    from embtune_core.train import load_pairs

    tmp = tempfile.mkdtemp(prefix="bench-train-")
    os.environ["EMBTUNE_WORKSPACE"] = tmp + "/ws"
    project = open_project()
    if pairs_path is None:
        from embtune_core import cli

        cli.main(["mine", "--json"])
        cli.main(["pairs", "export", "--json"])
        pairs_path = tmp + "/ws/pairs.jsonl"
    return throughput(load_pairs(pairs_path, project.corpus), project.corpus)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else None), indent=2))
