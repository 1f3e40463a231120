import json
import re
import subprocess
import sys

import polars as pl
import pytest

from embtune_core.compare import Complaints, check, complaint_losses
from embtune_core.core.config import GateConfig
from embtune_core.core.evaluate import evaluate_ranking
from embtune_core.core.sources import EvalSet

EV = EvalSet(queries={f"q{i}": f"q{i}" for i in range(40)}, relevant={f"q{i}": frozenset({f"d{i}"}) for i in range(40)},
             path="", sha256="")


def ranking(rank_of):
    """Each query's relevant doc at the given rank (1-based; None = not retrieved)."""
    out = {}
    for i, q in enumerate(EV.queries):
        r = rank_of(i)
        docs = [f"x{j}" for j in range(10)]
        if r:
            docs.insert(r - 1, f"d{i}")
        out[q] = [(d, 1.0 - k / 100) for k, d in enumerate(docs[:10])]
    return out


def test_gate_passes_a_clear_gain_and_fails_a_regression():
    base = evaluate_ranking(ranking(lambda i: 3 if i % 2 else 8), EV)
    better = evaluate_ranking(ranking(lambda i: 1), EV)
    worse = evaluate_ranking(ranking(lambda i: 9 if i % 2 else None), EV)
    ok = check(base, better, GateConfig())
    assert ok.passed and ok.deltas[0].metric == "recall@5" and ok.deltas[0].ci_low > 0
    bad = check(base, worse, GateConfig())
    assert not bad.passed and "lower bound below -0.01" in bad.summary()


def test_gate_fails_when_a_complaint_loses_its_top3_article():
    base = evaluate_ranking(ranking(lambda i: 2), EV)
    tuned = evaluate_ranking(ranking(lambda i: 1 if i else 4), EV)  # q0 drops from rank 2 to 4
    assert complaint_losses(base, tuned, EV.relevant, 3) == [{"query_id": "q0", "lost": ["d0"]}]
    v = check(base, tuned, GateConfig(min_delta_ci_low=-1), complaints=Complaints(base, tuned, EV.relevant))
    assert not v.passed and "1 complaint queries lost" in v.summary()


@pytest.mark.slow
def test_embtune_run_end_to_end_with_a_tiny_model(tiny_project, tmp_path, cli):
    p = cli("run", "--project", tiny_project, "--max-steps", "6", "--json", env={"EMBTUNE_WORKSPACE": None})
    assert p.returncode in (0, 7), p.stderr  # 7: the gate said no (a random tiny model may regress)
    out = json.loads(p.stdout)
    assert set(out["gate"]) == {"passed", "reasons"} and out["train"]["steps"] == 6
    run_dir = tmp_path / "ws" / "runs" / out["run"]
    assert (run_dir / "metrics.json").exists() and (run_dir / "model.safetensors").exists()
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(run_dir), device="cpu").encode(["x"]).shape == (1, 32)



def _title_pairs(folder, copies: int = 1):
    """A pairs file in the tutorial's format: each sample article's title (numbered) against its text."""
    from conftest import SAMPLE

    docs = [json.loads(line) for line in (SAMPLE / "eval" / "corpus.jsonl").read_text().splitlines()]
    pairs = folder / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"query": f"{d['title'].lower()} {i}", "positive": d["text"]}) + "\n"
                             for i, d in enumerate(docs * copies)))
    return pairs


def test_train_cli_with_the_tutorials_pairs_format(tmp_path, tiny_model_dir, cli):
    from conftest import SAMPLE

    pairs = _title_pairs(tmp_path)
    out = tmp_path / "model"
    p = cli("train", "--pairs", pairs, "--model", tiny_model_dir, "--out", out, "--corpus",
            SAMPLE / "eval" / "corpus.jsonl", "--batch-size", "8", "--max-steps", "3", "--no-hard-negatives")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 3 and summary["config"]["max_seq_length"] == 128
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(out), device="cpu").encode(["refund"]).shape == (1, 32)
    bad = cli("train", "--pairs", pairs, "--model", tmp_path / "no-model", "--out", tmp_path / "o", "--corpus",
              SAMPLE / "eval" / "corpus.jsonl")
    assert bad.returncode == 4 and "cannot load model" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "o").exists()


