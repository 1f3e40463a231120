"""Serving cost of a model as torch, ONNX fp32 and ONNX int8, measured side by side in one run.

On the sample project: export the model, then encode the full corpus with each variant (same batch
size, same thread count = ``torch.get_num_threads()``, rounds interleaved, median of ``--repeats``) and
print docs/s, the ratio to torch, model file sizes, per-document cosine to the torch vectors, and
Recall@5 / MRR@10 on the sample eval set with the paired-bootstrap delta to torch.

``int8_full_reference`` is *not* what ``export_onnx`` writes: the same dynamic quantisation with the
feed-forward MatMuls quantised too, measured here so the trade-off behind that choice stays visible
(``--no-reference`` skips it).

Run: ``.venv/bin/python bench/bench_serving.py [--model PATH_OR_NAME]`` (~5 minutes on 2 cores).
Prints one JSON object.
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

METRICS = ("recall@5", "mrr@10")


def _unit(v):
    import numpy as np

    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def run(model_name: str | None, batch_size: int | None, repeats: int, reference: bool = True) -> dict:
    import torch

    from embtune_core.core.embeddings import Encoder
    from embtune_core.core.evaluate import dense_ranking, evaluate_ranking
    from embtune_core.core.models import load_model
    from embtune_core.core.project import open_project
    from embtune_core.core.stats import paired_delta
    from embtune_core.ship.serving import OnnxEncoder, export_onnx

    project = open_project()
    cfg = project.config.model
    corpus, evalset = project.corpus, project.eval_set
    model = load_model(model_name or cfg.base, device="cpu", max_seq_length=cfg.max_seq_length,
                       prompts={"query": cfg.query_prompt, "document": cfg.document_prompt})
    bs, threads = batch_size or cfg.batch_size, torch.get_num_threads()
    units, queries = corpus.unit_texts(), list(evalset.queries.values())
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        export = export_onnx(model, Path(d) / "onnx")
        export_s = time.perf_counter() - t
        encoders = {"torch": Encoder(model, batch_size=bs),
                    **{v: OnnxEncoder(export, variant=v, threads=threads, batch_size=bs) for v in ("fp32", "int8")}}
        sizes = {"torch": sum(t.numel() * t.element_size() for t in model.state_dict().values()),
                 "fp32": export.model_fp32.stat().st_size, "int8": export.model_int8.stat().st_size}
        if reference:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            full = Path(d) / "model.int8-full.onnx"
            quantize_dynamic(str(export.model_fp32), str(full), weight_type=QuantType.QInt8, per_channel=True)
            encoders["int8_full_reference"] = OnnxEncoder(dataclasses.replace(export, model_int8=full),
                                                          variant="int8", threads=threads, batch_size=bs)
            sizes["int8_full_reference"] = full.stat().st_size
        for enc in encoders.values():  # warm-up: thread pools, allocators, kernel selection
            enc.encode(units[:bs], "document")
        seconds: dict[str, list[float]] = {k: [] for k in encoders}
        vectors = {}
        for _ in range(repeats):
            for name, enc in encoders.items():
                t = time.perf_counter()
                vectors[name] = _unit(enc.encode(units, "document"))
                seconds[name].append(time.perf_counter() - t)
        results = {}
        for name, enc in encoders.items():
            q = _unit(enc.encode(queries, "query"))
            results[name] = evaluate_ranking(dense_ranking(q, vectors[name], corpus, evalset), evalset, name=name,
                                             n_docs=corpus.docs.height)

    med = {k: sorted(v)[len(v) // 2] for k, v in seconds.items()}
    out = {"model": model_name or cfg.base, "threads": threads, "batch_size": bs,
           "max_seq_length": int(model.max_seq_length), "docs": corpus.docs.height, "units": len(units),
           "queries": len(queries), "repeats": repeats, "export_seconds": round(export_s, 1), "variants": {}}
    for name in encoders:
        cos = (vectors[name] * vectors["torch"]).sum(axis=1)
        row = {"docs_per_s": round(len(units) / med[name], 1), "speed_vs_torch": round(med["torch"] / med[name], 2),
               "seconds_median": round(med[name], 2), "model_mb": round(sizes[name] / 1e6, 1),
               "size_vs_torch": round(sizes[name] / sizes["torch"], 3),
               "doc_cosine_to_torch_min": round(float(cos.min()), 5),
               "doc_cosine_to_torch_mean": round(float(cos.mean()), 5),
               **{m: round(results[name].metrics[m], 4) for m in METRICS}}
        if name != "torch":
            for m in METRICS:
                d = paired_delta(results["torch"].per_query[m], results[name].per_query[m], metric=m)
                row[f"{m}_delta"] = round(d.delta, 4)
                row[f"{m}_delta_ci95"] = f"[{d.ci_low:+.4f}, {d.ci_high:+.4f}]"
                row[f"{m}_wins_losses"] = f"{d.wins}/{d.losses}"
        out["variants"][name] = row
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model name or path (default: the sample project's base model)")
    ap.add_argument("--batch-size", type=int, help="default: the project's [model] batch_size")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-reference", action="store_true", help="skip the fully quantised reference variant")
    args = ap.parse_args()
    print(json.dumps(run(args.model, args.batch_size, args.repeats, not args.no_reference), indent=2))
