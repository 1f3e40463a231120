import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="embtune · 4 · fine-tune")

with app.setup:
    import dataclasses

    import altair as alt
    import marimo as mo
    import polars as pl

    from embtune_core import EmbtuneError, WorkspaceError
    from embtune_core import notebook as nb
    from embtune_core.core.models import cuda_available
    from embtune_core.eval_set import carried_retriever
    from embtune_core.train import (
        TrainState,
        describe_random_negatives,
        estimate_seconds,
        learning_curve,
        plan,
        train_run,
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
    project = nb.open_project("corpus")
    try:
        # the same plan `embtune train` and `embtune run` make: [train] of the project, defaults for the rest
        default_plan = plan(project, log=lambda m: None)
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Cannot plan a run.** {_e}"),
                                 kind="warn" if isinstance(_e, WorkspaceError) else "danger"))
    pairs = default_plan.pairs
    return default_plan, pairs, project


@app.cell(hide_code=True)
def _(project):
    nb.eval_set_callout(project, "You can train without one, but step 5 cannot tell whether the tuned model is "
                        "better, and the pairs were exported without a leakage audit. Judge it before training, so "
                        "the set is never shaped by what the model learned.")
    return


@app.cell(hide_code=True)
def _(pairs, project):
    _per = pairs.group_by("source").len().sort("source")
    mo.vstack([
        nb.stale_banner(project),
        mo.md(f"## Data: {pairs.height} pairs · device: **{'CUDA GPU' if cuda_available() else 'CPU'}**"),
        mo.ui.table(_per, selection=None, label="pairs per source"),
    ])
    return


@app.cell(hide_code=True)
def _(default_plan):
    _d = default_plan.config
    train_form = mo.md(
        "{epochs} {batch_size} {learning_rate} {max_seq_length}  \n{hard_negatives} {general_share} {loss} {max_steps}"
    ).batch(
        epochs=mo.ui.number(start=0.25, stop=10, step=0.25, value=_d.epochs, label="epochs"),
        batch_size=mo.ui.number(start=4, stop=512, step=4, value=_d.batch_size, label="batch size"),
        learning_rate=mo.ui.number(start=1e-6, stop=1e-3, step=1e-6, value=_d.learning_rate, label="learning rate"),
        max_seq_length=mo.ui.number(start=32, stop=512, step=32, value=_d.max_seq_length, label="max tokens"),
        hard_negatives=mo.ui.number(start=0, stop=5, value=_d.hard_negatives, label="hard negatives per pair"),
        general_share=mo.ui.slider(0.0, 0.3, step=0.05, value=_d.general_share, show_value=True,
                                   disabled=not _d.general_pairs, label="general-domain share"),
        loss=mo.ui.dropdown(["mnrl", "cached_mnrl"], value=_d.loss, label="loss"),
        max_steps=mo.ui.number(start=-1, stop=100000, value=_d.max_steps, label="max steps (-1: no cap)"),
    ).form(submit_button_label="Use these settings", bordered=True)
    mo.vstack([mo.md("## Settings (from `[train]` in `embtune.toml`, the rest chosen from data size and device; "
                     "see `TrainConfig.defaults`)"), train_form])
    return (train_form,)


@app.cell
def _(default_plan, project, train_form):
    _v = train_form.value or {}
    _types = {"epochs": float, "learning_rate": float, "general_share": float, "loss": str}
    try:
        train_plan = plan(project, {k: _types.get(k, int)(v) for k, v in _v.items()},
                          log=lambda m: None) if _v else default_plan
    except EmbtuneError as _e:
        mo.stop(True, mo.callout(mo.md(f"**Invalid settings.** {_e}"), kind="danger"))
    _c = train_plan.config
    _eta = estimate_seconds(train_plan.pairs, project.corpus, _c)
    mo.md(f"**Estimated time: ~{_eta / 60:.1f} minutes** (timed on a few real steps) for {_c.epochs:g} epoch(s), "
          f"batch {_c.batch_size}, {_c.max_seq_length} tokens, {_c.hard_negatives} hard negative(s).")
    return (train_plan,)


@app.cell(hide_code=True)
def _():
    train_btn = mo.ui.run_button(label="Train", kind="success")
    live = {"state": None}  # the run in progress, for the Stop button

    def _stop(_):
        if live["state"] is not None:
            live["state"].request_stop()

    stop_btn = mo.ui.button(label="Stop", kind="danger", value=0, on_click=lambda n: n + 1, on_change=_stop,
                            tooltip="end after the current step and keep the best model so far")
    get_result, set_result = mo.state(None)
    mo.hstack([train_btn, stop_btn], justify="start")
    return get_result, live, set_result, train_btn


