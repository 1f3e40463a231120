import numpy as np

from embtune_core.core.embeddings import EmbeddingCache, Encoder


def test_cache_never_reencodes_and_edits_reencode_one(tmp_path, tiny_model):
    texts = [f"article number {i} about seats and invoices" for i in range(40)]
    cache = EmbeddingCache(tmp_path / "cache")
    enc = Encoder(tiny_model, cache)
    first = enc.encode(texts, "document")
    assert enc.stats == {"cached": 0, "encoded": 40}
    # a new encoder on the same folder (a new process, in effect) serves everything from disk
    enc2 = Encoder(tiny_model, EmbeddingCache(tmp_path / "cache"))
    again = enc2.encode(texts, "document")
    assert enc2.stats == {"cached": 40, "encoded": 0}
    np.testing.assert_array_equal(first, again)
    texts[7] = texts[7] + " (edited)"
    enc2.encode(texts, "document")
    assert enc2.stats == {"cached": 79, "encoded": 1}


def test_cache_key_separates_kind_prompt_and_model(tmp_path, tiny_model_dir):
    from embtune_core.core.models import load_model

    cache = EmbeddingCache(tmp_path)
    a = Encoder(load_model(str(tiny_model_dir), device="cpu"), cache)
    a.encode(["x"], "document")
    a.encode(["x"], "query")  # no prompt, but a different key: still encoded
    assert a.stats["encoded"] == 2
    b = Encoder(load_model(str(tiny_model_dir), device="cpu", prompts={"query": "query: "}), cache)
    b.encode(["x"], "query")
    assert b.stats["encoded"] == 1
    c = Encoder(load_model(str(tiny_model_dir), device="cpu", max_seq_length=16), cache)
    c.encode(["x"], "document")
    assert c.stats["encoded"] == 1


def test_duplicates_in_one_call_are_encoded_once(tmp_path, tiny_model):
    enc = Encoder(tiny_model, EmbeddingCache(tmp_path))
    v = enc.encode(["same", "same", "other"], "document")
    assert enc.stats["encoded"] == 2 and np.array_equal(v[0], v[1])
