"""How many pairs do I need? The learning curve of a project, as notebook 04 draws it.

The same run (the project's plan, its settings and seed) on nested, seeded 25% and 50% subsets of the
pairs, next to a run on all of them, each evaluated on the eval set with a 95% interval; then the paired
step from 50% to 100% and the advice it gives (``embtune_core.train.learning_curve``).

Run: ``.venv/bin/python bench/bench_curve.py --project P [--pairs F] [--full-run DIR] [--retriever
dense|hybrid]``. ``--full-run`` reuses a run already trained with the defaults on the same pairs as the
100% point (e.g. a ``bench_ablations.py`` defaults run). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("EMBTUNE_BENCH_THREADS", "2")))  # 1 to run two benches side by side


def main() -> None:
    from embtune_core.core.project import open_project
    from embtune_core.train import learning_curve, plan

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", required=True)
    ap.add_argument("--pairs", help="pairs JSONL (default: the project's workspace pairs.jsonl)")
    ap.add_argument("--full-run", help="a run trained with the defaults on all the pairs (the 100%% point)")
    ap.add_argument("--retriever", choices=("dense", "hybrid"), default="dense")
    args = ap.parse_args()
    project = open_project(args.project)
    p = plan(project, pairs=args.pairs, output_dir=tempfile.mkdtemp(prefix="curve-"), log=lambda m: None)
    curve = learning_curve(p, retriever=args.retriever, reuse={1.0: args.full_run} if args.full_run else None,
                           log=lambda m: print(m, file=sys.stderr))
    out = {"project": project.name, "retriever": args.retriever, "rows": curve.rows(), "advice": curve.advice()}
    for metric in ("recall@5", "mrr@10"):
        step = curve.last_step(metric)
        out[f"last_step_{metric}"] = {"delta": round(step.delta, 4),
                                      "ci95": [round(step.ci_low, 4), round(step.ci_high, 4)]}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
