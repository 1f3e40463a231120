import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="embtune · 4 · fine-tune")

with app.setup:
    import dataclasses
    import datetime as dt

    import altair as alt
    import marimo as mo
    import polars as pl

    from embtune_core import EmbtuneError, open_project
    from embtune_core.report import report_path, write_report
    from embtune_core.train import (
        TrainConfig,
        TrainState,
        cuda_available,
        estimate_seconds,
        load_pairs,
        train,
    )


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Step 4 · Fine-tune with MultipleNegativesRankingLoss

    Every other positive in a batch is a negative for a query, so no negatives need picking by hand —
    but a duplicate in a batch is a *false* negative, so batches are drawn without duplicates. Checkpoints
    are chosen on a **validation split of the pairs** (never on the eval set you report), hard negatives
    keep a margin against false negatives, and fp16/bf16 are used only on a GPU.
    """)
    return


@app.cell
def _():
    try:
        project = open_project(mo.cli_args().get("project"))
        _ = project.corpus
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Cannot load the project.** {_e}"), kind="danger"))
    _path = project.workspace.path("pairs.jsonl")
    mo.stop(not _path.exists(), mo.callout(mo.md("No `pairs.jsonl` yet: export pairs in step 2 "
                                                 "(or `embtune pairs export`)."), kind="warn"))
    try:
        pairs = load_pairs(_path, project.corpus)
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Bad pairs file.** {_e}"), kind="danger"))
    return pairs, project


@app.cell(hide_code=True)
def _(pairs, project):
    _stale = project.stale_markdown()
    _per = pairs.group_by("source").len().sort("source")
    mo.vstack([
        mo.callout(mo.md(_stale), kind="warn") if _stale else mo.md(""),
        mo.md(f"## Data: {pairs.height} pairs · device: **{'CUDA GPU' if cuda_available() else 'CPU'}**"),
        mo.ui.table(_per, selection=None, label="pairs per source"),
    ])
    return


@app.cell(hide_code=True)
def _(pairs, project):
    _d = TrainConfig.defaults(pairs.height, base_model=project.config.model.base)
    _general = project.config.resolve(project.config.general.pairs)
    train_form = mo.md(
        "{epochs} {batch_size} {learning_rate} {max_seq_length}  \n{hard_negatives} {general_share} {loss} {max_steps}"
    ).batch(
        epochs=mo.ui.number(start=0.25, stop=10, step=0.25, value=_d.epochs, label="epochs"),
        batch_size=mo.ui.number(start=4, stop=512, step=4, value=_d.batch_size, label="batch size"),
        learning_rate=mo.ui.number(start=1e-6, stop=1e-3, step=1e-6, value=_d.learning_rate, label="learning rate"),
        max_seq_length=mo.ui.number(start=32, stop=512, step=32, value=_d.max_seq_length, label="max tokens"),
        hard_negatives=mo.ui.number(start=0, stop=5, value=_d.hard_negatives, label="hard negatives per pair"),
        general_share=mo.ui.slider(0.0, 0.3, step=0.05, value=0.1 if _general else 0.0, show_value=True,
                                   label="general-domain share"),
        loss=mo.ui.dropdown(["mnrl", "cached_mnrl"], value=_d.loss, label="loss"),
        max_steps=mo.ui.number(start=-1, stop=100000, value=-1, label="max steps (-1: no cap)"),
    ).form(submit_button_label="Use these settings", bordered=True)
    mo.vstack([mo.md("## Settings (defaults chosen from data size and device; see `TrainConfig.defaults`)"),
               train_form])
    return (train_form,)


@app.cell
def _(pairs, project, train_form):
    _general = project.config.resolve(project.config.general.pairs)
    _v = train_form.value or {}
    try:
        config = TrainConfig.defaults(
            pairs.height, base_model=project.config.model.base,
            output_dir=str(project.workspace.path("runs", "notebook")),
            general_pairs=str(_general) if _general else "",
            **{k: (float(v) if k in ("epochs", "learning_rate", "general_share") else v if k == "loss" else int(v))
               for k, v in _v.items()})
        if not _v and _general:
            config = dataclasses.replace(config, general_share=0.1)
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Invalid settings.** {_e}"), kind="danger"))
    _eta = estimate_seconds(pairs, project.corpus, config)
    mo.md(f"**Estimated time: ~{_eta / 60:.1f} minutes** (timed on a few real steps) for {config.epochs:g} epoch(s), "
          f"batch {config.batch_size}, {config.max_seq_length} tokens, {config.hard_negatives} hard negative(s).")
    return (config,)


@app.cell(hide_code=True)
def _():
    train_btn = mo.ui.run_button(label="Train", kind="success")
    get_result, set_result = mo.state(None)
    train_btn
    return get_result, set_result, train_btn


@app.cell
def _(config, pairs, project, set_result, train_btn):
    _run_now = train_btn.value or str(mo.cli_args().get("train")) == "1"
    mo.stop(not _run_now, mo.md("Press **Train** to fine-tune. The result stays here when other widgets change."))
    _state = TrainState()
    _run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    _cfg = dataclasses.replace(config, output_dir=str(project.workspace.path("runs", _run_id)))
    if mo.cli_args().get("max-steps"):  # headless smoke runs: python 04_train.py --train 1 --max-steps 4
        _cfg = dataclasses.replace(_cfg, max_steps=int(mo.cli_args()["max-steps"]))

    def _chart(losses):
        return alt.Chart(pl.DataFrame(losses, schema=["step", "loss"], orient="row")).mark_line(point=True).encode(
            x="step:Q", y="loss:Q").properties(width=560, height=220, title="training loss")

    with mo.status.progress_bar(total=100, title="Training", subtitle="preparing (hard negatives)") as _bar:
        def _update(s):
            if s.total_steps:
                _bar.update(increment=0, subtitle=f"step {s.step}/{s.total_steps}"
                            + (f", ~{s.eta_seconds():.0f}s left" if s.eta_seconds() else ""))
            if s.losses and s.step % 5 == 0:
                mo.output.replace(_chart(s.losses))

        _state.on_update = _update
        _result = train(pairs, project.corpus, _cfg, state=_state, log=lambda m: None)
    set_result(_result)
    return


@app.cell
def _(get_result):
    result = get_result()
    mo.stop(result is None)
    _losses = pl.DataFrame(result.losses, schema=["step", "loss"], orient="row")
    _val = pl.DataFrame(result.val_mrr, schema=["step", "val_mrr@10"], orient="row")
    _loss = alt.Chart(_losses).mark_line(point=True).encode(x="step:Q", y="loss:Q").properties(
        width=420, height=220, title="training loss")
    _mrr = alt.Chart(_val).mark_line(point=True, color="green").encode(
        x="step:Q", y=alt.Y("val_mrr@10:Q", scale=alt.Scale(zero=False))).properties(
        width=420, height=220, title="validation MRR@10 (checkpoint selection)")
    _warn = [mo.callout(mo.md(w), kind="warn") for w in result.warnings] or [
        mo.callout("No training warnings: the loss neither collapsed nor spiked and validation did not regress.",
                   kind="success")]
    mo.vstack([mo.md(f"## Result: `{result.output_dir}` — {result.steps} steps in {result.seconds:.0f} s, best "
                     f"checkpoint `{result.best_checkpoint}`"), mo.hstack([_loss, _mrr]), *_warn])
    return (result,)


@app.cell(hide_code=True)
def _():
    report_examples = mo.ui.checkbox(value=True, label="include example queries and titles")
    report_redact = mo.ui.checkbox(value=True, label="scrub personal data (emails, phones, names)")
    report_btn = mo.ui.run_button(label="Export report")
    mo.vstack([mo.md("## Share the results\n\nOne HTML file that renders offline, with no code, scripts or "
                     "network (a `marimo export html` file needs internet to show anything). It holds "
                     "the run trained here (else the newest run) against the baseline."),
               mo.hstack([report_examples, report_redact, report_btn], justify="start", gap=2)])
    return report_btn, report_examples, report_redact


@app.cell
def _(get_result, project, report_btn, report_examples, report_redact):
    mo.stop(not report_btn.value)
    _r = get_result()
    try:
        with mo.status.spinner(title="Writing the report (embeddings come from the cache)"):
            _path = write_report(project, report_path(project, "04_train"), run=_r.output_dir if _r else None,
                                 include_examples=report_examples.value, redact=report_redact.value)
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**No report.** {_e}"), kind="danger"))
    mo.vstack([mo.callout(mo.md(f"Wrote `{_path}`"), kind="success"),
               mo.download(_path.read_bytes(), filename=_path.name, mimetype="text/html", label="Download the report")])
    return


if __name__ == "__main__":
    app.run()
