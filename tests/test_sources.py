import json

import polars as pl
import pytest
from conftest import SAMPLE

from embtune_core.core.config import SearchLogFields, TicketFields
from embtune_core.core.errors import InputError
from embtune_core.core.sources import (
    load_docs,
    load_eval_set,
    load_search_log,
    load_tickets,
    load_trec_run,
    normalize_url,
    resolve_doc_id,
)


def jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


GOOD = [{"id": "a", "title": "Refunds", "text": "How to refund.", "url": "https://h.example/en/articles/a"},
        {"id": "b", "title": "Seats", "text": "Seats explained."}]


def test_jsonl_docs(tmp_path):
    c = load_docs(jsonl(tmp_path / "docs.jsonl", GOOD))
    assert c.doc_ids() == ["a", "b"] and c.sections.height == 2 and not c.split


@pytest.mark.parametrize(
    "rows, line, field, msg",
    [
        ([GOOD[0], '{"id": "b", "title": "x", "text": "y"'], 2, None, "malformed JSON"),
        ([GOOD[0], {"id": "b", "title": "x", "txet": "y"}], 2, "text", "found 'txet': misspelt?"),
        ([GOOD[0], {"id": "b", "title": "x"}], 2, "text", "missing field"),
        ([GOOD[0], {"id": "b", "title": "x", "text": 5}], 2, "text", "must be a string, got int"),
        ([GOOD[0], {"id": "b", "title": "x", "text": "   "}], 2, "text", "empty"),
        ([GOOD[0], {"id": "a", "title": "x", "text": "y"}], 2, "id", "duplicate id 'a'"),
        ([GOOD[0], "[1, 2]"], 2, None, "expected a JSON object"),
    ],
)
def test_bad_docs_name_file_line_field(tmp_path, rows, line, field, msg):
    p = jsonl(tmp_path / "docs.jsonl", rows)
    with pytest.raises(InputError) as e:
        load_docs(p)
    assert e.value.line == line and e.value.field == field and msg in str(e.value)
    assert str(e.value).startswith(f"{p}:{line}")


def test_undecodable_docs(tmp_path):
    p = tmp_path / "docs.jsonl"
    p.write_bytes(json.dumps(GOOD[0]).encode() + b"\n" + b'{"id": "b", "title": "\xff", "text": "x"}\n')
    with pytest.raises(InputError, match=r"docs.jsonl:2: not UTF-8"):
        load_docs(p)


def test_markdown_docs_need_a_title(tmp_path):
    (tmp_path / "a.md").write_text("---\nid: a\n---\nno title here\n")
    with pytest.raises(InputError, match="field 'title'"):
        load_docs(tmp_path)
    (tmp_path / "a.md").write_text("# A title\n\nBody text.\n")
    assert load_docs(tmp_path).titles() == {"a": "A title"}


def test_sample_docs_split_long_articles_into_sections():
    c = load_docs(SAMPLE / "docs")
    assert c.docs.height >= 120
    long = c.sections.filter(pl.col("section_id").str.contains("#"))
    assert long.height > 0 and c.split
    # every section belongs to a real article and keeps the title
    doc = long["doc_id"][0]
    assert c.titles()[doc].split()[0] in long["text"][0]
    short = load_docs(SAMPLE / "docs", split=False)
    assert short.sections.height == short.docs.height


@pytest.mark.parametrize(
    "url, key",
    [
        ("https://help.ledgerline.app/en-us/articles/refunds/?utm_source=app&utm_medium=x#partial", "articles/refunds"),
        ("http://help.ledgerline.app/de/articles/Refunds", "articles/refunds"),
        ("https://help.ledgerline.app/pt_BR/articles/refunds.html?gclid=1", "articles/refunds"),
        ("/articles/refunds/", "articles/refunds"),
        ("refunds", "refunds"),
    ],
)
def test_normalize_url(url, key):
    assert normalize_url(url) == key


def test_resolve_doc_id_maps_urls_and_ids():
    index = {"a": "a", "articles/a": "a"}
    assert resolve_doc_id("https://x/fr/articles/a/?ref=1#top", index) == "a"
    assert resolve_doc_id("https://x/blog/a", index) == "a"  # falls back to the last segment
    assert resolve_doc_id("https://x/articles/deleted", index) is None


def corpus(tmp_path):
    return load_docs(jsonl(tmp_path / "docs.jsonl", GOOD))


def test_search_log_is_tolerant_and_reports(tmp_path):
    c = corpus(tmp_path)
    rows = [{"query": "refund", "session_id": "s1", "results": ["https://h.example/articles/a"],
             "clicks": [{"url": "https://h.example/de/articles/a/?utm_source=x", "position": 1, "dwell_seconds": 40}]}
            for _ in range(30)]
    rows[3] = '{"query": "broken'
    rows[5] = {"query": "x", "clicks": [{"url": "https://h.example/articles/deleted", "position": 2}]}
    log, report = load_search_log(jsonl(tmp_path / "log.jsonl", rows), SearchLogFields(), c, max_bad_share=0.1)
    assert log.height == 29 and report.rows_read == 30
    assert report.bad_lines == [f"{tmp_path / 'log.jsonl'}:4: malformed JSON (Unterminated string starting at)"]
    assert "log.jsonl:6: unknown article" in report.unknown_doc_refs[0]
    assert log["clicks"][0][0]["doc_id"] == "a"


