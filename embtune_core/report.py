"""A shareable report that renders anywhere: one HTML file, no JavaScript, no network.

``marimo export html`` loads its JavaScript from a CDN, so its file is blank on a machine without
internet access. :func:`write_report` writes one self-contained page instead: plain HTML tables, a small
inline stylesheet and charts as inline SVG (altair charts rendered by vl-convert). A
``Content-Security-Policy`` meta tag forbids every network load, so nothing can sneak one in.

Sections: project summary, data per source, eval set, baseline vs tuned metrics with 95% intervals and
paired deltas, wins / losses / ties with the worst regressions, the complaints list side by side, the
ship gate, and what was shipped (``shipping.json``). Example texts (queries, titles) are scrubbed of
personal data by default (``redact``) or left out entirely (``include_examples=False``); code, paths of
this machine and environment values never appear (secrets are also masked as a last guard:
:func:`~.core.privacy.mask_secrets`).

The expensive part (:func:`collect`: loading both models and evaluating through the embedding cache)
is separate from :func:`render`, so several variants of one report cost one evaluation.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .compare import Comparison, compare_runs, evaluate_on_project
from .core.errors import InputError, WorkspaceError
from .core.evaluate import EvalResult
from .core.privacy import mask_secrets, scrub, secret_env_values, signature_entities
from .core.project import Project, open_project
from .core.retrievers import RetrieverSpec
from .core.stats import bootstrap_ci
from .core.workspace import write_text
from .eval_set import carried_retriever, cold_articles

REPORT_METRICS = ("recall@5", "mrr@10", "recall@20", "ndcg@10")
SOURCES = {"search": "search log (satisfied clicks)", "ticket": "support tickets", "docs": "docs (titles, headings)",
           "llm": "LLM-generated queries"}
_CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.how{color:#555;font-style:italic;margin:.2em 0 .6em}.meta{color:#666}.pass{color:#1a7f37;font-weight:bold}
.fail{color:#c62828;font-weight:bold}.rel{color:#1a7f37;font-weight:bold}.chart svg{max-width:100%;height:auto}
code{background:#f4f4f4;padding:0 .2em}"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, computed once (:func:`collect`); :func:`render` only formats it."""

    project: Project
    generated: str
    base_fingerprint: str
    base: EvalResult
    run: Path | None
    tuned_fingerprint: str | None
    comparison: Comparison | None
    complaints_base: EvalResult | None
    complaints_tuned: EvalResult | None
    cold_docs: frozenset[str]
    sources: pl.DataFrame | None  # source, signals, mined, kept, exported
    train_log: dict
    shipping: list[dict] | None
    shipping_error: str
    #: names and companies read off ticket sign-offs, scrubbed wherever an example text mentions them
    entities: tuple[tuple[str, str], ...]
    #: the kind of retriever compared (and gated): ``dense`` (the model alone) or ``hybrid`` (fused with BM25)
    retriever_kind: str = "dense"


def _project(project: Project | str | Path | None) -> Project:
    return project if isinstance(project, Project) else open_project(project)


def find_run(project: Project, run: str | Path | None = None) -> Path | None:
    """The run folder ``run`` names (a path or an id under ``workspace/runs``), else the newest run with a
    saved model, else ``None``. A named run without a saved model is a :class:`WorkspaceError`."""
    found = project.runs()
    if run is None:
        return found[0] if found else None
    p = Path(run) if Path(run).is_dir() else project.workspace.path("runs", str(run))
    if not (p / "modules.json").exists():
        names = ", ".join(q.name for q in found) or "none"
        raise WorkspaceError(f"{run}: no saved model there (runs with one: {names})")
    return p


