"""The bad-input corpus (``tests/bad_input/``, one small file per case): each case ends in a one-line
error naming file, line and field with its exit code, or in the defined behaviour the README lists."""

import dataclasses
import email.utils
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from fake_openai import FakeOpenAI

from embtune_core.core.config import AbTestConfig, GateConfig, SearchLogFields, TicketFields, load_config
from embtune_core.core.errors import ConfigError, InputError, WorkspaceError
from embtune_core.core.evaluate import evaluate_ranking
from embtune_core.core.remote import MAX_WAIT, post_json, retry_after
from embtune_core.core.sources import (
    EvalSet,
    load_complaints,
    load_docs,
    load_eval_set,
    load_search_log,
    load_tickets,
    load_trec_run,
)
from embtune_core.core.workspace import write_jsonl

BAD = Path(__file__).parent / "bad_input"
LOG = SearchLogFields(search_id="search_id", click_dwell="dwell_seconds")


@pytest.fixture(scope="module")
def corpus():
    return load_docs(BAD / "docs.jsonl", split=False)


def evalset(relevant=("KB-1",)):
    return EvalSet(queries={"q1": "refund a card"}, relevant={"q1": frozenset(relevant)}, path="", sha256="")


# --------------------------------------------------------------------------------------------------
# 1. JSONL is split on \n only: U+2028, U+2029 and U+0085 are text


def test_docs_with_line_separators_in_their_text_load(corpus):
    assert corpus.doc_ids() == ["KB-1", "kb-2", "Billing-Cycles"]
    assert "\u2028" in corpus.docs["text"][0] and "\u0085" in corpus.docs["text"][1]


def test_pairs_with_line_separators_load(corpus):
    from embtune_core.train import load_pairs

    pairs = load_pairs(BAD / "pairs_u2028.jsonl", corpus)
    assert pairs.height == 3 and pairs["query"][0] == "refund\u2028an invoice"


def test_what_write_jsonl_writes_load_pairs_reads(tmp_path, corpus):
    from embtune_core.train import load_pairs

    rows = [{"query": f"q{i} \u2028 \u2029 \u0085 \x1c end", "positive": "How to refund an invoice.",
             "doc_id": "KB-1"} for i in range(3)]
    write_jsonl(tmp_path / "pairs.jsonl", rows)
    assert load_pairs(tmp_path / "pairs.jsonl", corpus)["query"].to_list() == [r["query"] for r in rows]


def test_ab_event_with_a_line_separator_imports():
    from embtune_core.ship.abtest import load_events

    events = load_events(BAD / "ab_events_u2028.jsonl")
    assert events.height == 3 and events["query"][1] == "refund\u2028a card"
    assert events["line"].to_list() == [1, 2, 3]


def test_crlf_jsonl_is_tolerated(corpus):
    log, report = load_search_log(BAD / "log_crlf.jsonl", LOG, corpus)
    assert log.height == 3 and not report.bad_lines


def test_judgments_log_keeps_a_line_separator(tmp_path):
    from embtune_core.eval_set.evalset import Judgments

    j = Judgments(tmp_path / "judgments.jsonl")
    j.path.write_text(json.dumps({"norm_query": "a\u2028b", "relevant": ["KB-1"]}, ensure_ascii=False) + "\n")
    assert [r["norm_query"] for r in j.records()] == ["a\u2028b"]


def test_no_loader_uses_splitlines():
    import embtune_core

    root = Path(embtune_core.__file__).parent
    for p in (root / "core" / "sources.py", root / "core" / "records.py", root / "eval_set" / "evalset.py"):
        assert ".splitlines(" not in p.read_text().replace(":meth:`str.splitlines`", ""), p


# --------------------------------------------------------------------------------------------------
# 2. Ids from clicks resolve case-insensitively; unknown references count toward max_bad_share


def test_click_ids_resolve_case_insensitively_to_the_corpus_spelling(corpus):
    log, report = load_search_log(BAD / "log_uppercase_ids.jsonl", LOG, corpus)
    clicked = [c[0]["doc_id"] for c in log["clicks"].to_list()]
    assert clicked == ["KB-1", "KB-1", "KB-1", "kb-2", "Billing-Cycles"]
    assert log["results"].to_list()[3] == ["kb-2"] and not report.unknown_doc_refs


