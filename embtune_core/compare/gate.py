"""The ship gate: one rule, set in ``[gate]``, shown by compare and enforced by promote.

By default a tuned model passes when the paired-bootstrap 95% lower bound of its Recall@5 and MRR@10
deltas against the baseline is >= -0.01 (it is not credibly worse), and no complaint query loses a
relevant article from its top 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.config import GateConfig
from ..core.evaluate import EvalResult
from ..core.stats import PairedDelta, paired_by_query


@dataclass(frozen=True)
class Complaints:
    """The complaints list evaluated under both retrievers, with its judgments."""

    base: EvalResult
    tuned: EvalResult
    relevant: dict


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reasons: list[str]
    deltas: list[PairedDelta]
    complaint_losses: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        return ("PASS: " if self.passed else "FAIL: ") + "; ".join(self.reasons)


def complaint_losses(base: EvalResult, tuned: EvalResult, relevant: dict, k: int = 3) -> list[dict]:
    """Complaint queries whose top-k lost a relevant article the base model had there."""
    out = []
    for qid, rel in relevant.items():
        had = {d for d, _ in base.ranking.get(qid, [])[:k]} & rel
        has = {d for d, _ in tuned.ranking.get(qid, [])[:k]} & rel
        if had - has:
            out.append({"query_id": qid, "lost": sorted(had - has)})
    return out


def check(base: EvalResult, tuned: EvalResult, cfg: GateConfig, *, complaints: Complaints | None = None
          ) -> GateVerdict:
    metrics = (f"recall@{cfg.recall_k}", f"mrr@{cfg.mrr_k}")
    deltas, reasons, passed = [], [], True
    for m in metrics:
        d = paired_by_query(base.per_query, tuned.per_query, m)
        deltas.append(d)
        ok = d.ci_low >= cfg.min_delta_ci_low
        passed &= ok
        reasons.append(f"{m} {d.base:.3f} -> {d.tuned:.3f} (delta {d.delta:+.3f}, 95% CI [{d.ci_low:+.3f}, "
                       f"{d.ci_high:+.3f}]) {'ok' if ok else f'lower bound below {cfg.min_delta_ci_low:+.2f}'}")
    losses = []
    if complaints is not None and complaints.relevant:
        losses = complaint_losses(complaints.base, complaints.tuned, complaints.relevant, cfg.complaints_top_k)
        if losses:
            passed = False
            reasons.append(f"{len(losses)} complaint queries lost a relevant article from their top "
                           f"{cfg.complaints_top_k}")
        else:
            reasons.append(f"no complaint query lost a relevant article from its top {cfg.complaints_top_k}")
    return GateVerdict(passed=passed, reasons=reasons, deltas=deltas, complaint_losses=losses)
