import numpy as np
import polars as pl

from embtune_core.core.sources import EvalSet
from embtune_core.core.text import normalize_query, token_set
from embtune_core.eval_set.leakage import audit, drop_leaks


def test_normalize_and_token_set():
    assert normalize_query("  Refund, an INVOICE!! ") == "refund an invoice"
    assert normalize_query("Rechnung stornieren – Gebühr") == "rechnung stornieren gebuhr"
    assert token_set("invoice refund") == token_set("Refund: invoice?")


class WordEncoder:
    """Keyword one-hot encoder: queries sharing all words are identical vectors."""

    def __init__(self, vocab):
        self.vocab = {w: i for i, w in enumerate(vocab)}

    def encode(self, texts, kind="query"):
        out = np.zeros((len(texts), len(self.vocab)), np.float32)
        for i, t in enumerate(texts):
            for w in normalize_query(t).split():
                if w in self.vocab:
                    out[i, self.vocab[w]] = 1
        n = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(n == 0, 1, n)


EV = EvalSet(queries={"e1": "refund an invoice", "e2": "add seats", "e3": "okta scim sync"},
             relevant={"e1": frozenset({"refunds"}), "e2": frozenset({"seats"}), "e3": frozenset({"scim", "sso"})},
             path="", sha256="")


def test_audit_finds_each_kind_and_answered_queries():
    pairs = pl.DataFrame({
        "query": ["refund an invoice", "Add seats!", "seats add", "okta scim sync now", "webhooks", "scim okta sync"],
        "doc_id": ["refunds", "seats", "seats", "scim", "hooks", "sso"],
    })
    enc = WordEncoder(["refund", "an", "invoice", "add", "seats", "okta", "scim", "sync", "now", "webhooks"])
    r = audit(pairs, EV, encoder=enc, threshold=0.85)
    kinds = dict(zip(r.leaks["query"], r.leaks["kind"], strict=True))
    assert kinds == {"refund an invoice": "exact", "Add seats!": "normalized", "seats add": "token_set",
                     "okta scim sync now": "near_duplicate", "scim okta sync": "token_set"}
    assert r.answered_eval_queries == ["e1", "e2", "e3"]  # e3: scim + sso both covered
    c = r.counts()
    assert c["leaking_pairs"] == 5 and c["near_duplicate"] == 1 and c["pairs"] == 6
    assert drop_leaks(pairs, r)["query"].to_list() == ["webhooks"]


def test_audit_without_encoder_skips_near_duplicates():
    pairs = pl.DataFrame({"query": ["okta scim sync now"], "doc_id": ["scim"]})
    r = audit(pairs, EV)
    assert r.leaks.height == 0 and r.answered_eval_queries == []
