"""Step 6 · ship (notebook ``06_ship``).

- :mod:`.collection`: re-encode the corpus into a new versioned collection (dense, or hybrid with the
  corpus's BM25 postings), verify it through the database, search it with its own model.
- :mod:`.release`: the ``candidate`` / ``live`` aliases, promotion behind the ship gate, rollback, and
  the shipping log.
- :mod:`.abtest`: bucketing, the event importer, sample size, and the A/B analysis.
- :mod:`.serving`: ONNX fp32 / int8 exports with parity checks.
- :mod:`.store`: the vector store (Postgres + pgvector, embedded by default).
"""

from .collection import (
    VERIFY_KEYS,
    BuildResult,
    VerifyReport,
    build_collection,
    check_model,
    collection_settings,
    corpus_hash,
    default_name,
    hybrid_settings,
    load_collection_model,
    resolve_label,
    search,
    search_kind,
    verify,
)
from .release import (
    SHIPPING,
    collection_retriever,
    gate_verdict,
    history,
    promote,
    record_build,
    rollback,
    set_candidate,
)
from .store import connect, describe_url, open_store, store_url

__all__ = ["SHIPPING", "VERIFY_KEYS", "BuildResult", "VerifyReport", "build_collection", "check_model", "collection_retriever",
           "collection_settings", "connect", "corpus_hash", "default_name", "describe_url", "gate_verdict",
           "history", "hybrid_settings", "load_collection_model", "open_store", "promote", "record_build",
           "resolve_label", "rollback", "search", "search_kind", "set_candidate", "store_url", "verify"]
