"""Step 6 · ship (notebook ``06_ship``).

- :mod:`.collection`: re-encode the corpus into a new versioned collection, verify it through the
  database, search it with its own model.
- :mod:`.release`: the ``candidate`` / ``live`` aliases, promotion behind the ship gate, rollback, and
  the shipping log.
- :mod:`.abtest`: bucketing, the event importer, sample size, and the A/B analysis.
- :mod:`.serving`: ONNX fp32 / int8 exports with parity checks.
- :mod:`.store`: the vector store (Postgres + pgvector, embedded by default).
"""

from .collection import (
    BuildResult,
    VerifyReport,
    build_collection,
    check_model,
    corpus_hash,
    default_name,
    load_collection_model,
    resolve_label,
    search,
    verify,
)
from .release import SHIPPING, gate_verdict, history, promote, record_build, rollback, set_candidate
from .store import connect, describe_url, open_store, store_url

__all__ = ["SHIPPING", "BuildResult", "VerifyReport", "build_collection", "check_model", "connect", "corpus_hash",
           "default_name", "describe_url", "gate_verdict", "history", "load_collection_model", "open_store",
           "promote", "record_build", "resolve_label", "rollback", "search", "set_candidate", "store_url", "verify"]
