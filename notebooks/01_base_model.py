import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="embtune · 1 · pick a base model")

with app.setup:
    import altair as alt
    import marimo as mo
    import polars as pl

    from embtune_core import EmbtuneError
    from embtune_core import notebook as nb
    from embtune_core.base_model import choose_retriever, default_candidates, evaluate_candidate
    from embtune_core.core.models import fingerprint, summarize
    from embtune_core.core.stats import interval, metric_cis
    from embtune_core.eval_set import save_baseline

    #: Loaded models, shared by every cell of this session so no model is loaded twice.
    MODELS: dict = {}


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Step 1 · Pick a base model honestly

    Don't start from the biggest model on a leaderboard. Start from the **smallest model that is close
    to what you run today**, measured on *your* held-out eval set: you are going to fine-tune it and the
    gap will close. This page puts candidates side by side — the base model, keyword search (BM25), a
    BM25 + dense hybrid, and the retriever in production today — on the same queries and metrics.
    """)
    return


@app.cell
def _():
    project = nb.open_project("eval_set", "corpus")
    nb.require_eval_set(project, "Step 1 compares the base model, BM25 and their hybrid on your eval set.")
    return (project,)


@app.cell(hide_code=True)
def _(project):
    _ev = project.eval_set
    mo.vstack([nb.stale_banner(project), mo.md(
        f"**Project:** {project.name} — {project.corpus.docs.height} articles "
        f"({project.corpus.sections.height} retrieval units after section splitting), "
        f"eval set of **{len(_ev)} {'human-judged' if _ev.kind == 'human' else 'proxy (click-built)'} queries** "
        f"(hash `{_ev.sha256[:12]}`).")])
    return


@app.cell
def _(project):
    _m = project.config.model
    try:
        base_model = project.load_base_model()
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Cannot load the base model.** {_e}"), kind="danger"))
    MODELS[_m.base] = base_model
    base_summary = summarize(base_model, _m.base)
    mo.vstack([mo.md("## The base model"), mo.ui.table(pl.DataFrame([base_summary.as_row()]), selection=None,
                                                         show_download=False)])
    return


@app.cell(hide_code=True)
def _():
    extra = mo.ui.text(placeholder="a model id or local path, e.g. BAAI/bge-small-en-v1.5", full_width=True,
                       label="Add a candidate model").form(submit_button_label="Add model", clear_on_submit=True)
    extra
    return (extra,)


@app.cell
def _():
    get_added, set_added = mo.state([])
    return get_added, set_added


@app.cell
def _(extra, get_added, set_added):
    if extra.value and extra.value.strip() and extra.value.strip() not in get_added():
        set_added(get_added() + [extra.value.strip()])
    return


@app.cell
def _(get_added, project):
    _specs = default_candidates(project) + get_added()
    _rows, _errors, results = [], [], {}
    for _spec in mo.status.progress_bar(_specs, title="Evaluating candidates", remove_on_exit=True):
        try:
            _res = evaluate_candidate(project, _spec, models=MODELS)
        except EmbtuneError as _e:
            _errors.append(f"`{_spec}`: {_e}")
            continue
        results[_spec] = _res
        _ci = metric_cis(_res.per_query, ("recall@5", "mrr@10"))
        _rows.append(_res.row() | {"recall@5 95% CI": interval(*_ci["recall@5"]),
                                   "mrr@10 95% CI": interval(*_ci["mrr@10"])})
    comparison = pl.DataFrame(_rows)
    _err = mo.callout(mo.md("**Skipped:** " + "<br>".join(_errors)), kind="warn") if _errors else mo.md("")
    mo.vstack([mo.md("## Candidates on the eval set"), _err,
               mo.ui.table(comparison, selection=None, format_mapping={
                   c: "{:.3f}" for c, t in comparison.schema.items() if t.is_numeric()}, label="comparison")])
    return comparison, results


@app.cell(hide_code=True)
def _(comparison):
    _long = comparison.select("retriever", "recall@5", "recall@20", "recall@100", "mrr@10").unpivot(
        index="retriever", variable_name="metric", value_name="value").filter(
        pl.col("metric").is_in(["recall@5", "recall@20", "recall@100", "mrr@10"]))
    _chart = alt.Chart(_long).mark_bar().encode(
        x=alt.X("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
        y=alt.Y("retriever:N", title=None),
        color=alt.Color("retriever:N", legend=None),
        row=alt.Row("metric:N", title=None, sort=["recall@5", "recall@20", "recall@100", "mrr@10"]),
        tooltip=["retriever", "metric", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=520, height=alt.Step(18))
    _chart
    return


@app.cell(hide_code=True)
def _(project, results):
    _base = project.config.model.base
    mo.stop(_base not in results or "bm25" not in results or f"hybrid:{_base}" not in results)
    verdict = choose_retriever(project, results)
    save_baseline(project, results[_base], fingerprint(MODELS[_base]), verdict=verdict)
    mo.vstack([
        mo.md("## What the numbers say"),
        mo.callout(mo.md(verdict.markdown()), kind="info"),
        mo.md(f"Saved with the baseline: steps 5 and 6 compare and ship `{verdict.carry_forward}` in its tuned "
              "form, against the same retriever over the base model. Differences are paired-bootstrap 95% "
              "intervals on the same queries."),
    ])
    return (verdict,)


if __name__ == "__main__":
    app.run()
