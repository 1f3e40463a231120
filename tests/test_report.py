"""The offline report: every section, numbers equal to evaluate/compare, no network, no secrets.

One tiny project (the tiny random BERT as base model, a planted complaint with personal data) runs
``embtune run`` with a few training steps once per module; every test renders from that.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO, SAMPLE

from embtune_core import report
from embtune_core.report import build_report, collect, render, write_report

PLANTED = "refund jane.doe@example.com or call +1 415-555-0199, card 4242 4242 4242 4242 <img src=x onerror=alert(1)>"
SECTIONS = ("summary", "data", "eval", "metrics-section", "outcomes", "complaints", "gate", "shipping")
SHIPPING = {"events": [
    {"time": "2026-05-01T10:00:00+00:00", "action": "ship", "collection": "help_v2", "alias": "candidate",
     "model": "runs/20260501-0900", "fingerprint": "feedc0ffee123456", "forced": False,
     "gate": {"passed": True, "reasons": ["recall@5 ok"]}},
    {"time": "2026-05-02T10:00:00+00:00", "action": "promote", "collection": "help_v2", "alias": "live",
     "model": "runs/20260501-0900", "retriever": "hybrid:runs/20260501-0900", "fingerprint": "feedc0ffee123456",
     "forced": True, "gate": None}]}


def _tiny_project(folder: Path, model_dir: Path, planted_name: str) -> Path:
    """As conftest's ``tiny_project``, plus a complaints list with a planted query full of personal data."""
    text = (SAMPLE / "embtune.toml").read_text()
    for key in ("path", "cache", "complaints", "eval", "pairs", "run_file"):
        text = re.sub(rf'^({key} = ")([^"/][^"]*)"', lambda m: f'{m.group(1)}{SAMPLE / m.group(2)}"', text, flags=re.M)
    text = re.sub(r'^base = "[^"]*"', f'base = "{model_dir}"', text, flags=re.M)
    text = text.replace('workspace = "workspace"', f'workspace = "{folder / "ws"}"')
    text = re.sub(r"^leakage_threshold = .*$", "leakage_threshold = 0.99999", text, flags=re.M)
    lines = (SAMPLE / "complaints.jsonl").read_text().splitlines()
    rel = json.loads(lines[0])["relevant"]
    lines.append(json.dumps({"query": f"{PLANTED} for {planted_name}", "relevant": rel}))
    (folder / "complaints.jsonl").write_text("\n".join(lines) + "\n")
    text = re.sub(r'^complaints = "[^"]*"', f'complaints = "{folder / "complaints.jsonl"}"', text, flags=re.M)
    (folder / "embtune.toml").write_text(text)
    return folder / "embtune.toml"


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_model_dir):
    from embtune_core.core.privacy import signature_entities
    from embtune_core.core.project import open_project
    from embtune_core.pipeline import run_all

    folder = tmp_path_factory.mktemp("report")
    tickets = open_project(SAMPLE / "embtune.toml").tickets
    name = next(v for b in tickets["body"] for k, v in signature_entities(b) if k == "NAME" and " " in v)
    path = _tiny_project(folder, tiny_model_dir, name)
    before = collect(open_project(path))  # nothing mined, no run: baseline only
    metrics = run_all(path, log=lambda m: None, max_steps=3)
    project = open_project(path)
    (project.workspace.root / "shipping.json").write_text(json.dumps(SHIPPING))
    data = collect(project)
    return SimpleNamespace(path=path, project=project, before=before, data=data, metrics=metrics, name=name,
                           page=render(data))


def _metric_cells(page: str) -> dict[str, dict[str, float]]:
    """{metric: {"base": v, "base_lo": lo, "base_hi": hi, "tuned": ..., "delta": ..., "p": ...}} from the table."""
    table = re.search(r'<table id="metrics">(.*?)</table>', page, re.S).group(1)
    out = {}
    for m, row in re.findall(r'<tr data-metric="([^"]+)">(.*?)</tr>', table, re.S):
        out[m] = {}
        for col, attrs in re.findall(r'<td class="num" data-col="(\w+)"([^>]*)>', row):
            for key, v in re.findall(r'data-(value|lo|hi)="([^"]+)"', attrs):
                out[m][col if key == "value" else f"{col}_{key}"] = float(v)
    return out


