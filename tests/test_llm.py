import polars as pl
import pytest
from fake_openai import FakeOpenAI

from embtune_core.core.errors import RemoteError
from embtune_core.mine_pairs.llm import ChatClient, generate_queries, load_generated, parse_queries

KEY = "sk-chat-secret-777"
DOCS = pl.DataFrame({"doc_id": [f"d{i}" for i in range(6)], "title": [f"Topic {i}" for i in range(6)],
                     "text": [f"Body of article {i}." for i in range(6)]})


def test_parse_queries_strips_numbering():
    assert parse_queries('1. "refund"\n- money back\n\n2) refund\nQ3: card bounce', 5) == ["refund", "money back",
                                                                                       "card bounce"]


def test_generate_is_cached_and_resumable_and_keeps_the_key_out(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_KEY", KEY)
    with FakeOpenAI() as s:
        client = ChatClient(s.url, "llama", api_key_env="LLM_KEY", backoff=0.01)
        s.fail_next = ["garbage", "empty"]  # two articles fail; the rest are answered and cached
        out, stats = generate_queries(DOCS, client, tmp_path, n=3, concurrency=1)
        assert len(stats.failed) == 2 and stats.requests == 6 and stats.prompt_tokens == 200
        assert out["doc_id"].n_unique() == 4 and out.height == 12
        first = s.requests
        out2, stats2 = generate_queries(DOCS, client, tmp_path, n=3, concurrency=2)  # resume: only the 2 failed
        assert s.requests == first + 2 and stats2.cached == 4 and not stats2.failed
        assert out2["doc_id"].n_unique() == 6
        assert set(s.auth) == {f"Bearer {KEY}"}
    for f in tmp_path.rglob("*"):
        assert KEY.encode() not in f.read_bytes()
    assert load_generated(tmp_path, docs=DOCS, base_url=client.url.removesuffix("/chat/completions"), model="llama",
                          n=3).height == 18


def test_429_is_retried(tmp_path):
    with FakeOpenAI() as s:
        s.fail_next = ["429", "500", "429"]
        out, stats = generate_queries(DOCS.head(1), ChatClient(s.url, "m", backoff=0.01), tmp_path, n=2)
        assert out.height == 2 and s.requests == 4 and not stats.failed


def test_down_endpoint_is_a_clear_message(tmp_path):
    client = ChatClient("http://127.0.0.1:9/v1", "m", retries=1, backoff=0.01, timeout=1)
    out, stats = generate_queries(DOCS.head(2), client, tmp_path)
    assert out.height == 0 and len(stats.failed) == 2 and "gave up after 2 attempts" in stats.failed[0]
    with pytest.raises(RemoteError, match="needs \\[llm\\] base_url"):
        ChatClient("", "m")
