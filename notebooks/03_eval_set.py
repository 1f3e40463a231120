import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="embtune · 3 · evaluation set")

with app.setup:
    import altair as alt
    import marimo as mo
    import polars as pl

    from embtune_core import notebook as nb
    from embtune_core.core.evaluate import evaluate_model, slice_metrics
    from embtune_core.core.models import fingerprint
    from embtune_core.core.stats import metric_cis
    from embtune_core.eval_set import (
        REPORTED,
        Judgments,
        audit,
        build_proxy_evalset,
        cold_articles,
        export_beir,
        labelling_queue,
        save_baseline,
        signal_candidates,
    )


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Step 3 · Build an evaluation set you can trust

    *If you can't measure it, don't ship it.* A held-out set of 50–200 queries with their correct
    articles, the base model's **Recall@5** and **MRR@10** on it with 95% confidence intervals, and an
    audit that training data does not give the answers away. The **human-judged** set gives the
    headline numbers; a set drawn from clicks and tickets is only a **proxy** — users can only click
    what the old search showed them.
    """)
    return


@app.cell
def _():
    project = nb.open_project("eval_set", "corpus")
    base_model = project.load_base_model()
    encoder = project.base_encoder(base_model)
    judgments = Judgments(project.workspace.path("eval", "judgments.jsonl"))
    return base_model, encoder, judgments, project


@app.cell(hide_code=True)
def _(project):
    nb.stale_banner(project)
    return


@app.cell(hide_code=True)
def _():
    source = mo.ui.radio(
        options={"human-judged (the project's eval set)": "human", "proxy drawn from clicks and tickets": "proxy",
                 "judged from the labelling queue below": "labelled"},
        value="human-judged (the project's eval set)", label="**Eval set**")
    size = mo.ui.slider(50, 200, step=10, value=150, show_value=True, label="proxy size (queries)")
    mo.hstack([source, size], justify="start", gap=2)
    return size, source


@app.cell
def _(encoder, judgments, project, size, source):
    if source.value == "human":
        evalset, held_out = project.eval_set, frozenset()
    elif source.value == "proxy":
        _split = build_proxy_evalset(signal_candidates(project.search_log, project.tickets), size=size.value,
                                     encoder=encoder)
        evalset, held_out = _split.evalset, _split.held_out
    else:
        evalset, held_out = judgments.evalset(project.corpus), frozenset()
    mo.stop(len(evalset) == 0, mo.callout("No judged queries yet: judge some in the labelling queue below.",
                                          kind="warn"))
    _titles = project.corpus.titles()
    preview = pl.DataFrame([{"id": q, "query": t, "source": evalset.query_source.get(q, evalset.kind),
                             "relevant articles": " · ".join(_titles[d] for d in sorted(evalset.relevant[q]))}
                            for q, t in evalset.queries.items()])
    _label = "human-judged" if evalset.kind == "human" else "**PROXY** (built from clicks: favours what the old search showed)"
    mo.vstack([mo.md(f"### {len(evalset)} queries · {_label} · hash `{evalset.sha256[:12]}`"),
               mo.ui.table(preview, page_size=8, selection=None, label="eval queries")])
    return evalset, held_out, preview


@app.cell
def _(base_model, encoder, evalset, project):
    with mo.status.spinner(title="Evaluating the base model (cached after the first run)"):
        baseline = evaluate_model(base_model, project.corpus, evalset, cache=encoder.cache,
                                  name=project.config.model.base)
    base_fp = fingerprint(base_model)
    cis = metric_cis(baseline.per_query, REPORTED)
    if evalset.sha256 == project.eval_set.sha256:
        save_baseline(project, baseline, base_fp)
    metrics_table = pl.DataFrame([{"metric": k, "value": baseline.metrics[k], "ci95_low": cis[k][0],
                                   "ci95_high": cis[k][1]} for k in REPORTED])
    return baseline, metrics_table


@app.cell(hide_code=True)
def _(baseline, evalset, metrics_table, project):
    _base = alt.Chart(metrics_table).encode(y=alt.Y("metric:N", sort=list(metrics_table["metric"]), title=None))
    _chart = (_base.mark_bar(color="#4c78a8").encode(x=alt.X("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
                                                      tooltip=["metric", alt.Tooltip("value:Q", format=".3f")])
              + _base.mark_rule(color="black").encode(x="ci95_low:Q", x2="ci95_high:Q")).properties(width=480)
    _saved = ("Saved as the project's **baseline** — later steps compare against it."
              if evalset.sha256 == project.eval_set.sha256 else "Not saved: the baseline is always the project's eval set.")
    mo.vstack([
        mo.md(f"## Baseline: `{baseline.name}` — Recall@5 **{baseline.metrics['recall@5']:.3f}**, "
              f"MRR@10 **{baseline.metrics['mrr@10']:.3f}**. Write these down. {_saved}"),
        mo.hstack([mo.ui.table(metrics_table, selection=None, format_mapping={
            c: "{:.3f}" for c in ("value", "ci95_low", "ci95_high")}), _chart], widths=[1, 1]),
    ])
    return


@app.cell(hide_code=True)
def _(baseline, evalset, project):
    _cold = cold_articles(project.corpus, project.search_log, project.tickets, project.llm_queries)
    slices = slice_metrics(baseline, evalset, _cold)
    mo.vstack([mo.md(f"### Slices — {len(_cold)} *cold* articles have no click, ticket or generated query; "
                     "queries about them show whether tuning generalises."),
               mo.ui.table(slices, selection=None, format_mapping={"recall@5": "{:.3f}", "mrr@10": "{:.3f}"})])
    return


@app.cell
def _(encoder, evalset, held_out, project):
    _cand = signal_candidates(project.search_log, project.tickets).select("query", "doc_id", "source")
    if held_out:
        from embtune_core.core.text import normalize_query as _nq

        _cand = _cand.filter(~pl.col("query").map_elements(_nq, return_dtype=pl.String).is_in(list(held_out)))
    _llm = project.llm_queries
    training_like = pl.concat([_cand, _llm.select("query", "doc_id", pl.lit("llm").alias("source"))]) if _llm is not None else _cand
    leakage = audit(training_like, evalset, encoder=encoder, threshold=project.config.eval.leakage_threshold)
    _c = leakage.counts()
    mo.vstack([
        mo.md(f"## Leakage audit — {_c['pairs']} candidate training pairs (clicks, tickets, generated queries) "
              f"against the eval set: **{_c['leaking_pairs']} leak** (exact {_c['exact']}, normalised "
              f"{_c['normalized']}, token set {_c['token_set']}, near-duplicate {_c['near_duplicate']} at cosine "
              f"≥ {leakage.threshold}); **{_c['answered_eval_queries']} eval queries** have every relevant article "
              "covered by a near-duplicate training query. Step 2 drops leaking pairs on export."),
        mo.ui.table(pl.DataFrame(leakage.examples) if leakage.examples else pl.DataFrame({"examples": ["none"]}),
                    selection=None, label="examples"),
    ])
    return (leakage,)


@app.cell(hide_code=True)
def _(judgments, project):
    queue = labelling_queue(project.search_log, judgments)
    _titles = project.corpus.titles()
    _options = {f"{t} ({d})": d for d, t in sorted(_titles.items(), key=lambda kv: kv[1])}
    mo.stop(queue.height == 0, mo.md("The labelling queue is empty."))
    judge_form = mo.md("**Query:** {query}  \n**Answered by:** {docs}  {skip}").batch(
        query=mo.ui.dropdown(queue["query"].head(200).to_list(), value=queue["query"][0], searchable=True),
        docs=mo.ui.multiselect(_options, label=""),
        skip=mo.ui.checkbox(label="skip (no article answers it)"),
    ).form(submit_button_label="Save judgment", clear_on_submit=True)
    mo.vstack([mo.md(f"## Labelling queue — {queue.height} zero-click or abandoned searches, most frequent "
                     f"first ({len(judgments.latest())} judged so far)"),
               mo.ui.table(queue.head(50), page_size=5, selection=None), judge_form])
    return (judge_form,)


@app.cell
def judge(judge_form, judgments):
    mo.stop(judge_form.value is None)
    _v = judge_form.value
    judgments.add(_v["query"], list(_v["docs"]), skip=bool(_v["skip"]))
    mo.callout(mo.md(f"Saved: *{_v['query']}* → {', '.join(_v['docs']) or 'skipped'}"), kind="success")
    return


@app.cell(hide_code=True)
def _():
    export_button = mo.ui.run_button(label="Export eval set (BEIR)")
    export_button
    return (export_button,)


@app.cell
def _(evalset, export_button, project):
    mo.stop(not export_button.value)
    _out = export_beir(evalset, project.corpus, project.workspace.path("eval", f"beir-{evalset.kind}"))
    mo.callout(mo.md(f"Wrote `{_out}` (corpus.jsonl, queries.jsonl, qrels.tsv)."), kind="success")
    return


@app.cell(hide_code=True)
def _():
    report_btn, report_examples, report_redact, _view = nb.report_controls(
        "It holds the project's eval set, its baseline and the newest tuned run, if any.")
    _view
    return report_btn, report_examples, report_redact


@app.cell
def report_export(project, report_btn, report_examples, report_redact):
    nb.export_report(project, "03_eval_set", report_btn, report_examples, report_redact)


if __name__ == "__main__":
    app.run()
