import numpy as np

from embtune_core.core.models import fingerprint, load_model, summarize


def test_tiny_model_encodes_normalised_vectors(tiny_model):
    v = tiny_model.encode(["invite a teammate", "refund an invoice"], normalize_embeddings=True)
    assert v.shape == (2, 32)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_fingerprint_is_stable_and_sensitive(tiny_model_dir):
    a = load_model(str(tiny_model_dir), device="cpu")
    b = load_model(str(tiny_model_dir), device="cpu")
    assert fingerprint(a) == fingerprint(b)
    b.max_seq_length = 32
    assert fingerprint(a) != fingerprint(b)
    c = load_model(str(tiny_model_dir), device="cpu", prompts={"query": "query: "})
    assert fingerprint(c) != fingerprint(a)
    import torch

    with torch.no_grad():
        next(a.parameters()).add_(1e-3)
    assert fingerprint(a) != fingerprint(b)


def test_summary_of_tiny_model(tiny_model):
    s = summarize(tiny_model, "tiny")
    assert (s.backbone, s.pooling, s.dim, s.max_seq_length, s.normalized) == ("BertModel", "mean", 32, 64, True)
    assert 500_000 < s.parameters < 2_000_000
