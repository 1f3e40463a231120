import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="embtune · 3 · evaluation set")

with app.setup:
    import altair as alt
    import marimo as mo
    import polars as pl

    from embtune_core import EmbtuneError
    from embtune_core import notebook as nb
    from embtune_core.core.evaluate import evaluate_model, slice_metrics
    from embtune_core.core.models import fingerprint
    from embtune_core.core.stats import metric_cis
    from embtune_core.eval_set import (
        ADVICE,
        REPORTED,
        TARGET_QUERIES,
        audit,
        build_proxy_evalset,
        cold_articles,
        export_beir,
        judging_progress,
        judgments_log,
        labelling_queue,
        pooled_candidates,
        question_sources,
        save_baseline,
        signal_candidates,
    )
    from embtune_core.eval_set import judge as record_judgment
    from embtune_core.eval_set.judging import candidates_frame

    #: Loaded models, shared by every cell of this session so no model is loaded twice.
    MODELS: dict = {}


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
    MODELS[project.config.model.base] = base_model
    encoder = project.base_encoder(base_model)
    judgments = judgments_log(project)
    # (count, what was saved) after each judgment: the eval set, its baseline and the queues reload
    get_saved, set_saved = mo.state((0, ""))
    return base_model, encoder, get_saved, judgments, project, set_saved


@app.cell(hide_code=True)
def _(project):
    nb.stale_banner(project)
    return


@app.cell(hide_code=True)
def _(project):
    signals = signal_candidates(project.search_log, project.tickets)
    _options = {"human-judged (the project's eval set)": "human"}
    if signals.height:
        _options["proxy drawn from clicks and tickets"] = "proxy"
    source = mo.ui.radio(options=_options, value="human-judged (the project's eval set)", label="**Eval set**")
    size = mo.ui.slider(50, 200, step=10, value=150, show_value=True, label="proxy size (queries)",
                        disabled=not signals.height)
    _no_signals = mo.md("") if signals.height else mo.md(
        "_No search log or tickets: no proxy set can be drawn; the eval set is the one you judge below._")
    mo.vstack([mo.hstack([source, size], justify="start", gap=2), _no_signals])
    return signals, size, source


@app.cell
def _(encoder, get_saved, project, signals, size, source):
    get_saved()
    if source.value == "proxy":
        _split = build_proxy_evalset(signals, size=size.value, encoder=encoder)
        evalset, held_out = _split.evalset, _split.held_out
    else:
        nb.require_eval_set(project, "The baseline, its slices and the leakage audit are measured on it.")
        evalset, held_out = project.eval_set, frozenset()
    mo.stop(len(evalset) == 0, mo.callout("The eval set has no queries: judge some below.", kind="warn"))
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
    is_project_set = project.has_eval_set and evalset.sha256 == project.eval_set.sha256
    if is_project_set:
        save_baseline(project, baseline, base_fp)
    metrics_table = pl.DataFrame([{"metric": k, "value": baseline.metrics[k], "ci95_low": cis[k][0],
                                   "ci95_high": cis[k][1]} for k in REPORTED])
    return baseline, is_project_set, metrics_table


