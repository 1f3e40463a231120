"""Named exceptions. Every error embtune raises on purpose is an :class:`EmbtuneError`.

The CLI turns these into one clean line and a non-zero exit code; notebooks show them through
``mo.stop``. Anything else that escapes is a bug.
"""

from __future__ import annotations


class EmbtuneError(Exception):
    """Base class of all deliberate embtune errors."""

    exit_code = 1


class ConfigError(EmbtuneError):
    """The project file (``embtune.toml``) is missing, malformed or inconsistent."""

    exit_code = 2


class ProjectExistsError(ConfigError):
    """``embtune init`` found an ``embtune.toml`` where it would write one: it never overwrites a project."""


class InputError(EmbtuneError):
    """A data file is malformed. The message names the file, the line and the field."""

    exit_code = 3

    def __init__(self, message: str, *, path: object = None, line: int | None = None, field: str | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        where = ""
        if self.path:
            where = self.path + (f":{line}" if line else "")
            if field:
                where += f" (field '{field}')"
            where += ": "
        elif field:
            where = f"field '{field}': "
        super().__init__(where + message)


class ModelError(EmbtuneError):
    """A model cannot be resolved or loaded."""

    exit_code = 4


class WorkspaceError(EmbtuneError):
    """An artifact is missing, stale or was produced from different inputs."""

    exit_code = 5


class RemoteError(EmbtuneError):
    """An HTTP endpoint (embeddings or chat) is down, slow or answered garbage."""

    exit_code = 6


class StoreError(EmbtuneError):
    """The vector store refused an operation or could not be reached (bad name, missing collection,
    a model whose fingerprint differs from the collection's, a server that does not start)."""

    exit_code = 8


class GateError(EmbtuneError):
    """Promotion refused: the candidate fails the ship gate (``--force`` overrides, and is recorded)."""

    exit_code = 7


class BudgetError(EmbtuneError):
    """A time limit (``--max-minutes``) was spent before the work could produce anything worth keeping."""

    exit_code = 9
