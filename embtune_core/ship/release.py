"""Step 6: the aliases. Point ``candidate`` at a collection, promote it to ``live`` behind the ship gate,
roll back.

:func:`promote` (candidate -> live, behind the ship gate; ``force`` is recorded) and :func:`rollback`
(live -> its previous collection) each move the aliases in one transaction. Every step appends an event
to ``workspace/shipping.json`` (written atomically), which the report reads.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json

from ..compare.comparison import compare_runs
from ..core.errors import GateError, StoreError
from ..core.workspace import write_json
from .collection import BuildResult, collection_settings
from .store import CollectionInfo

SHIPPING = "shipping.json"


def history(project) -> list[dict]:
    """Every ship / alias event of the project, oldest first."""
    p = project.workspace.path(SHIPPING)
    return json.loads(p.read_text(encoding="utf-8"))["events"] if p.exists() else []


def _log(project, action: str, info: CollectionInfo | None, *, alias: str | None = None, forced: bool = False,
         gate=None, note: str = "") -> dict:
    event = {"time": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "action": action,
             "collection": info.name if info else None, "alias": alias, "model": info.model if info else "",
             "retriever": info.retriever if info else "",
             "fingerprint": info.fingerprint if info else "", "forced": forced,
             "gate": {"passed": gate.passed, "reasons": list(gate.reasons)} if gate is not None else None,
             "note": note}
    with project.workspace.locked():
        events = history(project) + [event]
        write_json(project.workspace.path(SHIPPING), {"events": events})
    project.workspace.record("shipping", project.workspace.path(SHIPPING), extra={"last": event})
    return event


def record_build(project, result: BuildResult) -> None:
    if result.created:
        _log(project, "ship", result.info, note=result.summary())


def set_candidate(project, store, name: str) -> None:
    """Point the ``candidate`` alias at collection ``name`` (the arm an A/B share is routed to)."""
    store.set_alias("candidate", name, note="candidate")
    _log(project, "candidate", store.get(name), alias="candidate")


def collection_retriever(project, info: CollectionInfo, *, model: str | None = None, models: dict | None = None):
    """The in-memory retriever that ranks like collection ``info`` (or, with ``model``, the same kind over
    another model): its model, fused with BM25 under the collection's own stored settings when it is hybrid."""
    from ..core.project import Project

    model = model or info.model
    settings = collection_settings(info)
    if settings is None:
        return project.retriever(model, models=models)
    lexical, hybrid = settings
    p = project
    if (lexical, hybrid) != (project.config.lexical, project.config.hybrid):
        p = Project(dataclasses.replace(project.config, lexical=lexical, hybrid=hybrid))
    return p.retriever(f"hybrid:{model}", models=models, corpus=project.corpus)


def gate_verdict(project, live: CollectionInfo | None, candidate: CollectionInfo):
    """The ship gate of ``candidate``'s retriever (``hybrid:<model>`` or the model, from its registry row)
    against the live collection's retriever, or, with nothing live, the same kind over the project's base
    model: :func:`~embtune_core.compare.compare_runs` on the eval set and the complaints."""
    models: dict = {}
    cand = collection_retriever(project, candidate, models=models)
    _same_model(candidate, cand)
    base = (collection_retriever(project, live, models=models) if live is not None
            else collection_retriever(project, candidate, model=project.config.model.base, models=models))
    if live is not None:
        _same_model(live, base)
    return compare_runs(project, base, cand, models=models).verdict(project.config.gate)


def _same_model(info: CollectionInfo, retriever) -> None:
    """The gate must judge the weights whose vectors the collection holds: a run folder retrained in place
    since the collection was built would otherwise gate new weights while the old vectors go live."""
    if retriever.fingerprint != info.fingerprint:
        raise StoreError(f"collection {info.name!r} was encoded by {info.model} with fingerprint {info.fingerprint}, "
                         f"but the model there now has fingerprint {retriever.fingerprint} (retrained or replaced "
                         "in place?): re-ship it into a new collection before promoting")


def promote(project, store, *, force: bool = False, verdict=None) -> dict:
    """Make the candidate live, in one transaction, if it passes the ship gate (or ``force``, recorded)."""
    cand_name = store.get_alias("candidate")
    if cand_name is None:
        raise StoreError("no candidate to promote: point the 'candidate' alias at a collection first "
                         "(embtune ship ... --candidate)")
    cand = store.get(cand_name)
    live_name = store.get_alias("live")
    if live_name == cand_name:
        raise StoreError(f"{cand_name} is already live")
    live = store.get(live_name) if live_name else None
    verdict = verdict or gate_verdict(project, live, cand)
    if not verdict.passed and not force:
        raise GateError(f"{cand_name} fails the ship gate: " + "; ".join(verdict.reasons)
                        + ". Fix it, or promote with --force (recorded in the shipping log)")
    # compare-and-swap: the gate takes a while, and another promote may have run meanwhile
    store.swap({"live": cand_name, "candidate": None}, expect={"live": live_name, "candidate": cand_name},
               note="promote (forced)" if force and not verdict.passed else "promote")
    return _log(project, "promote", cand, alias="live", forced=force and not verdict.passed, gate=verdict,
                note=f"live was {live_name or 'unset'}")


def rollback(project, store) -> dict:
    """Point ``live`` back at the collection it pointed to before, in one transaction.

    One step only: the rolled-back collection is not remembered, so a second rollback is refused rather
    than putting it live again without the gate.
    """
    live_name = store.get_alias("live")
    prev = store.previous("live")
    if live_name is None or prev is None or store.get(prev) is None:
        raise StoreError("nothing to roll back to: 'live' has no previous collection")
    store.swap({"live": prev}, expect={"live": live_name}, note=f"rollback from {live_name}", remember=False)
    return _log(project, "rollback", store.get(prev), alias="live", note=f"rolled back from {live_name}")