@app.cell(hide_code=True)
def _(baseline, is_project_set, metrics_table):
    _base = alt.Chart(metrics_table).encode(y=alt.Y("metric:N", sort=list(metrics_table["metric"]), title=None))
    _chart = (_base.mark_bar(color="#4c78a8").encode(x=alt.X("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
                                                      tooltip=["metric", alt.Tooltip("value:Q", format=".3f")])
              + _base.mark_rule(color="black").encode(x="ci95_low:Q", x2="ci95_high:Q")).properties(width=480)
    _saved = ("Saved as the project's **baseline** — later steps compare against it."
              if is_project_set else "Not saved: the baseline is always the project's eval set.")
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
def _(get_saved, judgments, project):
    _last = get_saved()[1]
    _p = judging_progress(project, judgments)
    _folder = project.config.resolve(project.config.eval.path)
    mo.vstack([
        mo.md(f"""## Judge the eval set

        Type a question, or take one waiting below; the articles to judge are **pooled** from BM25 and
        the base model (their top lists interleaved), so the set does not favour either. Tick the
        articles that answer it, or say the docs have no answer. Each judgment is logged before anything
        else, then the set is rewritten as BEIR files in `{_folder}` (the project's `[eval] path`)."""),
        mo.hstack([mo.stat(f"{_p.in_set} / {_p.target}", label="eval queries",
                           caption=f"{_p.remaining} to go" if _p.remaining else "enough to measure", bordered=True),
                   mo.stat(str(_p.no_answer), label="no answer in the docs", caption="content gaps",
                           bordered=True),
                   mo.stat(str(_p.skipped), label="skipped", bordered=True)], justify="start", gap=1),
        mo.callout(mo.md(ADVICE), kind="info"),
        mo.callout(mo.md(_last), kind="success") if _last else mo.md(""),
    ])
    return


@app.cell(hide_code=True)
def _(get_saved, judgments, project):
    get_saved()
    queue = labelling_queue(project.search_log, judgments)
    questions = question_sources(project, judgments)
    _waiting = {f"{r['query']}  ·  {r['source']}: {r['detail']}": (r["query"], r["source"])
                for r in questions.head(300).iter_rows(named=True)}
    ask = mo.md("{typed}  \n{picked}").batch(
        typed=mo.ui.text(placeholder="a question someone really asked, e.g. how do I add a teammate",
                         full_width=True, label="Type a question"),
        picked=mo.ui.dropdown(_waiting, searchable=True, full_width=True,
                              label=f"or take one of {questions.height} waiting (zero-click searches first, then "
                                    "generated questions)" if questions.height else
                              "no questions waiting (no search log or generated questions yet)"),
    ).form(submit_button_label="Show the articles to judge", bordered=True)
    ask
    return ask, queue


@app.cell
def pool(ask, project):
    mo.stop(ask.value is None, mo.md(f"_Ask a question above; aim for {TARGET_QUERIES} or more._"))
    _typed = (ask.value["typed"] or "").strip()
    mo.stop(not _typed and not ask.value["picked"], mo.md("_Type a question or pick one._"))
    question, question_source = (_typed, "typed") if _typed else ask.value["picked"]
    with mo.status.spinner(title="Pooling BM25 and the base model (embeddings cached)"):
        _pool = candidates_frame(pooled_candidates(project, question, 10, models=MODELS))
    pool_table = mo.ui.table(_pool.select("title", "section", "snippet", "url", "doc_id"), selection="multi",
                             page_size=10, show_download=False, wrapped_columns=["snippet"],
                             label="tick the articles that answer it")
    more_docs = mo.ui.multiselect({f"{t} ({d})": d for d, t in sorted(project.corpus.titles().items(),
                                                                      key=lambda kv: kv[1])},
                                  label="another article answers it (not listed above)")
    save_btn = mo.ui.run_button(label="Save: these answer it", kind="success")
    no_answer_btn = mo.ui.run_button(label="No answer in the docs", kind="warn")
    skip_btn = mo.ui.run_button(label="Skip")
    mo.vstack([mo.md(f"### {question}"), pool_table, more_docs,
               mo.hstack([save_btn, no_answer_btn, skip_btn], justify="start")])
    return more_docs, no_answer_btn, pool_table, question, question_source, save_btn, skip_btn


@app.cell
def judge(judgments, more_docs, no_answer_btn, pool_table, project, question, question_source, save_btn,
          set_saved, skip_btn):
    mo.stop(not (save_btn.value or no_answer_btn.value or skip_btn.value))
    _docs = sorted(set(pool_table.value["doc_id"].to_list()) | set(more_docs.value)) if save_btn.value else []
    mo.stop(save_btn.value and not _docs,
            mo.callout("Tick the articles that answer it first (or press **No answer in the docs**).", kind="warn"))
    try:
        saved = record_judgment(project, question, _docs, no_answer=bool(no_answer_btn.value and not save_btn.value),
                                skip=bool(skip_btn.value and not (save_btn.value or no_answer_btn.value)),
                                source=question_source, judgments=judgments)
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Not saved.** {_e}"), kind="danger"))
    _what = ", ".join(_docs) if _docs else ("no answer in the docs" if no_answer_btn.value else "skipped")
    _msg = (f"Saved: *{question}* → {_what}. Eval set: {len(saved.evalset)} queries, hash "
            f"`{saved.sha256[:12]}`.")
    set_saved(lambda v: (v[0] + 1, _msg))  # the progress above shows it; this form starts over
    mo.callout(mo.md(_msg), kind="success")
    return (saved,)


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
