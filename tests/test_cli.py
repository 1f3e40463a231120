import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE

from embtune_core.cli import build_parser, main


def test_the_console_script_is_installed():
    """The one test that goes through the installed ``embtune`` script; the rest call ``main`` in-process."""
    exe = Path(sys.executable).with_name("embtune")
    p = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "usage: embtune" in p.stdout


def test_info_json_shows_the_sample_sizes(cli):
    p = cli("info", "--project", str(SAMPLE / "embtune.toml"), "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["docs"] >= 120 and info["sections"] > info["docs"]
    assert info["searches"] >= 3000 and info["sessions"] >= 800
    assert info["tickets"] >= 400 and info["llm_queries"] > 0 and info["eval_queries"] >= 150
    assert info["base_model"]["fingerprint"] and info["base_model"]["dim"] == 384


def test_bad_input_is_one_line_no_traceback_and_nonzero_exit(tmp_path, cli):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("---\nid: a\ntitle: A\n---\n\n")
    (tmp_path / "embtune.toml").write_text("[docs]\npath = 'docs'\n")
    p = cli("info", "--project", str(tmp_path / "embtune.toml"), "--no-model")
    assert p.returncode == 3
    assert p.stderr.strip() == f"embtune: error: {tmp_path / 'docs' / 'a.md'}:1 (field 'text'): empty text"
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert not (tmp_path / "workspace").exists()  # nothing written


def test_config_error_exit_code(tmp_path, capsys):
    (tmp_path / "embtune.toml").write_text("[docs]\npaht = 'x'\n")
    assert main(["info", "--project", str(tmp_path / "embtune.toml")]) == 2
    assert "did you mean 'path'?" in capsys.readouterr().err


def test_eval_on_a_beir_dir(tmp_path, tiny_model_dir, cli):
    d = tmp_path / "beir"
    d.mkdir()
    docs = [{"_id": f"d{i}", "title": f"title {i}", "text": f"text about topic {i}"} for i in range(12)]
    (d / "corpus.jsonl").write_text("".join(json.dumps(x) + "\n" for x in docs))
    (d / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"topic {i}"}) + "\n"
                                             for i in range(5)))
    (d / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(5)))
    p = cli("eval", "--model", str(tiny_model_dir), "--eval-dir", str(d), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert {"recall@5", "recall@10", "mrr@10", "ndcg@10", "accuracy@1", "accuracy@5", "map@100", "n_queries",
            "n_docs", "model_fingerprint"} <= set(out)
    assert out["n_queries"] == 5 and out["n_docs"] == 12 and 0 <= out["recall@5"] <= 1


@pytest.mark.parametrize("command", ["info", "eval", "leakage", "mine", "pairs", "train", "run", "compare", "ship",
                                     "search", "collections", "promote", "rollback", "report", "export", "judge"])
def test_every_command_has_help_and_is_documented(command, capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([command, "--help"])
    assert "usage: embtune" in capsys.readouterr().out
    readme = (SAMPLE.parent / "README.md").read_text()
    assert f"embtune {command}" in readme


def test_eval_project_with_ci_and_baseline(tmp_path, tiny_model_dir, cli):
    env_ws = tmp_path / "ws"
    p = cli("eval", "--project", SAMPLE / "embtune.toml", "--model", tiny_model_dir, "--ci", "--save-baseline",
            "--json", env={"EMBTUNE_WORKSPACE": env_ws})
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    lo, hi = out["ci95"]["recall@5"]
    assert lo <= out["recall@5"] <= hi and out["n_queries"] == 175
    assert (env_ws / "baseline.json").exists()


def test_leakage_cli(tmp_path, cli):
    pairs = tmp_path / "pairs.jsonl"
    queries = [json.loads(line)["text"] for line in (SAMPLE / "eval" / "queries.jsonl").read_text().splitlines()]
    pairs.write_text(json.dumps({"query": queries[0], "positive": "x", "doc_id": "refunds"}) + "\n"
                     + json.dumps({"query": queries[1].upper() + "!", "positive": "y", "doc_id": "refunds"}) + "\n"
                     + json.dumps({"query": "totally unrelated words", "positive": "z", "doc_id": "refunds"}) + "\n")
    p = cli("leakage", "--pairs", str(pairs), "--eval-dir", str(SAMPLE / "eval"), "--no-model", "--json")
    assert p.returncode == 0, p.stderr
    c = json.loads(p.stdout)["counts"]
    assert (c["exact"], c["normalized"], c["leaking_pairs"], c["pairs"]) == (1, 1, 2, 3)
    pairs.write_text('{"query": 1}\n')
    bad = cli("leakage", "--pairs", str(pairs), "--eval-dir", str(SAMPLE / "eval"), "--no-model")
    assert bad.returncode == 3 and "pairs.jsonl:1" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_mine_and_export_cli(tmp_path, cli):
    p = cli("mine", "--json", env={"EMBTUNE_WORKSPACE": tmp_path / "ws"})
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["candidates"] > 1500 and out["kept"] < out["candidates"] and out["headroom"]["missed_at_k"] > 0
    p = cli("pairs", "export", "--out", tmp_path / "p.jsonl", "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    lines = (tmp_path / "p.jsonl").read_text().splitlines()
    assert len(lines) == res["pairs"] > 1000 and res["leaks_dropped"] >= 0


def test_mine_llm_with_endpoint_down_keeps_work_and_exits_nonzero(tmp_path, cli):
    (tmp_path / "docs").mkdir()
    for i in range(3):
        (tmp_path / "docs" / f"a{i}.md").write_text(f"# Article {i}\n\nSome text about topic {i}.\n")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "queries.jsonl").write_text('{"_id": "q1", "text": "topic 1"}\n')
    (tmp_path / "eval" / "qrels.tsv").write_text("q1\ta1\t1\n")
    from conftest import REPO  # noqa: F401

    (tmp_path / "embtune.toml").write_text(
        "[llm]\nbase_url = 'http://127.0.0.1:9/v1'\nmodel = 'x'\n[model]\nbase = '" + str(
            __import__("embtune_core.core.models", fromlist=["resolve_model"]).resolve_model("all-MiniLM-L6-v2")) + "'\n")
    p = cli("mine", "--project", tmp_path / "embtune.toml", "--llm", env={"EMBTUNE_WORKSPACE": tmp_path / "ws"})
    assert p.returncode == 6 and "3 LLM requests failed" in p.stderr and "Traceback" not in p.stderr
    assert (tmp_path / "ws" / "candidates.parquet").exists()  # the rest of mining went through
