"""Step 6: A/B test a re-encoded vector collection against the live one.

:func:`assign` buckets each user into ``live`` or ``candidate`` (a stable hash, so the same user
always sees the same collection); the search front end logs one event per search; :func:`load_events`
reads that log strictly; :func:`analyze` compares the arms and says in plain words what to do next;
:func:`sample_size` says how many searches a test needs before it can see a given change.

Each experiment gets its own salt: ``[abtest] salt`` when set, else :func:`experiment_salt` derives one
from the candidate collection's name, so a new candidate reshuffles users. Given the share,
:func:`analyze` checks the log against :func:`assign` (events in the wrong arm, users in both arms, a
sample-ratio mismatch) and says so first in its decision.

Search-event schema (:data:`EVENT_FIELDS`): JSON Lines, one object per search, keys not listed ignored.
``ts`` ISO-8601 timestamp (no offset: UTC); ``user_id`` str; ``search_id`` str, unique; ``arm`` ``"live"``
or ``"candidate"``; ``collection`` str, the vector collection that served it; ``query`` str; ``results``
doc ids shown, best first; ``clicks`` ``[{"doc_id": str, "rank": int, "dwell_s": float}]`` in click
order, ``[]`` for none, ``rank`` 1-based and pointing at ``doc_id`` in ``results``, ``dwell_s`` optional.

Metrics, per arm: **top-result CTR** (share of searches with a click on rank 1; higher is better),
**zero-click rate** (share of searches with no click; lower is better) and **MRR** (reciprocal rank of
the best-ranked click, 0 without one).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import altair as alt
import numpy as np
import polars as pl

from ..core.errors import ConfigError, InputError
from ..core.sources import _parse_json_object, _require_str, iter_jsonl

ARMS = ("live", "candidate")
METRICS = {"top_ctr": "top-result CTR", "zero_click": "zero-click rate", "mrr": "MRR (best click)"}
EVENT_FIELDS: dict[str, str] = {
    "ts": 'ISO-8601 timestamp, e.g. "2026-11-28T09:14:03Z" (no offset: UTC)',
    "user_id": "string; the unit that was bucketed",
    "search_id": "string, unique across the file",
    "arm": '"live" or "candidate"',
    "collection": "string; name of the vector collection that served the search",
    "query": "string; what the user typed",
    "results": "list of doc id strings shown, best first (may be empty)",
    "clicks": 'list of {"doc_id": str, "rank": int (1-based, must point at doc_id in results), '
              '"dwell_s": float (optional)} in click order; [] when nothing was clicked',
}
CLICK_FIELDS = ("doc_id", "rank", "dwell_s")
_SCHEMA = {"ts": pl.Datetime("us", "UTC"), "user_id": pl.String, "search_id": pl.String, "arm": pl.String,
           "collection": pl.String, "query": pl.String, "results": pl.List(pl.String),
           "clicks": pl.List(pl.Struct({"doc_id": pl.String, "rank": pl.Int64, "dwell_s": pl.Float64})),
           "line": pl.Int64}


def _check_share(share: object, name: str = "share", *, open_interval: bool = False) -> float:
    ok = isinstance(share, int | float) and not isinstance(share, bool)
    if not ok or not (0 < share < 1 if open_interval else 0 <= share <= 1):
        raise ConfigError(f"{name} must be a number in {'(0, 1)' if open_interval else '[0, 1]'}, got {share!r}")
    return float(share)


def assign(user_id: str, *, salt: str, share: float = 0.10) -> str:
    """``"candidate"`` or ``"live"`` for one user, deterministically.

    ``sha256(salt + ":" + user_id)`` is read as a number ``u`` in [0, 1) and the user is in the
    candidate arm when ``u < share``. The same user always lands in the same arm; a new salt reshuffles
    everyone (use one per experiment); raising ``share`` only moves users from live to candidate.
    """
    share = _check_share(share)
    if not isinstance(salt, str) or not salt:
        raise ConfigError("salt must be a non-empty string (one per experiment)")
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    u = (int.from_bytes(digest[:8], "big") >> 11) / 2.0**53  # 53 bits: exact in a float, never 1.0
    return "candidate" if u < share else "live"


def experiment_salt(salt: str, candidate_collection: str) -> str:
    """The salt of one experiment: ``salt`` (``[abtest] salt``) when set, else ``embtune-ab:<candidate
    collection>``, so every candidate collection buckets users afresh."""
    if salt:
        return salt
    if not candidate_collection:
        raise ConfigError("no salt: set [abtest] salt, or name the candidate collection it derives from")
    return f"embtune-ab:{candidate_collection}"


# --------------------------------------------------------------------------------------------------
# The event log


def load_events(path: str | Path, *, fields: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Read a JSONL search-event log (schema in the module docstring) into one row per search.

    Strict: the first problem raises :class:`InputError` naming the file, line and field (malformed
    JSON, a missing or misspelt field, a wrong type, an unknown arm, a bad timestamp, a click whose rank
    does not point at its doc, a duplicate ``search_id``). ``fields`` maps schema names (including the
    click keys ``doc_id``, ``rank``, ``dwell_s``) to the names your export uses. Columns: the schema's
    fields plus ``line``; ``ts`` is a UTC datetime; ``query`` is scrubbed of personal data and secrets
    (:func:`~embtune_core.core.privacy.scrub`), so wherever events are shown no typed e-mail or key is.
    """
    from ..core.privacy import scrub

    path = Path(path)
    names = dict(fields or {})
    unknown = sorted(set(names) - set(EVENT_FIELDS) - set(CLICK_FIELDS))
    if unknown:
        raise ConfigError(f"unknown event field(s) in the fields mapping: {', '.join(unknown)}")
    if not path.exists():
        raise InputError("events file not found", path=path)
    key = {f: names.get(f, f) for f in (*EVENT_FIELDS, *CLICK_FIELDS)}
    allowed = tuple(key[f] for f in EVENT_FIELDS)
    rows: list[dict] = []
    seen: dict[str, int] = {}
    for n, line in iter_jsonl(path):
        obj = _parse_json_object(path, n, line)
        row = {f: _require_str(obj, key[f], path, n, allowed=allowed)
               for f in ("ts", "user_id", "search_id", "arm", "collection", "query")}
        if row["arm"] not in ARMS:
            raise InputError(f'expected "live" or "candidate", got {json.dumps(row["arm"])}',
                             path=path, line=n, field=key["arm"])
        try:
            ts = _dt.datetime.fromisoformat(row["ts"])
        except ValueError:
            raise InputError(f"not an ISO-8601 timestamp: {row['ts']!r}", path=path, line=n, field=key["ts"]) from None
        row["ts"] = ts.replace(tzinfo=_dt.UTC) if ts.tzinfo is None else ts.astimezone(_dt.UTC)
        if row["search_id"] in seen:
            raise InputError(f"duplicate search_id {row['search_id']!r} (first seen at line {seen[row['search_id']]})",
                             path=path, line=n, field=key["search_id"])
        seen[row["search_id"]] = n
        row["results"] = _list(obj, key["results"], path, n)
        if not all(isinstance(d, str) and d for d in row["results"]):
            raise InputError("must be a list of non-empty doc id strings", path=path, line=n, field=key["results"])
        row["clicks"] = [_click(c, i, row["results"], key, path, n) for i, c in enumerate(_list(obj, key["clicks"], path, n))]
        row["line"] = n
        rows.append(row)
    if not rows:
        raise InputError("no events", path=path)
    for row in rows:
        row["query"] = scrub(row["query"])
    return pl.DataFrame(rows, schema=_SCHEMA)


