"""ONNX exports: files, fp32 parity with torch, int8 sanity, refusals and atomic writes.

The fast tests use the tiny random BERT; the slow one exports the real MiniLM and evaluates the int8
export on the sample project against the torch model.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from embtune_core.core.errors import ModelError, WorkspaceError
from embtune_core.ship.serving import (
    FP32_MIN_COSINE,
    META,
    OnnxEncoder,
    OnnxExport,
    check_parity,
    evaluate_onnx,
    export_onnx,
)

TEXTS = [
    "", "a", "refund", "How do I cancel my subscription?", "invoice PDF missing VAT number",
    "change billing email", "Why was my card charged twice this month?", "export revenue report to CSV",
    "proration when upgrading mid-cycle", "API key rotation", "SSO with Okta", "dunning emails not sent",
    "¿Cómo cambio la moneda de facturación?", "Rechnung für März herunterladen", "請求書をダウンロードする方法",
    "как изменить тарифный план", "إلغاء الاشتراك", "emoji 🚀💳✨ in a query", "naïve café façade résumé",
    "tabs\tand\nnewlines\r\n  spaces", "UPPERCASE QUERY ABOUT MRR", "mrr arr ltv cac churn",
    "12345 67890 3.14 $99.00 €49,99", "<b>html</b> &amp; entities", "x" * 300,
    "the " * 200, " ".join(f"word{i}" for i in range(400)), "Ledgerline " * 90 + "tail never seen",
    "short", "Long article body. " * 60,
]


@pytest.fixture(scope="module")
def tiny_export(tiny_model_dir, tmp_path_factory):
    return export_onnx(str(tiny_model_dir), tmp_path_factory.mktemp("onnx") / "tiny")


def test_export_writes_files_and_metadata(tiny_export, tiny_model):
    from embtune_core.core.models import fingerprint

    d = tiny_export.out_dir
    assert tiny_export.model_fp32.is_file() and tiny_export.model_int8.is_file()
    assert (d / "tokenizer.json").is_file() and (d / META).is_file()
    assert tiny_export.pooling == ("mean",) and tiny_export.normalize
    assert tiny_export.max_seq_length == 64 and tiny_export.dim == 32 and tiny_export.opset >= 17
    assert tiny_export.fingerprint == fingerprint(tiny_model)
    assert OnnxExport.load(d) == tiny_export
    assert json.loads((d / META).read_text())["files"] == {"fp32": "model.onnx", "int8": "model.int8.onnx"}
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_fp32_parity_on_varied_texts(tiny_export, tiny_model):
    report = check_parity(tiny_model, tiny_export, TEXTS, batch_size=7)  # several padded batches
    assert report.n_texts == len(TEXTS) == 30
    assert report.fp32_min >= FP32_MIN_COSINE and report.ok
    assert report.int8_min is not None and -1.0 <= report.int8_min <= report.int8_mean <= 1.0 + 1e-6


def test_fp32_matches_torch_vectors_and_batching(tiny_export, tiny_model):
    ref = tiny_model.encode(TEXTS, normalize_embeddings=True)
    enc = OnnxEncoder(tiny_export.out_dir, variant="fp32", threads=1)
    one = enc.encode(TEXTS, batch_size=1)  # no padding at all
    many = enc.encode(TEXTS, batch_size=64)  # one batch padded to the longest
    assert np.abs(one - ref).max() < 1e-4 and np.abs(many - ref).max() < 1e-4


def test_int8_runs_normalized_right_dim(tiny_export):
    enc = OnnxEncoder(tiny_export, variant="int8")
    seen = []
    v = enc.encode(TEXTS, "query", progress=lambda done, total: seen.append((done, total)), batch_size=8)
    assert v.shape == (30, 32) and v.dtype == np.float32 and np.isfinite(v).all()
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert seen[-1] == (30, 30)
    assert enc.encode([]).shape == (0, 32)


def test_int8_quantizes_embeddings_and_attention_keeps_ffn_fp32(tiny_export):
    import onnx

    g = onnx.load(str(tiny_export.model_int8)).graph
    dims = {t.name: tuple(t.dims) for t in g.initializer}
    ops = [n.op_type for n in g.node]
    assert ops.count("MatMulInteger") == 4 * 2  # query, key, value, attention output; 2 layers
    assert ops.count("DequantizeLinear") == 3  # word, position and token-type embedding tables
    ffn = [dims[n.input[1]] for n in g.node if n.op_type == "MatMul" and n.input[1] in dims]
    assert sorted(ffn) == [(32, 64), (32, 64), (64, 32), (64, 32)]


def test_cls_and_max_pooling_and_prompts(tiny_model_dir, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    tr = Transformer(str(tiny_model_dir), max_seq_length=32)
    for mode in ("cls", ("max", "mean")):
        model = SentenceTransformer(modules=[tr, Pooling(32, pooling_mode=mode)], device="cpu",
                                    prompts={"query": "query: "})
        ex = export_onnx(model, tmp_path / "x", quantize=False)  # overwrites the earlier export
        assert ex.model_int8 is None and not ex.normalize and ex.prompts == {"query": "query: ", "document": ""}
        assert check_parity(model, ex, TEXTS[:12], kind="query").fp32_min >= FP32_MIN_COSINE
        got = OnnxEncoder(ex).encode(TEXTS[:5], "query")
        assert np.abs(got - model.encode_query(TEXTS[:5])).max() < 1e-4  # not normalised, like the source
        with pytest.raises(ModelError, match="no int8 model"):
            OnnxEncoder(ex, variant="int8")


def test_unsupported_modules_raise_model_error(tiny_model_dir, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer

    tr = Transformer(str(tiny_model_dir), max_seq_length=32)
    dense = SentenceTransformer(modules=[tr, Pooling(32), Dense(32, 16), Normalize()], device="cpu")
    with pytest.raises(ModelError, match="Dense"):
        export_onnx(dense, tmp_path / "dense")
    weighted = SentenceTransformer(modules=[tr, Pooling(32, pooling_mode="weightedmean")], device="cpu")
    with pytest.raises(ModelError, match="weightedmean"):
        export_onnx(weighted, tmp_path / "weighted")
    assert not list(tmp_path.iterdir())


def test_failed_export_leaves_nothing_and_keeps_previous(tiny_model, tmp_path, monkeypatch):
    import torch

    def boom(*a, **k):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(torch.onnx, "export", boom)
    with pytest.raises(ModelError, match="exporter exploded"):
        export_onnx(tiny_model, tmp_path / "out")
    assert not list(tmp_path.iterdir())  # no out_dir, no temp folder

    monkeypatch.undo()
    good = export_onnx(tiny_model, tmp_path / "out", quantize=False)
    before = sorted(p.name for p in good.out_dir.iterdir())
    monkeypatch.setattr(torch.onnx, "export", boom)
    with pytest.raises(ModelError):
        export_onnx(tiny_model, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before  # the earlier export is intact
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_refuses_to_overwrite_a_foreign_folder(tiny_model, tmp_path):
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not an embtune ONNX export"):
        export_onnx(tiny_model, tmp_path / "keep")
    assert (tmp_path / "keep" / "notes.txt").read_text() == "mine"


def test_parity_refuses_a_different_model(tiny_export, tiny_model):
    tiny_model.max_seq_length = 16  # changes the fingerprint
    with pytest.raises(ModelError, match="exported from model"):
        check_parity(tiny_model, tiny_export, TEXTS[:3])
    with pytest.raises(ModelError, match="not an embtune ONNX export"):
        OnnxEncoder(tiny_export.out_dir.parent)


@pytest.mark.slow
def test_minilm_int8_keeps_sample_metrics(sample_project, tmp_path):
    from embtune_core.core.evaluate import evaluate_model

    t0 = time.perf_counter()
    model = sample_project.load_base_model()  # the project's max_seq_length and prompts, on both sides
    corpus, evalset = sample_project.corpus, sample_project.eval_set
    export = export_onnx(model, tmp_path / "minilm")
    queries = list(evalset.queries.values())
    parity = check_parity(model, export, queries, kind="query")
    assert parity.fp32_min >= FP32_MIN_COSINE
    torch_res = evaluate_model(model, corpus, evalset)
    int8_res = evaluate_onnx(OnnxEncoder(export, variant="int8"), corpus, evalset)
    numbers = {k: (round(torch_res.metrics[k], 4), round(int8_res.metrics[k], 4)) for k in ("recall@5", "mrr@10")}
    print(f"\nparity {parity}\ntorch vs int8 {numbers}\n{time.perf_counter() - t0:.1f}s")
    for k, (a, b) in numbers.items():
        assert abs(a - b) <= 0.01, (k, a, b)


def test_export_command(tiny_project, tiny_model_dir, tmp_path, cli):
    import json

    p = cli("export", "--project", tiny_project, "--model", tiny_model_dir, "--out", tmp_path / "onnx", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["parity_ok"] and out["fp32_min_cosine"] >= 0.999 and out["int8_ok"]
    assert abs(out["recall@5_int8"] - out["recall@5_torch"]) <= 0.01
    assert (tmp_path / "onnx" / "model.onnx").exists()