def test_exact_spelling_wins_over_a_case_twin(tmp_path):
    from embtune_core.core.sources import resolve_doc_id

    p = tmp_path / "docs.jsonl"
    write_jsonl(p, [{"id": "KB-1", "title": "a", "text": "x"}, {"id": "kb-1", "title": "b", "text": "y"}])
    index = load_docs(p).url_index()
    assert resolve_doc_id("KB-1", index) == "KB-1" and resolve_doc_id("kb-1", index) == "kb-1"
    assert resolve_doc_id("Kb-1", index) == "kb-1"  # neither exact: the lowercase twin
    write_jsonl(p, [{"id": "KB-1", "title": "a", "text": "x"}, {"id": "Kb-1", "title": "b", "text": "y"}])
    assert resolve_doc_id("kB-1", load_docs(p).url_index()) == "KB-1"  # else the first in the corpus


def test_a_log_whose_clicks_all_miss_the_corpus_fails_naming_examples(corpus):
    p = BAD / "log_clicks_miss.jsonl"
    with pytest.raises(InputError) as e:
        load_search_log(p, LOG, corpus)
    msg = str(e.value)
    assert msg.startswith(f"{p}: 4 of 4 lines are bad (100% > max_bad_share 5%)") and "\n" not in msg
    assert "4 references to articles not in the docs" in msg
    assert f"{p}:1: unknown article 'https://other.example/articles/x0'" in msg and e.value.exit_code == 3


def test_unknown_references_count_once_per_line(corpus):
    _, report = load_search_log(BAD / "log_clicks_miss.jsonl", LOG, corpus, max_bad_share=1.0)
    assert report.bad_share == 1.0 and len(report.unknown_doc_refs) == 4 and not report.bad_lines


# --------------------------------------------------------------------------------------------------
# 3. Crashes that are now messages or defined behaviours


def test_infinite_position_is_a_bad_line_not_a_crash(corpus):
    p = BAD / "log_position_infinity.jsonl"
    log, report = load_search_log(p, LOG, corpus, max_bad_share=0.5)
    assert log.height == 2 and report.bad_lines == [f"{p}:2: field 'position': not a finite number: inf"]
    with pytest.raises(InputError, match=r"1 of 3 lines are bad \(33% > max_bad_share 5%\)"):
        load_search_log(p, LOG, corpus)


def test_a_csv_field_over_128_kib_is_read(tmp_path, corpus):
    body = "quoted thread line\n" * 12_000  # ~216 KiB in one field
    p = tmp_path / "tickets.csv"
    p.write_text('id,subject,body,resolved_articles\n1,Money back,"' + body + '",KB-1\n2,Seats,short,kb-2\n')
    t, _ = load_tickets(p, TicketFields(), corpus)
    assert t["body"].to_list() == [body, "short"] and t["resolved"].to_list() == [["KB-1"], ["kb-2"]]
    import csv

    assert csv.field_size_limit() == 131072  # the process-wide limit is restored


def test_corrupt_parquet_is_one_line(corpus):
    p = BAD / "tickets_corrupt.parquet"
    with pytest.raises(InputError) as e:
        load_tickets(p, TicketFields(), corpus)
    msg = str(e.value)
    assert msg.startswith(f"{p}: not a readable Parquet file (ComputeError: ") and "\n" not in msg


@pytest.mark.parametrize("folder, file, msg", [
    ("eval_empty_queries", "queries.jsonl", "no queries (the file is empty)"),
    ("eval_empty_qrels", "qrels.tsv", "no judgments with a score > 0"),
])
def test_empty_eval_files_are_one_line(corpus, folder, file, msg):
    with pytest.raises(InputError) as e:
        load_eval_set(BAD / folder, corpus)
    assert str(e.value).startswith(f"{BAD / folder / file}: {msg}") and e.value.exit_code == 3


def test_empty_complaints_file_is_one_line(corpus):
    p = BAD / "complaints_empty.jsonl"
    with pytest.raises(InputError, match=r"complaints_empty.jsonl: no complaints \(the file is empty\)"):
        load_complaints(p, corpus)


@pytest.mark.parametrize("value, expect", [
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past
    ("-5", 0.0), ("3", 3.0), ("1e9", MAX_WAIT),
    ("soon", 1.5), ("", 1.5), (None, 1.5), ("inf", 1.5), ("nan", 1.5),
])
def test_retry_after_seconds_dates_and_garbage(value, expect):
    assert retry_after(value, 1.5) == expect


def test_retry_after_future_date():
    now = time.time()
    date = email.utils.formatdate(now + 10, usegmt=True)
    assert retry_after(date, 1.0, now=now) == pytest.approx(10, abs=1)