def report_path(project: Project, label: str) -> Path:
    """``workspace/reports/<label>-<UTC timestamp>.html``: where the notebooks write their reports."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    return project.workspace.path("reports", f"{label}-{stamp}.html")


def _source_counts(project: Project) -> pl.DataFrame | None:
    """Per source: raw signals, mined candidates, kept by the project's filter thresholds, exported."""
    from .mine_pairs import filters, load_candidates

    cand, pairs_path = load_candidates(project), project.workspace.path("pairs.jsonl")
    if cand is None and not pairs_path.exists():
        return None
    log, tickets, llm = project.search_log, project.tickets, project.llm_queries
    signals = {"search": log.height if log is not None else 0, "ticket": tickets.height if tickets is not None else 0,
               "docs": project.corpus.docs.height, "llm": llm.height if llm is not None else 0}
    mined, kept, exported = {}, {}, {}
    if cand is not None:
        f = filters.apply(cand, project.config.filters)
        mined = dict(f.group_by("source").len().iter_rows())
        kept = dict(f.group_by("source").agg(pl.col("kept").sum()).iter_rows())
    if pairs_path.exists() and pairs_path.stat().st_size:
        exported = dict(pl.read_ndjson(pairs_path).group_by("source").len().iter_rows())
    names = list(SOURCES) + sorted((set(mined) | set(exported)) - set(SOURCES))
    known = cand is not None
    # not exported yet: unknown (None), not 0 next to the mined count
    return pl.DataFrame([{"source": SOURCES.get(s, s), "signals": signals.get(s), "mined": mined.get(s) if known
                          else None, "kept": kept.get(s) if known else None,
                          "exported": exported.get(s, 0) if pairs_path.exists() else None}
                         for s in names],
                        schema_overrides={k: pl.Int64 for k in ("signals", "mined", "kept", "exported")})


def _read_shipping(project: Project) -> tuple[list[dict] | None, str]:
    p = project.workspace.path("shipping.json")
    if not p.exists():
        return None, ""
    try:
        events = json.loads(p.read_text(encoding="utf-8"))["events"]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise TypeError("'events' must be a list of objects")
    except (OSError, ValueError, KeyError, TypeError) as e:
        return None, f"shipping.json could not be read ({type(e).__name__}: {e})"
    return list(reversed(events)), ""  # appended in order: newest first (times tie within a second)


def collect(project: Project | str | Path | None = None, *, run: str | Path | None = None) -> ReportData:
    """Load the base model and the tuned run (if any) and evaluate both through the embedding cache."""
    from .core.models import fingerprint, load_model

    project = _project(project)
    if not project.has_eval_set:
        raise InputError("missing: the report's every number is measured on the eval set; judge one first "
                         "(`embtune judge`, or notebook 03)", path=project.config.resolve(project.config.eval.path))
    run_dir = find_run(project, run)
    base_model = project.load_base_model()
    comparison, tuned_fp, cold = None, None, cold_articles(project.corpus, project.search_log, project.tickets,
                                                          project.llm_queries)
    carried = RetrieverSpec.parse(carried_retriever(project))  # the kind step 1 carried forward, as the gate
    models = {project.config.model.base: base_model}
    if run_dir is not None:
        tuned_fp = fingerprint(load_model(str(run_dir)))
        comparison = compare_runs(project, carried, carried.with_model(str(run_dir)), cold_docs=cold, models=models)
        base_res, cpl = comparison.base, comparison.complaints
        complaints_base, complaints_tuned = (cpl.base, cpl.tuned) if cpl else (None, None)
    else:
        base_res, complaints_base = evaluate_on_project(project, carried, name="base", models=models)
        complaints_tuned = None
    train_log = {}
    if run_dir is not None and (run_dir / "train_log.json").exists():
        train_log = json.loads((run_dir / "train_log.json").read_text(encoding="utf-8"))
    entities: set[tuple[str, str]] = set()
    for body in (project.tickets["body"] if project.tickets is not None else []):
        entities |= {(k, v) for k, v in signature_entities(body or "") if k == "COMPANY" or " " in v}
    shipping, shipping_error = _read_shipping(project)
    return ReportData(
        project=project, generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        base_fingerprint=fingerprint(base_model), base=base_res, run=run_dir, tuned_fingerprint=tuned_fp,
        comparison=comparison, complaints_base=complaints_base, complaints_tuned=complaints_tuned,
        cold_docs=frozenset(cold), sources=_source_counts(project), train_log=train_log, shipping=shipping,
        shipping_error=shipping_error, entities=tuple(sorted(entities, key=lambda kv: (-len(kv[1]), kv))),
        retriever_kind=carried.kind)


