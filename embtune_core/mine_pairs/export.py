"""Export the reviewed training pairs as the tutorial's JSONL (plus provenance).

``{"query", "positive"}`` as in the tutorial, plus ``doc_id``, ``section_id``, ``source`` and
``pair_id``. Accepted and auto-accepted pairs only; pairs that leak into the eval set or into the
complaints list (which the ship gate checks) are dropped and reported. Written atomically and recorded in the manifest with its inputs. A project without an eval set
yet exports unaudited (``ExportReport.leakage`` is ``None``) and records that, so the pairs show as stale
once an eval set is judged: export again then.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..core.workspace import write_jsonl
from ..eval_set.leakage import LeakageReport, audit_held_out, drop_leaks
from .mine import filtered_candidates, review_store
from .review import ReviewStore, with_decisions

#: What ``embtune pairs export`` and notebook 02 say when there was no eval set to audit against.
NOT_AUDITED = "no eval set: not audited"


@dataclass(frozen=True)
class ExportReport:
    path: str
    per_source: dict[str, int]
    total: int
    #: The leakage audit against the eval set; ``None`` when the project has no eval set yet.
    leakage: LeakageReport | None
    #: The same audit against the complaints list; ``None`` when the project has none.
    complaints: LeakageReport | None = None

    @property
    def leaks_dropped(self) -> int:
        return self.leakage.leaks.height if self.leakage is not None else 0

    @property
    def complaint_leaks_dropped(self) -> int:
        return self.complaints.leaks.height if self.complaints is not None else 0


def export_pairs(project, filtered: pl.DataFrame, store: ReviewStore, encoder, out: str | Path | None = None,
                 *, threshold: float | None = None) -> ExportReport:
    """Write ``pairs.jsonl`` (default: ``workspace/pairs.jsonl``) and record it in the manifest."""
    final = with_decisions(filtered, store).filter(pl.col("final")).with_columns(pl.col("final_query").alias("query"))
    reports = audit_held_out(final.select("query", "doc_id", "source", "pair_id"),
                             project.eval_set if project.has_eval_set else None, project.complaints,
                             encoder=encoder, threshold=threshold or project.config.eval.leakage_threshold)
    report, complaints = reports.get("eval"), reports.get("complaints")
    clean = final
    for r in reports.values():
        clean = drop_leaks(clean, r)
    clean = clean.sort("source", "pair_id")
    out = Path(out) if out else project.workspace.path("pairs.jsonl")
    write_jsonl(out, ({"query": r["query"], "positive": r["positive"], "doc_id": r["doc_id"],
                       "section_id": r["section_id"], "source": r["source"], "pair_id": r["pair_id"]}
                      for r in clean.iter_rows(named=True)))
    hashes = project.input_hashes()
    project.workspace.record(
        "pairs", out, inputs={k: v for k, v in hashes.items() if k != "eval"}
        | {"eval": project.eval_set.sha256 if report is not None else "none"},
        config_hash=project.config.hash("filters", "mining"), model_fingerprint=encoder.fingerprint,
        extra={"per_source": dict(clean.group_by("source").len().iter_rows()),
               "leaks_dropped": report.leaks.height if report is not None else None,
               "complaint_leaks_dropped": complaints.leaks.height if complaints is not None else None})
    return ExportReport(path=str(out), per_source=dict(clean.group_by("source").len().sort("source").iter_rows()),
                        total=clean.height, leakage=report, complaints=complaints)


def export_project(project, *, out: str | Path | None = None, encoder=None) -> ExportReport:
    """Step 2's last move for a project: filter the candidates (mining first if needed), apply the review
    decisions and write ``pairs.jsonl`` (or ``out``)."""
    encoder = encoder or project.base_encoder()
    return export_pairs(project, filtered_candidates(project, encoder), review_store(project), encoder, out)
