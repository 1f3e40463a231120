"""embtune: fine-tune a small open-source embedding model on your own help center.

One subpackage per step of the workbench, named after its notebook: :mod:`.base_model` (1),
:mod:`.mine_pairs` (2), :mod:`.eval_set` (3), :mod:`.train` (4), :mod:`.compare` (5), :mod:`.ship` (6);
what they share is in :mod:`.core`. :mod:`.pipeline` runs the steps headless, :mod:`.report` writes the
shareable report, :mod:`.cli` is the ``embtune`` command and :mod:`.notebook` the notebooks' plumbing.
"""

from .core import (
    DEFAULT_MODEL,
    ConfigError,
    EmbtuneError,
    EvalResult,
    InputError,
    ModelError,
    Project,
    ProjectConfig,
    RemoteError,
    WorkspaceError,
    default_project_path,
    evaluate_model,
    evaluate_ranking,
    fingerprint,
    load_config,
    load_model,
    open_project,
    resolve_model,
    summarize,
)

__all__ = [
    "DEFAULT_MODEL", "ConfigError", "EmbtuneError", "EvalResult", "InputError", "ModelError", "Project",
    "ProjectConfig", "RemoteError", "WorkspaceError", "default_project_path", "evaluate_model", "evaluate_ranking",
    "fingerprint", "load_config", "load_model", "open_project", "resolve_model", "summarize",
]
__version__ = "0.1.0"
