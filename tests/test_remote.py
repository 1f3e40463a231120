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


def _port(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def test_a_redirect_to_another_host_never_carries_the_key(server, monkeypatch):
    monkeypatch.setenv("EMBTUNE_TEST_KEY", SECRET)
    with FakeOpenAI() as other:
        elsewhere = f"http://localhost:{_port(other.url)}/v1"  # same machine, another host name
        for code in (301, 302, 303, 307, 308):
            server.redirect = (code, f"{elsewhere}?key={SECRET}")
            with pytest.raises(RemoteError, match="not followed") as e:
                RemoteEmbedder(server.url, "m", api_key_env="EMBTUNE_TEST_KEY").encode(["a b"])
            assert SECRET not in str(e.value) and "key=[REDACTED]" in str(e.value)
        assert other.requests == 0 and server.auth == [f"Bearer {SECRET}"] * 5
        # without a key there is nothing to carry: followed, a 307 re-POSTing the body
        monkeypatch.delenv("EMBTUNE_TEST_KEY")
        server.redirect = (307, elsewhere)
        v = RemoteEmbedder(server.url, "m", api_key_env="EMBTUNE_TEST_KEY").encode(["a b"])
        assert v.shape == (1, 24) and other.auth == [None]


def test_a_same_origin_redirect_keeps_the_key_and_the_post(server, monkeypatch):
    monkeypatch.setenv("EMBTUNE_TEST_KEY", SECRET)
    server.redirect = (308, server.url.removesuffix("/v1") + "/redirected/v1")
    v = RemoteEmbedder(server.url, "m", api_key_env="EMBTUNE_TEST_KEY").encode(["a b", "c"])
    assert v.shape == (2, 24) and server.auth == [f"Bearer {SECRET}"] * 2


def test_https_to_http_and_other_ports_are_refused():
    import urllib.request

    from embtune_core.core.remote import KeyGuardRedirectHandler

    req = urllib.request.Request("https://api.example.com/v1/embeddings", data=b"{}", method="POST",
                                 headers={"Authorization": f"Bearer {SECRET}"})
    for target in ("http://api.example.com/v1/embeddings", "https://api.example.com:8443/v1/embeddings",
                   "https://evil.example.net/v1/embeddings"):
        with pytest.raises(RemoteError, match="not followed"):
            KeyGuardRedirectHandler().redirect_request(req, None, 307, "Temporary Redirect", {}, target)
    new = KeyGuardRedirectHandler().redirect_request(req, None, 307, "Temporary Redirect", {},
                                                     "https://API.example.com:443/v2/embeddings")
    assert new.get_method() == "POST" and new.data == b"{}" and new.get_header("Authorization") == f"Bearer {SECRET}"


def test_an_endpoint_with_a_key_in_its_url_is_masked_in_messages_and_the_cache(tmp_path, server):
    cache = EmbeddingCache(tmp_path)
    enc = RemoteEmbedder(f"{server.url}?key={SECRET}", "m", cache=cache)
    enc.encode(["refund an invoice"])
    assert SECRET not in enc.shown_url and "key=[REDACTED]" in enc.shown_url
    server.fail_next = ["short"]
    with pytest.raises(RemoteError) as e:
        enc.encode(["x", "y"])
    assert SECRET not in str(e.value)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
