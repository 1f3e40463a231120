import importlib.util
import json
import math
import random
from statistics import NormalDist

import polars as pl
import pytest
from conftest import SAMPLE

from embtune_core.core.errors import ConfigError, InputError
from embtune_core.ship.abtest import EVENT_FIELDS, analyze, assign, chart, load_events, sample_size

SAMPLE_EVENTS = SAMPLE / "ab" / "events.jsonl"


def jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def event(i, *, user=None, arm="live", clicks=(), results=("a", "b", "c"), **extra):
    return {"ts": "2026-11-28T09:00:00Z", "user_id": user or f"u{i}", "search_id": f"s{i}", "arm": arm,
            "collection": "minilm_base" if arm == "live" else "tuned", "query": "refund a card",
            "results": list(results), "clicks": [{"doc_id": results[r - 1], "rank": r, "dwell_s": 12.5} for r in clicks],
            **extra}


# --------------------------------------------------------------------------------------------------
# Bucketing


def test_assign_is_deterministic_and_salted():
    ids = [f"user-{i}" for i in range(4000)]
    first = [assign(u, salt="exp-1", share=0.5) for u in ids]
    assert first == [assign(u, salt="exp-1", share=0.5) for u in ids]
    assert set(first) == {"live", "candidate"}
    other = [assign(u, salt="exp-2", share=0.5) for u in ids]
    moved = sum(a != b for a, b in zip(first, other, strict=True)) / len(ids)
    assert 0.45 < moved < 0.55  # a new salt is an independent reshuffle


@pytest.mark.parametrize("share", [0.10, 0.5])
def test_assign_share_over_100k_users(share):
    got = sum(assign(str(i), salt="ledgerline-ab-1", share=share) == "candidate" for i in range(100_000))
    assert abs(got / 100_000 - share) < 0.01


def test_assign_ramp_is_monotone_and_ends_are_exact():
    ids = [f"u{i}" for i in range(20_000)]
    at = {s: {u for u in ids if assign(u, salt="ramp", share=s) == "candidate"} for s in (0.0, 0.1, 0.2, 0.5, 1.0)}
    assert at[0.0] == set() and at[1.0] == set(ids)
    assert at[0.1] <= at[0.2] <= at[0.5]  # raising the share only moves users live -> candidate
    assert len(at[0.1]) < len(at[0.2]) < len(at[0.5])


@pytest.mark.parametrize("share", [-0.1, 1.5, "0.1", True, float("nan"), None])
def test_assign_rejects_bad_share(share):
    with pytest.raises(ConfigError, match="share"):
        assign("u1", salt="s", share=share)


def test_assign_needs_a_salt():
    with pytest.raises(ConfigError, match="salt"):
        assign("u1", salt="")


# --------------------------------------------------------------------------------------------------
# Importer


def test_load_events_reads_the_schema(tmp_path):
    rows = [event(1, clicks=[2, 1]), event(2, arm="candidate", clicks=[], ts="2026-11-28T10:00:00+01:00"),
            event(3, ts="2026-11-28T09:30:00", clicks=[3])]
    rows[2]["clicks"][0].pop("dwell_s")
    df = load_events(jsonl(tmp_path / "events.jsonl", rows))
    assert df.columns == [*EVENT_FIELDS, "line"]
    assert df["search_id"].to_list() == ["s1", "s2", "s3"] and df["line"].to_list() == [1, 2, 3]
    assert df["clicks"][0].to_list() == [{"doc_id": "b", "rank": 2, "dwell_s": 12.5}, {"doc_id": "a", "rank": 1, "dwell_s": 12.5}]
    assert df["clicks"][2].to_list() == [{"doc_id": "c", "rank": 3, "dwell_s": None}]
    assert [t.isoformat() for t in df["ts"]] == ["2026-11-28T09:00:00+00:00", "2026-11-28T09:00:00+00:00",
                                                "2026-11-28T09:30:00+00:00"]  # offsets converted, naive is UTC


def _bad(mutate):
    row = event(2, clicks=[1])
    mutate(row)
    return row


