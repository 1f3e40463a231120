"""Each notebook executes headless on the sample project (``app.run()``), and lints clean."""

import importlib.util
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.notebook


def load_notebook(name: str):
    path = REPO / "notebooks" / name
    spec = importlib.util.spec_from_file_location(path.stem.replace("0", "nb0", 1), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_marimo_check_strict():
    p = subprocess.run([sys.executable, "-m", "marimo", "check", "--strict", *sorted(map(str, (REPO / "notebooks").glob("*.py")))],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_01_base_model_runs_headless(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBTUNE_WORKSPACE", str(tmp_path / "ws"))
    nb = load_notebook("01_base_model.py")
    _, defs = nb.app.run()
    table = defs["comparison"]
    names = table["retriever"].to_list()
    assert names[0] == "all-MiniLM-L6-v2" and "BM25 (bm25s)" in names and any("hybrid" in n for n in names)
    assert any("old keyword search" in n for n in names)
    assert all(0 <= v <= 1 for v in table["recall@5"].to_list())
    assert table["recall@5 95% CI"][0].startswith("[") and len(table["recall@5 95% CI"][0]) == 12  # "[0.61, 0.74]"
    assert (tmp_path / "ws" / "cache" / "embeddings").is_dir()  # encoded once, cached for later steps
    import json

    saved = json.loads((tmp_path / "ws" / "baseline.json").read_text())["verdict"]
    assert saved["carry_forward"] == defs["verdict"].carry_forward
    assert saved["carry_forward"] in ("all-MiniLM-L6-v2", "hybrid:all-MiniLM-L6-v2") and saved["advice"]


def test_03_eval_set_runs_headless_and_saves_the_baseline(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBTUNE_WORKSPACE", str(tmp_path / "ws"))
    nb = load_notebook("03_eval_set.py")
    _, defs = nb.app.run()
    assert defs["evalset"].kind == "human" and defs["preview"].height == len(defs["evalset"])
    assert set(defs["metrics_table"]["metric"]) >= {"recall@5", "mrr@10"}
    assert (tmp_path / "ws" / "baseline.json").exists()
    assert defs["leakage"].counts()["pairs"] > 500
    assert defs["queue"].height > 0


# Judging in notebook 03 writes the project's eval set: tested on a docs-only project in test_docs_only.py
# (test_03_judge_cell_saves_to_the_projects_eval_set), never on the sample's committed set.


def test_01_shows_a_bad_project_as_a_message_not_a_traceback(tmp_path, monkeypatch):
    (tmp_path / "embtune.toml").write_text("[docs]\npaht = 'docs'\n")
    monkeypatch.setenv("EMBTUNE_PROJECT", str(tmp_path / "embtune.toml"))
    nb = load_notebook("01_base_model.py")
    outputs, defs = nb.app.run()
    assert "comparison" not in defs
    assert any("did you mean &#x27;path&#x27;" in o.text or "did you mean 'path'" in o.text
               for o in outputs if hasattr(o, "text"))


def test_02_mine_pairs_runs_headless_and_a_slider_changes_counts(tmp_path, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setenv("EMBTUNE_WORKSPACE", str(tmp_path / "ws"))
    nb = load_notebook("02_mine_pairs.py")
    _, defs = nb.app.run()
    counts = defs["counts"]
    assert set(counts["source"]) == {"docs", "llm", "search", "ticket"}
    assert (tmp_path / "ws" / "candidates.parquet").exists()
    loose = {"near_duplicate": 1.0, "too_easy": 1.0, "roundtrip_k": 100, "max_words": 80}
    _, d2 = nb.apply_filters.run(scored=defs["scored"], project=defs["project"], sliders=SimpleNamespace(value=loose))
    assert int(d2["filtered"]["kept"].sum()) > int(defs["filtered"]["kept"].sum())


@pytest.mark.store
def test_06_ship_runs_headless_with_the_embedded_store(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBTUNE_WORKSPACE", str(tmp_path / "ws"))
    nb = load_notebook("06_ship.py")
    _, defs = nb.app.run()
    assert defs["collections"] == [] and defs["aliases"] == {}
    assert "Candidate wins" in defs["ab_result"].decision  # the simulated sample log
    defs["store"].close()
    from embtune_core.ship.store.embedded import EmbeddedPostgres

    assert not EmbeddedPostgres(tmp_path / "ws" / "store").running()


@pytest.mark.store
def test_marimo_export_html_still_works_for_people_online(tiny_project, tmp_path):
    """``marimo export html`` keeps working; its file loads marimo's JavaScript from a CDN (hence ``embtune report``)."""
    out = tmp_path / "06.html"
    p = subprocess.run([sys.executable, "-m", "marimo", "export", "html", str(REPO / "notebooks" / "06_ship.py"),
                        "-o", str(out), "--", "--project", str(tiny_project)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    page = out.read_text(encoding="utf-8")
    assert "Ship without breaking the index" in page
    assert 'src="https://cdn.jsdelivr.net/npm/@marimo-team/frontend' in page  # the online dependency of such files