def _no_network(page: str) -> None:
    """No element that loads anything: no script, link, img, iframe ..., no src/href attribute, no CSS url()."""
    from html.parser import HTMLParser

    found = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append(tag)
            found.extend(f"@{a}" for a, _ in attrs)

    Tags().feed(page)
    loaders = {"script", "link", "img", "iframe", "object", "embed", "image", "use", "video", "audio", "source"}
    assert not loaders & set(found)
    assert not {"@src", "@href", "@srcset", "@xlink:href", "@action", "@poster", "@background"} & set(found)
    assert "http://" not in page and "https://" not in page and "url(" not in page and "@import" not in page
    assert "svg" in found


def test_report_has_every_section_and_the_numbers_of_compare(built):
    from embtune_core.compare import Complaints, compare, evaluate_on_project
    from embtune_core.core.retrievers import RetrieverSpec
    from embtune_core.eval_set import carried_retriever

    page, p = built.page, built.project
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page, sid
    _no_network(page)
    assert page.count("<svg") >= 2 and "Reproduce" not in page  # no code by default
    # the numbers, recomputed independently with the tuned run that `embtune run` made
    run = p.workspace.path("runs", built.metrics["run"])
    assert built.data.run == run
    carried = RetrieverSpec.parse(carried_retriever(p))  # what `embtune run` gated: base and tuned of one kind
    b, cb = evaluate_on_project(p, carried)
    t, ct = evaluate_on_project(p, carried.with_model(str(run)))
    c = compare(b, t, p.eval_set, complaints=Complaints(cb, ct, p.complaints.relevant))
    cells = _metric_cells(page)
    assert set(cells) == {"recall@5", "mrr@10", "recall@20", "ndcg@10"}
    for r in c.metrics.to_dicts():
        if r["metric"] in cells:
            got = cells[r["metric"]]
            assert got["base"] == pytest.approx(r["base"], abs=1e-12)
            assert got["tuned"] == pytest.approx(r["tuned"], abs=1e-12)
            assert (got["base_lo"], got["base_hi"]) == pytest.approx(tuple(r["base_ci95"]), abs=1e-12)
            assert (got["tuned_lo"], got["tuned_hi"]) == pytest.approx(tuple(r["tuned_ci95"]), abs=1e-12)
            assert got["delta"] == pytest.approx(r["delta"], abs=1e-12)
            assert (got["delta_lo"], got["delta_hi"]) == pytest.approx((r["ci95_low"], r["ci95_high"]), abs=1e-12)
            assert got["p"] == pytest.approx(r["p_value"], abs=1e-12)
    for m in ("recall@5", "mrr@10", "recall@20"):  # and what `embtune run` wrote to metrics.json
        assert cells[m]["tuned"] == pytest.approx(built.metrics["tuned"][m], abs=1e-12)
        assert cells[m]["base"] == pytest.approx(built.metrics["base"][m], abs=1e-12)
    counts = {k: int(v) for k, v in re.findall(r'data-(win|loss|tie)="(\d+)"', page)}
    assert counts == c.counts
    assert ("PASS" if c.verdict(p.config.gate).passed else "FAIL") in re.search(r'<p id="verdict"[^>]*>(\w+)</p>', page).group(1)
    # data per source: exported equals pairs.jsonl
    exported = {}
    for line in p.workspace.path("pairs.jsonl").read_text().splitlines():
        exported[json.loads(line)["source"]] = exported.get(json.loads(line)["source"], 0) + 1
    src = built.data.sources
    assert dict(zip(src["source"], src["exported"], strict=True))["support tickets"] == exported["ticket"]
    assert int(src["mined"].sum()) >= int(src["kept"].sum()) >= 1
    # shipping: newest first, the live alias, the forced promotion
    assert "feedc0ffee123456" in page and "help_v2" in page and "Nothing shipped yet" not in page
    assert page.index("<td>promote</td>") < page.index("<td>ship</td>")
    assert "(hybrid (model + BM25): " in page and "<td>dense</td>" in page  # which retriever is live