@pytest.mark.parametrize("header", ["Wed, 21 Oct 2015 07:28:00 GMT", "-1"])
def test_server_sending_a_date_or_a_negative_retry_after_is_retried(header):
    with FakeOpenAI() as s:
        s.retry_after, s.fail_next = header, ["429"]
        answer = post_json(s.url + "/embeddings", {"model": "m", "input": ["a b"]}, api_key=None,
                           backoff=0.01)
        assert len(answer["data"]) == 1 and s.requests == 2


@pytest.mark.parametrize("name, key", [("gate_recall_k.toml", "gate.recall_k"),
                                       ("gate_mrr_k.toml", "gate.mrr_k")])
def test_gate_cutoffs_must_be_computed(name, key):
    with pytest.raises(ConfigError) as e:
        load_config(BAD / name)
    assert f"'{key}' must be one of the cut-offs evaluation computes" in str(e.value)
    assert e.value.exit_code == 2
    assert GateConfig(recall_k=20, mrr_k=10).recall_k == 20


def test_excel_bom_and_semicolons(corpus):
    t, report = load_tickets(BAD / "tickets_excel.csv", TicketFields(), corpus)
    assert t["ticket_id"].to_list() == ["1", "2"] and t["subject"].to_list() == ["Money back", "More users"]
    assert t["resolved"].to_list() == [["KB-1"], ["kb-2"]] and not report.bad_lines


def test_csv_delimiter_is_read_off_the_header():
    from embtune_core.core.records import csv_delimiter

    assert csv_delimiter("id;subject;body", ("subject",)) == ";"
    assert csv_delimiter("id\tsubject\tbody, with comma", ("subject",)) == "\t"
    assert csv_delimiter("query,session_id", ("query",)) == "," and csv_delimiter("single") == ","


# --------------------------------------------------------------------------------------------------
# 4. Silently wrong, now right


def test_null_search_ids_do_not_fan_out_the_join(corpus):
    from embtune_core.mine_pairs.logs import mine_clicks

    log, _ = load_search_log(BAD / "log_null_search_id.jsonl", LOG, corpus)
    assert log["search_id"].to_list() == ["line1", "line2"]
    pairs = mine_clicks(log)
    assert pairs.height == 1 and pairs["weight"][0] == 2 and pairs["hard_negatives"][0].to_list() == ["kb-2"]


def test_nan_dwell_is_a_missing_dwell(corpus):
    from embtune_core.mine_pairs.logs import satisfied_clicks

    log, _ = load_search_log(BAD / "log_nan_dwell.jsonl", LOG, corpus)
    assert log["clicks"][0][0]["dwell"] is None
    assert satisfied_clicks(log)["doc_id"].to_list() == ["kb-2"]  # not the NaN click: it is not the last one
    raw = log.with_columns(pl.lit([{"doc_id": "KB-1", "position": 1, "dwell": float("nan")}]).alias("clicks"))
    sat = satisfied_clicks(raw.with_columns(pl.Series("session_id", ["s1", "s1"])))
    assert sat["reason"].to_list() == ["last_click"]  # a NaN in a frame built elsewhere: no long dwell either


def test_trec_duplicates_first_counts_and_recall_stays_at_most_1():
    ev = evalset(("KB-1",))
    run = load_trec_run(BAD / "run_duplicates.trec", ev)
    assert run == {"q1": [("KB-1", 2.0), ("kb-2", 1.0)]}
    assert evaluate_ranking(run, ev).metrics["recall@5"] == 1.0


def test_trec_nan_score_is_one_line():
    with pytest.raises(InputError) as e:
        load_trec_run(BAD / "run_nan_score.trec", evalset())
    assert (e.value.line, e.value.field) == (2, "score") and "is not a finite number" in str(e.value)


DOCS = pl.DataFrame({"doc_id": ["d0", "d1"], "title": ["Refunds", "Seats"],
                     "text": ["Refund body.", "Seat body."]})