def _list(obj: dict, k: str, path: Path, n: int) -> list:
    if k not in obj:
        raise InputError("missing field (use [] when empty)", path=path, line=n, field=k)
    if not isinstance(obj[k], list):
        raise InputError(f"must be a list, got {type(obj[k]).__name__}", path=path, line=n, field=k)
    return obj[k]


def _click(c: object, i: int, results: list[str], key: dict, path: Path, n: int) -> dict:
    where = f"{key['clicks']}[{i}]"
    if not isinstance(c, dict):
        raise InputError(f"expected an object, got {type(c).__name__}", path=path, line=n, field=where)
    doc = c.get(key["doc_id"])
    if not isinstance(doc, str) or not doc:
        raise InputError(f"must be a non-empty string, got {doc!r}", path=path, line=n, field=f"{where}.{key['doc_id']}")
    rank = c.get(key["rank"])
    f_rank = f"{where}.{key['rank']}"
    if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
        raise InputError(f"must be an integer >= 1 (1-based), got {rank!r}", path=path, line=n, field=f_rank)
    if rank > len(results) or results[rank - 1] != doc:
        shown = repr(results[rank - 1]) if rank <= len(results) else f"beyond the {len(results)} results shown"
        raise InputError(f"rank {rank} is {shown}, not {doc!r}", path=path, line=n, field=f_rank)
    dwell = c.get(key["dwell_s"])
    if dwell is not None and (not isinstance(dwell, int | float) or isinstance(dwell, bool) or not dwell >= 0):
        raise InputError(f"must be a number of seconds >= 0, got {dwell!r}", path=path, line=n,
                         field=f"{where}.{key['dwell_s']}")
    return {"doc_id": doc, "rank": rank, "dwell_s": None if dwell is None else float(dwell)}


