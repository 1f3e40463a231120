import dataclasses
import json

from fake_openai import FakeOpenAI

from embtune_core.base_model.candidates import default_candidates, evaluate_candidate
from embtune_core.core.config import ProductionConfig
from embtune_core.core.project import Project

SECRET = "sk-live-do-not-store-me-42"


def test_production_through_an_openai_compatible_endpoint(sample_project, monkeypatch):
    monkeypatch.setenv("PROD_EMBED_KEY", SECRET)
    with FakeOpenAI() as server:
        cfg = dataclasses.replace(sample_project.config, production=ProductionConfig(
            name="prod api", embeddings_url=server.url, embeddings_model="text-embedding-3-small",
            api_key_env="PROD_EMBED_KEY"))
        p = Project(cfg)
        assert "production" in default_candidates(p)
        r = evaluate_candidate(p, "production")
        assert r.name == "prod api (API)" and r.n_queries == 175 and 0 < r.metrics["recall@100"] <= 1
        n = server.requests
        evaluate_candidate(Project(cfg), "production")  # cached on disk: no new request
        assert server.requests == n and set(server.auth) == {f"Bearer {SECRET}"}
    for f in p.workspace.root.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes()


def test_production_run_file_and_bm25(sample_project):
    run = evaluate_candidate(sample_project, "production")
    bm25 = evaluate_candidate(sample_project, "bm25")
    assert run.name.endswith("(run file)") and run.n_queries == bm25.n_queries == 175
    assert run.metrics["recall@5"] < bm25.metrics["recall@5"]  # the old title+lead search is the weakest


def test_hybrid_fuses_dense_and_bm25(sample_project, tiny_model_dir):
    r = evaluate_candidate(sample_project, f"hybrid:{tiny_model_dir}")
    dense = evaluate_candidate(sample_project, str(tiny_model_dir))
    assert r.metrics["recall@20"] > dense.metrics["recall@20"]  # BM25 rescues the random tiny model
    assert json.dumps(r.row())
