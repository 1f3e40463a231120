import json
import shutil
import subprocess
import sys

import polars as pl

from embtune_core.compare import compare, embedding_map, eyeball
from embtune_core.core.embeddings import Encoder
from embtune_core.core.evaluate import evaluate_ranking
from embtune_core.core.sources import EvalSet

EV = EvalSet(queries={f"q{i}": f"query {i}" for i in range(30)},
             relevant={f"q{i}": frozenset({f"d{i}"}) for i in range(30)}, path="", sha256="",
             query_source={f"q{i}": "search" if i % 2 else "ticket" for i in range(30)})


def ranking(rank_of):
    out = {}
    for i, q in enumerate(EV.queries):
        docs = [f"x{j}" for j in range(20)]
        r = rank_of(i)
        if r:
            docs.insert(r - 1, f"d{i}")
        out[q] = [(d, 1 - k / 100) for k, d in enumerate(docs)]
    return out


def test_compare_counts_wins_losses_and_orders_regressions():
    base = evaluate_ranking(ranking(lambda i: 4), EV)
    tuned = evaluate_ranking(ranking(lambda i: 1 if i < 20 else (4 if i < 25 else (9 if i < 29 else None))), EV)
    c = compare(base, tuned, EV, cold_docs={"d0", "d1"})
    assert c.counts == {"win": 20, "loss": 5, "tie": 5}
    regs = c.regressions()
    assert regs["query_id"][0] == "q29" and regs["tuned_rank"][0] is None and regs["rank_change"][0] == 4 - 101
    m = dict(zip(c.metrics["metric"], c.metrics["delta"], strict=True))
    assert m["mrr@10"] > 0 and set(c.metrics["metric"]) >= {"recall@5", "mrr@10"}
    assert set(c.slices.filter(pl.col("by") == "coverage")["slice"]) == {"cold", "covered"}
    d = c.as_dict()
    assert d["win"] == 20 and len(d["largest_regressions"]) == 5 and "passed" in d["gate"]


def test_eyeball_and_map_on_the_sample(sample_project, tiny_model):
    enc = Encoder(tiny_model)
    dense = sample_project.retriever(tiny_model)
    view = eyeball(["MRR churn cohort", "webhook retry policy"], dense, dense, sample_project.corpus,
                   relevant={"webhook retry policy": {"webhook-retries"}}, k=3,
                   training_queries=["webhook retries", "churn by month"])
    assert view.height == 6 and view["base_title"].to_list() == view["tuned_title"].to_list()
    assert view.filter(pl.col("query") == "MRR churn cohort")["uncovered_terms"][0] == "mrr cohort"
    m = embedding_map(sample_project.eval_set, sample_project.corpus, {"base": enc}, max_queries=20)
    assert set(m["kind"]) == {"query", "article"} and m.filter(pl.col("kind") == "query").height == 20


def test_compare_cli_and_notebook_05(tiny_project, tiny_model_dir, tmp_path, cli):
    from conftest import REPO, SAMPLE

    run = tmp_path / "ws" / "runs" / "r1"
    shutil.copytree(tiny_model_dir, run)
    p = cli("compare", "--base", tiny_model_dir, "--tuned", run, "--eval-dir", SAMPLE / "eval", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["tie"] == out["n_queries"] == 175 and out["win"] == out["loss"] == 0
    assert {r["metric"] for r in out["metrics"]} >= {"recall@5", "mrr@10"}
    nb = subprocess.run([sys.executable, str(REPO / "notebooks" / "05_compare.py"), "--project", str(tiny_project)],
                        capture_output=True, text=True, timeout=600)
    assert nb.returncode == 0, nb.stderr[-2000:]
