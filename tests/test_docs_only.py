"""A project with only docs: every step degrades gracefully, and an eval set is judged by hand.

The project comes from the HTML site of ``test_html_docs`` through ``embtune init``, with the tiny model as
its base (as ``tiny_project`` swaps it). Judging writes the project's BEIR set (``[eval] path``) under a
lock, after an fsync'd log line: two writers lose nothing and a killed one loses no judgment.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import polars as pl
import pytest
from conftest import REPO
from test_html_docs import ZENDESK, make_site
from test_notebooks import load_notebook

from embtune_core.core.errors import InputError
from embtune_core.core.project import open_project
from embtune_core.core.sources import load_eval_set
from embtune_core.eval_set import Judgments, judge, labelling_queue, pooled_candidates, save_judged_set
from embtune_core.init_project import scaffold
from embtune_core.mine_pairs.logs import UNANSWERED_SCHEMA, unanswered_searches

QUESTIONS = {"how do I install acme": ["guide/install"], "when are invoices sent": ["guide/billing"],
             "how much disk space do I need": ["guide/install"]}


def make_project(root, tiny_model_dir, docs=None, **docs_settings) -> "os.PathLike":
    """``embtune init`` on ``docs`` (default: the HTML site; skipped when ``root/proj`` has a project file),
    then the base model swapped for the tiny one."""
    path = root / "proj" / "embtune.toml"
    if not path.exists():
        scaffold(docs or make_site(root / "site"), root / "proj")
    text = re.sub(r'^base = "[^"]*"', f'base = "{tiny_model_dir}"', path.read_text(), flags=re.M)
    # a random tiny model finds every query "near" every other: only exact matches count as leaks here
    text = text.replace('kind = "human"', 'kind = "human"\nleakage_threshold = 0.99999')
    for key, value in docs_settings.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.M)
    path.write_text(text)
    return path


@pytest.fixture
def docs_only(tmp_path, tiny_model_dir):
    return make_project(tmp_path, tiny_model_dir)


@pytest.fixture
def judged(docs_only):
    project = open_project(docs_only)
    for q, docs in QUESTIONS.items():
        judge(project, q, docs)
    return docs_only


# --------------------------------------------------------------------------------------------------
# Graceful without an eval set


def test_info_without_an_eval_set_says_what_is_missing(docs_only, cli):
    p = cli("info", "--project", docs_only, "--no-model", "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["docs"] == 5 and info["eval_queries"] == 0 and info["eval_hash"] is None
    missing = {m["input"]: m for m in info["missing"]}
    assert list(missing) == ["eval set", "search log", "tickets", "LLM", "complaints"]
    assert "steps 1, 3 and 5" in missing["eval set"]["needed_by"] and "embtune judge" in missing["eval set"]["how"]
    assert "step 2" in missing["search log"]["needed_by"]
    human = cli("info", "--project", docs_only, "--no-model")
    assert human.returncode == 0
    assert "eval_queries: 0" in human.stdout and "- input:     eval set" in human.stdout
    assert "{'" not in human.stdout and "[{" not in human.stdout  # no Python reprs


def test_a_malformed_eval_set_is_still_an_error(docs_only, cli):
    eval_dir = docs_only.parent / "eval"
    eval_dir.mkdir()
    (eval_dir / "queries.jsonl").write_text('{"_id": "q1", "text": "install"}\n')  # qrels.tsv forgotten
    project = open_project(docs_only)
    assert project.has_eval_set
    with pytest.raises(InputError, match="qrels.tsv: missing"):
        _ = project.eval_set
    p = cli("info", "--project", docs_only, "--no-model")
    assert p.returncode == 3 and p.stderr.count("\n") == 1 and "qrels.tsv: missing" in p.stderr


def test_eval_without_an_eval_set_says_how_to_judge_one(docs_only, cli):
    p = cli("eval", "--project", docs_only, "--model", "bm25")
    assert p.returncode == 3 and p.stderr.count("\n") == 1
    assert "eval: missing: `embtune eval` measures on the eval set" in p.stderr and "embtune judge" in p.stderr


def test_pairs_export_without_an_eval_set_warns_and_is_stale_once_one_is_judged(docs_only, cli):
    assert cli("mine", "--project", docs_only, "--json").returncode == 0
    p = cli("pairs", "export", "--project", docs_only, "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["leakage"] == "no eval set: not audited" and out["leaks_dropped"] == 0 and out["pairs"] > 0
    assert "warning: no eval set yet, so no leakage audit" in p.stderr
    project = open_project(docs_only)
    assert project.workspace.get("pairs").inputs["eval"] == "none" and not project.stale()
    judge(project, "how do I install acme", ["guide/install"])
    assert [s.name for s in open_project(docs_only).stale()] == ["pairs"]  # export again: now audited
    again = json.loads(cli("pairs", "export", "--project", docs_only, "--json").stdout)
    assert again["leakage"]["eval_queries"] == 1


def test_no_search_log_means_an_empty_labelling_queue(tmp_path):
    assert unanswered_searches(None).schema == pl.Schema(UNANSWERED_SCHEMA)
    queue = labelling_queue(None, Judgments(tmp_path / "j.jsonl"))
    assert queue.height == 0 and queue.columns == list(UNANSWERED_SCHEMA)


def test_report_counts_and_llm_key_only_when_configured(judged, cli):
    from embtune_core.report import _source_counts, build_report

    project = open_project(judged)
    assert _source_counts(project) is None
    assert cli("mine", "--project", judged).returncode == 0
    counts = _source_counts(open_project(judged))
    docs = counts.filter(pl.col("source") == "docs (titles, headings)")
    assert docs["mined"][0] == 5 and docs["exported"][0] is None  # not exported yet, rather than 0
    page = build_report(open_project(judged))
    assert "OPENAI_API_KEY" not in page and "LLM key" not in page and "Not exported yet" in page


# --------------------------------------------------------------------------------------------------
# Pooling and judging (core)


def test_pooled_candidates_interleave_bm25_and_the_base_model(tmp_path, tiny_model_dir):
    path = make_project(tmp_path, tiny_model_dir, split_sections="true", split_min_words="20")
    project = open_project(path)
    q = "how much disk space do I need"
    bm25 = [d for d, _ in project.retriever("bm25").search([q], 3)[0]]
    dense = [d for d, _ in project.retriever(project.config.model.base).search([q], 3)[0]]
    pool = pooled_candidates(project, q, k=3)
    ids = [c.doc_id for c in pool]
    assert len(ids) == len(set(ids)) == 3 and [c.rank for c in pool] == [1, 2, 3]
    assert bm25[0] in ids[:2] and dense[0] in ids[:2]  # each retriever's best is in the first pair
    assert set(ids) <= set(bm25) | set(dense)
    install = next(c for c in pool + pooled_candidates(project, "disk space before you start", k=5)
                   if c.doc_id == "guide/install")
    assert install.title == "Install & set up" and install.url.endswith("/articles/install")
    assert install.heading in ("Before you start", "Check the version", "Run the installer", "Download")
    assert install.unit_id.startswith("guide/install#") and "#" not in install.snippet[:3]
    with pytest.raises(InputError, match="empty"):
        pooled_candidates(project, "   ")


def test_judging_writes_the_projects_beir_set(docs_only):
    project = open_project(docs_only)
    assert not project.has_eval_set
    saved = judge(project, "how do I install acme", ["guide/install"])
    judge(project, "is there a cafe menu", no_answer=True)
    judge(project, "something vague", skip=True)
    saved = judge(project, "when are invoices sent", ["guide/billing", "guide/index"], source="search log")
    folder = docs_only.parent / "eval"
    assert saved.path == str(folder) and sorted(p.name for p in folder.iterdir()) == \
        ["corpus.jsonl", "qrels.tsv", "queries.jsonl"]
    fresh = open_project(docs_only)  # loads as the project's eval set ([eval] path)
    ev = fresh.eval_set
    assert ev.sha256 == saved.sha256 and ev.kind == "human"
    assert sorted(ev.queries.values()) == ["how do I install acme", "when are invoices sent"]
    rel = {ev.queries[q]: ev.relevant[q] for q in ev.queries}
    assert rel["when are invoices sent"] == {"guide/billing", "guide/index"}
    assert sorted(ev.query_source.values()) == ["search log", "typed"]
    assert load_eval_set(folder).sha256 == ev.sha256  # its own corpus.jsonl: `embtune eval --eval-dir` works
    p = saved.progress
    assert (p.in_set, p.judged, p.no_answer, p.skipped, p.remaining) == (2, 2, 1, 1, 48)
    # a second judgment of a query updates it; "no answer" takes it out
    judge(project, "How do I install Acme?", ["guide/install", "index"])
    judge(project, "when are invoices sent", no_answer=True)
    ev = open_project(docs_only).eval_set
    assert list(ev.queries.values()) == ["how do I install acme"] and len(ev.relevant[next(iter(ev.queries))]) == 2
    assert (folder.stat().st_mode & 0o777) == 0o755


def test_judging_keeps_a_hand_written_set_and_refuses_bad_input(docs_only):
    folder = docs_only.parent / "eval"
    folder.mkdir()
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "welcome page", "metadata": {"source": "chat"}}\n')
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tindex\t1\n")
    (folder / "README").write_text("our set")
    project = open_project(docs_only)
    log = project.workspace.path("eval", "judgments.jsonl")
    with pytest.raises(InputError, match="unknown article id 'guide/instal'; did you mean 'guide/install'"):
        judge(project, "install", ["guide/instal"])
    with pytest.raises(InputError, match="one way"):
        judge(project, "install", ["guide/install"], no_answer=True)
    assert not log.exists()  # refused before anything was written
    judge(project, "install", ["guide/install"])
    ev = open_project(docs_only).eval_set
    assert ev.queries["q1"] == "welcome page" and ev.query_source["q1"] == "chat" and len(ev) == 2
    assert (folder / "README").read_text() == "our set"  # carried over by the folder swap
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tnope\t1\n")  # broken by hand
    before = (folder / "queries.jsonl").read_text()
    with pytest.raises(InputError, match="unknown doc id 'nope'"):
        judge(open_project(docs_only), "billing", ["guide/billing"])
    assert (folder / "queries.jsonl").read_text() == before  # nothing rewritten
    assert "billing" in Judgments(log).latest()  # but the judgment is kept in the log


def test_questions_waiting_come_from_generated_queries_until_judged(docs_only):
    from embtune_core.eval_set import question_sources

    gen = docs_only.parent / "generated.jsonl"
    gen.write_text("".join(json.dumps({"doc_id": d, "query": q}) + "\n" for d, q in (
        ("guide/install", "what do I need before installing"), ("guide/billing", "when do invoices arrive"),
        ("guide/billing", "When do invoices arrive?"), ("deleted-article", "about a page that is gone"))))
    docs_only.write_text(docs_only.read_text() + '\n[llm]\ncache = "generated.jsonl"\n')
    project = open_project(docs_only)
    waiting = question_sources(project)
    assert waiting["query"].to_list() == ["what do I need before installing", "when do invoices arrive"]
    assert set(waiting["source"]) == {"generated"} and waiting["detail"][0] == "written for: Install & set up"
    judge(project, "When do invoices arrive", ["guide/billing"], source="generated")
    assert question_sources(project)["query"].to_list() == ["what do I need before installing"]
    assert list(open_project(docs_only).eval_set.query_source.values()) == ["generated"]


_WRITER = """
import sys
from embtune_core.core.project import open_project
from embtune_core.eval_set import judge
project = open_project(sys.argv[1])
for i in range(int(sys.argv[3])):
    judge(project, f"{sys.argv[2]} question {i}", ["guide/install"])