# --------------------------------------------------------------------------------------------------
# Rendering


def _e(x) -> str:
    return html.escape("—" if x is None else str(x))


def _num(v, fmt: str = "{:.3f}") -> str:
    if isinstance(v, float):
        return f'<td class="num" data-value="{v!r}">{_e(fmt.format(v))}</td>'
    return f'<td class="num">{_e(v)}</td>'


def _table(frame: pl.DataFrame, raw: set[str] = frozenset()) -> str:
    """A plain HTML table; every cell escaped except the columns in ``raw`` (already-built HTML)."""
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{v}</td>" if c in raw else _num(v) if isinstance(v, int | float)
                                    and not isinstance(v, bool) else f"<td>{_e(v)}</td>"
                                    for c, v in r.items()) + "</tr>" for r in frame.iter_rows(named=True))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _section(title: str, how: str, *body: str, sid: str) -> str:
    return (f'<section id="{sid}"><h2>{_e(title)}</h2><p class="how">How to read this: {_e(how)}</p>'
            f'{"".join(body)}</section>')


def _svg(chart) -> str:
    """An altair chart as inline SVG (vl-convert); namespace URIs dropped, which inline SVG does not need."""
    import vl_convert

    svg = vl_convert.vegalite_to_svg(chart.to_json())
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg).replace("xlink:href", "href")
    return f'<div class="chart">{svg}</div>'


def _model_label(name: str) -> str:
    """A model as the reader knows it: its configured name, never a path on this machine."""
    return f"{Path(name).name} (local folder)" if os.path.isabs(name) else name


def _metric_rows(d: ReportData) -> pl.DataFrame:
    """metric, model, value, lo, hi (long): compare's numbers when there is a tuned run, else the baseline's
    (bootstrapped as step 3 saves them)."""
    if d.comparison is None:
        return pl.DataFrame([{"metric": m, "model": "base", "value": d.base.metrics[m],
                              **dict(zip(("lo", "hi"), bootstrap_ci(d.base.per_query[m].to_numpy()), strict=True))}
                             for m in REPORT_METRICS])
    rows = d.comparison.metrics.filter(pl.col("metric").is_in(REPORT_METRICS)).to_dicts()
    return pl.DataFrame([{"metric": r["metric"], "model": n, "value": r[n], "lo": r[f"{n}_ci95"][0],
                          "hi": r[f"{n}_ci95"][1]} for n in ("base", "tuned") for r in rows])


def _ci_cell(col: str, v: float, lo: float, hi: float, fmt: str = ".3f") -> str:
    """A value with its interval; the exact numbers ride along as data attributes (tests read them back)."""
    return (f'<td class="num" data-col="{col}" data-value="{v!r}" data-lo="{lo!r}" data-hi="{hi!r}">'
            f"{v:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]</td>")


