import json

import polars as pl
import pytest

from embtune_core.core.errors import InputError
from embtune_core.core.sources import load_eval_set
from embtune_core.eval_set.evalset import (
    Judgments,
    build_proxy_evalset,
    export_beir,
    labelling_queue,
    signal_candidates,
)


def test_proxy_evalset_is_group_aware_and_labelled_proxy(sample_project):
    p = sample_project
    cand = signal_candidates(p.search_log, p.tickets)
    assert set(cand["source"].unique()) == {"search", "ticket"}
    split = build_proxy_evalset(cand, size=150, seed=0)
    ev = split.evalset
    assert len(ev) == 150 and ev.kind == "proxy" and ev.sha256
    # no normalised query of the eval side remains usable for training
    train_side = cand.filter(~pl.col("norm_query").is_in(list(split.held_out)))
    assert not set(train_side["norm_query"]) & split.held_out
    # twins by token set land on the same side
    from embtune_core.core.text import token_set

    eval_sets = {token_set(q) for q in ev.queries.values()}
    assert not eval_sets & {token_set(q) for q in train_side["query"]}
    # PII scrubbed from ticket-derived queries
    assert not any("acct_" in q for q in ev.queries.values())
    assert build_proxy_evalset(cand, size=150, seed=0).evalset.sha256 == ev.sha256


def test_labelling_queue_and_judgments_roundtrip(sample_project, tmp_path):
    p = sample_project
    j = Judgments(tmp_path / "judgments.jsonl")
    q = labelling_queue(p.search_log, j)
    assert q.height > 50 and q["searches"].is_sorted(descending=True)
    first, second = q["query"][0], q["query"][1]
    j.add(first, ["sales-tax-and-vat"], who="lead")
    j.add(first, ["sales-tax-and-vat", "tax-ids-and-reverse-charge"], who="lead")  # last one wins
    j.add(second, [], skip=True)
    assert labelling_queue(p.search_log, j).height == q.height - 2
    ev = j.evalset(p.corpus)
    assert list(ev.relevant.values()) == [frozenset({"sales-tax-and-vat", "tax-ids-and-reverse-charge"})]
    with open(j.path, "a") as f:
        f.write('{"torn')  # a crash mid-append loses only that line
    assert len(j.evalset(p.corpus)) == 1
    j.add("x", ["no-such-article"])
    with pytest.raises(InputError, match="unknown doc 'no-such-article'"):
        j.evalset(p.corpus)


def test_export_then_import_beir_roundtrip(sample_project, tmp_path):
    p = sample_project
    out = export_beir(p.eval_set, p.corpus, tmp_path / "beir")
    again = load_eval_set(out)
    assert again.queries == p.eval_set.queries and again.relevant == p.eval_set.relevant
    assert again.query_source == p.eval_set.query_source
    assert json.loads((out / "corpus.jsonl").read_text().splitlines()[0])["_id"]
    export_beir(again, p.corpus, out)  # overwrite in place works
    assert not list(tmp_path.glob(".beir*"))
