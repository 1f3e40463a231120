"""``embtune init DOCS``: a project file that loads, for HTML, Markdown and export docs; never an overwrite."""

import json

import pytest
from conftest import SAMPLE
from test_html_docs import ZENDESK, make_site

from embtune_core.cli import build_parser
from embtune_core.core.config import load_config
from embtune_core.core.errors import ProjectExistsError
from embtune_core.core.project import open_project
from embtune_core.init_project import scaffold


def test_init_on_an_html_site_writes_a_project_that_loads(tmp_path, cli):
    site, out = make_site(tmp_path / "site"), tmp_path / "proj"
    p = cli("init", site, "--out", out)
    assert p.returncode == 0, p.stderr
    assert "html): 5 articles" in p.stdout and "skipped 2:" in p.stdout
    assert "next:" in p.stdout
    for cmd in ("embtune mine", "embtune info", "embtune eval", "embtune pairs export", "embtune train"):
        assert f"{cmd} --project " in p.stdout and "embtune.toml" in p.stdout
    text = (out / "embtune.toml").read_text()
    assert 'path = "../site"' in text and 'format = "html"' in text and str(tmp_path) not in text
    assert "# [search_log]" in text and "# [tickets]" in text and "# [llm]" in text
    cfg = load_config(out / "embtune.toml")
    assert cfg.docs.format == "html" and cfg.docs.path == "../site" and cfg.workspace == "workspace"
    corpus = open_project(out / "embtune.toml").corpus
    assert corpus.docs.height == 5 and "guide/install" in corpus.doc_ids()


def test_init_refuses_to_overwrite(tmp_path, cli):
    site, out = make_site(tmp_path / "site"), tmp_path / "proj"
    assert cli("init", site, "--out", out).returncode == 0
    before = (out / "embtune.toml").read_text()
    p = cli("init", site, "--out", out)
    assert p.returncode == ProjectExistsError.exit_code == 2
    assert p.stderr.count("\n") == 1 and "already exists" in p.stderr and "Traceback" not in p.stderr
    assert (out / "embtune.toml").read_text() == before


def test_init_json_report_and_missing_signals(tmp_path, cli):
    p = cli("init", make_site(tmp_path / "site"), "--out", tmp_path / "proj", "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["format"] == "html" and r["articles"] == 5 and r["docs"] == "../site" and len(r["skipped"]) == 2
    assert r["missing"] == ["search log", "tickets", "LLM endpoint", "eval set"] and r["eval_set"] == ""
    assert r["split_sections"] is False and r["sections"] == 5 and r["next_commands"]


def test_info_on_an_initialised_project(tmp_path, cli):
    """Without an eval set ``info`` works and says it is missing; with one beside the docs, ``init`` wires it
    up and ``info`` counts it."""
    site, out = make_site(tmp_path / "site"), tmp_path / "proj"
    assert cli("init", site, "--out", out).returncode == 0
    p = cli("info", "--project", out / "embtune.toml", "--no-model", "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["docs"] == 5 and info["eval_queries"] == 0 and info["missing"][0]["input"] == "eval set"

    out2 = tmp_path / "proj2"
    (out2 / "eval").mkdir(parents=True)
    (out2 / "eval" / "queries.jsonl").write_text('{"_id": "q1", "text": "how do I install acme"}\n')
    (out2 / "eval" / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tguide/install\t1\n")
    r = scaffold(site, out2)
    assert r.eval_set == "eval" and "eval set" not in r.missing
    p = cli("info", "--project", out2 / "embtune.toml", "--no-model", "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["docs"] == 5 and info["eval_queries"] == 1


def test_init_suggests_splitting_long_markdown_articles(tmp_path):
    r = scaffold(SAMPLE / "docs", tmp_path)
    assert r.format == "markdown" and r.articles >= 120 and r.split_sections and r.long_articles >= 12
    assert r.sections > r.articles and 150 <= r.median_words <= 700
    text = (tmp_path / "embtune.toml").read_text()
    assert "split_sections = true" in text and f"Median article: {r.median_words} words" in text
    assert load_config(tmp_path).docs.split_sections
    assert open_project(tmp_path / "embtune.toml").corpus.sections.height == r.sections


def test_init_on_an_export_shows_the_detected_fields(tmp_path):
    p = tmp_path / "export" / "articles.json"
    p.parent.mkdir()
    p.write_text(json.dumps(ZENDESK))
    r = scaffold(p, tmp_path)
    assert r.format == "export" and r.articles == 2 and r.docs == "export/articles.json"
    text = (tmp_path / "embtune.toml").read_text()
    assert '# body = "body"' in text and '# url = "html_url"' in text
    assert open_project(tmp_path / "embtune.toml").corpus.doc_ids() == ["101", "103"]


def test_init_on_missing_or_empty_docs_writes_nothing(tmp_path, cli):
    p = cli("init", tmp_path / "nope", "--out", tmp_path)
    assert p.returncode == 3 and "docs not found" in p.stderr
    (tmp_path / "docs").mkdir()
    p = cli("init", tmp_path / "docs", "--out", tmp_path)
    assert p.returncode == 3 and "looked for *.md, *.markdown, *.html, *.htm" in p.stderr
    assert not (tmp_path / "embtune.toml").exists()


def test_init_has_help_and_is_documented(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["init", "--help"])
    assert "usage: embtune init" in capsys.readouterr().out
    assert "embtune init" in (SAMPLE.parent / "README.md").read_text()