def _metrics_section(d: ReportData) -> str:
    import altair as alt

    long = _metric_rows(d)
    deltas = ({r["metric"]: r for r in d.comparison.metrics.iter_rows(named=True)} if d.comparison else {})
    head = "<th>metric</th><th>base [95% CI]</th>" + ("<th>tuned [95% CI]</th><th>delta [95% CI]</th><th>p</th>"
                                                       if d.comparison else "")
    body = []
    for m in REPORT_METRICS:
        cells = [_ci_cell(r["model"], r["value"], r["lo"], r["hi"])
                 for r in long.filter(pl.col("metric") == m).iter_rows(named=True)]
        if m in deltas:
            x = deltas[m]
            cells.append(_ci_cell("delta", x["delta"], x["ci95_low"], x["ci95_high"], "+.3f")
                         + f'<td class="num" data-col="p" data-value="{x["p_value"]!r}">{x["p_value"]:.4f}</td>')
        body.append(f'<tr data-metric="{m}"><td>{m}</td>{"".join(cells)}</tr>')
    table = f'<table id="metrics"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    enc = alt.Chart(long).encode(
        x=alt.X("metric:N", sort=list(REPORT_METRICS), title=None, axis=alt.Axis(labelAngle=0)), xOffset="model:N",
        color=alt.Color("model:N", scale=alt.Scale(range=["#9e9e9e", "#4c78a8"])))
    chart = (enc.mark_bar().encode(y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title="mean over queries"))
             + enc.mark_rule(color="black", strokeWidth=1.5).encode(y="lo:Q", y2="hi:Q")).properties(
        width=520, height=240, title="Base vs tuned (bars) with 95% bootstrap intervals (lines)")
    how = ("each metric is a mean over the eval queries, in [0, 1], higher is better; the interval shows how much it "
           "could move with another sample of queries. The delta is tuned minus base on the same queries: when its "
           "interval excludes 0 the change is unlikely to be noise.")
    note = "" if d.comparison else ("<p><b>No tuned run yet: baseline only.</b> Train one in step 4 or with "
                                    "<code>embtune run</code>.</p>")
    return _section("Baseline vs tuned", how, note, table, _svg(chart), sid="metrics-section")


def _text(d: ReportData, redact: bool):
    ents = list(d.entities)
    return (lambda s: scrub(s or "", ents)) if redact else (lambda s: s or "")


def _outcomes_section(d: ReportData, examples: bool, redact: bool) -> str:
    import altair as alt

    how = ("a query wins when its first relevant article moved up under the tuned model and loses when it moved "
           "down; rank 101 means not in the top 100. The worst regressions are the queries to look at first.")
    if d.comparison is None:
        return _section("Wins, losses and ties", how, "<p>No tuned run yet: nothing to compare.</p>", sid="outcomes")
    c, text = d.comparison.counts, _text(d, redact)
    regs = d.comparison.regressions(10).select(
        "query_id", *(["query"] if examples else []), "source", "coverage", "base_rank", "tuned_rank", "rank_change")
    if examples:
        regs = regs.with_columns(pl.Series("query", [text(q) for q in regs["query"]], dtype=pl.String))
    moved = d.comparison.per_query.filter(pl.col("rank_change") != 0).select(
        "rank_change", pl.when(pl.col("rank_change") > 0).then(pl.lit("win")).otherwise(pl.lit("loss"))
        .alias("outcome"))
    hist = alt.Chart(moved).mark_bar().encode(
        x=alt.X("rank_change:Q", bin=alt.Bin(maxbins=30), title="rank change of the first relevant article (+ = up)"),
        y=alt.Y("count()", title="queries"), color=alt.Color("outcome:N", scale=alt.Scale(
            domain=["win", "loss"], range=["#2ca02c", "#d62728"]))).properties(width=520, height=160)
    counts = (f'<p id="counts"><b data-win="{c["win"]}">{c["win"]} wins</b>, <b data-loss="{c["loss"]}">{c["loss"]} '
              f'losses</b>, <b data-tie="{c["tie"]}">{c["tie"]} ties</b> over {d.comparison.per_query.height} '
              "queries.</p>")
    body = _table(regs) if regs.height else "<p>No query got worse.</p>"
    return _section("Wins, losses and ties", how, counts, _svg(hist) if c["win"] + c["loss"] else "",
                    "<h3>Worst regressions</h3>", body, sid="outcomes")


