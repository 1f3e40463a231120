"""Step 4 · fine-tune (notebook ``04_train``).

- :mod:`.run`: the project-level API: :func:`plan` a run, :func:`train_run` it (recorded in the manifest).
- :mod:`.data`: read pairs, the grouped validation split, general-domain mix, hard negatives.
- :mod:`.trainer`: the sentence-transformers Trainer, live :class:`TrainState`, ETA, diagnostics.
- :mod:`.card`: the model card, without training examples.
- :mod:`.curve`: how many pairs do I need? the same run on 25 / 50 / 100% of the pairs.

The settings, :class:`~embtune_core.core.config.TrainConfig`, live with the other tables of
``embtune.toml`` in :mod:`embtune_core.core.config` (``[train]``).
"""

from ..core.config import TrainConfig
from .card import write_model_card
from .curve import CurvePoint, LearningCurve, learning_curve, subsample
from .data import TrainData, describe_random_negatives, load_pairs, prepare, split_validation
from .run import Run, TrainPlan, new_run_id, plan, train_run
from .trainer import (
    TrainResult,
    TrainState,
    build_trainer,
    diagnose,
    estimate_seconds,
    make_loss,
    merge_into,
    train,
    validation_corpus,
)

__all__ = ["CurvePoint", "LearningCurve", "Run", "TrainConfig", "TrainData", "TrainPlan", "TrainResult", "TrainState", "build_trainer", "describe_random_negatives", "diagnose",
           "estimate_seconds", "learning_curve", "load_pairs", "make_loss", "merge_into", "new_run_id", "plan", "prepare", "split_validation", "subsample", "train",
           "train_run", "validation_corpus", "write_model_card"]
