import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="embtune · 2 · mine training pairs")

with app.setup:
    import dataclasses

    import altair as alt
    import marimo as mo
    import polars as pl

    from embtune_core import notebook as nb
    from embtune_core.core.config import FilterConfig
    from embtune_core.core.evaluate import topk_articles
    from embtune_core.mine_pairs import export_pairs, filters, load_candidates, mine_project, review_store
    from embtune_core.mine_pairs.llm import ChatClient, generate_queries, project_generated
    from embtune_core.mine_pairs.review import progress, review_queue, with_decisions


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Step 2 · Mine training pairs from real signals, and review them

    This step decides whether the fine-tune works. Four sources of (query, article) pairs: **searches
    with a satisfied click** (long dwell or the session's last click), **support tickets** and the article
    that resolved them (personal data scrubbed first), **titles and headings** of your own docs, and
    **LLM-generated queries**, filtered hard. Click and ticket pairs the base model misses are kept on
    purpose: they are the vocabulary gap fine-tuning closes.
    """)
    return


@app.cell
def _():
    project = nb.open_project("eval_set", "corpus")
    encoder = project.base_encoder()
    store = review_store(project)
    get_version, set_version = mo.state(0)
    return encoder, get_version, project, set_version, store


@app.cell(hide_code=True)
def _(project):
    nb.stale_banner(project)
    return


@app.cell(hide_code=True)
def _(project):
    _c = project.config.llm
    llm_form = mo.md("**Endpoint** {base_url}  **Model** {model}  **Queries per article** {n}").batch(
        base_url=mo.ui.text(value=_c.base_url, full_width=True),
        model=mo.ui.text(value=_c.model),
        n=mo.ui.number(start=1, stop=10, value=_c.queries_per_doc),
    ).form(submit_button_label="Generate LLM queries", bordered=True)
    _key = (f"the key comes from `${_c.api_key_env}` only; " if _c.base_url else
            "none configured yet: `[llm] base_url` and `model` in embtune.toml, or fill in the form; ")
    mo.accordion({f"LLM-generated queries (any OpenAI-compatible endpoint; {_key}answers are cached, so a rerun "
                  "is free)": llm_form})
    return (llm_form,)


@app.cell
def _(encoder, llm_form, project):
    _llm_dir = project.workspace.path("cache", "llm")
    llm_note = mo.md("")
    _fresh = None
    if llm_form.value is not None:
        _v = llm_form.value
        _client = ChatClient(_v["base_url"], _v["model"], api_key_env=project.config.llm.api_key_env)
        with mo.status.spinner(title="Asking the LLM (cached articles are skipped)") as _sp:
            _fresh, _stats = generate_queries(project.corpus.docs, _client, _llm_dir, n=int(_v["n"]),
                                              progress=lambda d, t: _sp.update(subtitle=f"{d} of {t} articles"))
        llm_note = mo.callout(mo.md(f"LLM: {_stats.summary()}" + (f"<br>First failure: {_stats.failed[0]}"
                                                                  if _stats.failed else "")),
                              kind="warn" if _stats.failed else "success")
    _saved = load_candidates(project)
    if _saved is None or llm_form.value is not None:
        with mo.status.spinner(title="Mining and scoring candidates (base model, cached)"):
            scored = mine_project(project, encoder, llm=_fresh if _fresh is not None else project_generated(project))
    else:
        scored = _saved
    llm_note
    return (scored,)


@app.cell(hide_code=True)
def _(project):
    _f = project.config.filters
    sliders = mo.ui.dictionary({
        "near_duplicate": mo.ui.slider(0.80, 1.0, step=0.01, value=_f.near_duplicate, show_value=True,
                                       label="near-duplicate cosine ≥"),
        "too_easy": mo.ui.slider(0.5, 1.0, step=0.05, value=_f.too_easy, show_value=True, label="too easy ≥"),
        "roundtrip_k": mo.ui.slider(1, 100, step=1, value=_f.roundtrip_k, show_value=True,
                                    label="LLM round trip: article in top"),
        "max_words": mo.ui.slider(5, 80, step=1, value=_f.max_words, show_value=True, label="max words"),
        "ambiguous_max_articles": mo.ui.slider(1, 20, step=1, value=_f.ambiguous_max_articles, show_value=True,
                                               label="docs: a heading may name at most this many articles"),
    })
    mo.vstack([mo.md("## Filters (live; every rejection keeps its reason)"),
               mo.hstack([sliders[k] for k in ("near_duplicate", "too_easy", "roundtrip_k", "max_words",
                                               "ambiguous_max_articles")],
                         wrap=True, justify="start", gap=2)])
    return (sliders,)


@app.cell
def apply_filters(project, scored, sliders):
    filter_cfg = dataclasses.replace(project.config.filters, **sliders.value) if sliders.value else FilterConfig()
    filtered = filters.apply(scored, filter_cfg)
    counts = filters.summary(filtered)
    _head = filters.headroom(scored)
    _long = counts.unpivot(index="source", on=list(filters.REASONS), variable_name="reason", value_name="pairs")
    _chart = alt.Chart(_long.filter(pl.col("pairs") > 0)).mark_bar().encode(
        x=alt.X("pairs:Q", title="rejected pairs"), y=alt.Y("source:N", title=None),
        color=alt.Color("reason:N"), tooltip=["source", "reason", "pairs"]).properties(width=600, height=120)
    if _head["pairs"]:
        _headroom = (f"Headroom: the base model misses **{_head['missed_at_k']} of {_head['pairs']}** click and "
                     f"ticket pairs at top-{_head['k']} ({_head['share']:.0%}) — that is what fine-tuning should fix.")
    else:
        _docs = counts.filter(pl.col("source") == "docs")
        _made = f"**{_docs['candidates'][0]} title and heading pairs, {_docs['kept'][0]} kept**" if _docs.height \
            else "no pairs (`[mining] doc_pairs` is off)"
        _headroom = ("No click or ticket pairs: the project has no search log or tickets, so there is no "
                     f"headroom to measure. Mining the docs alone gave {_made}: they teach the model your "
                     "vocabulary, not how customers ask. A search log, tickets or an LLM endpoint add real "
                     "questions (see `embtune info`).")
    mo.vstack([
        mo.md(f"**{filtered.height} candidates, {int(filtered['kept'].sum())} kept.** {_headroom}"),
        mo.ui.table(counts, selection=None, label="per source"),
        _chart,
    ])
    return filter_cfg, filtered


@app.cell(hide_code=True)
def _(filtered, get_version, store):
    get_version()
    mo.vstack([mo.md("## Review"), mo.ui.table(progress(filtered, store), selection=None, label="progress per source")])
    return


@app.cell
def _(filter_cfg, filtered, get_version, store):
    get_version()
    queue = review_queue(filtered, filter_cfg, store)
    return (queue,)


@app.cell
def _(encoder, project, queue):
    mo.stop(queue.height == 0, mo.md("Nothing left to review."))
    current = queue.row(0, named=True)
    _units = encoder.encode(project.corpus.unit_texts(), "document")
    _q = encoder.encode([current["query"]], "query")
    _titles = project.corpus.titles()
    _rivals = [d for d, _ in topk_articles(_q, _units, project.corpus.unit_doc_ids(), k=4)[0]
               if d != current["doc_id"]][:3]
    edit_box = mo.ui.text(value=current["query"], full_width=True, label="query (edit, then Save edit)")
    accept_btn = mo.ui.run_button(label="Accept (Ctrl-Enter)", kind="success", keyboard_shortcut="Ctrl-Enter")
    reject_btn = mo.ui.run_button(label="Reject (Ctrl-Backspace)", kind="danger", keyboard_shortcut="Ctrl-Backspace")
    edit_btn = mo.ui.run_button(label="Save edit")
    _reasons = ", ".join(current["reasons"]) or "kept by the filters"
    mo.vstack([
        mo.md(f"### Next pair ({queue.height} undecided, nearest a threshold first) · `{current['source']}` · "
              f"{_reasons}"),
        edit_box,
        mo.md(f"**Positive** — *{_titles[current['doc_id']]}* (`{current['section_id']}`):\n\n> "
              + current["positive"][:700].replace("\n", "\n> ")),
        mo.md("**Base model's top rivals:** " + " · ".join(_titles[d] for d in _rivals)),
        mo.hstack([accept_btn, reject_btn, edit_btn], justify="start"),
    ])
    return accept_btn, current, edit_box, edit_btn, reject_btn


@app.cell
def _(accept_btn, current, edit_box, edit_btn, get_version, reject_btn, set_version, store):
    if accept_btn.value or reject_btn.value or edit_btn.value:
        if edit_btn.value and edit_box.value.strip() != current["query"]:
            store.decide(current["pair_id"], "edit", query=edit_box.value)
        else:
            store.decide(current["pair_id"], "accept" if (accept_btn.value or edit_btn.value) else "reject")
        set_version(get_version() + 1)
    return


@app.cell(hide_code=True)
def _(filtered):
    source_pick = mo.ui.dropdown(["all"] + sorted(filtered["source"].unique().to_list()), value="all", label="source")
    reason_pick = mo.ui.dropdown(["any", "kept", *filters.REASONS], value="any", label="status / reason")
    mo.hstack([source_pick, reason_pick], justify="start")
    return reason_pick, source_pick


@app.cell
def _(filtered, get_version, reason_pick, source_pick, store):
    get_version()
    _v = with_decisions(filtered, store)
    if source_pick.value != "all":
        _v = _v.filter(pl.col("source") == source_pick.value)
    if reason_pick.value == "kept":
        _v = _v.filter(pl.col("kept"))
    elif reason_pick.value != "any":
        _v = _v.filter(pl.col("reasons").list.contains(reason_pick.value))
    review_table = mo.ui.table(
        _v.select("pair_id", "final_query", "doc_id", "source", pl.col("reasons").list.join(", "), "decision",
                  "base_rank", "easy_score", "near_dup_sim", "weight"),
        page_size=10, selection="multi", label="pairs (select rows, then accept or reject them)",
        format_mapping={"easy_score": "{:.2f}", "near_dup_sim": "{:.2f}"})
    bulk_accept = mo.ui.run_button(label="Accept selected", kind="success")
    bulk_reject = mo.ui.run_button(label="Reject selected", kind="danger")
    mo.vstack([review_table, mo.hstack([bulk_accept, bulk_reject], justify="start")])
    return bulk_accept, bulk_reject, review_table


@app.cell
def _(bulk_accept, bulk_reject, get_version, review_table, set_version, store):
    mo.stop(not (bulk_accept.value or bulk_reject.value) or review_table.value.height == 0)
    store.decide_many(review_table.value["pair_id"].to_list(), "accept" if bulk_accept.value else "reject")
    set_version(get_version() + 1)
    return


@app.cell(hide_code=True)
def _():
    export_btn = mo.ui.run_button(label="Export pairs.jsonl")
    export_btn
    return (export_btn,)


@app.cell
def _(encoder, export_btn, filtered, project, store):
    mo.stop(not export_btn.value)
    _r = export_pairs(project, filtered, store, encoder)
    _wrote = f"Wrote **{_r.total} pairs** to `{_r.path}` ({', '.join(f'{k}: {v}' for k, v in _r.per_source.items())}); "
    if _r.leakage is None:
        _out = mo.callout(mo.md(_wrote + "**not audited for leakage: the project has no eval set yet.** Judge one in "
                                "step 3, then export again so no judged question is trained on."), kind="warn")
    else:
        _c = _r.leakage.counts()
        _out = mo.callout(mo.md(_wrote + f"dropped **{_c['leaking_pairs']}** that leak into the eval set (exact "
                                f"{_c['exact']}, normalised {_c['normalized']}, token set {_c['token_set']}, "
                                f"near-duplicate {_c['near_duplicate']})."), kind="success")
    _out
    return


if __name__ == "__main__":
    app.run()