def test_baseline_only_not_mined_and_nothing_shipped(built):
    page = render(built.before)
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in page
    _no_network(page)
    assert "No tuned run yet" in page and "Not mined yet" in page and "Nothing shipped yet" in page
    from embtune_core.core.stats import metric_cis
    from embtune_core.eval_set.baseline import REPORTED

    cells, cis = _metric_cells(page), metric_cis(built.before.base.per_query, REPORTED)
    for m in ("recall@5", "mrr@10", "recall@20", "ndcg@10"):  # as step 3 saves the baseline
        assert set(cells[m]) == {"base", "base_lo", "base_hi"}
        assert cells[m]["base"] == pytest.approx(built.before.base.metrics[m], abs=1e-12)
        assert (cells[m]["base_lo"], cells[m]["base_hi"]) == pytest.approx(cis[m], abs=1e-12)
    broken = dataclasses.replace(built.data, shipping=None, shipping_error="shipping.json could not be read (x)")
    assert "could not be read" in render(broken)


def test_no_examples_drops_every_example_text(built):
    full, bare = built.page, render(built.data, include_examples=False)
    _no_network(bare)
    p = built.project
    texts = list(p.complaints.queries.values())
    texts += built.data.comparison.regressions(10)["query"].to_list()
    titles = p.corpus.titles()
    texts += [titles[d] for d, _ in built.data.complaints_base.ranking["c001"][:3]]
    texts += [q for q in p.eval_set.queries.values() if len(q.split()) >= 3]
    shown = [t for t in texts if report._e(t) in full]
    assert len(shown) >= 10  # complaint queries and top-3 titles are in the full report ...
    assert not [t for t in texts if report._e(t) in bare]  # ... and none of them without examples
    assert "a relevant article in the top 3" in bare and "left out" in bare


def test_redaction_scrubs_planted_personal_data_and_escapes_html(built):
    raw = render(built.data, redact=False)
    for s in ("jane.doe@example.com", "415-555-0199", "4242 4242 4242 4242", built.name):
        assert s in raw, s  # planted, and shown when not redacted
        assert s not in built.page, s
    for placeholder in ("[EMAIL]", "[PHONE]", "[CARD]", "[NAME]"):
        assert placeholder in built.page
    for page in (raw, built.page):  # a query is text, never markup
        assert "<img" not in page and "&lt;img" in page