@pytest.mark.parametrize(
    "row, field, msg",
    [
        (_bad(lambda r: r.update(arm="control")), "arm", 'expected "live" or "candidate", got "control"'),
        ('{"ts": "2026-11-28T09:00:00Z", "user_id": "u2"', None, "malformed JSON"),
        ("[1, 2]", None, "expected a JSON object, got list"),
        (_bad(lambda r: r.pop("user_id")), "user_id", "missing field"),
        (_bad(lambda r: r.update(usr_id=r.pop("user_id"))), "user_id", "found 'usr_id': misspelt?"),
        (_bad(lambda r: r.update(user_id=5)), "user_id", "must be a string, got int"),
        (_bad(lambda r: r.update(query="  ")), "query", "empty"),
        (_bad(lambda r: r.update(ts="yesterday")), "ts", "not an ISO-8601 timestamp: 'yesterday'"),
        (_bad(lambda r: r.update(results="a,b,c")), "results", "must be a list, got str"),
        (_bad(lambda r: r.update(results=["a", 7])), "results", "non-empty doc id strings"),
        (_bad(lambda r: r.pop("clicks")), "clicks", "missing field (use [] when empty)"),
        (_bad(lambda r: r.update(clicks=["a"])), "clicks[0]", "expected an object, got str"),
        (_bad(lambda r: r["clicks"][0].update(rank="1")), "clicks[0].rank", "must be an integer >= 1"),
        (_bad(lambda r: r["clicks"][0].update(rank=0)), "clicks[0].rank", "must be an integer >= 1"),
        (_bad(lambda r: r["clicks"][0].update(rank=2)), "clicks[0].rank", "rank 2 is 'b', not 'a'"),
        (_bad(lambda r: r["clicks"][0].update(rank=9)), "clicks[0].rank", "beyond the 3 results shown"),
        (_bad(lambda r: r["clicks"][0].update(doc_id=None)), "clicks[0].doc_id", "non-empty string"),
        (_bad(lambda r: r["clicks"][0].update(dwell_s=-3)), "clicks[0].dwell_s", "number of seconds >= 0"),
        (_bad(lambda r: r["clicks"][0].update(dwell_s="long")), "clicks[0].dwell_s", "number of seconds >= 0"),
        (_bad(lambda r: r.update(search_id="s1")), "search_id", "duplicate search_id 's1' (first seen at line 1)"),
    ],
)
def test_load_events_names_file_line_and_field(tmp_path, row, field, msg):
    path = jsonl(tmp_path / "events.jsonl", [event(1), row, event(3)])
    with pytest.raises(InputError) as e:
        load_events(path)
    assert (e.value.path, e.value.line, e.value.field) == (str(path), 2, field)
    assert str(e.value).startswith(f"{path}:2") and msg in str(e.value)
    if field:
        assert f"(field '{field}')" in str(e.value)


def test_load_events_empty_missing_and_renamed_fields(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_events(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="no events"):
        load_events(jsonl(tmp_path / "empty.jsonl", ["", "  "]))
    rows = [event(1, clicks=[1]), event(2)]
    for r in rows:
        r["uid"] = r.pop("user_id")
        for c in r["clicks"]:
            c["position"] = c.pop("rank")
    path = jsonl(tmp_path / "export.jsonl", rows)
    df = load_events(path, fields={"user_id": "uid", "rank": "position"})
    assert df["user_id"].to_list() == ["u1", "u2"] and df["clicks"][0][0]["rank"] == 1
    with pytest.raises(InputError, match=r"field 'user_id'\): missing field \(found 'uid': misspelt\?\)"):
        load_events(path)  # without the mapping
    rows[0]["variant"], rows[1]["variant"] = "live", "B"
    with pytest.raises(InputError, match=r":2 \(field 'variant'\): expected \"live\" or \"candidate\", got \"B\""):
        load_events(jsonl(path, rows), fields={"user_id": "uid", "rank": "position", "arm": "variant"})
    with pytest.raises(ConfigError, match="unknown event field"):
        load_events(path, fields={"userid": "uid"})


def test_sample_events_load():
    df = load_events(SAMPLE_EVENTS)
    assert df.height == 6000 and df["search_id"].n_unique() == 6000
    assert df.group_by("arm").agg(pl.col("collection").unique()).sort("arm").rows() == [
        ("candidate", ["tuned_20261127"]), ("live", ["minilm_base"])]
    assert df["ts"].min().isoformat().startswith("2026-11-28") and df["ts"].max().isoformat() < "2026-12-12"
    # every user is in the arm assign() gives with the experiment's salt
    arms = dict(df.select("user_id", "arm").unique().iter_rows())
    assert all(assign(u, salt="ledgerline-ab-1", share=0.10) == a for u, a in arms.items())
    assert 800 < len(arms) < 1000 and SAMPLE_EVENTS.stat().st_size < 3_000_000


def test_sample_events_are_reproducible():
    spec = importlib.util.spec_from_file_location("simulate_ab", SAMPLE / "src" / "simulate_ab.py")
    sim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sim)
    docs = sorted(p.stem for p in (SAMPLE / "docs").glob("*.md"))
    events = sim.simulate(random.Random(sim.SEED), sim.load_log(set(docs)), docs)
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    assert text == SAMPLE_EVENTS.read_text()


# --------------------------------------------------------------------------------------------------
# Sample size