# --------------------------------------------------------------------------------------------------
# How many searches


@dataclass(frozen=True)
class SampleSize:
    """Searches needed to detect ``baseline_rate -> target_rate`` (see :func:`sample_size`)."""

    baseline_rate: float
    target_rate: float
    share: float
    alpha: float
    power: float
    n_candidate: int
    n_live: int
    total: int
    days: int | None = None

    def summary(self) -> str:
        days = f", about {self.days} days" if self.days is not None else ""
        return (f"{self.n_candidate:,} candidate + {self.n_live:,} live searches ({self.total:,} total{days}) to detect "
                f"{self.baseline_rate:.3f} -> {self.target_rate:.3f} at alpha {self.alpha:g}, power {self.power:.0%}")


def sample_size(baseline_rate: float, min_effect: float, *, share: float = 0.10, alpha: float = 0.05,
                power: float = 0.8, relative: bool = False, daily_searches: float | None = None) -> SampleSize:
    """Searches per arm for a two-sided two-proportion z-test with unequal allocation.

    Unpooled normal-approximation formula: with ``p1 = baseline_rate`` (live), ``p2 = p1 + min_effect``
    (or ``p1 * (1 + min_effect)`` when ``relative``) and the candidate getting ``share`` of N searches,
    ``N = (z[1-alpha/2] + z[power])^2 * (p1(1-p1)/(1-share) + p2(1-p2)/share) / (p2-p1)^2``;
    ``n_candidate = ceil(share*N)``, ``n_live = ceil((1-share)*N)``. It treats searches as independent:
    if users search repeatedly, multiply by a design effect (:func:`analyze` measures one).
    """
    p1 = _check_share(baseline_rate, "baseline_rate", open_interval=True)
    share = _check_share(share, open_interval=True)
    alpha = _check_share(alpha, "alpha", open_interval=True)
    power = _check_share(power, "power", open_interval=True)
    if not isinstance(min_effect, int | float) or not math.isfinite(min_effect) or min_effect == 0:
        raise ConfigError(f"min_effect must be a non-zero number, got {min_effect!r}")
    p2 = p1 * (1 + min_effect) if relative else p1 + min_effect
    if not 0 < p2 < 1:
        raise ConfigError(f"baseline_rate {p1:g} with min_effect {min_effect:g} gives {p2:g}, outside (0, 1)")
    if daily_searches is not None and not daily_searches > 0:
        raise ConfigError(f"daily_searches must be > 0, got {daily_searches!r}")
    z = NormalDist().inv_cdf
    n = (z(1 - alpha / 2) + z(power)) ** 2 * (p1 * (1 - p1) / (1 - share) + p2 * (1 - p2) / share) / (p2 - p1) ** 2
    n_c, n_l = math.ceil(share * n), math.ceil((1 - share) * n)
    days = math.ceil((n_c + n_l) / daily_searches) if daily_searches else None
    return SampleSize(baseline_rate=p1, target_rate=p2, share=share, alpha=alpha, power=power,
                      n_candidate=n_c, n_live=n_l, total=n_c + n_l, days=days)


