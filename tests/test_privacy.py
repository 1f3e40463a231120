"""No planted personal data from the sample tickets reaches any artifact."""

import json

import polars as pl
import pytest
from conftest import SAMPLE

from embtune_core.core.privacy import scrub

PLANTED = [json.loads(line) for line in (SAMPLE / "signals" / "tickets_pii.jsonl").read_text().splitlines()]


def artifact_text(path) -> str:
    if path.suffix == ".parquet":
        df = pl.read_parquet(path)
        return "\n".join(str(v) for col in df.columns for v in df[col].to_list())
    return path.read_bytes().decode("latin-1")


def assert_no_planted_values(root):
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for f in files:
        text = artifact_text(f)
        for rec in PLANTED:
            assert rec["value"] not in text, f"{rec['kind']} {rec['value']!r} leaked into {f}"


def test_scrub_removes_every_planted_kind():
    from embtune_core.core.project import open_project

    t = open_project(SAMPLE / "embtune.toml").tickets
    scrubbed = {r["ticket_id"]: scrub(r["subject"] + "\n" + r["body"]) for r in t.iter_rows(named=True)}
    leaks = [r for r in PLANTED if r["value"] in scrubbed[r["ticket_id"]]]
    assert not leaks, leaks[:3]
    assert {r["kind"] for r in PLANTED} >= {"email", "phone", "person_name", "company", "account_id",
                                            "card_number", "api_token", "signature", "tokenized_url"}


@pytest.mark.slow
def test_mine_review_export_leaks_nothing(tmp_path, cli):
    for args in (["mine"], ["pairs", "export"]):
        p = cli(*args, "--project", SAMPLE / "embtune.toml", "--json", env={"EMBTUNE_WORKSPACE": tmp_path / "ws"})
        assert p.returncode == 0, p.stderr
    from embtune_core.mine_pairs.review import ReviewStore

    cand = pl.read_parquet(tmp_path / "ws" / "candidates.parquet")
    ticket = cand.filter(pl.col("source") == "ticket").row(0, named=True)
    ReviewStore(tmp_path / "ws" / "review.sqlite").decide(ticket["pair_id"], "edit", query=ticket["query"] + " (edited)")
    pairs = [json.loads(line) for line in (tmp_path / "ws" / "pairs.jsonl").read_text().splitlines()]
    assert {p["source"] for p in pairs} == {"search", "ticket", "docs", "llm"}
    assert set(pairs[0]) == {"query", "positive", "doc_id", "section_id", "source", "pair_id"}
    assert_no_planted_values(tmp_path / "ws")
