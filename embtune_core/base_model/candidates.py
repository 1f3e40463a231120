"""Step 1: put candidate retrievers side by side on the eval set, honestly.

A candidate is one of:

- ``bm25``: BM25 over the retrieval units (bm25s);
- ``hybrid:<model>``: BM25 and a dense model fused by reciprocal rank fusion;
- ``production``: the retriever in production today, from ``[production]`` in the project file: an
  OpenAI-compatible embeddings endpoint (cached, key from the environment) or a TREC run file;
- anything else: a model id or local path for sentence-transformers.
"""

from __future__ import annotations

from ..core.embeddings import EmbeddingCache, Encoder
from ..core.errors import ConfigError
from ..core.evaluate import EvalResult, encode_and_rank, evaluate_ranking, fuse_rrf
from ..core.lexical import BM25
from ..core.models import load_model
from ..core.project import Project
from ..core.remote import RemoteEmbedder
from ..core.sources import load_trec_run


def _model(project: Project, name: str, models: dict):
    if name not in models:
        models[name] = project.load_base_model() if name == project.config.model.base else load_model(name)
    return models[name]


def evaluate_candidate(project: Project, spec: str, *, models: dict | None = None,
                       cache: EmbeddingCache | None = None) -> EvalResult:
    """Evaluate one candidate (see the module docstring) on the project's eval set."""
    models = {} if models is None else models
    cache = cache or project.embedding_cache()
    corpus, ev = project.corpus, project.eval_set
    n = corpus.docs.height
    if spec == "bm25":
        ranking = BM25.over_corpus(corpus).ranking(ev.queries)
        return evaluate_ranking(ranking, ev, name="BM25 (bm25s)", n_docs=n)
    if spec.startswith("hybrid:"):
        name = spec.split(":", 1)[1]
        dense = _dense(project, _model(project, name, models), cache)
        lex = BM25.over_corpus(corpus).ranking(ev.queries)
        return evaluate_ranking(fuse_rrf([dense, lex]), ev, name=f"hybrid RRF (BM25 + {name})", n_docs=n)
    if spec == "production":
        p = project.config.production
        if p.run_file:
            ranking = load_trec_run(project.config.resolve(p.run_file), ev, set(corpus.doc_ids()))
            return evaluate_ranking(ranking, ev, name=f"{p.name} (run file)", n_docs=n)
        if p.embeddings_url:
            enc = RemoteEmbedder(p.embeddings_url, p.embeddings_model, api_key_env=p.api_key_env, cache=cache)
            return evaluate_ranking(encode_and_rank(enc, corpus, ev), ev, name=f"{p.name} (API)", n_docs=n)
        raise ConfigError("no production retriever configured: set [production] run_file or embeddings_url")
    model = _model(project, spec, models)
    return evaluate_ranking(_dense(project, model, cache), ev, name=spec, n_docs=n)


def _dense(project: Project, model, cache):
    enc = Encoder(model, cache, batch_size=project.config.model.batch_size)
    return encode_and_rank(enc, project.corpus, project.eval_set)


def default_candidates(project: Project) -> list[str]:
    base = project.config.model.base
    out = [base, "bm25", f"hybrid:{base}"]
    p = project.config.production
    if p.run_file or p.embeddings_url:
        out.append("production")
    return out