def _complaints_section(d: ReportData, examples: bool, redact: bool) -> str:
    how = ("the queries your team keeps hearing about, with each model's top 3 articles; ✓ marks a relevant one. "
           "Ideally the tuned column has a ✓ near the top of every query.")
    cpl = d.project.complaints
    if cpl is None or d.complaints_base is None:
        return _section("The complaints list", how, "<p>No complaints list in the project.</p>", sid="complaints")
    titles, text = d.project.corpus.titles(), _text(d, redact)
    models = {"base": d.complaints_base} | ({"tuned": d.complaints_tuned} if d.complaints_tuned else {})
    hit = {n: sum(any(doc in cpl.relevant[q] for doc, _ in r.ranking.get(q, [])[:3]) for q in cpl.queries)
           for n, r in models.items()}
    summary = "<p>" + "; ".join(f"{n}: a relevant article in the top 3 for <b>{v} of {len(cpl)}</b>"
                                for n, v in hit.items()) + ".</p>"
    if not examples:
        return _section("The complaints list", how, summary, "<p>Example texts left out of this report.</p>",
                        sid="complaints")
    blocks = []
    for qid, q in cpl.queries.items():
        rows = []
        for i in range(3):
            row = {"rank": i + 1}
            for n, r in models.items():
                hits = r.ranking.get(qid, [])
                doc = hits[i][0] if i < len(hits) else None
                mark = '<span class="rel">✓</span> ' if doc in cpl.relevant[qid] else ""
                row[f"{n} top 3"] = mark + _e(text(titles.get(doc, doc)) if doc else None)
            rows.append(row)
        blocks.append(f"<h3>{_e(text(q))}</h3>" + _table(pl.DataFrame(rows), raw={f"{n} top 3" for n in models}))
    return _section("The complaints list, side by side", how, summary, *blocks, sid="complaints")


def _gate_section(d: ReportData) -> str:
    how = ("the one ship gate from [gate] in embtune.toml: the tuned model may not be credibly worse than the "
           "baseline on Recall@5 and MRR@10, and no complaint query may lose a relevant article from its top 3.")
    if d.comparison is None:
        return _section("Ship gate", how, "<p>No tuned run yet: no verdict.</p>", sid="gate")
    v = d.comparison.verdict(d.project.config.gate)
    verdict = f'<p id="verdict" class="{"pass" if v.passed else "fail"}">{"PASS" if v.passed else "FAIL"}</p>'
    return _section("Ship gate", how, verdict, "<ul>" + "".join(f"<li>{_e(r)}</li>" for r in v.reasons) + "</ul>",
                    sid="gate")


def _shipping_section(d: ReportData) -> str:
    how = ("what the vector store served, newest first: ship loads a model into a collection, promote points an "
           "alias (live, candidate) at it, rollback points it back. Forced means the gate was overridden.")
    if d.shipping_error:
        return _section("What was shipped", how, f"<p>{_e(d.shipping_error)}</p>", sid="shipping")
    if not d.shipping:
        return _section("What was shipped", how, "<p>Nothing shipped yet.</p>", sid="shipping")
    rows = []
    for ev in d.shipping:
        g = ev.get("gate")
        gate = ("not checked" if not isinstance(g, dict) else ("PASS" if g.get("passed") else "FAIL")
                + "".join(f"; {r}" for r in g.get("reasons") or []))
        hybrid = str(ev.get("retriever") or "").startswith("hybrid:")
        rows.append({"time": ev.get("time"), "action": ev.get("action"), "collection": ev.get("collection"),
                     "alias": ev.get("alias"), "retriever": "hybrid (model + BM25)" if hybrid else "dense",
                     "model": _model_label(str(ev.get("model") or "")),
                     "fingerprint": ev.get("fingerprint"), "forced": "yes" if ev.get("forced") else "no",
                     "gate": gate})
    live = next((r for r in rows if r["alias"] == "live"), None)
    head = (f"<p><b>live</b> → collection <code>{_e(live['collection'])}</code> ({_e(live['retriever'])}: "
            f"{_e(live['model'])}, fingerprint "
            f"<code>{_e(live['fingerprint'])}</code>) since {_e(live['time'])}.</p>") if live else ""
    return _section("What was shipped", how, head, _table(pl.DataFrame(rows, infer_schema_length=None)),
                    sid="shipping")