@app.cell
def train_model(live, set_result, train_btn, train_plan):
    _run_now = train_btn.value or str(nb.cli_arg("train")) == "1"
    mo.stop(not _run_now, mo.md("Press **Train** to fine-tune. The result stays here when other widgets change."))
    _state = TrainState()
    live["state"] = _state
    _plan = train_plan
    if nb.cli_arg("max-steps"):  # headless smoke runs: python 04_train.py --train 1 --max-steps 4
        _plan = dataclasses.replace(_plan, config=dataclasses.replace(_plan.config,
                                                                      max_steps=int(nb.cli_arg("max-steps"))))

    def _show(s, note=""):
        _head = (f"**Training:** step {s.step}/{s.total_steps}" if s.total_steps else
                 "**Training:** preparing (hard negatives, validation split) ...")
        if s.eta_seconds():
            _head += f", ~{s.eta_seconds() / 60:.1f} min left"
        _parts = [mo.md(_head + note)]
        if s.losses:
            _parts.append(alt.Chart(pl.DataFrame(s.losses, schema=["step", "loss"], orient="row"))
                          .mark_line(point=True).encode(x="step:Q", y="loss:Q")
                          .properties(width=560, height=220, title="training loss"))
        mo.output.replace(mo.vstack(_parts))

    def _update(s):
        if nb.cell_rerun():
            s.request_stop("the cell was re-run")
        if s.stop.is_set():
            _show(s, " — stopping after this step ...")
        elif s.step % 2 == 0 or s.step == s.total_steps:
            _show(s)

    _state.on_update = _update

    def _work():  # in the browser, in a background thread: Stop answers while it runs
        _show(_state)
        _run = train_run(_plan, state=_state, started_by="notebook 04", log=lambda m: None)
        mo.output.replace(mo.md(f"**Done** in {_run.result.seconds:.0f} s"
                                + (f" (stopped at step {_run.result.steps}: {_run.result.stop_reason})"
                                   if _run.result.stopped_early else "") + "."))
        set_result(_run.result)

    nb.in_background(_work, failed="Training failed.", live=live)
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
    _negatives = describe_random_negatives(result.stats)
    if _negatives:
        _warn.append(mo.callout(mo.md(f"**Hard negatives.** {_negatives}"), kind="info"))
    _stopped = f" (stopped early: {result.stop_reason})" if result.stopped_early else ""
    _val = (f"; validation passes took {result.validation_seconds:.0f} s "
            f"({result.validation_seconds / result.seconds:.0%} of the run)" if result.seconds else "")
    mo.vstack([mo.md(f"## Result: `{result.output_dir}` — {result.steps} steps in {result.seconds:.0f} s{_stopped}, "
                     f"best checkpoint `{result.best_checkpoint}`{_val}"), mo.hstack([_loss, _mrr]), *_warn])
    return (result,)


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## How many pairs do I need?

    The same run on 25% and 50% of the pairs (same settings, same seed, nested subsets), next to the run
    above as 100%, each measured on the eval set with its 95% interval. A curve still rising says more
    mining and review will pay; a flat one says more of the same will not. It trains two more runs
    (about three quarters of the time the run above took).
    """)
    curve_btn = mo.ui.run_button(label="Draw the learning curve")
    curve_btn
    return (curve_btn,)


@app.cell
def learning_curve_cell(curve_btn, get_result, live, project, train_plan):
    mo.stop(not curve_btn.value, None)
    _full = get_result()
    mo.stop(_full is None or _full.stopped_early,
            mo.callout("Train a full run first (above): it is the curve's 100% point.", kind="warn"))
    nb.require_eval_set(project, "The learning curve measures each run on it.")
    _kind = "hybrid" if carried_retriever(project).startswith("hybrid:") else "dense"

    def _state(share):
        s = TrainState()
        live["state"] = s  # the Stop button above stops the curve's runs too

        def _update(st):
            if nb.cell_rerun():
                st.request_stop("the cell was re-run")
            if st.total_steps and st.step % 2 == 0:
                mo.output.replace(mo.md(f"**Learning curve:** {share:.0%} of the pairs, step {st.step}/"
                                        f"{st.total_steps}"))
        s.on_update = _update
        return s

    def _work():
        curve = learning_curve(train_plan, retriever=_kind, reuse={1.0: _full.output_dir}, state_for=_state,
                               log=lambda m: None)
        _rows = pl.DataFrame(curve.rows())
        _base = alt.Chart(_rows).encode(x=alt.X("pairs:Q", title="training pairs"))
        _band = _base.mark_area(opacity=0.25).encode(y=alt.Y("recall@5_low:Q", title="Recall@5",
                                                             scale=alt.Scale(zero=False)), y2="recall@5_high:Q")
        _line = _base.mark_line(point=True).encode(y="recall@5:Q", tooltip=["pairs", "recall@5", "recall@5_low",
                                                                           "recall@5_high", "mrr@10"])
        _chart = (_band + _line).properties(width=560, height=260, title=f"learning curve ({_kind} retriever, "
                                                                         "95% band; 0 pairs = the base model)")
        _table = _rows.select("pairs", "recall@5", "recall@5_low", "recall@5_high", "mrr@10", "mrr@10_low",
                              "mrr@10_high")
        mo.output.replace(mo.vstack([_chart, mo.callout(mo.md(curve.advice()), kind="info"),
                                     mo.ui.table(_table, selection=None)]))

    nb.in_background(_work, failed="Learning curve failed.", live=live)
    return


@app.cell(hide_code=True)
def _():
    report_btn, report_examples, report_redact, _view = nb.report_controls(
        "It holds the run trained here (else the newest run) against the baseline.")
    _view
    return report_btn, report_examples, report_redact


@app.cell
def report_export(get_result, project, report_btn, report_examples, report_redact):
    _r = get_result()
    nb.export_report(project, "04_train", report_btn, report_examples, report_redact,
                     run=_r.output_dir if _r else None)


if __name__ == "__main__":
    app.run()
