"""The workspace: where every step writes what the next one reads.

Every artifact is written atomically (temp file in the same folder, fsync, rename) and recorded in
``manifest.json`` with what produced it: the hashes of its inputs, a config hash and, where a model
was involved, the model fingerprint. :meth:`Workspace.status` compares those records with the inputs
as they are now and lists the artifacts a changed input made stale; every notebook shows that list.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import WorkspaceError

MANIFEST = "manifest.json"


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_file(path: str | Path) -> str:
    """SHA-256 of one file, or of every file under a folder (names and contents, sorted)."""
    path = Path(path)
    h = hashlib.sha256()
    if path.is_dir():
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            h.update(str(p.relative_to(path)).encode() + b"\0")
            h.update(hash_file(p).encode())
        return h.hexdigest()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it is fsync'd and renamed over ``target``.

    On any exception the temp file is removed and ``target`` is untouched, so a crash never leaves a
    half-written artifact.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | Path, obj: object) -> None:
    write_text(target, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl(target: str | Path, rows) -> None:
    write_text(target, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_parquet(target: str | Path, frame) -> None:
    """Write a polars DataFrame atomically."""
    with atomic_path(target) as tmp:
        frame.write_parquet(tmp)


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """An exclusive lock between processes, held on ``path`` (created if missing) for the ``with`` block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True)
class ArtifactRecord:
    """What the manifest knows about one artifact."""

    name: str
    path: str
    sha256: str
    inputs: dict
    config_hash: str
    model_fingerprint: str
    created: str
    extra: dict


@dataclass(frozen=True)
class StaleArtifact:
    name: str
    reason: str


class Workspace:
    """Paths and the manifest of one project's workspace folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def locked(self):
        """The workspace's lock: hold it to read-modify-write a shared file (the manifest, the shipping log)."""
        return file_lock(self.root / ".manifest.lock")

    def _read(self) -> dict:
        p = self.root / MANIFEST
        if not p.exists():
            return {"artifacts": {}}
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise WorkspaceError(f"{p}: manifest is not valid JSON ({e}); move it aside to rebuild") from None

    def records(self) -> dict[str, ArtifactRecord]:
        return {k: ArtifactRecord(name=k, **v) for k, v in self._read()["artifacts"].items()}

    def record(
        self,
        name: str,
        path: str | Path,
        *,
        inputs: dict[str, str] | None = None,
        config_hash: str = "",
        model_fingerprint: str = "",
        extra: dict | None = None,
    ) -> ArtifactRecord:
        """Record an artifact that was just written (atomically) at ``path``."""
        path = Path(path)
        rel = os.path.relpath(path, self.root)
        rec = dict(
            path=rel,
            sha256=hash_file(path),
            inputs=dict(inputs or {}),
            config_hash=config_hash,
            model_fingerprint=model_fingerprint,
            created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            extra=dict(extra or {}),
        )
        with self.locked():
            manifest = self._read()
            manifest["artifacts"][name] = rec
            write_json(self.root / MANIFEST, manifest)
        return ArtifactRecord(name=name, **rec)

    def get(self, name: str) -> ArtifactRecord | None:
        return self.records().get(name)

    def status(self, current_inputs: dict[str, str]) -> list[StaleArtifact]:
        """Artifacts whose recorded inputs differ from ``current_inputs`` or from other artifacts now.

        An input named ``artifact:X`` refers to artifact ``X``'s file hash as currently recorded, so a
        rewritten artifact makes everything built from it stale.
        """
        recs = self.records()
        now = dict(current_inputs)
        for name, rec in recs.items():
            now[f"artifact:{name}"] = rec.sha256
        stale = []
        for name, rec in sorted(recs.items()):
            file = self.root / rec.path
            if not file.exists():
                stale.append(StaleArtifact(name, f"{rec.path} is missing"))
                continue
            for key, recorded in rec.inputs.items():
                if key in now and now[key] != recorded:
                    what = key.removeprefix("artifact:")
                    stale.append(StaleArtifact(name, f"{what} changed since {name} was made ({rec.created})"))
                    break
        return stale