def _summary_section(d: ReportData) -> str:
    from . import __version__

    p, cfg = d.project, d.project.config
    rows = [("project", p.name),
            ("corpus", f"{p.corpus.docs.height} articles ({p.corpus.sections.height} retrieval units)"),
            ("base model", f"{_model_label(cfg.model.base)} · fingerprint {d.base_fingerprint}"),
            ("tuned model", f"run {d.run.name} · fingerprint {d.tuned_fingerprint}" if d.run else
             "none yet (baseline only)"),
            ("retriever compared", "each model fused with BM25 (reciprocal rank fusion), as step 1 chose"
             if d.retriever_kind == "hybrid" else "each model alone (dense), as step 1 chose")]
    stats, losses = d.train_log.get("stats") or {}, d.train_log.get("losses") or []
    if stats:
        per = ", ".join(f"{k} {v}" for k, v in (stats.get("per_source") or {}).items())
        rows.append(("training", f"{stats.get('train')} pairs ({per}), {stats.get('val')} validation"
                     + (f", last logged loss {losses[-1][1]:.3f} at step {losses[-1][0]}" if losses else "")))
    if cfg.llm.base_url:  # only a configured endpoint reads a key
        rows.append(("LLM key", f"read from ${cfg.llm.api_key_env} (its value is never written anywhere)"))
    rows.append(("generated", f"{d.generated} by embtune {__version__}"))
    warns = "".join(f"<p>⚠ {_e(w)}</p>" for w in d.train_log.get("warnings") or [])
    return _section("Summary", "what was tuned, on what, and when this page was made.",
                    _table(pl.DataFrame(rows, schema=["item", "value"], orient="row")), warns, sid="summary")


def _data_section(d: ReportData) -> str:
    how = ("signals are the raw inputs; mined are the candidate pairs they gave; kept passed the project's filter "
           "thresholds; exported went into training (after hand review, leaking pairs dropped).")
    if d.sources is None:
        return _section("Training data per source", how,
                        "<p>Not mined yet (step 2, or <code>embtune mine</code>).</p>", sid="data")
    note = "" if d.sources["mined"].null_count() == 0 else "<p>Candidates not saved: mined and kept unknown.</p>"
    if d.sources["exported"].null_count():
        note += "<p>Not exported yet (step 2's export, or <code>embtune pairs export</code>).</p>"
    return _section("Training data per source", how, _table(d.sources), note, sid="data")


def _eval_section(d: ReportData) -> str:
    ev = d.project.eval_set
    cold_q = sum(1 for q in ev.queries if ev.relevant[q] <= d.cold_docs)
    kind = ("human-judged: the headline numbers" if ev.kind == "human" else
            "PROXY built from clicks and tickets: it favours what the old search already showed")
    rows = [("queries", len(ev)), ("kind", kind), ("hash", ev.sha256[:12]),
            ("cold articles", f"{len(d.cold_docs)} of {d.project.corpus.docs.height} have no click, ticket or "
                              "generated query"),
            ("queries about cold articles", cold_q),
            ("complaints list", f"{len(d.project.complaints)} queries" if d.project.complaints else "none")]
    return _section("Eval set", "every number below is measured on this held-out set; queries about cold articles "
                    "show whether tuning generalises beyond the training signals.",
                    _table(pl.DataFrame(rows, schema=["item", "value"], orient="row")), sid="eval")


