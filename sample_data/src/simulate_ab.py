"""Simulate the sample project's A/B test log, deterministically (seeded): ``ab/events.jsonl``.

THIS IS SIMULATED TRAFFIC, NOT REAL. Fourteen days (from 2026-11-28) of about 6,000 help-center searches
by about 900 users; 10% of users are bucketed into the candidate arm with
``embtune_core.ship.abtest.assign(user, salt="ledgerline-ab-1", share=0.10)``. Live searches are served by the
collection ``minilm_base`` (base all-MiniLM-L6-v2), candidate searches by ``tuned_20261127`` (the model
trained with embtune's defaults). Queries, and the article each user was after, are drawn from
``signals/search_log.jsonl``. The arm effects are SIMULATED: offline, the tuned model raised MRR@10 from
0.495 to 0.640 on the eval set (README, step 5); online effects are smaller than offline ones, so the
simulation assumes a top-result click-through rate of 0.38 (live) vs 0.45 (candidate) and a zero-click
rate of 0.30 vs 0.24. Each user carries a persistent propensity to click (a normal shift on the logit
scale), so one user's searches are correlated and the realised per-arm rates differ somewhat from these
targets -- which is why the analysis resamples users, not searches. Five results are shown per search;
clicks that miss rank 1 land on ranks 2-5 with position bias; some searches get a second click; a few
clicks have no dwell time.

Run from the repository root: ``python sample_data/src/simulate_ab.py`` (byte-identical on every run).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import sys
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT.parent))

from embtune_core.ship.abtest import assign  # noqa: E402

SEED = 20261128
SALT = "ledgerline-ab-1"
SHARE = 0.10
START = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
DAYS = 14
USERS = 900
SEARCHES = 6000
SHOWN = 5
USER_SD = 0.3  # spread of the per-user click propensity, logit scale
ACTIVITY_SD = 0.5  # spread of how often a user searches (lognormal)
COLLECTION = {"live": "minilm_base", "candidate": "tuned_20261127"}
RATES = {"live": {"top": 0.38, "zero": 0.30}, "candidate": {"top": 0.45, "zero": 0.24}}


def slug(url: str) -> str:
    return [s for s in urlsplit(url).path.split("/") if s][-1]


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def load_log(known: set[str]) -> list[tuple[str, str, list[str]]]:
    """(query, intended article, articles the old search showed) for each usable log line."""
    out = []
    for line in (ROOT / "signals" / "search_log.jsonl").read_text().split("\n"):  # JSONL: \n only
        try:
            rec = json.loads(line)
            q = rec["q"].strip()
            shown = [s for s in (slug(u) for u in rec.get("shown", [])) if s in known]
            clicked = [s for s in (slug(c["href"]) for c in rec.get("clicks", [])) if s in known]
        except (json.JSONDecodeError, KeyError, TypeError, IndexError):
            continue  # the log has a few deliberately malformed lines
        intent = (clicked or shown or [None])[0]
        if q and intent:
            out.append((q, intent, shown))
    return out


def simulate(rng: random.Random, log, docs: list[str]) -> list[dict]:
    users = [f"u{i:05d}" for i in range(1, USERS + 1)]
    activity = [rng.lognormvariate(0, ACTIVITY_SD) for _ in users]
    propensity = [rng.gauss(0, USER_SD) for _ in users]
    arms = [assign(u, salt=SALT, share=SHARE) for u in users]
    events = []
    for who in rng.choices(range(USERS), weights=activity, k=SEARCHES):
        arm, prop = arms[who], propensity[who]
        q, intent, shown = rng.choice(log)
        r = RATES[arm]
        clicked = rng.random() < sigmoid(logit(1 - r["zero"]) + prop)
        top = clicked and rng.random() < sigmoid(logit(r["top"] / (1 - r["zero"])) + prop)
        if top:
            rank = 1
        elif clicked:  # position bias below the top result
            rank = rng.choices(range(2, SHOWN + 1), weights=[1 / k for k in range(2, SHOWN + 1)])[0]
        elif rng.random() < 0.5:
            rank = rng.randint(1, SHOWN)  # shown, but not clicked
        else:
            rank = None  # the article wanted was not shown at all
        fill = [d for d in shown if d != intent]
        while len(fill) < SHOWN:
            d = rng.choice(docs)
            if d != intent and d not in fill:
                fill.append(d)
        results = fill[:SHOWN]
        if rank is not None:
            results = results[: rank - 1] + [intent] + results[rank - 1: SHOWN - 1]
        clicks = []
        if clicked:
            clicks.append({"doc_id": intent, "rank": rank, "dwell_s": round(rng.lognormvariate(3.3, 0.9), 1)})
            if rng.random() < 0.15:
                other = rng.choice([k for k in range(2, SHOWN + 1) if k != rank])
                clicks.append({"doc_id": results[other - 1], "rank": other, "dwell_s": round(rng.lognormvariate(2.0, 1.0), 1)})
            for c in clicks:
                if rng.random() < 0.05:
                    del c["dwell_s"]  # dwell is optional: the tab was closed
        ts = START + dt.timedelta(seconds=rng.randrange(DAYS * 86400))
        events.append({"ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "user_id": users[who], "arm": arm,
                       "collection": COLLECTION[arm], "query": q, "results": results, "clicks": clicks})
    events.sort(key=lambda e: (e["ts"], e["user_id"]))
    return [{"ts": e["ts"], "user_id": e["user_id"], "search_id": f"ab{i:06d}", **{k: v for k, v in e.items()
            if k not in ("ts", "user_id")}} for i, e in enumerate(events, start=1)]


def main() -> None:
    docs = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    events = simulate(random.Random(SEED), load_log(set(docs)), docs)
    out = ROOT / "ab" / "events.jsonl"
    out.parent.mkdir(exist_ok=True)
    out.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    print(f"wrote {len(events)} events by {len({e['user_id'] for e in events})} users to {out}")


if __name__ == "__main__":
    main()
