import polars as pl

from embtune_core.core.config import FilterConfig
from embtune_core.mine_pairs import filters


def row(**kw):
    base = {"pair_id": "p", "query": "money back on a paid bill", "doc_id": "refunds", "source": "search",
            "base_rank": 50, "easy_score": 0.1, "garbage": False, "dup_rank": 0, "near_dup_sim": 0.2, "weight": 1}
    return {**base, **kw}


def test_each_reason_and_click_pairs_never_dropped_for_a_base_miss():
    rows = [row(pair_id="ok"), row(pair_id="short", query="x"), row(pair_id="long", query="word " * 60),
            row(pair_id="dup", dup_rank=1), row(pair_id="near", near_dup_sim=0.97), row(pair_id="easy", easy_score=0.95),
            row(pair_id="docs_easy", source="docs", easy_score=1.0), row(pair_id="junk", garbage=True),
            row(pair_id="llm_miss", source="llm", base_rank=None), row(pair_id="llm_far", source="llm", base_rank=21),
            row(pair_id="llm_ok", source="llm", base_rank=20), row(pair_id="ticket_miss", source="ticket", base_rank=None)]
    f = filters.apply(pl.DataFrame(rows), FilterConfig())
    reasons = dict(zip(f["pair_id"], f["reasons"].to_list(), strict=True))
    assert reasons == {"ok": [], "short": ["too_short"], "long": ["too_long"], "dup": ["duplicate"],
                       "near": ["near_duplicate"], "easy": ["too_easy"], "docs_easy": [], "junk": ["garbage"],
                       "llm_miss": ["roundtrip"], "llm_far": ["roundtrip"], "llm_ok": [], "ticket_miss": []}
    loose = filters.apply(pl.DataFrame(rows), FilterConfig(roundtrip_k=50, near_duplicate=0.99))
    assert dict(zip(loose["pair_id"], loose["kept"], strict=True))["llm_far"]
    assert dict(zip(loose["pair_id"], loose["kept"], strict=True))["near"]


def test_a_heading_shared_by_many_articles_is_ambiguous():
    rows = [row(pair_id=f"o{i}", query="Options", doc_id=f"cmd{i}", source="docs") for i in range(5)]
    rows += [row(pair_id="s", query="Synopsis", doc_id="cmd0", source="docs"),
             row(pair_id="c0", query="options", doc_id="a", source="search"),
             row(pair_id="c1", query="options", doc_id="b", source="search"),
             row(pair_id="c2", query="options", doc_id="c", source="search"),
             row(pair_id="c3", query="options", doc_id="d", source="search")]
    f = filters.apply(pl.DataFrame(rows), FilterConfig())
    reasons = dict(zip(f["pair_id"], f["reasons"].to_list(), strict=True))
    assert all(reasons[f"o{i}"] == ["ambiguous"] for i in range(5)) and reasons["s"] == []
    assert all(reasons[f"c{i}"] == [] for i in range(4))  # only docs pairs: a click is a user's choice
    assert filters.apply(pl.DataFrame(rows), FilterConfig(ambiguous_max_articles=5))["kept"].all()
    assert filters.summary(f).filter(pl.col("source") == "docs")["ambiguous"][0] == 5


def test_text_scores():
    assert filters.easy_score("How do I fix accounting sync errors?", "Fixing accounting sync errors", "") == 1.0
    assert filters.easy_score("money back", "Issuing full and partial refunds", "") == 0.0
    pos = "You can refund part of a paid invoice from the invoice page. Refunds take 5 days."
    assert filters.easy_score("refund part of a paid invoice", "x", pos) == 1.0
    for bad in ["I'm sorry, but I can't help with that.", "Generate 3 questions about this article", "???? !!!!",
                "1234 5678"]:
        assert filters.is_garbage(bad), bad
    assert filters.is_garbage("qwrtzpsdfg kjhg")
    for good in ["why was i charged twice", "sso okta", "rechnung storno", "nrr", "csv", "asc 606", "LTV"]:
        assert not filters.is_garbage(good), good


def test_score_and_summary_on_the_sample(sample_project, tiny_model):
    from embtune_core.core.embeddings import Encoder
    from embtune_core.mine_pairs.mine import mine_all

    enc = Encoder(tiny_model)
    scored = filters.score(mine_all(sample_project, enc), sample_project.corpus, enc)
    assert {"base_rank", "near_dup_sim", "easy_score", "dup_rank"} <= set(scored.columns)
    s = filters.summary(filters.apply(scored, FilterConfig()))
    assert set(s["source"]) == {"docs", "llm", "search", "ticket"}
    assert (s["kept"] <= s["candidates"]).all()
    h = filters.headroom(scored)
    assert h["pairs"] > 500 and 0 <= h["share"] <= 1