def test_llm_cache_is_read_back_only_for_its_endpoint_model_and_article_version(tmp_path):
    from embtune_core.mine_pairs.llm import ChatClient, generate_queries, load_generated

    with FakeOpenAI() as s:
        base = s.url
        generate_queries(DOCS, ChatClient(base, "m1", backoff=0.01), tmp_path, n=2)
        assert s.requests == 2
        generate_queries(DOCS, ChatClient(base, "m2", backoff=0.01), tmp_path, n=2)  # another model: asked
        assert s.requests == 4

    def read(docs=DOCS, url=base, model="m1", n=2):
        got = load_generated(tmp_path, docs=docs, base_url=url, model=model, n=n)
        return sorted(set(got["doc_id"])) if got is not None else []

    assert read() == ["d0", "d1"] and read(model="m2") == ["d0", "d1"]
    m1 = load_generated(tmp_path, docs=DOCS, base_url=base, model="m1", n=2)
    assert m1["source_ref"].unique().to_list() == ["llm:m1"]  # never the other model's answers
    assert read(model="m3") == [] and read(url="http://127.0.0.1:1/v1") == [] and read(n=3) == []
    edited = DOCS.with_columns(pl.Series("text", ["Refund body, edited.", "Seat body."]))
    assert read(docs=edited) == ["d1"]  # the edited article's answers are stale


def test_complaint_queries_are_audited_on_export(sample_project, tmp_path):
    from embtune_core.mine_pairs.export import export_pairs
    from embtune_core.mine_pairs.review import ReviewStore

    class OneHot:
        fingerprint = "one-hot"

        def encode(self, texts, kind="query"):
            v = np.zeros((len(texts), 1 << 14), np.float32)
            slot = [int(hashlib.md5(t.encode()).hexdigest(), 16) % (1 << 14) for t in texts]
            v[np.arange(len(texts)), slot] = 1
            return v

    complaint = next(iter(sample_project.complaints.queries.values()))
    doc = sample_project.corpus.doc_ids()[0]
    rows = [{"pair_id": f"p{i}", "query": q, "doc_id": doc, "section_id": doc, "positive": "x",
             "source": "llm", "kept": True} for i, q in enumerate([complaint, "a query nobody measures"])]
    report = export_pairs(sample_project, pl.DataFrame(rows), ReviewStore(tmp_path / "r.sqlite"), OneHot(),
                          out=tmp_path / "pairs.jsonl")
    assert report.complaint_leaks_dropped == 1 and report.total == 1
    written = [json.loads(x)["query"] for x in (tmp_path / "pairs.jsonl").read_text().split("\n") if x]
    assert written == ["a query nobody measures"]
    assert sample_project.workspace.get("pairs").extra["complaint_leaks_dropped"] == 1


# --------------------------------------------------------------------------------------------------
# 5. Training: --resume checks its inputs; train_log.json is atomic; no negative to train against


def _plan(tmp_path, corpus, pairs_rows, **config):
    from embtune_core.core.config import TrainConfig
    from embtune_core.train import load_pairs
    from embtune_core.train.run import TrainPlan

    path = tmp_path / "pairs.jsonl"
    write_jsonl(path, pairs_rows)
    cfg = TrainConfig(output_dir=str(tmp_path / "run"), batch_size=2, hard_negatives=0, **config)
    return TrainPlan(pairs=load_pairs(path, corpus), pairs_path=path, corpus=corpus, config=cfg, encoder=None)


PAIRS = [{"query": "refund please", "positive": "How to refund an invoice.", "doc_id": "KB-1"},
         {"query": "seats", "positive": "Add or remove seats", "doc_id": "kb-2"}]


def test_resume_refuses_other_pairs_or_settings(tmp_path, corpus, monkeypatch):
    import embtune_core.train.run as run_mod
    from embtune_core.train.trainer import TrainResult

    seen = []

    def fake_train(pairs, corpus, config, **kw):
        # inputs.json is there before training starts
        seen.append(json.loads((Path(config.output_dir) / "inputs.json").read_text()))
        return TrainResult(config.output_dir, None, 1, 0.1, [], [], {}, False, [])

    monkeypatch.setattr(run_mod, "train", fake_train)
    run_mod.train_run(_plan(tmp_path, corpus, PAIRS), log=lambda m: None)
    assert seen[0]["pairs_sha256"] and seen[0]["config"]["batch_size"] == 2
    run_mod.train_run(_plan(tmp_path, corpus, PAIRS), resume=True, log=lambda m: None)  # same inputs: resumes
    with pytest.raises(WorkspaceError) as e:
        run_mod.train_run(_plan(tmp_path, corpus, PAIRS[:1] * 2), resume=True, log=lambda m: None)
    assert "cannot --resume: the pairs differ" in str(e.value) and e.value.exit_code == 5
    with pytest.raises(WorkspaceError, match=r"the settings \(epochs, learning_rate\) differ"):
        run_mod.train_run(_plan(tmp_path, corpus, PAIRS, epochs=3.0, learning_rate=1e-4), resume=True,
                          log=lambda m: None)
    assert len(seen) == 2


