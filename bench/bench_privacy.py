"""Speed of the one scrubbing pass (``embtune_core.core.privacy.scrub``) on the sample's user-typed texts.

1. Loading the detector once (Presidio's analyzer, no NLP model, and embtune's recognizers).
2. Scrubbing, uncached: every search of the log, every ticket (subject and body), every A/B event query.
3. Loading the sample's search log (which scrubs it, cached per distinct query).

Recall per planted kind and precision on the clean texts are measured by the test
(``.venv/bin/python -m pytest tests/test_privacy.py -k recall -s``).

Run: ``.venv/bin/python bench/bench_privacy.py``. Prints one JSON object.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLE = REPO / "sample_data"


def _timed(texts: list[str]) -> float:
    from embtune_core.core import privacy

    t = time.perf_counter()
    for x in texts:
        privacy._scrub(x, ())  # uncached
    return round(time.perf_counter() - t, 2)


def main() -> None:
    t = time.perf_counter()
    from embtune_core.core.privacy import scrub

    scrub("warm up jane@x.com +33 1 23 45 67 89")
    load = round(time.perf_counter() - t, 2)
    searches = []
    for line in (SAMPLE / "signals" / "search_log.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            searches.append(json.loads(line)["q"])
        except json.JSONDecodeError:
            continue
    with open(SAMPLE / "signals" / "tickets.csv", encoding="utf-8", newline="") as f:
        tickets = [r["Subject"] + "\n" + r["Description"] for r in csv.DictReader(f)]
    ab = [json.loads(line)["query"] for line in (SAMPLE / "ab" / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    out = {"detector_load_s": load,
           "searches": {"texts": len(searches), "seconds": _timed(searches)},
           "tickets": {"texts": len(tickets), "seconds": _timed(tickets)},
           "ab_queries": {"texts": len(ab), "distinct": len(set(ab)), "seconds": _timed(ab)},
           "cpus": os.cpu_count()}
    from embtune_core.core.project import open_project

    t = time.perf_counter()
    searches_loaded = open_project(SAMPLE / "embtune.toml").search_log.height
    out["load_search_log"] = {"searches": searches_loaded, "seconds": round(time.perf_counter() - t, 2)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
