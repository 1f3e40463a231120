"""What every step shares: the project file and its tables (:mod:`.config`), the project and its sources
(:mod:`.project`, :mod:`.sources`), the workspace and its manifest (:mod:`.workspace`), models and their
fingerprints (:mod:`.models`), the embedding cache (:mod:`.embeddings`), metrics with
``InformationRetrievalEvaluator`` parity (:mod:`.evaluate`), BM25 (:mod:`.lexical`), bootstrap statistics
(:mod:`.stats`), text normalisation (:mod:`.text`), HTTP endpoints (:mod:`.remote`), personal-data
scrubbing (:mod:`.privacy`) and the named errors (:mod:`.errors`).

Nothing here imports a step package; the steps import from here.
"""

from .config import ProjectConfig, TrainConfig, load_config
from .errors import (
    ConfigError,
    EmbtuneError,
    GateError,
    InputError,
    ModelError,
    RemoteError,
    StoreError,
    WorkspaceError,
)
from .evaluate import EvalResult, evaluate_model, evaluate_ranking
from .models import DEFAULT_MODEL, fingerprint, load_model, resolve_model, summarize
from .project import Project, default_project_path, open_project

__all__ = ["DEFAULT_MODEL", "ConfigError", "EmbtuneError", "EvalResult", "GateError", "InputError", "ModelError",
           "Project", "ProjectConfig", "RemoteError", "StoreError", "TrainConfig", "WorkspaceError",
           "default_project_path", "evaluate_model", "evaluate_ranking", "fingerprint", "load_config",
           "load_model", "open_project", "resolve_model", "summarize"]