def test_train_log_is_written_atomically(sample_project, tiny_model_dir, tmp_path, monkeypatch):
    import embtune_core.core.workspace as ws
    from embtune_core.core.config import TrainConfig
    from embtune_core.train import train

    s = sample_project.corpus.sections
    pairs = pl.DataFrame({"query": [f"question {i} {h}" for i, h in enumerate(s["heading"])][:40],
                          "positive": s["text"].to_list()[:40], "doc_id": s["doc_id"].to_list()[:40],
                          "source": ["docs"] * 40})
    cfg = TrainConfig(base_model=str(tiny_model_dir), output_dir=str(tmp_path / "run"), batch_size=8,
                      max_seq_length=32, hard_negatives=0, max_steps=1)
    real = ws.os.replace

    def crash_on_log(src, dst):
        if Path(dst).name == "train_log.json":
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(ws.os, "replace", crash_on_log)
    with pytest.raises(OSError, match="disk full"):
        train(pairs, sample_project.corpus, cfg, log=lambda m: None)
    out = tmp_path / "run"
    assert not (out / "train_log.json").exists() and not list(out.glob(".train_log.json.*"))


def test_no_negative_outside_the_querys_articles_is_an_error(tiny_model):
    from embtune_core.core.config import TrainConfig
    from embtune_core.train.data import add_hard_negatives

    one = load_docs(BAD / "docs.jsonl", split=False)
    only = dataclasses.replace(one, sections=one.sections.filter(pl.col("doc_id") == "KB-1"))
    train = pl.DataFrame({"anchor": ["refund please"], "positive": [only.unit_texts()[0]], "doc_id": ["KB-1"],
                          "source": ["search"]})
    with pytest.raises(InputError, match="no unit of the corpus lies outside the articles of the query"):
        add_hard_negatives(train, only, tiny_model, TrainConfig(hard_negatives=1), log=lambda m: None)


# --------------------------------------------------------------------------------------------------
# 6. A/B: the experiment itself is checked; the default salt is per experiment


def test_wrong_arm_and_users_in_both_arms_are_flagged():
    from embtune_core.ship.abtest import analyze, load_events

    r = analyze(load_events(BAD / "ab_events_misassigned.jsonl"), share=0.5, salt="exp-1", resamples=200)
    assert len(r.problems) == 2
    assert r.problems[0] == "1 users are in both arms (e.g. u-both)"
    wrong = "2 of 11 searches are in the wrong arm for assign(user, salt='exp-1', share=0.5)"
    assert r.problems[1].startswith(wrong)
    assert "u-wrong logged" in r.problems[1]
    assert r.decision.startswith("Do not act on this test yet: 1 users are in both arms")


def test_sample_ratio_mismatch_is_flagged():
    from embtune_core.ship.abtest import analyze, load_events

    r = analyze(load_events(BAD / "ab_events_srm.jsonl"), share=0.5, salt="exp-1", resamples=200)
    assert r.problems == ("sample-ratio mismatch: 30 of 33 users (90.9%) in the candidate arm, 50% expected "
                          "(chi-square p = 3e-06)",)
    assert "sample-ratio mismatch" in r.decision
    r = analyze(load_events(BAD / "ab_events_srm.jsonl"), resamples=200)  # no share given: nothing to check
    assert r.problems == () and not r.decision.startswith("Do not act")


def test_the_sample_experiment_is_clean():
    from conftest import SAMPLE

    from embtune_core.ship.abtest import check_assignment, load_events

    cfg = load_config(SAMPLE / "embtune.toml").abtest
    assert check_assignment(load_events(SAMPLE / "ab" / "events.jsonl"), share=cfg.share, salt=cfg.salt) == ()


def test_default_salt_derives_from_the_experiment():
    from embtune_core.ship.abtest import assign, experiment_salt

    assert AbTestConfig().salt == ""
    a, b = experiment_salt("", "tuned_1"), experiment_salt("", "tuned_2")
    assert (a, b) == ("embtune-ab:tuned_1", "embtune-ab:tuned_2")
    assert experiment_salt("mine", "tuned_1") == "mine"
    users = [f"u{i}" for i in range(2000)]
    moved = sum(assign(u, salt=a, share=0.5) != assign(u, salt=b, share=0.5) for u in users) / len(users)
    assert 0.4 < moved < 0.6  # a new candidate reshuffles users
    with pytest.raises(ConfigError, match="no salt"):
        experiment_salt("", "")
