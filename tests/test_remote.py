import numpy as np
import pytest
from fake_openai import FakeOpenAI

from embtune_core.core.embeddings import EmbeddingCache
from embtune_core.core.errors import RemoteError
from embtune_core.core.remote import RemoteEmbedder

SECRET = "sk-test-SECRET-0123456789"


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


def test_embeddings_are_cached_and_key_stays_out_of_the_cache(tmp_path, server, monkeypatch):
    monkeypatch.setenv("EMBTUNE_TEST_KEY", SECRET)
    cache = EmbeddingCache(tmp_path)
    enc = RemoteEmbedder(server.url, "text-embedding-x", api_key_env="EMBTUNE_TEST_KEY", cache=cache, batch_size=2)
    v = enc.encode(["refund an invoice", "add a seat", "sso with okta"])
    assert v.shape == (3, 24) and np.allclose(np.linalg.norm(v, axis=1), 1)
    assert server.requests == 2 and server.auth == [f"Bearer {SECRET}"] * 2
    again = RemoteEmbedder(server.url, "text-embedding-x", api_key_env="EMBTUNE_TEST_KEY",
                           cache=EmbeddingCache(tmp_path)).encode(["refund an invoice", "add a seat", "sso with okta"])
    assert server.requests == 2 and np.array_equal(v, again)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes()


def test_429_and_5xx_are_retried(tmp_path, server):
    server.fail_next = ["429", "500"]
    enc = RemoteEmbedder(server.url, "m")
    enc.encode(["a b"])
    assert server.requests == 3


def test_garbage_and_short_answers_are_clear_errors(server):
    server.fail_next = ["garbage"]
    with pytest.raises(RemoteError, match="answer is not JSON"):
        RemoteEmbedder(server.url, "m").encode(["x"])
    server.fail_next = ["short"]
    with pytest.raises(RemoteError, match="asked for 2 embeddings, got 1"):
        RemoteEmbedder(server.url, "m").encode(["x", "y"])


def test_down_endpoint_gives_up_with_a_clear_message():
    enc = RemoteEmbedder("http://127.0.0.1:9/v1", "m")
    import embtune_core.core.remote as r

    with pytest.raises(RemoteError, match="gave up after"):
        r.post_json(enc.url, {"input": ["x"]}, api_key=None, retries=1, backoff=0.01, timeout=1)