def _code_section(d: ReportData) -> str:
    def clean(v):  # endpoints keep host and path only (no scheme, credentials or query); no local paths
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, str) and re.match(r"^\w+://", v):
            return re.sub(r"^\w+://([^@/]*@)?([^?#]*).*$", r"\2", v)
        return f".../{Path(v).name}" if isinstance(v, str) and os.path.isabs(v) else v

    cmds = ["embtune run --project embtune.toml",
            f"embtune report --project embtune.toml --out report.html{f' --run {d.run.name}' if d.run else ''}"]
    return _section("Reproduce", "the project's settings and the commands that made these numbers.",
                    f"<pre>{_e(json.dumps(clean(d.project.config.to_dict()), indent=1))}</pre>"
                    f"<pre>{_e(chr(10).join(cmds))}</pre>", sid="code")


def _mask_secrets(page: str, project: Project) -> str:
    """Last guard, :func:`~.core.privacy.mask_secrets`: the values of key-like environment variables (and of
    the configured key variables), as written and HTML-escaped, URL passwords, secret parameters and token
    shapes are masked."""
    values = secret_env_values((project.config.llm.api_key_env, project.config.production.api_key_env,
                                project.config.store.url_env))
    return mask_secrets(page, [*values, *(html.escape(v) for v in values)], env=False)


def render(data: ReportData, *, include_examples: bool = True, redact: bool = True,
           include_code: bool = False) -> str:
    """The report page for collected ``data``."""
    name = data.project.name
    mode = ("example texts " + (("included, personal data scrubbed" if redact else "included, NOT scrubbed")
                                if include_examples else "left out"))
    sections = [_summary_section(data), _data_section(data), _eval_section(data), _metrics_section(data),
                _outcomes_section(data, include_examples, redact),
                _complaints_section(data, include_examples, redact),
                _gate_section(data), _shipping_section(data)] + ([_code_section(data)] if include_code else [])
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>embtune report · {_e(name)}</title><style>{_CSS}</style></head><body>"
            f"<h1>embtune report · {_e(name)}</h1><p class=\"meta\">Generated {_e(data.generated)} · {_e(mode)} · "
            "a single file: no scripts, no network.</p>" + "".join(sections) + "</body></html>\n")
    return _mask_secrets(page, data.project)


def build_report(project: Project | str | Path | None = None, *, run: str | Path | None = None,
                 include_examples: bool = True, redact: bool = True, include_code: bool = False) -> str:
    """The self-contained HTML report of a project (a :class:`Project` or a path to its ``embtune.toml``).

    ``run``: a run folder or a run id under ``workspace/runs`` (default: the newest run with a saved model;
    with none, the report shows the baseline only). ``include_examples=False`` drops every example text;
    ``redact`` scrubs them (:func:`~.core.privacy.scrub`: every kind it knows, plus the names and companies
    of the tickets' sign-offs). ``include_code`` adds the project's
    settings and the commands; off by default.
    """
    return render(collect(project, run=run), include_examples=include_examples, redact=redact,
                  include_code=include_code)


def write_report(project: Project | str | Path | None, out_path: str | Path, *, run: str | Path | None = None,
                 include_examples: bool = True, redact: bool = True, include_code: bool = False) -> Path:
    """Write :func:`build_report` atomically to ``out_path``; recorded in the manifest when inside the workspace."""
    project = _project(project)
    data = collect(project, run=run)
    out = Path(out_path).resolve()
    write_text(out, render(data, include_examples=include_examples, redact=redact, include_code=include_code))
    root = project.workspace.root.resolve()
    if out.is_relative_to(root):
        # a report is a snapshot: no inputs, so it never shows as stale
        project.workspace.record("report", out, model_fingerprint=data.tuned_fingerprint or data.base_fingerprint,
                                 extra={"run": data.run.name if data.run else None, "examples": include_examples,
                                        "eval_hash": project.eval_set.sha256, "redacted": redact})
    return out
