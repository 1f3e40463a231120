import json

import pytest

from embtune_core.core.errors import WorkspaceError
from embtune_core.core.workspace import Workspace, atomic_path, hash_file, write_json


def test_atomic_write_leaves_target_untouched_on_failure(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temp file left behind


def test_manifest_records_and_status_finds_stale(tmp_path):
    ws = Workspace(tmp_path / "ws")
    pairs = ws.path("pairs.jsonl")
    write_json(pairs, [1])
    ws.record("pairs", pairs, inputs={"docs": "d1", "search_log": "s1"}, config_hash="c")
    model = ws.path("runs", "r1", "model.json")
    write_json(model, {"m": 1})
    ws.record("run:r1", model, inputs={"artifact:pairs": ws.get("pairs").sha256}, model_fingerprint="f")
    assert ws.status({"docs": "d1", "search_log": "s1"}) == []
    # a changed source makes pairs stale
    stale = ws.status({"docs": "d2", "search_log": "s1"})
    assert [s.name for s in stale] == ["pairs"] and "docs changed" in stale[0].reason
    # rewritten pairs make the run stale
    write_json(pairs, [1, 2])
    ws.record("pairs", pairs, inputs={"docs": "d1", "search_log": "s1"})
    assert [s.name for s in ws.status({"docs": "d1", "search_log": "s1"})] == ["run:r1"]
    model.unlink()
    assert "missing" in ws.status({"docs": "d1", "search_log": "s1"})[0].reason


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{oops")
    with pytest.raises(WorkspaceError, match="manifest is not valid JSON"):
        Workspace(tmp_path).records()


def test_hash_file_of_folder_sees_renames_and_edits(tmp_path):
    (tmp_path / "a.md").write_text("x")
    h1 = hash_file(tmp_path)
    (tmp_path / "a.md").rename(tmp_path / "b.md")
    h2 = hash_file(tmp_path)
    (tmp_path / "b.md").write_text("y")
    assert len({h1, h2, hash_file(tmp_path)}) == 3
