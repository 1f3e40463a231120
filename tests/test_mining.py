import polars as pl

from embtune_core.core.config import SearchLogFields
from embtune_core.core.embeddings import Encoder
from embtune_core.core.sources import load_search_log
from embtune_core.mine_pairs.docs import mine_docs
from embtune_core.mine_pairs.logs import mine_clicks, satisfied_clicks
from embtune_core.mine_pairs.mine import assign_sections, mine_all, pair_id
from embtune_core.mine_pairs.tickets import first_meaningful_sentence, mine_tickets


def log_frame(tmp_path, corpus, rows):
    import json

    p = tmp_path / "log.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return load_search_log(p, SearchLogFields(), corpus)[0]


def test_satisfied_clicks_and_skipped_results(tmp_path, sample_project):
    c = sample_project.corpus
    rows = [
        # satisfied by dwell at position 3: refunds and credit-notes were shown above and skipped
        {"search_id": "1", "session_id": "s1", "query": "Money Back!", "results": ["refunds", "credit-notes", "voiding-invoices"],
         "clicks": [{"url": "voiding-invoices", "position": 3, "dwell_seconds": 95}]},
        # a pogo-stick (short dwell) then the session's last click with a moderate dwell: satisfied (last click)
        {"search_id": "2", "session_id": "s2", "query": "seats", "results": ["seat-based-pricing", "add-ons"],
         "clicks": [{"url": "add-ons", "position": 2, "dwell_seconds": 4},
                    {"url": "seat-based-pricing", "position": 1, "dwell_seconds": 15}]},
        # a bounce that is the last click: not satisfied
        {"search_id": "3", "session_id": "s3", "query": "sso", "results": ["enforcing-sso"],
         "clicks": [{"url": "enforcing-sso", "position": 1, "dwell_seconds": 3}]},
        {"search_id": "4", "session_id": "s4", "query": "money back", "results": ["voiding-invoices"],
         "clicks": [{"url": "https://help.ledgerline.app/de/articles/voiding-invoices/?utm_source=x", "position": 1,
                     "dwell_seconds": 40}]},
    ]
    log = log_frame(tmp_path, c, rows)
    sat = satisfied_clicks(log)
    assert sorted(zip(sat["doc_id"], sat["reason"], strict=True)) == [
        ("seat-based-pricing", "last_click"), ("voiding-invoices", "dwell"), ("voiding-invoices", "dwell")]
    pairs = mine_clicks(log)
    vo = pairs.filter(pl.col("doc_id") == "voiding-invoices").row(0, named=True)
    assert vo["weight"] == 2 and vo["hard_negatives"] == ["credit-notes", "refunds"]  # aggregated per normalised query
    assert vo["source"] == "search" and vo["source_ref"].startswith("search_log:")


def test_tickets_are_scrubbed_and_use_the_first_meaningful_sentence(sample_project):
    t = sample_project.tickets.head(30)
    m = mine_tickets(t)
    assert m.height >= 30 and set(m["source"]) == {"ticket"}
    body = "Hi team,\n\nOur card 4242 4242 4242 4242 was charged twice. More text.\n\nThanks,\nAna Silva\nCFO, Acme Ltd\n"
    assert first_meaningful_sentence(body) == "Our card [CARD] was charged twice."
    for q in m["query"]:
        assert "@" not in q and "acct_" not in q


def test_docs_pairs_do_not_copy_their_query():
    from conftest import SAMPLE

    from embtune_core.core.sources import load_docs

    c = load_docs(SAMPLE / "docs")
    d = mine_docs(c)
    assert {r.split(":")[0] for r in d["source_ref"]} == {"title", "heading"}
    assert d.filter(pl.col("source_ref").str.starts_with("title")).height == c.docs.height
    for q, pos in zip(d["query"], d["positive"], strict=True):
        assert not pos.startswith(q + "\n")


def test_best_section_is_recorded_for_split_articles(sample_project, tiny_model):
    c = sample_project.corpus
    long_doc = c.sections.filter(pl.col("section_id").str.contains("#"))["doc_id"][0]
    units = c.sections.filter(pl.col("doc_id") == long_doc)
    # the query *is* the text of section 2: the best section must be #2
    cand = pl.DataFrame({"query": [units["text"][1]], "doc_id": [long_doc], "section_id": [None], "positive": [None]},
                        schema_overrides={"section_id": pl.String, "positive": pl.String})
    out = assign_sections(cand, c, Encoder(tiny_model))
    assert out["section_id"][0] == units["section_id"][1] and out["positive"][0] == units["text"][1]


def test_pair_ids_are_stable_and_mining_covers_every_source(sample_project, tiny_model):
    assert pair_id("Money back!", "refunds", "search") == pair_id("money  back", "refunds", "search")
    assert pair_id("money back", "refunds", "search") != pair_id("money back", "refunds", "ticket")
    cand = mine_all(sample_project, Encoder(tiny_model))
    assert set(cand["source"]) == {"search", "ticket", "docs", "llm"}
    assert cand["pair_id"].n_unique() == cand.height and cand["positive"].null_count() == 0
    again = mine_all(sample_project, Encoder(tiny_model))
    assert again["pair_id"].sort().to_list() == cand["pair_id"].sort().to_list()