def test_notebook_04_trains_headless_with_a_cli_gate(tiny_project, tmp_path):
    from conftest import REPO

    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    from embtune_core.core.config import load_config
    from embtune_core.core.project import Project

    proj = Project(load_config(tiny_project))
    s = proj.corpus.sections
    (ws / "pairs.jsonl").write_text("".join(
        json.dumps({"query": f"{h or d} help {i}", "positive": t, "doc_id": d, "source": "docs"}) + "\n"
        for i, (h, t, d) in enumerate(zip(s["heading"], s["text"], s["doc_id"], strict=True))))
    p = subprocess.run([sys.executable, str(REPO / "notebooks" / "04_train.py"), "--project", str(tiny_project),
                        "--train", "1", "--max-steps", "4"], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    runs = [d for d in (ws / "runs").iterdir() if d.name != "notebook"]
    assert len(runs) == 1 and (runs[0] / "model.safetensors").exists()
    log = json.loads((runs[0] / "train_log.json").read_text())
    assert len(log["losses"]) >= 1
    assert pl.DataFrame(log["losses"], orient="row").height >= 1


def test_ctrl_c_stops_cleanly_and_resume_continues(tmp_path, tiny_model_dir):
    import signal
    import time

    from conftest import SAMPLE

    pairs = _title_pairs(tmp_path, copies=4)
    out = tmp_path / "model"
    args = [sys.executable, "-m", "embtune_core.cli", "train", "--pairs", str(pairs), "--model", str(tiny_model_dir),
            "--out", str(out), "--corpus", str(SAMPLE / "eval" / "corpus.jsonl"), "--batch-size", "8",
            "--no-hard-negatives", "--epochs", "30"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list((out / "checkpoints").glob("checkpoint-*")) and time.monotonic() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    first = json.loads(stdout.strip().splitlines()[-1])
    assert first["stopped_early"] and (out / "model.safetensors").exists()
    step = int(re.search(r"stopping after step (\d+)", stderr).group(1))
    assert first["steps"] == step  # within one step of the Ctrl-C
    resumed = subprocess.run(args[:-2] + ["--epochs", "30", "--max-steps", str(first["steps"] + 3), "--resume"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["steps"] == first["steps"] + 3


def test_ctrl_c_before_training_starts_aborts_at_once_and_leaves_no_run(tmp_path, tiny_model_dir):
    import signal
    import time

    from conftest import SAMPLE

    pairs = _title_pairs(tmp_path, copies=4)
    out = tmp_path / "model"
    proc = subprocess.Popen([sys.executable, "-m", "embtune_core.cli", "train", "--pairs", str(pairs), "--model",
                             str(tiny_model_dir), "--out", str(out), "--corpus", str(SAMPLE / "eval" / "corpus.jsonl"),
                             "--batch-size", "8", "--epochs", "30"],  # hard negatives: an encoding pass first
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "inputs.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130 and "interrupted" in stderr, stderr[-2000:]
    assert "training: step" not in stderr  # aborted before any step, not after one
    assert not out.exists()  # nothing half-made


def test_max_minutes_bounds_the_whole_command(tmp_path, tiny_model_dir, cli):
    import time

    from conftest import SAMPLE

    pairs = _title_pairs(tmp_path, copies=4)
    t = time.monotonic()
    p = cli("train", "--pairs", str(pairs), "--model", str(tiny_model_dir), "--out", str(tmp_path / "m"),
            "--corpus", str(SAMPLE / "eval" / "corpus.jsonl"), "--batch-size", "8", "--epochs", "1000",
            "--max-minutes", "0.25")
    took = time.monotonic() - t
    assert p.returncode == 0, p.stderr[-2000:]
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert summary["stop_reason"] == "time limit" and summary["steps"] > 0
    assert took < 15 + 10, took  # the limit, plus at most a step and the final save (generous: shared CI cores)
    assert "the time limit; the best model so far is kept" in p.stderr
    for bad in ("0", "-1", "abc", "inf"):
        assert cli("train", "--max-minutes", bad).returncode == 2


@pytest.mark.slow
def test_accelerate_launch_smoke_with_one_cpu_process(tmp_path, tiny_model_dir):
    from conftest import SAMPLE

    pairs = _title_pairs(tmp_path)
    p = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1",
                        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                        "-m", "embtune_core.cli", "train", "--pairs", str(pairs), "--model", str(tiny_model_dir),
                        "--out", str(tmp_path / "m"), "--corpus", str(SAMPLE / "eval" / "corpus.jsonl"),
                        "--batch-size", "8", "--max-steps", "2", "--no-hard-negatives"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads(p.stdout.strip().splitlines()[-1])["steps"] == 2
