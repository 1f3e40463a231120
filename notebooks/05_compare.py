import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="embtune · 5 · base vs tuned")

with app.setup:
    import altair as alt
    import marimo as mo
    import polars as pl

    from embtune_core import notebook as nb
    from embtune_core.compare import compare_runs, embedding_map, evaluate_on_project, eyeball, general_check
    from embtune_core.core.retrievers import LEXICAL, RetrieverSpec
    from embtune_core.core.stats import interval, metric_cis
    from embtune_core.eval_set import carried_retriever

    #: Loaded models, shared by every cell of this session so no model is loaded twice.
    MODELS: dict = {}


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Step 5 · Re-evaluate, and eyeball base vs tuned

    Compare **retrievers**, not only models: the tuned model alone, and fused with BM25, against the base
    model, BM25 and their hybrid, on the same eval queries. Then pick the retriever that will ship: the
    ship gate, wins and losses, and the complaints below are about that one. Every metric has its 95%
    interval and a paired test; every query shows where its first relevant article ranks under both,
    biggest regressions first.
    """)
    return


@app.cell
def _():
    project = nb.open_project("eval_set", "corpus")
    nb.require_eval_set(project, "Step 5 compares base and tuned retrievers on your eval set.")
    _runs = project.runs()
    mo.stop(not _runs, mo.callout(mo.md("No trained run yet: train one in step 4 (or `embtune run`)."), kind="warn"))
    run_options = {p.name: str(p) for p in _runs}
    cache = project.embedding_cache()
    carried = RetrieverSpec.parse(carried_retriever(project))
    return cache, carried, project, run_options


@app.cell(hide_code=True)
def _(project):
    nb.stale_banner(project)
    return


@app.cell(hide_code=True)
def _(carried, project, run_options):
    tuned_pick = mo.ui.dropdown(run_options, value=next(iter(run_options)), label="tuned run")
    base_pick = mo.ui.dropdown({"base model": project.config.model.base, **run_options}, value="base model",
                               label="compare against")
    ship_kind = mo.ui.radio({"the model alone (dense)": "dense", "the model fused with BM25 (hybrid)": "hybrid"},
                            value=("the model fused with BM25 (hybrid)" if carried.kind == "hybrid"
                                   else "the model alone (dense)"), label="retriever that will ship")
    mo.vstack([mo.hstack([tuned_pick, base_pick], justify="start", gap=2), ship_kind,
               mo.md(f"Step 1 carried `{carried}` forward.")])
    return base_pick, ship_kind, tuned_pick


@app.cell
def _(base_pick, project, tuned_pick):
    _specs = {"base model": base_pick.value, "BM25": LEXICAL, "base + BM25": f"hybrid:{base_pick.value}",
              "tuned model": tuned_pick.value, "tuned + BM25": f"hybrid:{tuned_pick.value}"}
    _rows = []
    with mo.status.spinner(title="Evaluating five retrievers (embeddings come from the cache)"):
        for _name, _spec in _specs.items():
            _r, _ = evaluate_on_project(project, _spec, models=MODELS)
            _ci = metric_cis(_r.per_query, ("recall@5", "mrr@10"))
            _rows.append({"retriever": _name, "recall@5": _r.metrics["recall@5"],
                          "recall@5 95% CI": interval(*_ci["recall@5"]), "mrr@10": _r.metrics["mrr@10"],
                          "mrr@10 95% CI": interval(*_ci["mrr@10"]), "recall@20": _r.metrics["recall@20"],
                          "lo5": _ci["recall@5"][0], "hi5": _ci["recall@5"][1]})
    retrievers_table = pl.DataFrame(_rows)
    _chart = (alt.Chart(retrievers_table).mark_point(filled=True, size=80).encode(
        x=alt.X("recall@5:Q", scale=alt.Scale(zero=False)), y=alt.Y("retriever:N", sort=list(_specs), title=None))
              + alt.Chart(retrievers_table).mark_rule().encode(x="lo5:Q", x2="hi5:Q",
                                                               y=alt.Y("retriever:N", sort=list(_specs))))
    mo.vstack([mo.md("## Five retrievers on the eval set"),
               mo.ui.table(retrievers_table.drop("lo5", "hi5"), selection=None, format_mapping={
                   c: "{:.3f}" for c in ("recall@5", "mrr@10", "recall@20")}),
               _chart.properties(width=480, height=150, title="Recall@5 with its 95% interval")])
    return (retrievers_table,)


@app.cell
def _(base_pick, project, ship_kind, tuned_pick):
    base_ret = project.retriever(RetrieverSpec(ship_kind.value, base_pick.value), models=MODELS)
    tuned_ret = project.retriever(RetrieverSpec(ship_kind.value, tuned_pick.value), models=MODELS)
    with mo.status.spinner(title="Comparing the retriever that will ship (cached)"):
        comparison = compare_runs(project, base_ret, tuned_ret)
    base_enc = project.retriever(base_pick.value, models=MODELS).encoder
    tuned_enc = project.retriever(tuned_pick.value, models=MODELS).encoder
    base_model, tuned_model = base_enc.model, tuned_enc.model
    return base_enc, base_model, base_ret, comparison, tuned_enc, tuned_model, tuned_ret


@app.cell(hide_code=True)
def _(comparison, project):
    _v = comparison.verdict(project.config.gate)
    _c = comparison.counts
    mo.vstack([
        mo.md(f"## `{comparison.tuned.name}` against `{comparison.base.name}`"),
        mo.callout(mo.md(f"**Ship gate: {'PASS' if _v.passed else 'FAIL'}** — " + "; ".join(_v.reasons)),
                   kind="success" if _v.passed else "danger"),
        mo.md(f"**{_c['win']} queries improved, {_c['loss']} got worse, {_c['tie']} unchanged** "
              "(rank of the first relevant article)."),
    ])
    return


@app.cell(hide_code=True)
def _(comparison):
    _m = comparison.metrics
    _long = pl.concat([
        _m.select("metric", pl.lit("base").alias("model"), pl.col("base").alias("value"),
                  pl.col("base_ci95").list.get(0).alias("lo"), pl.col("base_ci95").list.get(1).alias("hi")),
        _m.select("metric", pl.lit("tuned").alias("model"), pl.col("tuned").alias("value"),
                  pl.col("tuned_ci95").list.get(0).alias("lo"), pl.col("tuned_ci95").list.get(1).alias("hi")),
    ])
    _base = alt.Chart(_long).encode(y=alt.Y("model:N", title=None), color=alt.Color("model:N", legend=None))
    _metrics_chart = (_base.mark_point(filled=True, size=80).encode(x=alt.X("value:Q", scale=alt.Scale(domain=[0, 1])))
                      + _base.mark_rule().encode(x="lo:Q", x2="hi:Q")).properties(width=260, height=50).facet(
        facet=alt.Facet("metric:N", title=None), columns=3)
    _moved = comparison.per_query.filter(pl.col("rank_change") != 0).with_columns(
        direction=pl.when(pl.col("rank_change") > 0).then(pl.lit("up")).otherwise(pl.lit("down")))
    _hist = alt.Chart(_moved).mark_bar().encode(
        x=alt.X("rank_change:Q", bin=alt.Bin(maxbins=30), title="rank change of the first relevant article (+ = up)"),
        y=alt.Y("count()", title="queries"),
        color=alt.Color("direction:N", scale=alt.Scale(domain=["up", "down"], range=["#2ca02c", "#d62728"]),
                        legend=None)).properties(width=520, height=160)
    _ci = {"return_dtype": pl.String}
    _table = _m.select(
        "metric", "base", pl.col("base_ci95").map_elements(lambda v: interval(*v), **_ci).alias("base 95% CI"),
        "tuned", pl.col("tuned_ci95").map_elements(lambda v: interval(*v), **_ci).alias("tuned 95% CI"), "delta",
        pl.struct("ci95_low", "ci95_high").map_elements(lambda v: interval(v["ci95_low"], v["ci95_high"]), **_ci)
        .alias("delta 95% CI (paired)"), "p_value")
    mo.vstack([mo.md("## Metrics with 95% intervals"),
               mo.ui.table(_table, selection=None, format_mapping={c: "{:.3f}" for c in ("base", "tuned", "delta")}
                           | {"p_value": "{:.4f}"}), _metrics_chart,
               mo.md("## Rank changes"), _hist])
    return


@app.cell(hide_code=True)
def _():
    only_regressions = mo.ui.switch(value=False, label="regressions only")
    only_regressions
    return (only_regressions,)


@app.cell
def _(comparison, only_regressions):
    _pq = comparison.per_query.sort("rank_change")
    if only_regressions.value:
        _pq = _pq.filter(pl.col("outcome") == "loss")
    mo.vstack([mo.ui.table(_pq.drop("base_mrr@10", "tuned_mrr@10"), page_size=10, selection=None,
                           label=f"per query ({_pq.height})"),
               mo.md("### Slices"),
               mo.ui.table(comparison.slices.filter(pl.col("by") != "article"), selection=None,
                           format_mapping={c: "{:.3f}" for c in comparison.slices.columns if "@" in c})])
    return


@app.cell(hide_code=True)
def _():
    query_box = mo.ui.text(placeholder="type a query, e.g. MRR churn cohort", full_width=True,
                           label="Try a query on both models")
    query_box
    return (query_box,)


@app.cell
def _(base_ret, project, query_box, tuned_ret):
    mo.stop(not query_box.value.strip(), mo.md("*Type a query above to see both top-5 lists.*"))
    _side = eyeball([query_box.value.strip()], base_ret, tuned_ret, project.corpus, k=5)
    mo.ui.table(_side.select("rank", "base_title", "base_score", "tuned_title", "tuned_score"), selection=None,
                label="side by side")
    return


@app.cell
def _(base_ret, project, tuned_ret):
    _c = project.complaints
    mo.stop(_c is None, mo.md("No complaints list in the project."))
    _pairs = project.workspace.path("pairs.jsonl")
    _train_q = pl.read_ndjson(_pairs)["query"].to_list() if _pairs.exists() else None
    _rel = {q: _c.relevant[qid] for qid, q in _c.queries.items()}
    complaints_view = eyeball(list(_c.queries.values()), base_ret, tuned_ret, project.corpus, relevant=_rel, k=3,
                              training_queries=_train_q)
    _bad = complaints_view.filter(pl.col("rank") == 1, pl.col("tuned_top_has_relevant") == False)  # noqa: E712
    _flags = [mo.callout(mo.md(f"**{r['query']}**: the tuned top 3 still holds nothing relevant. "
                               + (f"Training queries never use: *{r['uncovered_terms']}* — add pairs that bridge "
                                  "these terms and retrain." if r["uncovered_terms"] else
                                  "Add pairs that bridge its words to the right article and retrain.")), kind="warn")
              for r in _bad.iter_rows(named=True)]
    mo.vstack([mo.md("## The complaints list, side by side (✓ = relevant)"),
               mo.ui.table(complaints_view.with_columns(
                   (pl.when(pl.col("base_relevant")).then(pl.lit("✓ ")).otherwise(pl.lit(""))
                    + pl.col("base_title")).alias("base_title"),
                   (pl.when(pl.col("tuned_relevant")).then(pl.lit("✓ ")).otherwise(pl.lit(""))
                    + pl.col("tuned_title")).alias("tuned_title"))
                   .select("query", "rank", "base_title", "base_score", "tuned_title", "tuned_score"),
                   page_size=30, selection=None), *_flags])
    return (complaints_view,)


@app.cell
def _(base_model, cache, project, tuned_model):
    _g = project.config.resolve(project.config.general.eval)
    mo.stop(_g is None, mo.md("No general-domain set configured."))
    general = general_check(base_model, tuned_model, _g, cache=cache)
    _r = general["ndcg@10"]
    mo.md(f"## General-domain check ({general['queries']} everyday questions)\n\nnDCG@10 {_r['base']:.3f} → "
          f"{_r['tuned']:.3f} (**{_r['delta']:+.3f}**, 95% CI [{_r['ci95'][0]:+.3f}, {_r['ci95'][1]:+.3f}]). "
          "A drop here is the tutorial's \"worse on general queries\": mix in general pairs or train fewer epochs.")
    return (general,)


@app.cell
def _(base_enc, project, tuned_enc):
    _map = embedding_map(project.eval_set, project.corpus, {"base": base_enc, "tuned": tuned_enc}, max_queries=60)
    emb_chart = mo.ui.altair_chart(alt.Chart(_map).mark_point(filled=True, size=45, opacity=0.8).encode(
        x=alt.X("x:Q", title=None), y=alt.Y("y:Q", title=None), color=alt.Color("model:N"),
        shape=alt.Shape("kind:N"), tooltip=["text", "query_id", "model", "kind"]).properties(
        width=560, height=380, title="eval queries and their articles, PCA per model (brush to read)"),
        chart_selection="interval")
    mo.vstack([mo.md("## Embedding map — queries should move toward their articles after tuning"), emb_chart])
    return (emb_chart,)


@app.cell
def _(emb_chart):
    _v = emb_chart.value
    mo.ui.table(_v.select("model", "kind", "text", "query_id") if _v is not None and _v.height else
                pl.DataFrame({"selection": ["brush points on the map to read their texts"]}), selection=None)
    return


@app.cell(hide_code=True)
def _():
    report_btn, report_examples, report_redact, _view = nb.report_controls(
        "It holds the tuned run picked above against the baseline.")
    _view
    return report_btn, report_examples, report_redact


@app.cell
def report_export(project, report_btn, report_examples, report_redact, tuned_pick):
    nb.export_report(project, "05_compare", report_btn, report_examples, report_redact, run=tuned_pick.value)


if __name__ == "__main__":
    app.run()
