import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="embtune · 6 · ship")

with app.setup:
    import dataclasses

    import marimo as mo
    import polars as pl

    from embtune_core import EmbtuneError, ship
    from embtune_core import notebook as nb
    from embtune_core.core.models import load_model
    from embtune_core.eval_set import carried_retriever
    from embtune_core.ship import abtest, connect, describe_url, store_url


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Step 6 · Ship without breaking the index

    The tuned model's vectors live in a **new collection**; the one serving traffic is never touched.
    Re-encode the corpus, check the database returns what the evaluation measured, point the
    `candidate` alias at it, route a share of users to it, read the A/B result, then **promote** (the
    candidate becomes `live`) or **roll back**. Each alias switch is one transaction, and each is
    logged in the workspace's shipping log.

    A **hybrid** collection also stores the corpus's BM25 postings (with the project's `[lexical]`
    settings, recorded in the collection) and is searched dense + BM25, fused by reciprocal rank
    fusion, in one SQL statement: the retriever step 1 measured, served from the same Postgres.
    """)
    return


@app.cell
def _():
    project = nb.open_project("corpus", "eval_set")
    _runs = project.runs()
    model_options = {**{f"run {p.name}": str(p) for p in _runs},
                     f"base model ({project.config.model.base})": project.config.model.base}
    return model_options, project


@app.cell(hide_code=True)
def _(project):
    nb.stale_banner(project)
    return


@app.cell(hide_code=True)
def _(project):
    nb.eval_set_callout(project, "Verifying a collection (section 2) and the ship gate of a promotion (section 6) "
                        "measure on it; re-encoding, searching, aliases and the A/B analysis work without.")
    return


@app.cell
def _(project):
    try:
        with mo.status.spinner(title="Starting the vector store"):
            store = connect(project)
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Cannot open the vector store.** {_e}"), kind="danger"))
    get_version, set_version = mo.state(0)
    collection_models = {}  # collection -> its model, loaded (and fingerprint-checked) once per kernel
    mo.md(f"Vector store: **{describe_url(store_url(project.config))}** (pgvector, HNSW cosine index).")
    return collection_models, get_version, set_version, store


@app.cell(hide_code=True)
def _(model_options, project):
    model_pick = mo.ui.dropdown(model_options, value=next(iter(model_options)), label="model")
    name_box = mo.ui.text(placeholder="default: <model or run>_<corpus hash>", label="collection name", full_width=True)
    build_btn = mo.ui.run_button(label="Re-encode into a new collection")
    _carried = carried_retriever(project)
    hybrid_box = mo.ui.checkbox(label="fuse with BM25 (hybrid)", value=_carried.startswith("hybrid:"))
    mo.vstack([mo.md("## 1 · Re-encode the corpus"), mo.hstack([model_pick, name_box], widths=[1, 2]),
               mo.hstack([build_btn, hybrid_box], justify="start"),
               mo.md(f"_Step 1 carried forward `{_carried}`. A hybrid collection records and always searches with "
                     f"`[lexical]` " + ", ".join(f"{k} `{v}`" for k, v in
                                                 dataclasses.asdict(project.config.lexical).items())
                     + f" and `[hybrid]` rrf_k `{project.config.hybrid.rrf_k}`, depth `{project.config.hybrid.depth}`._")])
    return build_btn, hybrid_box, model_pick, name_box


@app.cell
def _(build_btn, hybrid_box, model_pick, name_box, project, set_version, store):
    mo.stop(not build_btn.value, mo.md("_Pick a model and press the button: the live collection is not touched._"))
    ship_model = load_model(model_pick.value)
    _n = project.corpus.sections.height
    with mo.status.progress_bar(total=_n, title="Encoding", subtitle=f"{_n} retrieval units",
                                remove_on_exit=True) as _bar:
        _last = [0]

        def _progress(done, total):
            _bar.update(increment=done - _last[0])
            _last[0] = done

        try:
            _lexical = dict(lexical=project.config.lexical, hybrid=project.config.hybrid) if hybrid_box.value else {}
            built = ship.build_collection(store, ship_model, project.corpus, name=name_box.value.strip() or None,
                                          model_label=model_pick.value, batch_size=project.config.model.batch_size,
                                          write_batch=project.config.store.batch_size, progress=_progress,
                                          **_lexical)
        except EmbtuneError as _e:
            mo.stop(True, mo.callout(mo.md(f"**Not built.** {_e}"), kind="danger"))
    ship.record_build(project, built)
    set_version(lambda v: v + 1)
    mo.callout(mo.md(f"**{built.summary()}**"), kind="success" if built.created else "info")
    return built, ship_model


@app.cell(hide_code=True)
def _(built):
    verify_btn = mo.ui.run_button(label=f"Verify {built.info.name} on the eval set")
    mo.vstack([mo.md("## 2 · Verify through the database\n\nThe eval set, searched in Postgres, must score what "
                     "the in-memory evaluation scored: exactly with exact search, within 0.01 Recall@5 "
                     "through the HNSW index. A hybrid collection is checked against the in-memory hybrid "
                     "(same model, BM25 with the collection's stored settings, the same fusion)."), verify_btn])
    return (verify_btn,)


@app.cell
def _(built, project, ship_model, store, verify_btn):
    mo.stop(not verify_btn.value)
    nb.require_eval_set(project, "Verifying compares the database with the in-memory evaluation on it.")
    with mo.status.spinner(title="Evaluating in memory and through the database"):
        _rep = ship.verify(store, built.info.name, ship_model, project.corpus, project.eval_set,
                           cache=project.embedding_cache())
    mo.vstack([mo.callout(mo.md(f"**{_rep.summary()}**"), kind="success" if _rep.ok else "danger"),
               mo.ui.table(pl.DataFrame(_rep.rows()), selection=None)])
    return


@app.cell
def _(get_version, store):
    get_version()
    collections = store.list()
    aliases = store.aliases()
    _cols = ("name", "model", "unit_count", "dim", "fingerprint", "created")
    _rows = [{"aliases": ", ".join(a for a, n in aliases.items() if n == c.name), "kind": c.kind}
             | {k: getattr(c, k) for k in _cols} for c in collections]  # meta differs by kind: left out
    _table = pl.DataFrame(_rows).select("name", "aliases", "kind", *_cols[1:]) if _rows else pl.DataFrame()
    mo.vstack([mo.md("## 3 · Collections and aliases"),
               mo.ui.table(_table, selection=None) if _rows else mo.md("_No collection yet: re-encode above._")])
    return aliases, collections


@app.cell(hide_code=True)
def _(collections):
    _names = [c.name for c in collections]
    cand_pick = mo.ui.dropdown(_names, value=_names[-1] if _names else None, label="collection")
    cand_btn = mo.ui.run_button(label="Make it the candidate", disabled=not _names)
    mo.hstack([cand_pick, cand_btn], justify="start")
    return cand_btn, cand_pick


@app.cell
def _(cand_btn, cand_pick, project, set_version, store):
    mo.stop(not cand_btn.value or not cand_pick.value)
    ship.set_candidate(project, store, cand_pick.value)
    set_version(lambda v: v + 1)
    mo.callout(mo.md(f"`candidate` -> **{cand_pick.value}**"), kind="success")
    return


@app.cell(hide_code=True)
def _(aliases, collections):
    _opts = {f"{a} ({n})": n for a, n in aliases.items()} | {c.name: c.name for c in collections}
    search_pick = mo.ui.dropdown(_opts, value=next(iter(_opts)) if _opts else None, label="search in")
    query_box = mo.ui.text(placeholder="e.g. customer card declined what happens next", label="query",
                           full_width=True)
    mo.vstack([mo.md("## 4 · Search a collection"), mo.hstack([search_pick, query_box], widths=[1, 2])])
    return query_box, search_pick


@app.cell
def _(collection_models, query_box, search_pick, store):
    mo.stop(not query_box.value.strip() or not search_pick.value)
    if search_pick.value not in collection_models:
        collection_models[search_pick.value] = ship.load_collection_model(store, search_pick.value)
    _kind = store.get(search_pick.value).kind
    _hits = ship.search(store, search_pick.value, collection_models[search_pick.value], [query_box.value], k=5)[0]
    mo.ui.table(pl.DataFrame([{"rank": i + 1, "title": h.title, "section": h.unit_id, "score": round(h.score, 4)}
                              for i, h in enumerate(_hits)]), selection=None,
                label="search results (hybrid: dense + BM25, fused RRF scores)" if _kind == "hybrid"
                else "search results")
    return


@app.cell(hide_code=True)
def _(project):
    _ab = project.config.abtest
    share = mo.ui.slider(0.01, 0.5, step=0.01, value=_ab.share, label="candidate share", show_value=True)
    base_rate = mo.ui.number(0.01, 0.99, step=0.01, value=0.38, label="live top-result CTR")
    effect = mo.ui.number(0.005, 0.3, step=0.005, value=0.02, label="effect to detect (absolute)")
    daily = mo.ui.number(1, 10_000_000, step=100, value=450, label="searches per day")
    mo.vstack([mo.md(f"""## 5 · A/B test

    Users are bucketed by `assign(user_id, salt="{_ab.salt or 'embtune-ab:<candidate collection>'}", share=...)`:
    a hash, so a user always sees the same arm, and raising the share only moves users from `live` to
    `candidate`. How long must the test run to see the effect you care about?"""), mo.hstack([share, base_rate, effect, daily])])
    return base_rate, daily, effect, share


@app.cell
def _(base_rate, daily, effect, share):
    try:
        _n = abtest.sample_size(base_rate.value, effect.value, share=share.value, daily_searches=daily.value)
        _msg = mo.callout(mo.md(_n.summary()), kind="info")
    except EmbtuneError as _e:
        _msg = mo.callout(mo.md(str(_e)), kind="warn")
    _msg
    return


@app.cell
def _(project):
    _path = project.config.resolve(project.config.abtest.events)
    mo.stop(_path is None or not _path.exists(),
            mo.md("_No A/B event log configured (`[abtest].events`)._"))
    try:
        _events = abtest.load_events(_path)
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Cannot read the event log.** {_e}"), kind="danger"))
    ab_result = abtest.analyze(_events, share=project.config.abtest.share, salt=project.config.abtest.salt)
    mo.vstack([mo.md(f"### Analysis of `{_path.name}` ({_events.height:,} searches)"),
               mo.callout(mo.md(f"**{ab_result.decision}**"), kind="danger" if ab_result.problems else "info"),
               mo.ui.altair_chart(abtest.chart(ab_result)),
               mo.ui.table(ab_result.table(), selection=None)])
    return (ab_result,)


@app.cell(hide_code=True)
def _(aliases):
    confirm = mo.ui.checkbox(label="I understand this switches live traffic")
    force = mo.ui.checkbox(label="force past a failing ship gate (recorded)")
    promote_btn = mo.ui.run_button(label="Promote candidate to live", kind="danger",
                                   disabled="candidate" not in aliases)
    rollback_btn = mo.ui.run_button(label="Roll back live", kind="warn", disabled="live" not in aliases)
    mo.vstack([mo.md(f"""## 6 · Promote or roll back

    `live` -> **{aliases.get('live', 'unset')}**, `candidate` -> **{aliases.get('candidate', 'unset')}**.
    Promotion runs the ship gate (candidate vs the live collection's model) and refuses a failing
    candidate unless forced."""), confirm, force, mo.hstack([promote_btn, rollback_btn], justify="start")])
    return confirm, force, promote_btn, rollback_btn


@app.cell
def _(confirm, force, project, promote_btn, rollback_btn, set_version, store):
    mo.stop(not (promote_btn.value or rollback_btn.value))
    mo.stop(not confirm.value, mo.callout(mo.md("Tick the confirmation first."), kind="warn"))
    try:
        with mo.status.spinner(title="Running the ship gate" if promote_btn.value else "Rolling back"):
            _event = ship.promote(project, store, force=force.value) if promote_btn.value else ship.rollback(project, store)
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Refused.** {_e}"), kind="danger"))
    set_version(lambda v: v + 1)
    mo.callout(mo.md(f"**{_event['action']}**: `live` -> {_event['collection']}"
                     + (" (forced past a failing gate)" if _event["forced"] else "")), kind="success")
    return


@app.cell
def _(get_version, project):
    get_version()
    _h = ship.history(project)
    mo.vstack([mo.md("### Shipping log"),
               mo.ui.table(pl.DataFrame(_h).select("time", "action", "collection", "alias", "forced", "note"),
                           selection=None) if _h else mo.md("_Nothing shipped yet._")])
    return


@app.cell(hide_code=True)
def _():
    report_btn, report_examples, report_redact, _view = nb.report_controls(
        "It holds the metrics, wins and losses, the complaints side by side, and what was shipped when.")
    _view
    return report_btn, report_examples, report_redact


@app.cell
def report_export(get_version, project, report_btn, report_examples, report_redact):
    get_version()  # a new shipping event makes the next export show it
    nb.export_report(project, "06_ship", report_btn, report_examples, report_redact)


if __name__ == "__main__":
    app.run()
