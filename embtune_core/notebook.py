"""The plumbing every notebook shares: open the project or stop with the message, the stale-artifact
banner, and the "Export report" controls. The only module of embtune that imports marimo; the logic it
calls lives in the step packages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import marimo as mo

from .core.errors import EmbtuneError
from .core.project import Project
from .core.project import open_project as _open_project


def cli_arg(name: str):
    """A ``--name value`` given after the notebook's path (``python 04_train.py --train 1``), or ``None``
    (also when a cell runs outside a notebook run, as ``cell.run()`` in tests)."""
    from marimo._runtime.context.types import ContextNotInitializedError

    try:
        return mo.cli_args().get(name)
    except ContextNotInitializedError:
        return None


def open_project(*load: str) -> Project:
    """The project of ``--project`` (else ``$EMBTUNE_PROJECT``, else the sample), with the named inputs
    (``"corpus"``, ``"eval_set"``) loaded now. A bad project stops the cell with its one-line message.
    ``"eval_set"`` loads the eval set when the project has one (a project may have only docs so far:
    :func:`require_eval_set` stops a step that cannot go without it)."""
    try:
        project = _open_project(cli_arg("project"))
        for name in load:
            if name != "eval_set" or project.has_eval_set:
                getattr(project, name)
    except EmbtuneError as e:
        mo.stop(True, mo.callout(mo.md(f"**Cannot load the project.** {e}"), kind="danger"))
    return project


def eval_set_callout(project: Project, what: str):
    """A callout saying that ``what`` needs an eval set and how to judge one (nothing when there is one)."""
    if project.has_eval_set:
        return mo.md("")
    c = project.corpus
    return mo.callout(mo.md(
        f"**No eval set yet.** {what} Judge one in **step 3** first (notebook 03: type real questions, mark the "
        "articles that answer them), or `embtune judge --project embtune.toml --query \"...\" --list`. "
        f"This project has {c.docs.height} articles ({c.sections.height} retrieval units) and base model "
        f"`{project.config.model.base}`; steps 2, 4 and 6 work without an eval set."), kind="warn")


def require_eval_set(project: Project, what: str) -> None:
    """Stop the cell, and every cell that reads its names, with :func:`eval_set_callout` when the project
    has no eval set yet, or with the loader's one-line message when the set there is malformed."""
    mo.stop(not project.has_eval_set, eval_set_callout(project, what))
    try:
        _ = project.eval_set  # a malformed set: its one-line message
    except EmbtuneError as e:
        mo.stop(True, mo.callout(mo.md(f"**Cannot load the eval set.** {e}"), kind="danger"))


def stale_banner(project: Project):
    """A warning that lists the artifacts whose inputs changed since they were made (nothing if none)."""
    text = project.stale_markdown()
    return mo.callout(mo.md(text), kind="warn") if text else mo.md("")


def report_controls(holds: str):
    """The "Share the results" widgets: (export button, include-examples box, scrub box, their layout).
    ``holds`` says which run the report shows."""
    examples = mo.ui.checkbox(value=True, label="include example queries and titles")
    redact = mo.ui.checkbox(value=True, label="scrub personal data (emails, phones, names)")
    button = mo.ui.run_button(label="Export report")
    view = mo.vstack([mo.md("## Share the results\n\nOne HTML file that renders offline, with no code, scripts or "
                            f"network (a `marimo export html` file needs internet to show anything). {holds}"),
                      mo.hstack([examples, redact, button], justify="start", gap=2)])
    return button, examples, redact, view


def export_report(project: Project, label: str, button, examples, redact, *, run: str | Path | None = None):
    """Write the report when ``button`` was pressed and offer it for download (stops the cell otherwise)."""
    from .report import report_path, write_report

    mo.stop(not button.value)
    try:
        with mo.status.spinner(title="Writing the report (embeddings come from the cache)"):
            path = write_report(project, report_path(project, label), run=run, include_examples=examples.value,
                                redact=redact.value)
    except EmbtuneError as e:
        mo.stop(True, mo.callout(mo.md(f"**No report.** {e}"), kind="danger"))
    return mo.vstack([mo.callout(mo.md(f"Wrote `{path}`"), kind="success"),
                      mo.download(path.read_bytes(), filename=path.name, mimetype="text/html",
                                  label="Download the report")])


def in_background(work: Callable[[], None], *, failed: str, live: dict | None = None) -> None:
    """Run long ``work`` (training) so the page stays usable.

    In the browser (``marimo edit`` / ``run``) it runs in a ``mo.Thread``: the kernel stays free, so a
    Stop button and every other widget answer meanwhile, and an :class:`EmbtuneError` becomes a callout
    headed ``failed``. Headless (a script, a test) it runs here, and errors propagate. ``live["state"]``
    (the run a Stop button steers) is cleared when the work ends."""
    threaded = mo.app_meta().mode in ("edit", "run")

    def run():
        try:
            work()
        except EmbtuneError as e:
            if not threaded:
                raise
            mo.output.replace(mo.callout(mo.md(f"**{failed}** {e}"), kind="danger"))
        finally:
            if live is not None:
                live["state"] = None

    if threaded:
        mo.Thread(target=run, daemon=True).start()
    else:
        run()


def cell_rerun() -> bool:
    """Inside :func:`in_background`'s thread: whether the cell that started it was re-run or interrupted
    (the work should stop). Always ``False`` headless."""
    thread = threading.current_thread()
    return isinstance(thread, mo.Thread) and thread.should_exit