"""


def test_two_writers_lose_no_judgment(docs_only):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(docs_only), name, "8"], env=env,
                              stderr=subprocess.PIPE, text=True) for name in ("alpha", "beta")]
    for p in procs:
        assert p.wait(timeout=240) == 0, p.stderr.read()
    ev = open_project(docs_only).eval_set
    assert len(ev) == 16 and {q.split()[0] for q in ev.queries.values()} == {"alpha", "beta"}
    log = open_project(docs_only).workspace.path("eval", "judgments.jsonl")
    assert len(log.read_text().splitlines()) == 16


_KILLED = """
import sys, time
import embtune_core.eval_set.judging as judging
from embtune_core.core.project import open_project

def stuck(*args, **kwargs):  # killed while writing the set
    open(sys.argv[2], "w").close()
    time.sleep(120)

judging.export_beir = stuck
judging.judge(open_project(sys.argv[1]), "when are invoices sent", ["guide/billing"])
"""


def test_a_killed_writer_loses_no_judgment(judged, tmp_path):
    flag = tmp_path / "writing"
    before = open_project(judged).eval_set.sha256
    p = subprocess.Popen([sys.executable, "-c", _KILLED, str(judged), str(flag)],
                         env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True)
    try:
        for _ in range(600):
            if flag.exists() or p.poll() is not None:
                break
            time.sleep(0.1)
        assert flag.exists(), "the writer never reached the set"
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    project = open_project(judged)
    assert project.eval_set.sha256 == before  # the set on disk is the old one, whole
    saved = save_judged_set(project)  # the next save picks the logged judgment up
    assert "when are invoices sent" in saved.evalset.queries.values() and len(saved.evalset) == 3


# --------------------------------------------------------------------------------------------------
# The CLI: judge, search formatting, readable output


def test_judge_cli_lists_the_pool_then_records(docs_only, cli):
    p = cli("judge", "--project", docs_only, "--query", "how much disk space do I need", "--list")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    header = next(line for line in lines if line.startswith("#"))
    assert header.split() == ["#", "doc", "id", "title", "section", "url"]
    row = next(line for line in lines if "guide/install" in line)
    assert "Install & set up" in row and "https://help.acme.test/hc/en-us/articles/install" in row
    assert "two gigabytes of free disk space" in p.stdout  # the snippet under its row
    assert "0 of 50 eval queries" in p.stdout and not (docs_only.parent / "eval").exists()
    p = cli("judge", "--project", docs_only, "--query", "how much disk space do I need", "--relevant",
            "guide/install", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["judgment"] == "relevant" and out["relevant"] == [{"doc_id": "guide/install",
                                                                 "title": "Install & set up"}]
    assert out["eval_queries"] == 1 and out["progress"]["remaining"] == 49
    assert out["eval_hash"] == open_project(docs_only).eval_set.sha256
    p = cli("judge", "--project", docs_only, "--query", "cafe opening hours", "--no-answer")
    assert p.returncode == 0 and "-> no answer" in p.stdout and "1 with no answer" in p.stdout
    assert "50 to 200" in p.stdout  # the advice, while under the target
    for bad in (["--list", "--no-answer"], [], ["--skip", "--no-answer"]):
        r = cli("judge", "--project", docs_only, "--query", "x", *bad)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "--list" in r.stderr
    r = cli("judge", "--project", docs_only, "--query", "x", "--relevant", "guide/instal")
    assert r.returncode == 3 and "did you mean 'guide/install'" in r.stderr


def test_search_hits_grouped_by_article_with_title_heading_and_url(tmp_path, tiny_model_dir):
    from embtune_core.cli import _article_hits, _table, _units_per_article
    from embtune_core.ship.store.base import Hit

    project = open_project(make_project(tmp_path, tiny_model_dir, split_sections="true", split_min_words="20"))
    assert _units_per_article(project) == 4
    hits = [Hit("guide/install#3", "guide/install", 0.9, "Install & set up"),
            Hit("guide/install#1", "guide/install", 0.8, "Install & set up"),
            Hit("guide/billing", "guide/billing", 0.7, "Billing and invoices"),
            Hit("gone", "gone", 0.6, "A deleted article")]
    rows = _article_hits(project, hits, k=5)
    assert [(r["rank"], r["doc_id"], r["unit_id"]) for r in rows] == [
        (1, "guide/install", "guide/install#3"), (2, "guide/billing", "guide/billing"), (3, "gone", "gone")]
    assert rows[0]["heading"] == "Run the installer" and rows[0]["url"].endswith("/articles/install")
    assert rows[2]["title"] == "A deleted article" and rows[2]["url"] == ""
    assert set(rows[0]) >= {"rank", "doc_id", "unit_id", "title", "score"}  # the old --json keys stay
    assert len(_article_hits(project, hits, k=1)) == 1
    table = _table(rows, ["rank", "score", "title", "heading", "url"])
    assert len({line.index("Install") if "Install" in line else line.index("title") for line in table[:2]}) == 1
    assert table[1].split()[:2] == ["1", "0.9"]


def test_readable_output_has_no_python_reprs(capsys):
    from embtune_core.cli import _print

    _print({"metric": 0.674321, "ci95": {"recall@5": [0.61, 0.74]}, "per_source": [{"source": "docs", "pairs": 5}],
            "empty": {}, "flag": True, "commands": ["a", "b"]}, False)
    out = capsys.readouterr().out
    assert "{'" not in out and "[{" not in out
    assert "metric:     0.6743" in out and "  recall@5: [0.61, 0.74]" in out and "flag:       yes" in out
    assert "  source  pairs" in out and "  docs        5" in out and "empty:      none" in out
    assert "  - a" in out


# --------------------------------------------------------------------------------------------------
# Notebooks on a docs-only project


NOTEBOOKS = ("01_base_model.py", "02_mine_pairs.py", "03_eval_set.py", "04_train.py", "05_compare.py")


def _texts(outputs) -> str:
    return " ".join(getattr(o, "text", "") or "" for o in outputs if o is not None)


@pytest.mark.notebook
@pytest.mark.parametrize("with_eval", [False, True], ids=["docs only", "judged eval set"])
def test_every_notebook_runs_on_a_docs_only_project(docs_only, with_eval, monkeypatch):
    if with_eval:
        for q, docs in QUESTIONS.items():
            judge(open_project(docs_only), q, docs)
    monkeypatch.setenv("EMBTUNE_PROJECT", str(docs_only))
    seen = {}
    for name in NOTEBOOKS:
        outputs, defs = load_notebook(name).app.run()  # raises if any cell fails
        seen[name] = (_texts(outputs), defs)
    text01, defs01 = seen["01_base_model.py"]
    text03, defs03 = seen["03_eval_set.py"]
    assert "Judge the eval set" in text03 and "queue" in defs03 and defs03["queue"].height == 0
    assert "No click or ticket pairs" in seen["02_mine_pairs.py"][0]
    assert "Cannot plan a run" in seen["04_train.py"][0]  # no pairs exported yet: a callout, not a crash
    if with_eval:
        assert "comparison" in defs01 and defs03["evalset"].kind == "human" and len(defs03["evalset"]) == 3
        assert "metrics_table" in defs03 and "No trained run yet" in seen["05_compare.py"][0]
    else:
        assert "comparison" not in defs01 and "No eval set yet" in text01 and "judge" in text01.lower()
        assert "evalset" not in defs03 and "No eval set yet" in text03
        assert "No eval set yet" in seen["05_compare.py"][0]


@pytest.mark.notebook
def test_03_judge_cell_saves_to_the_projects_eval_set(docs_only, monkeypatch):
    monkeypatch.setenv("EMBTUNE_PROJECT", str(docs_only))
    nb = load_notebook("03_eval_set.py")
    project = open_project(docs_only)
    judgments = Judgments(project.workspace.path("eval", "judgments.jsonl"))
    off, on = SimpleNamespace(value=False), SimpleNamespace(value=True)
    out, pooled = nb.pool.run(ask=SimpleNamespace(value={"typed": " how do I install acme ", "picked": None}),
                              project=project)
    assert pooled["question"] == "how do I install acme" and pooled["question_source"] == "typed"
    assert "guide/install" in pooled["pool_table"].data["doc_id"].to_list() and "Install &amp; set up" in out.text
    _, picked = nb.pool.run(ask=SimpleNamespace(value={"typed": "", "picked": ("invoices", "search log")}),
                            project=project)
    assert (picked["question"], picked["question_source"]) == ("invoices", "search log")
    bumps = []
    refs = dict(judgments=judgments, project=project, question="how do I install acme", question_source="typed",
                set_saved=bumps.append, more_docs=SimpleNamespace(value=["index"]))
    _, defs = nb.judge.run(save_btn=on, no_answer_btn=off, skip_btn=off,
                           pool_table=SimpleNamespace(value=pl.DataFrame({"doc_id": ["guide/install"]})), **refs)
    assert defs["saved"].evalset.relevant[next(iter(defs["saved"].evalset.queries))] == {"guide/install", "index"}
    assert open_project(docs_only).has_eval_set and len(bumps) == 1
    refs["question"] = "opening hours of the cafe"
    nb.judge.run(save_btn=off, no_answer_btn=on, skip_btn=off, pool_table=SimpleNamespace(
        value=pl.DataFrame({"doc_id": []}, schema={"doc_id": pl.String})), **refs)
    assert judgments.latest()["opening hours of the cafe"]["no_answer"] and len(open_project(docs_only).eval_set) == 1


@pytest.mark.store
@pytest.mark.notebook
@pytest.mark.parametrize("with_eval", [False, True], ids=["docs only", "judged eval set"])
def test_06_runs_on_a_docs_only_project(docs_only, with_eval, monkeypatch):
    if with_eval:
        judge(open_project(docs_only), "how do I install acme", ["guide/install"])
    monkeypatch.setenv("EMBTUNE_PROJECT", str(docs_only))
    outputs, defs = load_notebook("06_ship.py").app.run()
    try:
        assert defs["collections"] == [] and ("No eval set yet" in _texts(outputs)) != with_eval
    finally:
        defs["store"].close()


# --------------------------------------------------------------------------------------------------
# Done when: a new user's docs to a judged eval set, the step-1 table and a shipped collection


def _first_steps(cli, project_file, questions: dict) -> dict:
    """The README's commands, in order, as a new user types them; returns step 1's table."""
    assert cli("info", "--project", project_file, "--no-model").returncode == 0
    for q, docs in questions.items():
        listed = cli("judge", "--project", project_file, "--query", q, "--list")
        assert listed.returncode == 0 and all(d in listed.stdout for d in docs), listed.stdout
        saved = cli("judge", "--project", project_file, "--query", q, "--relevant", *docs)
        assert saved.returncode == 0, saved.stderr
    info = json.loads(cli("info", "--project", project_file, "--no-model", "--json").stdout)
    assert info["eval_queries"] == len(questions) and "eval set" not in [m["input"] for m in info["missing"]]
    table = {}
    for flags in ([], ["--model", "bm25"], ["--hybrid"]):
        p = cli("eval", "--project", project_file, *flags, "--json")
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["n_queries"] == len(questions) and 0 <= out["recall@5"] <= 1
        table[out["retriever"]] = out
    assert cli("eval", "--project", project_file, "--ci", "--save-baseline").returncode == 0
    return table


def test_done_when_a_json_export_gets_a_judged_eval_set_and_step_1(tmp_path, tiny_model_dir, cli):
    export = tmp_path / "export" / "articles.json"
    export.parent.mkdir()
    export.write_text(json.dumps(ZENDESK))
    assert cli("init", export, "--out", tmp_path / "proj").returncode == 0
    path = make_project(tmp_path, tiny_model_dir)  # init ran: this only swaps the base model
    table = _first_steps(cli, path, {"forgot my password": ["101"], "close my account for good": ["103"]})
    assert set(table) == {str(tiny_model_dir), "bm25", f"hybrid:{tiny_model_dir}"}
    assert table["bm25"]["n_docs"] == 2


@pytest.mark.store
def test_done_when_an_html_site_gets_judged_evaluated_and_shipped(tmp_path, tiny_model_dir, cli):
    site = make_site(tmp_path / "site")
    init = cli("init", site, "--out", tmp_path / "proj")
    assert init.returncode == 0 and "embtune judge" in init.stdout
    path = make_project(tmp_path, tiny_model_dir)
    table = _first_steps(cli, path, QUESTIONS)
    assert table["bm25"]["recall@5"] == 1.0  # five articles: everything is in the top 5
    p = cli("ship", "--project", path, "--model", tiny_model_dir, "--verify", "--json",
            env={"EMBTUNE_STORE_URL": None})
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["verify"]["ok"] and out["unit_count"] == 5
    s = cli("search", "--project", path, "--collection", out["collection"], "--query", "install acme", "--k", "3",
            env={"EMBTUNE_STORE_URL": None})
    assert s.returncode == 0, s.stderr
    assert s.stdout.splitlines()[1].split()[:3] == ["#", "score", "title"] and "https://" in s.stdout


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (./scripts/test installs it)")
def test_03_judging_in_a_real_browser(docs_only, tmp_path):
    """Type a question, tick an article of the pool, save: the project's eval set holds it, then the baseline shows."""
    from playwright.sync_api import expect, sync_playwright
    from test_browser import ARTIFACTS, CHROMIUM_ARGS, assert_no_error, marimo_run

    with marimo_run("03_eval_set.py", tmp_path / "ws", project=docs_only) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(url)
        expect(page.get_by_text("No eval set yet.").first).to_be_visible(timeout=120_000)
        expect(page.get_by_text("0 / 50").first).to_be_visible()
        assert_no_error(page)
        page.get_by_placeholder("a question someone really asked").fill("how much disk space do I need")
        page.get_by_role("button", name="Show the articles to judge").click()
        expect(page.get_by_text("Install & set up").first).to_be_visible(timeout=60_000)
        row = page.get_by_role("row").filter(has_text="Install & set up")
        row.get_by_role("checkbox").click()
        page.get_by_role("button", name="Save: these answer it").click()
        expect(page.get_by_text("Saved: how much disk space do I need").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("1 queries · human-judged").first).to_be_visible(timeout=120_000)
        expect(page.get_by_text("1 / 50").first).to_be_visible()
        assert_no_error(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "03_judging.png"), full_page=True)
        browser.close()
    ev = open_project(docs_only).eval_set
    assert list(ev.queries.values()) == ["how much disk space do I need"]
    assert ev.relevant[next(iter(ev.queries))] == {"guide/install"}


@pytest.mark.notebook
def test_a_malformed_eval_set_stops_the_notebooks_with_its_message(docs_only, monkeypatch):
    (docs_only.parent / "eval").mkdir()
    (docs_only.parent / "eval" / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n")  # queries.jsonl forgotten
    monkeypatch.setenv("EMBTUNE_PROJECT", str(docs_only))
    for name in ("02_mine_pairs.py", "03_eval_set.py"):
        outputs, defs = load_notebook(name).app.run()
        assert "Cannot load the project" in _texts(outputs) and "queries.jsonl: missing" in _texts(outputs)
        assert "project" not in defs
