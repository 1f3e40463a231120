"""How many pairs do I need? A learning curve: the same run on 25 / 50 / 100% of the pairs.

Every point trains with the full plan's settings and seed on a nested, seeded subset of the pairs (the
25% are inside the 50%), drawn by query group so near-duplicate queries stay together, and is measured
on the project's eval set with a 95% bootstrap interval. The last two points are compared query by
query (a paired interval), which is what :meth:`LearningCurve.advice` reads: still rising, so more
pairs are worth mining and reviewing; flat, so more of the same will not help; or falling, so the
added pairs hurt.

The eval set only measures here: checkpoints are still chosen on each run's validation split.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..core.errors import InputError
from ..core.retrievers import RetrieverSpec, evaluate_retriever
from ..core.stats import interval, metric_cis, paired_by_query
from ..core.text import query_groups
from ..core.workspace import write_jsonl
from .run import Run, TrainPlan, new_run_id, train_run
from .trainer import TrainState

FRACTIONS = (0.25, 0.5, 1.0)
METRICS = ("recall@5", "mrr@10")


@dataclass(frozen=True)
class CurvePoint:
    """One run of the curve: its share of the pairs and what it measured (value, 95% interval)."""

    fraction: float
    pairs: int
    run: str
    retriever: str
    metrics: dict[str, float]
    cis: dict[str, tuple[float, float]]
    per_query: pl.DataFrame = dataclasses.field(repr=False, compare=False)


@dataclass(frozen=True)
class LearningCurve:
    """The curve's points (fewest pairs first) and the base retriever for reference."""

    points: list[CurvePoint]
    base: CurvePoint

    def rows(self) -> list[dict]:
        """One row per point (the base first, at 0 pairs), for a table or a chart."""
        return [{"fraction": p.fraction, "pairs": p.pairs, "retriever": p.retriever, "run": p.run,
                 **{m: round(p.metrics[m], 4) for m in METRICS},
                 **{f"{m}_low": round(p.cis[m][0], 4) for m in METRICS},
                 **{f"{m}_high": round(p.cis[m][1], 4) for m in METRICS}}
                for p in (self.base, *self.points)]

    def last_step(self, metric: str = "recall@5"):
        """The paired change from the second-to-last point to the last (a
        :class:`~embtune_core.core.stats.PairedDelta`); ``None`` with fewer than two points."""
        if len(self.points) < 2:
            return None
        return paired_by_query(self.points[-2].per_query, self.points[-1].per_query, metric)

    def advice(self, metric: str = "recall@5") -> str:
        """What the last step of the curve says about getting more pairs, in plain words."""
        step = self.last_step(metric)
        if step is None:
            return "Train on at least two shares of the pairs to see a trend."
        a, b = self.points[-2], self.points[-1]
        moved = (f"from {a.pairs:,} to {b.pairs:,} pairs, {metric} moved {step.delta:+.3f} "
                 f"{interval(step.ci_low, step.ci_high, 3)}")
        if step.delta > 0 and step.ci_low >= 0:  # no resample of the queries saw a loss
            return (f"Still rising: {moved}. More pairs are likely to help: mine more signals, or review and "
                    "accept more candidates in step 2.")
        if step.ci_high < 0:
            return (f"Falling: {moved}. The added pairs hurt: review their quality in step 2 (filters, "
                    "ambiguous headings, LLM queries) before adding more.")
        return (f"Flat within noise: {moved}. More pairs of the same kind are unlikely to help; better ones "
                "might (review the queue, harder negatives), or a larger eval set would show smaller gains.")


def subsample(pairs: pl.DataFrame, fraction: float, seed: int) -> pl.DataFrame:
    """A seeded share of ``pairs``, whole query groups at a time; nested across fractions for one seed."""
    if not 0 < fraction <= 1:
        raise InputError(f"a learning-curve share must be in (0, 1], got {fraction}")
    if fraction == 1:
        return pairs
    groups = query_groups(pairs["query"].to_list())
    order = sorted(set(groups))
    random.Random(seed).shuffle(order)
    size = Counter(groups)
    want, keep, n = round(pairs.height * fraction), set(), 0
    for g in order:
        if n >= want:
            break
        keep.add(g)
        n += size[g]
    return pairs.filter(pl.Series([g in keep for g in groups]))


def learning_curve(p: TrainPlan, *, fractions: tuple[float, ...] = FRACTIONS, retriever: str = "dense",
                   reuse: dict[float, str | Path] | None = None, models: dict | None = None,
                   state_for: Callable[[float], TrainState | None] | None = None,
                   log: Callable[[str], None] = print) -> LearningCurve:
    """Train ``p`` on each share of its pairs and measure each run on the project's eval set.

    ``retriever``: ``"dense"`` (the tuned model alone) or ``"hybrid"`` (fused with BM25, as step 1 may
    carry forward). ``reuse``: runs already trained with this plan, by share (e.g. ``{1.0: run_dir}``
    for the run notebook 04 just trained). ``state_for(share)`` gives each run's :class:`TrainState`
    (progress, Stop); a stopped run ends the curve early with the points so far."""
    project = p.project
    if project is None or not project.has_eval_set:
        raise InputError("a learning curve measures each run on the eval set: judge one first (step 3)")
    if retriever not in ("dense", "hybrid"):
        raise InputError(f"learning-curve retriever must be 'dense' or 'hybrid', got {retriever!r}")
    models = {} if models is None else models
    reuse = {float(k): str(v) for k, v in (reuse or {}).items()}

    def measure(fraction: float, n: int, model: str) -> CurvePoint:
        spec = RetrieverSpec(retriever, model)
        res = evaluate_retriever(project.retriever(spec, models=models), project.corpus, project.eval_set)
        return CurvePoint(fraction, n, model, str(spec), {m: res.metrics[m] for m in METRICS},
                          metric_cis(res.per_query, METRICS), res.per_query)

    base = measure(0.0, 0, p.config.base_model)
    points = []
    for fraction in sorted(fractions):
        subset = subsample(p.pairs, fraction, p.config.seed)
        if fraction in reuse:
            run_dir = reuse[fraction]
        else:
            log(f"learning curve: training on {fraction:.0%} of the pairs ({subset.height:,})")
            name = f"curve{round(fraction * 100)}"
            if p.config.output_dir:
                out, subset_file = Path(p.config.output_dir) / name, Path(p.config.output_dir) / f"{name}.pairs.jsonl"
            else:
                out = project.workspace.path("runs", f"{new_run_id()}-{name}")
                subset_file = project.workspace.path("curves", f"{out.name}.pairs.jsonl")
            # the run records the file it trained on (path and hash): the subset, not the whole pairs file
            subset_file.parent.mkdir(parents=True, exist_ok=True)
            write_jsonl(subset_file, subset.to_dicts())
            sub = dataclasses.replace(p, pairs=subset, pairs_path=subset_file,
                                      config=dataclasses.replace(p.config, output_dir=str(out)))
            state = state_for(fraction) if state_for else None
            run: Run = train_run(sub, state=state, started_by="learning curve", log=log)
            if run.result.stopped_early:
                log(f"learning curve: the {fraction:.0%} run was stopped; the curve ends here")
                break
            run_dir = str(run.path)
        points.append(measure(fraction, subset.height, run_dir))
    return LearningCurve(points, base)