def test_search_log_mostly_bad_fails_clearly(tmp_path):
    c = corpus(tmp_path)
    rows = ['{"bad'] * 5 + [{"query": "ok"}] * 5
    with pytest.raises(InputError, match=r"5 of 10 lines are bad \(50% > max_bad_share 5%\)"):
        load_search_log(jsonl(tmp_path / "log.jsonl", rows), SearchLogFields(), c)


def test_search_log_csv_with_field_mapping(tmp_path):
    c = corpus(tmp_path)
    p = tmp_path / "log.csv"
    p.write_text('Query,Session,Clicked\n"seat count",s1,https://h.example/articles/b\nrefund,s2,a\n')
    fields = SearchLogFields(query="Query", session="Session", clicks="Clicked")
    log, report = load_search_log(p, fields, c)
    assert log["query"].to_list() == ["seat count", "refund"]
    assert [x[0]["doc_id"] for x in log["clicks"]] == ["b", "a"]


def test_tickets_csv_and_parquet(tmp_path):
    c = corpus(tmp_path)
    df = pl.DataFrame({"id": ["1", "2"], "subject": ["money back", "more users"], "body": ["..", ".."],
                       "resolved_articles": ["https://h.example/en/articles/a/", "b | deleted"]})
    df.write_parquet(tmp_path / "t.parquet")
    t, report = load_tickets(tmp_path / "t.parquet", TicketFields(), c, max_bad_share=0.5)
    assert t["resolved"].to_list() == [["a"], ["b"]] and len(report.unknown_doc_refs) == 1


def beir(tmp_path, qrels, queries=None):
    d = tmp_path / "beir"
    d.mkdir()
    jsonl(d / "corpus.jsonl", [{"_id": "a", "title": "A", "text": "x"}, {"_id": "b", "title": "B", "text": "y"}])
    jsonl(d / "queries.jsonl", queries or [{"_id": "q1", "text": "one"}, {"_id": "q2", "text": "two"}])
    (d / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    return d


def test_eval_set_loads(tmp_path):
    ev = load_eval_set(beir(tmp_path, "q1\ta\t1\nq2\tb\t1\nq2\ta\t1\n"))
    assert ev.relevant == {"q1": {"a"}, "q2": {"a", "b"}} and len(ev) == 2 and ev.sha256


@pytest.mark.parametrize(
    "qrels, line, field, msg",
    [
        ("q1\ta\t1\nq2\tz\t1\n", 3, "corpus-id", "unknown doc id 'z'"),
        ("q1\ta\t1\nq9\tb\t1\n", 3, "query-id", "unknown query id 'q9'"),
        ("q1\ta\t1\nq2 b 1\n", 3, None, "expected 3 tab-separated columns"),
        ("q1\ta\t1\nq2\tb\tyes\n", 3, "score", "is not a number"),
    ],
)
def test_bad_judgments(tmp_path, qrels, line, field, msg):
    with pytest.raises(InputError) as e:
        load_eval_set(beir(tmp_path, qrels))
    assert (e.value.line, e.value.field) == (line, field) and msg in str(e.value)


def test_query_without_judgment_is_an_error_not_a_silent_skip(tmp_path):
    with pytest.raises(InputError, match="1 queries have no relevant doc"):
        load_eval_set(beir(tmp_path, "q1\ta\t1\n"))


def test_duplicate_query_id(tmp_path):
    with pytest.raises(InputError, match="duplicate query id 'q1'"):
        load_eval_set(beir(tmp_path, "q1\ta\t1\n", [{"_id": "q1", "text": "a"}, {"_id": "q1", "text": "b"}]))


def test_trec_run(tmp_path):
    ev = load_eval_set(beir(tmp_path, "q1\ta\t1\nq2\tb\t1\n"))
    p = tmp_path / "run.trec"
    p.write_text("q1 Q0 b 1 2.0 x\nq1 Q0 a 2 1.0 x\nq3 Q0 a 1 1 x\n")
    assert load_trec_run(p, ev) == {"q1": [("b", 2.0), ("a", 1.0)]}
    p.write_text("q1 Q0 b 1 2.0\n")
    with pytest.raises(InputError, match="run.trec:1"):
        load_trec_run(p, ev)


def test_empty_corpus_is_an_error(tmp_path):
    (tmp_path / "docs").mkdir()
    with pytest.raises(InputError, match="no documents found"):
        load_docs(tmp_path / "docs")
    (tmp_path / "c.jsonl").write_text("\n\n")
    with pytest.raises(InputError, match="no documents found"):
        load_docs(tmp_path / "c.jsonl")
