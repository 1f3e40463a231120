"""Filter quality on the sample's planted LLM failures, and filter speed.

1. Precision and recall of the filters against the labels in ``sample_data/signals/llm_labels.jsonl``
   (a planted failure counts as caught when the pair is rejected for any reason), per failure kind,
   at the project's thresholds and at a few ``too_easy`` settings.
2. Speed of applying the non-model filters to 20,000 candidates (the sample's candidates repeated,
   scores included): target under 2 s.

Run: ``.venv/bin/python bench/bench_filters.py``. Prints one JSON object.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

from embtune_core.base_model.candidates import embedding_cache  # noqa: E402
from embtune_core.core.embeddings import Encoder  # noqa: E402
from embtune_core.core.models import load_model  # noqa: E402
from embtune_core.core.project import open_project  # noqa: E402
from embtune_core.mine_pairs import filters  # noqa: E402
from embtune_core.mine_pairs.mine import mine_all  # noqa: E402


def quality(scored: pl.DataFrame, cfg, labels: dict) -> dict:
    f = filters.apply(scored, cfg).filter(pl.col("source") == "llm")
    lab = [labels.get((d, q), "ok") for d, q in zip(f["doc_id"], f["query"], strict=True)]
    f = f.with_columns(pl.Series("label", lab))
    bad = f.filter(pl.col("label") != "ok")
    caught = bad.filter(~pl.col("kept")).height
    rejected = f.filter(~pl.col("kept")).height
    per_kind = {k: f"{bad.filter((pl.col('label') == k) & ~pl.col('kept')).height}/"
                   f"{bad.filter(pl.col('label') == k).height}" for k in sorted(set(bad["label"]))}
    return {"planted_failures": bad.height, "caught": caught, "rejected": rejected,
            "recall": round(caught / bad.height, 3), "precision": round(caught / rejected, 3) if rejected else None,
            "ok_rejected": f.filter((pl.col("label") == "ok") & ~pl.col("kept")).height, "caught_per_kind": per_kind}


def main() -> dict:
    p = open_project()
    enc = Encoder(load_model(p.config.model.base), embedding_cache(p))
    cand = mine_all(p, enc)
    scored = filters.score(cand, p.corpus, enc)
    labels = {(r["doc_id"], r["query"]): r["label"]
              for r in (json.loads(ln) for ln in (REPO / "sample_data/signals/llm_labels.jsonl").read_text().split("\n")
                        if ln.strip())}
    out = {"candidates": cand.height, "at_project_thresholds": quality(scored, p.config.filters, labels)}
    out["too_easy_sweep"] = {str(t): quality(scored, dataclasses.replace(p.config.filters, too_easy=t), labels)
                             for t in (0.7, 0.8, 0.9, 1.0)}
    big = pl.concat([scored] * (20_000 // scored.height + 1)).head(20_000)
    t = time.perf_counter()
    for _ in range(5):
        filters.apply(big, p.config.filters)
    out["apply_20k_seconds"] = round((time.perf_counter() - t) / 5, 4)
    s = filters.apply(scored, p.config.filters)
    out["per_source"] = filters.summary(s).to_dicts()
    out["headroom"] = filters.headroom(scored)
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
