"""embtune: fine-tune a small open-source embedding model on your own help center.

The public API is small; notebooks and the CLI are thin layers over it.
"""

from .config import ProjectConfig, load_config
from .errors import ConfigError, EmbtuneError, InputError, ModelError, RemoteError, WorkspaceError
from .evaluate import EvalResult, evaluate_model, evaluate_ranking
from .models import fingerprint, load_model, resolve_model, summarize
from .project import Project, default_project_path, open_project

__all__ = [
    "ConfigError", "EmbtuneError", "EvalResult", "InputError", "ModelError", "Project", "ProjectConfig",
    "RemoteError", "WorkspaceError", "default_project_path", "evaluate_model", "evaluate_ranking", "fingerprint",
    "load_config", "load_model", "open_project", "resolve_model", "summarize",
]
__version__ = "0.1.0"