def _independent(p1, p2, share, alpha=0.05, power=0.8):
    """Per-arm n for the unpooled two-proportion z-test, written per arm rather than as a total."""
    k = (NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)) ** 2 / (p2 - p1) ** 2
    v1, v2 = p1 * (1 - p1), p2 * (1 - p2)
    return math.ceil(k * (v2 + v1 * share / (1 - share))), math.ceil(k * (v1 + v2 * (1 - share) / share))


def test_sample_size_equal_split_textbook_case():
    s = sample_size(0.5, 0.05, share=0.5)
    # unpooled: (1.959964 + 0.841621)^2 * (0.25 + 0.2475) / 0.05^2 = 1561.9 per arm (Fleiss' pooled form: ~1565)
    assert (s.n_candidate, s.n_live, s.total) == (1562, 1562, 3124) == (*_independent(0.5, 0.55, 0.5), 3124)
    assert s.target_rate == pytest.approx(0.55) and s.days is None


@pytest.mark.parametrize("p1, eff, share, relative", [(0.38, 0.02, 0.10, False), (0.38, -0.03, 0.2, False),
                                                      (0.30, 0.10, 0.10, True), (0.05, 0.01, 0.5, False)])
def test_sample_size_unequal_allocation(p1, eff, share, relative):
    s = sample_size(p1, eff, share=share, relative=relative, daily_searches=1000)
    p2 = p1 * (1 + eff) if relative else p1 + eff
    assert (s.n_candidate, s.n_live) == _independent(p1, p2, share)
    assert s.total == s.n_candidate + s.n_live and s.days == math.ceil(s.total / 1000)
    se = math.sqrt(p1 * (1 - p1) / s.n_live + p2 * (1 - p2) / s.n_candidate)
    assert NormalDist().cdf(abs(p2 - p1) / se - NormalDist().inv_cdf(0.975)) >= 0.8  # the power it promises
    assert "searches" in s.summary()


def test_sample_size_exact_value_at_ten_percent():
    s = sample_size(0.38, 0.02, share=0.10, daily_searches=2000)
    assert (s.n_candidate, s.n_live, s.total, s.days) == (5223, 47007, 52230, 27)


@pytest.mark.parametrize("kw", [
    dict(baseline_rate=0.0, min_effect=0.02), dict(baseline_rate=1.0, min_effect=-0.1),
    dict(baseline_rate=0.4, min_effect=0.0), dict(baseline_rate=0.95, min_effect=0.1),
    dict(baseline_rate=0.05, min_effect=-0.1), dict(baseline_rate=0.5, min_effect=1.0, relative=True),
    dict(baseline_rate=0.4, min_effect=0.02, share=0), dict(baseline_rate=0.4, min_effect=0.02, share=1),
    dict(baseline_rate=0.4, min_effect=0.02, alpha=0), dict(baseline_rate=0.4, min_effect=0.02, power=1.2),
    dict(baseline_rate=0.4, min_effect=0.02, daily_searches=0),
])
def test_sample_size_rejects_impossible_inputs(kw):
    with pytest.raises(ConfigError):
        sample_size(**kw)


# --------------------------------------------------------------------------------------------------
# Analysis


def constructed(tmp_path, live, candidate, name="events.jsonl", per_user=2):
    """``live``/``candidate``: lists of click-rank lists, one per search; ``per_user`` searches per user."""
    rows, i = [], 0
    for arm, searches in (("live", live), ("candidate", candidate)):
        for j, clicks in enumerate(searches):
            i += 1
            rows.append(event(i, user=f"{arm}-{j // per_user}", arm=arm, clicks=clicks))
    return load_events(jsonl(tmp_path / name, rows))