# --------------------------------------------------------------------------------------------------
# Analysis


@dataclass(frozen=True)
class ArmEstimate:
    """One metric in one arm with its interval (``wilson`` for rates, ``cluster bootstrap`` for MRR)."""

    arm: str
    metric: str
    value: float
    low: float
    high: float
    method: str


@dataclass(frozen=True)
class ArmDelta:
    """Candidate minus live for one metric, with a user-level cluster-bootstrap interval."""

    metric: str
    live: float
    candidate: float
    delta: float
    low: float
    high: float
    p_value: float
    design_effect: float


@dataclass(frozen=True)
class AbResult:
    """What :func:`analyze` found, and ``decision``: what to do next, in plain words."""

    estimates: dict[tuple[str, str], ArmEstimate]  # (arm, metric) ->
    deltas: dict[str, ArmDelta]  # metric ->
    searches: dict[str, int]
    users: dict[str, int]
    collections: dict[str, tuple[str, ...]]
    candidate_share: float
    level: float
    resamples: int
    decision: str
    #: What is wrong with the experiment itself (wrong arms, users in both arms, a sample-ratio mismatch):
    #: each one line, also said first in ``decision``. Empty when nothing was found.
    problems: tuple[str, ...] = ()

    def table(self) -> pl.DataFrame:
        """One row per metric: both arms with intervals, the difference with its interval, a p-value."""
        rows = []
        for m, d in self.deltas.items():
            live, cand = self.estimates["live", m], self.estimates["candidate", m]
            rows.append({"metric": d.metric, "live": live.value, "live_low": live.low, "live_high": live.high,
                         "candidate": cand.value, "candidate_low": cand.low, "candidate_high": cand.high,
                         "delta": d.delta, "delta_low": d.low, "delta_high": d.high, "p_value": d.p_value})
        return pl.DataFrame(rows)


