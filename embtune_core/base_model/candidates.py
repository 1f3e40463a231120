"""Step 1: put candidate retrievers side by side on the eval set, honestly.

A candidate is a retriever spec (:mod:`~..core.retrievers`): ``bm25``, ``hybrid:<model>``, a model id
or local path; or ``production``: the retriever in production today, from ``[production]`` in the
project file (an OpenAI-compatible embeddings endpoint, cached, key from the environment; or a TREC run
file). :func:`choose_retriever` turns the base model's three rows into step 1's verdict.
"""

from __future__ import annotations

from ..core.errors import ConfigError
from ..core.evaluate import EvalResult, encode_and_rank, evaluate_ranking
from ..core.project import Project
from ..core.remote import RemoteEmbedder
from ..core.retrievers import HYBRID_PREFIX, LEXICAL, evaluate_retriever
from ..core.sources import load_trec_run
from .verdict import Verdict, recommend

PRODUCTION = "production"


def evaluate_candidate(project: Project, spec: str, *, models: dict | None = None) -> EvalResult:
    """Evaluate one candidate (see the module docstring) on the project's eval set."""
    corpus, ev = project.corpus, project.eval_set
    if spec == PRODUCTION:
        p = project.config.production
        if p.run_file:
            ranking = load_trec_run(project.config.resolve(p.run_file), ev, set(corpus.doc_ids()))
            return evaluate_ranking(ranking, ev, name=f"{p.name} (run file)", n_docs=corpus.docs.height)
        if p.embeddings_url:
            enc = RemoteEmbedder(p.embeddings_url, p.embeddings_model, api_key_env=p.api_key_env,
                                 cache=project.embedding_cache())
            return evaluate_ranking(encode_and_rank(enc, corpus, ev), ev, name=f"{p.name} (API)",
                                    n_docs=corpus.docs.height)
        raise ConfigError("no production retriever configured: set [production] run_file or embeddings_url")
    return evaluate_retriever(project.retriever(spec, models=models), corpus, ev)


def default_candidates(project: Project) -> list[str]:
    """The base model, BM25, their hybrid, and the production retriever when one is configured."""
    base = project.config.model.base
    out = [base, LEXICAL, f"{HYBRID_PREFIX}{base}"]
    p = project.config.production
    if p.run_file or p.embeddings_url:
        out.append(PRODUCTION)
    return out


def evaluate_candidates(project: Project, specs: list[str] | None = None, *, models: dict | None = None
                        ) -> dict[str, EvalResult]:
    """Every candidate (default: :func:`default_candidates`) on the eval set, by spec."""
    models = {} if models is None else models
    return {s: evaluate_candidate(project, s, models=models) for s in specs or default_candidates(project)}


def choose_retriever(project: Project, results: dict[str, EvalResult]) -> Verdict:
    """Step 1's verdict from the base model's dense, BM25 and hybrid rows of ``results``."""
    base = project.config.model.base
    return recommend(base, results[base], results[LEXICAL], results[f"{HYBRID_PREFIX}{base}"],
                     results.get(PRODUCTION))