def test_analyze_known_rates_exactly(tmp_path):
    # live: 40% top click, 30% zero-click, 30% click on rank 2; candidate: 50%, 20%, 30% on rank 3
    live = [[1]] * 70 + [[1, 3]] * 10 + [[]] * 60 + [[2]] * 60
    cand = [[1]] * 50 + [[]] * 20 + [[3, 2]] * 30
    r = analyze(constructed(tmp_path, live, cand))
    assert r.searches == {"live": 200, "candidate": 100} and r.users == {"live": 100, "candidate": 50}
    assert r.candidate_share == pytest.approx(1 / 3)
    expect = {("live", "top_ctr"): 0.4, ("live", "zero_click"): 0.3, ("live", "mrr"): (80 + 30) / 200,
              ("candidate", "top_ctr"): 0.5, ("candidate", "zero_click"): 0.2, ("candidate", "mrr"): (50 + 15) / 100}
    for (arm, m), v in expect.items():
        e = r.estimates[arm, m]
        assert e.value == pytest.approx(v, abs=1e-12) and e.low < v < e.high
    z = NormalDist().inv_cdf(0.975)  # Wilson by hand for the live top-result CTR
    centre, half = (0.4 + z * z / 400) / (1 + z * z / 200), z * math.sqrt(0.24 / 200 + z * z / 160000) / (1 + z * z / 200)
    assert (r.estimates["live", "top_ctr"].low, r.estimates["live", "top_ctr"].high) == pytest.approx(
        (centre - half, centre + half))
    for m, d in (("top_ctr", 0.1), ("zero_click", -0.1), ("mrr", 0.65 - 0.55)):
        delta = r.deltas[m]
        assert delta.delta == pytest.approx(d) and delta.low < d < delta.high and 0 <= delta.p_value <= 1
    t = r.table()
    assert t["metric"].to_list() == ["top_ctr", "zero_click", "mrr"] and t.width == 11
    assert t.row(0, named=True)["candidate"] == pytest.approx(0.5)
    assert analyze(constructed(tmp_path, live, cand)) == r  # seeded bootstrap: reproducible


def test_analyze_decisions(tmp_path):
    good = [[1]] * 500 + [[]] * 200 + [[2]] * 300
    bad = [[1]] * 380 + [[]] * 320 + [[2]] * 300
    worse = analyze(constructed(tmp_path, good * 2, bad, "w.jsonl"))
    assert worse.decision.startswith("Candidate is worse: top-result CTR -12.0 pts") and "roll back" in worse.decision
    wins = analyze(constructed(tmp_path, bad * 2, good, "g.jsonl"))
    assert wins.decision.startswith("Candidate wins: top-result CTR +12.0 pts") and "ramp up to 50%" in wins.decision
    assert "zero-click -12.0 pts" in wins.decision
    rollout = analyze(constructed(tmp_path, bad, good * 2, "r.jsonl"))
    assert rollout.decision.endswith("roll out to 100%.")
    same = analyze(constructed(tmp_path, bad * 2, bad, "s.jsonl"))
    assert same.decision.startswith("No detectable difference yet: top-result CTR +0.0 pts")
    assert "more searches" in same.decision and "2-point change" in same.decision


def test_cluster_bootstrap_widens_intervals_for_correlated_users(tmp_path):
    # 20 searches per user and every user either always or never clicks the top result
    live = ([[1]] * 20 + [[]] * 20) * 30
    cand = ([[1]] * 20 + [[]] * 20) * 15
    r = analyze(constructed(tmp_path, live, cand, per_user=20))
    d = r.deltas["top_ctr"]
    naive_half = NormalDist().inv_cdf(0.975) * math.sqrt(0.25 / 1200 + 0.25 / 600)
    assert d.design_effect > 10 and (d.high - d.low) / 2 > 3 * naive_half


def test_analyze_needs_both_arms(tmp_path):
    with pytest.raises(InputError, match="no searches in the candidate arm"):
        analyze(constructed(tmp_path, [[1], []], []))


def test_sample_analysis_candidate_wins_with_numbers_from_the_data():
    rows = [json.loads(line) for line in SAMPLE_EVENTS.read_text().splitlines()]
    rate = {}
    for arm in ("live", "candidate"):
        mine = [r for r in rows if r["arm"] == arm]
        rate[arm, "top"] = sum(any(c["rank"] == 1 for c in r["clicks"]) for r in mine) / len(mine)
        rate[arm, "zero"] = sum(not r["clicks"] for r in mine) / len(mine)
    r = analyze(load_events(SAMPLE_EVENTS))
    assert r.estimates["candidate", "top_ctr"].value == pytest.approx(rate["candidate", "top"])
    assert r.estimates["live", "zero_click"].value == pytest.approx(rate["live", "zero"])
    ctr = (rate["candidate", "top"] - rate["live", "top"]) * 100
    zero = (rate["candidate", "zero"] - rate["live", "zero"]) * 100
    assert r.decision.startswith(f"Candidate wins: top-result CTR {ctr:+.1f} pts [")
    assert f"zero-click {zero:+.1f} pts [" in r.decision and r.decision.endswith("ramp up to 50%.")
    assert r.deltas["top_ctr"].low > 0 and r.deltas["zero_click"].high < 0
    assert r.deltas["top_ctr"].design_effect > 1  # users' searches are correlated


def test_chart_renders_to_svg(tmp_path):
    import vl_convert as vlc

    r = analyze(constructed(tmp_path, [[1], [], [2], [1]], [[1], [1], []]), resamples=200)
    svg = vlc.vegalite_to_svg(chart(r).to_json())
    assert "<svg" in svg and "top-result CTR" in svg and "zero-click rate" in svg
