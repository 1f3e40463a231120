import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from embtune_core.mine_pairs.review import ReviewStore, progress, review_queue, with_decisions


def frame():
    return pl.DataFrame({"pair_id": ["a", "b", "c"], "query": ["qa", "qb", "qc"], "source": ["search", "llm", "llm"],
                         "kept": [True, True, False], "near_dup_sim": [0.1, 0.94, 0.1], "easy_score": [0.1, 0.1, 0.1],
                         "base_rank": [1, 3, 22]})


def test_last_decision_wins_and_edit_keeps_the_id(tmp_path):
    s = ReviewStore(tmp_path / "r.sqlite")
    s.decide("a", "reject")
    s.decide("a", "accept")
    s.decide("c", "edit", query="  a better query ")
    j = with_decisions(frame(), s)
    got = {r["pair_id"]: (r["final"], r["final_query"]) for r in j.iter_rows(named=True)}
    assert got == {"a": (True, "qa"), "b": (True, "qb"), "c": (True, "a better query")}
    s.decide("b", "reject")
    assert not with_decisions(frame(), s).filter(pl.col("pair_id") == "b")["final"][0]
    with pytest.raises(ValueError, match="needs the new query"):
        s.decide("a", "edit")
    p = progress(frame(), s)
    assert p.filter(pl.col("source") == "llm").row(0, named=True) == {
        "source": "llm", "pairs": 2, "reviewed": 2, "accepted": 1, "rejected": 1, "exported": 1}


def test_queue_puts_pairs_near_a_threshold_first(tmp_path):
    from embtune_core.core.config import FilterConfig

    s = ReviewStore(tmp_path / "r.sqlite")
    q = review_queue(frame(), FilterConfig(), s)
    assert q["pair_id"].to_list()[:2] == ["b", "c"]  # 0.94 vs 0.95 near-dup, rank 22 vs 20
    s.decide("b", "accept")
    assert "b" not in review_queue(frame(), FilterConfig(), s)["pair_id"].to_list()


def _writer(path, who, n):
    s = ReviewStore(path)
    for i in range(n):
        s.decide(f"{who}-{i}", "accept", who=who)


def test_two_writers_at_once_lose_nothing(tmp_path):
    path = tmp_path / "r.sqlite"
    ReviewStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 150)) for w in ("tab1", "tab2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert ReviewStore(path).count() == 300 and ReviewStore(path).latest().height == 300


def test_a_killed_process_loses_no_committed_decision(tmp_path):
    path = tmp_path / "r.sqlite"
    code = ("import sys, time; sys.path.insert(0, sys.argv[2]); from embtune_core.mine_pairs.review import ReviewStore; "
            "s = ReviewStore(sys.argv[1]); i = 0\n"
            "while True:\n    s.decide(f'p{i}', 'accept'); print(i, flush=True); i += 1; time.sleep(0.005)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), os.getcwd()], stdout=subprocess.PIPE, text=True)
    seen = -1
    deadline = time.monotonic() + 30
    while seen < 50 and time.monotonic() < deadline:
        seen = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ReviewStore(path).count() >= seen + 1  # every decision it reported is on disk