def _wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def analyze(events: pl.DataFrame, *, level: float = 0.95, resamples: int = 2000, seed: int = 0,
            min_effect: float = 0.02, share: float | None = None, salt: str = "") -> AbResult:
    """Compare the arms of an event log (as from :func:`load_events`).

    Per arm: Wilson intervals for the two rates (they treat searches as independent). Differences
    (candidate - live) use a **user-level cluster bootstrap**: ``resamples`` seeded resamples of users
    with replacement, each taking all of a user's searches, because one user's searches are correlated;
    percentile interval at ``level``, and a two-sided normal-approximation p-value from the bootstrap
    standard error. Decision: *worse* when either the top-result CTR or the zero-click interval is
    clearly on the wrong side of 0, *wins* when either is clearly on the right side (and neither is worse),
    else :func:`sample_size` (times the measured design effect) for a ``min_effect`` CTR change.

    The experiment is checked first (:func:`check_assignment`): users seen in both arms always; given
    ``share`` (``[abtest] share``), also events whose arm is not ``assign(user, salt, share)`` (``salt``:
    :func:`experiment_salt`) and a sample-ratio mismatch. Problems go to ``problems`` and lead the decision.
    """
    level = _check_share(level, "level", open_interval=True)
    if not isinstance(resamples, int) or resamples < 100:
        raise ConfigError(f"resamples must be an integer >= 100, got {resamples!r}")
    missing = [c for c in ("user_id", "arm", "collection", "clicks") if c not in events.columns]
    if missing:
        raise InputError("events lack columns: " + ", ".join(missing), field=missing[0])
    ranks = pl.col("clicks").list.eval(pl.element().struct.field("rank"))
    per = events.select("user_id", "arm", top_ctr=ranks.list.contains(1).cast(pl.Float64),
                        zero_click=(pl.col("clicks").list.len() == 0).cast(pl.Float64),
                        mrr=(1.0 / ranks.list.min()).fill_null(0.0))
    searches = {a: per.filter(pl.col("arm") == a).height for a in ARMS}
    if not all(searches.values()):
        raise InputError(f"no searches in the {min(searches, key=searches.get)} arm", field="arm")
    users = {a: per.filter(pl.col("arm") == a)["user_id"].n_unique() for a in ARMS}
    naive_var = {(a, m): float(per.filter(pl.col("arm") == a)[m].var(ddof=0)) for a in ARMS for m in METRICS}
    collections = {a: tuple(sorted(events.filter(pl.col("arm") == a)["collection"].unique())) for a in ARMS}
    agg = (per.group_by("user_id", "arm").agg(pl.len().alias("n"), *(pl.col(m).sum() for m in METRICS))
           .with_columns(u=pl.col("user_id").rank("dense").cast(pl.Int64) - 1))
    n_users = int(agg["u"].max()) + 1
    sums = {}
    for a in ARMS:
        part = agg.filter(pl.col("arm") == a)
        for col in ("n", *METRICS):
            v = np.zeros(n_users)
            v[part["u"].to_numpy()] = part[col].to_numpy()
            sums[a, col] = v
    draws = {(a, m): [] for a in ARMS for m in METRICS}
    rng = np.random.default_rng(seed)
    chunk = max(1, 4_000_000 // n_users)
    for start in range(0, resamples, chunk):
        w = rng.multinomial(n_users, np.full(n_users, 1.0 / n_users), size=min(chunk, resamples - start)) * 1.0
        for a in ARMS:
            with np.errstate(invalid="ignore", divide="ignore"):  # a resample may miss an arm: nan, skipped
                n = w @ sums[a, "n"]
                for m in METRICS:
                    draws[a, m].append((w @ sums[a, m]) / n)
    draws = {k: np.concatenate(v) for k, v in draws.items()}
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    estimates, deltas = {}, {}
    for m in METRICS:
        val = {a: float(sums[a, m].sum() / searches[a]) for a in ARMS}
        for a in ARMS:
            if m == "mrr":
                lo, hi, how = *np.nanquantile(draws[a, m], q), "cluster bootstrap"
            else:
                lo, hi, how = *_wilson(round(sums[a, m].sum()), searches[a], level), "wilson"
            estimates[a, m] = ArmEstimate(a, m, val[a], float(lo), float(hi), how)
        diff = draws["candidate", m] - draws["live", m]
        d = val["candidate"] - val["live"]
        lo, hi = np.nanquantile(diff, q)
        se = float(np.nanstd(diff, ddof=1))
        p = 2 * (1 - NormalDist().cdf(abs(d) / se)) if se > 0 else float(d == 0)
        naive = sum(naive_var[a, m] / searches[a] for a in ARMS)  # searches as if independent
        deff = max(1.0, se * se / naive) if naive > 0 else 1.0
        deltas[m] = ArmDelta(m, val["live"], val["candidate"], d, float(lo), float(hi), float(p), deff)
    observed = searches["candidate"] / (searches["candidate"] + searches["live"])
    decision = _decide(deltas["top_ctr"], deltas["zero_click"], observed, sum(searches.values()), level, min_effect)
    problems = check_assignment(events, share=share, salt=salt)
    if problems:
        decision = (f"Do not act on this test yet: {'; '.join(problems)}. Fix the bucketing first "
                    f"(as measured: {decision})")
    return AbResult(estimates, deltas, searches, users, collections, observed, level, resamples, decision, problems)


#: A sample-ratio mismatch is flagged below this chi-square p-value.
SRM_P = 0.001


def _examples(items: list, n: int = 3) -> str:
    return ", ".join(map(str, items[:n])) + (", ..." if len(items) > n else "")


def check_assignment(events: pl.DataFrame, *, share: float | None = None, salt: str = "") -> tuple[str, ...]:
    """Problems with the experiment itself, each one line: users in both arms; given ``share``, events
    whose arm differs from ``assign(user, salt, share)`` and a sample-ratio mismatch (users per arm
    against ``share``, chi-square with one degree of freedom, p < :data:`SRM_P`). ``salt`` empty: derived
    from the candidate arm's collection (:func:`experiment_salt`)."""
    out = []
    arms = events.group_by("user_id").agg(pl.col("arm").n_unique().alias("n")).filter(pl.col("n") > 1)
    if arms.height:
        out.append(f"{arms.height} users are in both arms (e.g. {_examples(sorted(arms['user_id']))})")
    if share is None:
        return tuple(out)
    share = _check_share(share)
    cand = sorted(events.filter(pl.col("arm") == "candidate")["collection"].unique())
    if not salt and len(cand) != 1:
        return (*out, f"cannot check the arms: no [abtest] salt, and the candidate arm was served by "
                      f"{len(cand)} collections ({_examples(cand)})")
    salt = experiment_salt(salt, cand[0] if cand else "")
    pairs = events.select("user_id", "arm").unique()
    expected = {u: assign(u, salt=salt, share=share) for u in pairs["user_id"].unique()}
    wrong = events.filter(pl.col("arm") != pl.col("user_id").replace_strict(expected, return_dtype=pl.String))
    if wrong.height:
        ex = [f"{u} logged {a}" for u, a in wrong.select("user_id", "arm").unique(maintain_order=True).iter_rows()]
        out.append(f"{wrong.height} of {events.height} searches are in the wrong arm for assign(user, "
                   f"salt={salt!r}, share={share:g}) ({_examples(ex)})")
    n = {a: pairs.filter(pl.col("arm") == a).height for a in ARMS}
    total = n["live"] + n["candidate"]
    if 0 < share < 1 and total:
        exp = {"candidate": total * share, "live": total * (1 - share)}
        chi2 = sum((n[a] - exp[a]) ** 2 / exp[a] for a in ARMS)
        p = math.erfc(math.sqrt(chi2 / 2))  # chi-square, 1 degree of freedom
        if p < SRM_P:
            out.append(f"sample-ratio mismatch: {n['candidate']:,} of {total:,} users ({n['candidate'] / total:.1%}) "
                       f"in the candidate arm, {share:.0%} expected (chi-square p = {p:.1g})")
    return tuple(out)


def _pts(d: ArmDelta) -> str:
    return f"{d.delta * 100:+.1f} pts [{d.low * 100:+.1f}, {d.high * 100:+.1f}]"


def _decide(ctr: ArmDelta, zero: ArmDelta, share: float, total: int, level: float, min_effect: float) -> str:
    said = f"top-result CTR {_pts(ctr)}, zero-click {_pts(zero)}"
    if ctr.high < 0 or zero.low > 0:
        return f"Candidate is worse: {said}; roll back."
    if ctr.low > 0 or zero.high < 0:
        return f"Candidate wins: {said}; {'ramp up to 50%' if share < 0.5 else 'roll out to 100%'}."
    base = min(max(ctr.live, 0.001), 0.999 - min_effect)
    need = sample_size(base, min_effect, share=share, alpha=1 - level)
    more = max(0, math.ceil(need.total * ctr.design_effect) - total)
    pts = f"{min_effect * 100:g}-point"
    if more == 0:
        return f"No detectable difference: {said}; this test could see a {pts} CTR change, so any effect is smaller."
    return (f"No detectable difference yet: {said}; about {more:,} more searches ({math.ceil(more * share):,} in "
            f"the candidate arm at the current {share:.0%} share) would detect a {pts} change in top-result CTR.")


def chart(result: AbResult) -> alt.FacetChart:
    """Per-arm top-result CTR and zero-click rate with their intervals, side by side."""
    df = pl.DataFrame([{"metric": METRICS[e.metric], "arm": e.arm, "rate": e.value, "low": e.low, "high": e.high,
                        "searches": result.searches[e.arm]}
                       for e in result.estimates.values() if e.metric in ("top_ctr", "zero_click")])
    base = alt.Chart().encode(x=alt.X("arm:N", sort=list(ARMS), title=None, axis=alt.Axis(labelAngle=0)))
    bars = base.mark_bar(opacity=0.75).encode(
        y=alt.Y("rate:Q", axis=alt.Axis(format="%"), title=None), color=alt.Color("arm:N", sort=list(ARMS), legend=None),
        tooltip=["arm", "metric", *(alt.Tooltip(f"{c}:Q", format=".1%") for c in ("rate", "low", "high")), "searches"])
    rules = base.mark_rule(color="black", strokeWidth=2).encode(y="low:Q", y2="high:Q")
    return (alt.layer(bars, rules, data=df).properties(width=160, height=220)
            .facet(column=alt.Column("metric:N", title=None))
            .properties(title=f"Per arm, {result.level:.0%} Wilson intervals"))