def test_no_api_key_or_environment_value_ever(built, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET123")
    monkeypatch.setenv("EMBTUNE_REPORT_CANARY", "quokka-canary-5519")
    for page in (build_report(built.path, include_code=True), render(built.data, redact=False, include_code=True)):
        assert "SECRET123" not in page and "quokka-canary-5519" not in page
        assert "OPENAI_API_KEY" in page  # the variable's name may appear, its value never
        assert "Reproduce" in page and "http://" not in page and "https://" not in page
        assert str(built.project.workspace.root) not in page  # nor paths of this machine
    # a production store URL with a password in the project file: the config dump shows no password
    from embtune_core.core.project import Project

    cfg = built.project.config
    with_url = Project(dataclasses.replace(cfg, store=dataclasses.replace(
        cfg.store, url="postgresql://app:pw-quokka-77@db.internal:5432/search?password=pw-quokka-77")))
    page = render(dataclasses.replace(built.data, project=with_url), include_code=True)
    assert "Reproduce" in page and "pw-quokka-77" not in page
    # last guard: a key-like variable's value is masked even if some text happened to contain it
    monkeypatch.setenv("SOME_SERVICE_TOKEN", built.project.name)
    assert built.project.name not in render(built.data)


def test_write_report_is_atomic_and_recorded(built, monkeypatch, tmp_path):
    monkeypatch.setattr(report, "collect", lambda project, run=None: built.data)
    out = built.project.workspace.path("reports", "r.html")
    assert write_report(built.project, out) == out.resolve()
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert built.project.workspace.get("report").path == "reports/r.html"
    outside = write_report(built.project, tmp_path / "elsewhere" / "r.html", include_examples=False)
    assert outside.exists() and built.project.workspace.get("report").path == "reports/r.html"

    def half_then_fail(self, data):
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", half_then_fail)
    target = tmp_path / "crash" / "report.html"
    with pytest.raises(OSError, match="disk full"):
        write_report(built.project, target)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_a_named_run_that_does_not_exist_is_a_clear_error(built):
    from embtune_core.core.errors import WorkspaceError

    with pytest.raises(WorkspaceError, match="no saved model there"):
        report.find_run(built.project, "nope")
    assert report.find_run(built.project, built.metrics["run"]) == built.data.run
    assert report.find_run(built.project, str(built.data.run)) == built.data.run


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (./scripts/test installs it)")
def test_the_report_renders_in_chromium_with_the_network_blocked(built, monkeypatch, tmp_path):
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM_ARGS

    monkeypatch.setattr(report, "collect", lambda project, run=None: built.data)
    out = write_report(built.project, tmp_path / "report.html")
    url = out.as_uri()
    attempted, aborted, console = [], [], []

    def block(route):
        if route.request.url == url:
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.route("**/*", block)
            page = context.new_page()
            page.on("request", lambda r: attempted.append(r.url))
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.goto(url, wait_until="load")
            page.wait_for_timeout(500)
            assert page.title().startswith("embtune report")
            assert page.get_by_role("heading", name="Baseline vs tuned").is_visible()
            charts = page.locator("div.chart svg")
            assert charts.count() >= 2
            for i in range(charts.count()):
                svg = charts.nth(i)
                svg.scroll_into_view_if_needed()
                box = svg.bounding_box()
                assert box and box["width"] > 50 and box["height"] > 50
                assert svg.locator("path, rect").count() > 5
            metrics_chart = charts.nth(0)
            assert metrics_chart.locator("g.mark-rect.role-mark path").count() == 8  # 4 metrics x (base, tuned)
            assert metrics_chart.locator("g.mark-rule.role-mark line").count() == 8  # their 95% intervals
            (REPO / "test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path=str(REPO / "test-artifacts" / "report.png"), full_page=True)
        finally:
            browser.close()
    assert attempted == [url]  # the page itself and nothing else
    assert not [u for u in aborted if u.startswith(("http:", "https:"))] and aborted == []
    assert not [c for c in console if c.startswith("error")], console


@pytest.mark.parametrize("notebook", ["03_eval_set", "04_train", "05_compare", "06_ship"])
def test_the_notebooks_export_button_writes_a_report(built, monkeypatch, notebook):
    from test_notebooks import load_notebook

    monkeypatch.setattr(report, "collect", lambda project, run=None: built.data)
    nb = load_notebook(f"{notebook}.py")
    on, off = SimpleNamespace(value=True), SimpleNamespace(value=False)
    refs = {"project": built.project, "report_btn": on, "report_examples": off, "report_redact": on}
    if notebook == "04_train":
        refs["get_result"] = lambda: SimpleNamespace(output_dir=str(built.data.run))
    if notebook == "05_compare":
        refs["tuned_pick"] = SimpleNamespace(value=str(built.data.run))
    if notebook == "06_ship":
        refs["get_version"] = lambda: 0
    before = set(built.project.workspace.path("reports").glob("*.html"))
    out, _ = nb.report_export.run(**refs)
    (written,) = set(built.project.workspace.path("reports").glob("*.html")) - before
    assert written.name.startswith(f"{notebook}-") and "Download the report" in out.text
    assert "left out" in written.read_text(encoding="utf-8")
    _, defs = nb.report_export.run(**(refs | {"report_btn": off}))  # not pressed: nothing written
    assert set(built.project.workspace.path("reports").glob("*.html")) - before == {written}


def test_the_report_command(built, tmp_path, cli):
    out = tmp_path / "r.html"
    p = cli("report", "--project", built.path, "--out", out, "--no-examples")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == str(out) and "left out" in out.read_text(encoding="utf-8")
    p = cli("report", "--project", built.path, "--out", tmp_path / "x.html", "--run", "no-such-run")
    assert p.returncode == 5 and "Traceback" not in p.stderr and not (tmp_path / "x.html").exists()
