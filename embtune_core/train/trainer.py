"""The sentence-transformers Trainer, set up the way the tutorial's "common errors" ask.

- the ``NO_DUPLICATES`` batch sampler: a duplicate query or positive in a batch is a false negative;
- checkpoints are chosen by MRR@10 of an IR evaluator running the validation queries over the full
  corpus (the tutorial selects on the set it reports: a leak);
- fp16/bf16 only on CUDA; warmup as a float ``warmup_steps`` (transformers 5); resume from the last
  checkpoint; a Stop that ends cleanly (:class:`TrainState`);
- every saved model card (final and per checkpoint) rewritten without training samples.
"""

from __future__ import annotations

import dataclasses
import math
import random
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..core.config import CONTRASTS, TrainConfig
from ..core.errors import BudgetError
from ..core.models import cuda_available
from ..core.sources import Corpus
from ..core.workspace import write_json
from .card import write_model_card
from .data import TrainData, prepare


@dataclass
class TrainState:
    """Live state a notebook or CLI can watch and steer.

    ``stop``: set it (a Stop button, the first Ctrl-C) and training ends after the current step, skips a
    validation pass that was due, saves that step and keeps the best model so far. ``deadline`` (a
    ``time.monotonic()`` value, e.g. from ``--max-minutes``) does the same on its own when the next step
    (and a validation pass due with it), plus encoding ``after_texts`` texts (what the caller evaluates
    after training), would not end before it."""

    stop: threading.Event = field(default_factory=threading.Event)
    losses: list[tuple[int, float]] = field(default_factory=list)
    val_mrr: list[tuple[int, float]] = field(default_factory=list)
    step: int = 0
    total_steps: int = 0
    started: float = 0.0
    on_update: Callable[[TrainState], None] | None = None
    deadline: float | None = None
    after_texts: int = 0
    stop_reason: str | None = None
    #: seconds each validation pass took, and how many texts one encodes (for the deadline's estimate)
    eval_seconds: list[float] = field(default_factory=list)
    eval_texts: int = 0
    texts_per_step: int = 0
    first_step: int = 0

    def eta_seconds(self) -> float | None:
        done = self.step - self.first_step
        if done <= 0:
            return None
        return (time.perf_counter() - self.started) / done * (self.total_steps - self.step)

    def request_stop(self, reason: str = "stopped by the user") -> None:
        """End after the current step (thread- and signal-safe)."""
        if not self.stop.is_set():
            self.stop_reason = reason
        self.stop.set()

    def step_seconds(self) -> float | None:
        """Mean seconds of one optimizer step so far, validation passes excluded."""
        done = self.step - self.first_step
        if done <= 0:
            return None
        return max(time.perf_counter() - self.started - sum(self.eval_seconds), 0.0) / done

    def out_of_time(self, eval_due: bool) -> bool:
        """Whether the next step (with a validation pass when ``eval_due``) and the encoding that follows
        training would end after ``deadline``. Encoding a text is taken as a third of training on it (a
        forward pass against forward + backward)."""
        if self.deadline is None:
            return False
        step_s = self.step_seconds()
        if step_s is None:
            return time.monotonic() >= self.deadline
        per_text = step_s / max(self.texts_per_step, 1) / 3
        nxt = step_s
        if eval_due:
            nxt += self.eval_seconds[-1] if self.eval_seconds else self.eval_texts * per_text
        return time.monotonic() + nxt + self.after_texts * per_text + _FINISH_SECONDS > self.deadline


#: Saving the final model and its card after the last step.
_FINISH_SECONDS = 5.0


@dataclass(frozen=True)
class TrainResult:
    output_dir: str
    best_checkpoint: str | None
    steps: int
    seconds: float
    losses: list[tuple[int, float]]
    val_mrr: list[tuple[int, float]]
    stats: dict
    stopped_early: bool
    warnings: list[str]
    stop_reason: str | None = None
    validation_seconds: float = 0.0

    def summary(self) -> dict:
        return {"output_dir": self.output_dir, "best_checkpoint": self.best_checkpoint, "steps": self.steps,
                "seconds": round(self.seconds, 1), "final_loss": self.losses[-1][1] if self.losses else None,
                "best_val_mrr@10": max((m for _, m in self.val_mrr), default=None), "stopped_early": self.stopped_early,
                "stop_reason": self.stop_reason, "validation_seconds": round(self.validation_seconds, 1),
                "validation_share": round(self.validation_seconds / self.seconds, 3) if self.seconds else None,
                "warnings": self.warnings, **{k: v for k, v in self.stats.items() if k != "per_source"}}


def _callback(state: TrainState):
    from transformers import TrainerCallback

    mark = [0.0]

    class Watch(TrainerCallback):
        def on_train_begin(self, args, st, control, **kw):
            state.total_steps = st.max_steps
            state.first_step = state.step = st.global_step  # a resumed run starts past 0
            state.started = time.perf_counter()

        def on_step_end(self, args, st, control, **kw):
            state.step = st.global_step
            if state.on_update:
                state.on_update(state)
            eval_due = bool(args.eval_steps) and (st.global_step + 1) % int(args.eval_steps) == 0
            if not state.stop.is_set() and state.out_of_time(eval_due):
                state.request_stop("time limit")
            if state.stop.is_set():  # end cleanly after this step, without a validation pass, and save it
                control.should_evaluate = False
                control.should_save = True
                control.should_training_stop = True
            mark[0] = time.perf_counter()

        def on_evaluate(self, args, st, control, **kw):
            state.eval_seconds.append(time.perf_counter() - mark[0])

        def on_log(self, args, st, control, logs=None, **kw):
            logs = logs or {}
            if "loss" in logs:
                state.losses.append((st.global_step, float(logs["loss"])))
            for k, v in logs.items():
                if k.startswith("eval_") and k.endswith("mrr@10"):
                    state.val_mrr.append((st.global_step, float(v)))
            if state.on_update:
                state.on_update(state)

        def on_save(self, args, st, control, **kw):
            ckpt = Path(args.output_dir) / f"checkpoint-{st.global_step}"
            if ckpt.exists():
                write_model_card(ckpt, {"note": "intermediate checkpoint", "step": st.global_step})

    return Watch()


def diagnose(losses: list[tuple[int, float]], val_mrr: list[tuple[int, float]]) -> list[str]:
    """The tutorial's "common errors", detected in the loss and validation curves."""
    out = []
    early = [v for s, v in losses if s <= 50]
    if early and min(early) < 0.02:
        out.append("Loss went to ~0 in the first 50 steps: the pairs are too easy (positives nearly identical to "
                   "queries, e.g. titles used as both). Add harder pairs or mine queries from real logs.")
    vals = [v for _, v in losses]
    for i in range(5, len(vals)):
        window = sorted(vals[i - 5:i])[2]
        if vals[i] > 3 * window and vals[i] - window > 0.5:
            out.append(f"Loss spiked at step {losses[i][0]} ({vals[i]:.2f} vs ~{window:.2f}): batch too small or "
                       "learning rate too high. Increase the batch size first (cached_mnrl keeps memory bounded).")
            break
    if len(val_mrr) >= 2:
        best = max(m for _, m in val_mrr)
        if val_mrr[-1][1] < best - 0.02:
            out.append(f"Validation MRR@10 regressed from {best:.3f} to {val_mrr[-1][1]:.3f}: overfitting. The best "
                       "checkpoint is kept; consider fewer epochs or mixing in general-domain pairs.")
    return out


def make_loss(model, config: TrainConfig, guide=None):
    """The configured loss. ``gist`` / ``cached_gist`` need ``guide`` (the base model): an in-batch
    negative the guide scores above the pair's positive is masked as a likely false negative."""
    from sentence_transformers.sentence_transformer import losses

    kw = dict(directions=CONTRASTS[config.contrast])
    if config.hardness:
        kw.update(hardness_mode="in_batch_negatives", hardness_strength=config.hardness)
    if config.loss == "cached_mnrl":
        return losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=config.mini_batch_size, **kw)
    if config.loss in ("gist", "cached_gist"):
        if guide is None:
            raise ValueError("GIST losses need the base model as guide")
        if config.loss == "gist":
            return losses.GISTEmbedLoss(model, guide, contrast_positives=config.contrast == "symmetric")
        return losses.CachedGISTEmbedLoss(model, guide, mini_batch_size=config.mini_batch_size,
                                          contrast_positives=config.contrast == "symmetric")
    return losses.MultipleNegativesRankingLoss(model, **kw)


def validation_corpus(data: TrainData, corpus: Corpus, config: TrainConfig) -> tuple[dict, dict]:
    """Unit texts by id for the validation evaluator, and each validation query's relevant unit ids:
    every unit of a validation article plus, seeded, other units up to ``val_corpus_max``."""
    units, unit_docs = corpus.unit_texts(), corpus.unit_doc_ids()
    wanted = set(data.val["doc_id"].to_list())
    keep = [i for i, d in enumerate(unit_docs) if d in wanted]
    rest = [i for i, d in enumerate(unit_docs) if d not in wanted]
    if config.val_corpus_max and len(rest) > config.val_corpus_max:
        rest = sorted(random.Random(config.seed).sample(rest, config.val_corpus_max))
    ids = sorted(keep + rest)
    corpus_map = {f"u{i}": units[i] for i in ids}
    by_doc: dict[str, set[str]] = {}
    for i in ids:
        by_doc.setdefault(unit_docs[i], set()).add(f"u{i}")
    return corpus_map, by_doc


def build_trainer(model, data: TrainData, corpus: Corpus, config: TrainConfig, state: TrainState, *, guide=None):
    """A ``SentenceTransformerTrainer`` with only the loss's text columns, NO_DUPLICATES batches and
    checkpoint selection by validation MRR@10 over the full corpus."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    text_cols = ["anchor", "positive"] + sorted(c for c in data.train.columns if c.startswith("negative_"))
    train_ds = Dataset.from_dict({c: data.train[c].to_list() for c in text_cols})
    corpus_map, by_doc = validation_corpus(data, corpus, config)
    queries, relevant = {}, {}
    for i, (a, d) in enumerate(data.val.select("anchor", "doc_id").iter_rows()):
        queries[f"v{i}"] = a
        relevant[f"v{i}"] = by_doc.get(d, set())
    evaluator = InformationRetrievalEvaluator(queries, corpus_map, relevant, name="val", mrr_at_k=[10],
                                              ndcg_at_k=[10], accuracy_at_k=[1, 5], precision_recall_at_k=[5],
                                              map_at_k=[10], write_csv=False, batch_size=64)
    state.eval_texts, state.texts_per_step = len(queries) + len(corpus_map), config.batch_size * len(text_cols)
    loss = make_loss(model, config, guide)
    steps_per_epoch = math.ceil(len(train_ds) / config.batch_size)
    total = config.max_steps if config.max_steps > 0 else math.ceil(steps_per_epoch * config.epochs)
    every = config.checkpoint_steps or max(1, min(steps_per_epoch, total // 3 or 1))
    args = SentenceTransformerTrainingArguments(
        output_dir=str(Path(config.output_dir) / "checkpoints"), num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size, learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio, fp16=config.precision == "fp16", bf16=config.precision == "bf16",
        batch_sampler=BatchSamplers.NO_DUPLICATES, eval_strategy="steps", eval_steps=every,
        save_strategy="steps", save_steps=every, save_total_limit=2, load_best_model_at_end=True,
        metric_for_best_model="eval_val_cosine_mrr@10", greater_is_better=True,
        logging_steps=max(1, min(config.logging_steps, total // 10)), seed=config.seed, data_seed=config.seed, report_to="none",
        use_cpu=not cuda_available(), dataloader_num_workers=0, disable_tqdm=True)
    if getattr(model, "model_card_data", None) is not None:
        # a non-empty widget list stops sentence-transformers copying training rows into the card
        model.model_card_data.widget = [{"text": "embtune writes its own model card"}]
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_ds, loss=loss,
                                         evaluator=evaluator, callbacks=[_callback(state)])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # progress goes through TrainState, not stdout
    return trainer, total


def merge_into(model, base, share: float) -> None:
    """Average ``share`` of ``base``'s weights into ``model`` in place (LM-Cocktail-style merging: the tuned
    model keeps more of what the base model knew)."""
    import torch

    base_state = base.state_dict()
    with torch.no_grad():
        for name, param in model.state_dict().items():
            if param.dtype.is_floating_point and name in base_state:
                param.mul_(1 - share).add_(base_state[name].to(param.device), alpha=share)


def estimate_seconds(pairs: pl.DataFrame, corpus: Corpus, config: TrainConfig, *, steps: int = 2) -> float:
    """Seconds a run will take, from timing a few real optimizer steps (forward, backward, update) on
    batches of the real pairs, plus the hard-negative mining pass (an encode of queries and units)."""
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from ..core.models import load_model

    model = load_model(config.base_model, max_seq_length=config.max_seq_length)
    model.train()
    loss = MultipleNegativesRankingLoss(model)
    opt = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    bs = min(config.batch_size, pairs.height)
    units = corpus.unit_texts()
    rng = random.Random(0)
    cols = [pairs["query"].head(bs).to_list(), pairs["positive"].head(bs).to_list()]
    cols += [[units[rng.randrange(len(units))] for _ in range(bs)] for _ in range(config.hard_negatives)]
    per_step = []
    for i in range(steps + 1):  # the first step warms up allocators and is not counted
        t = time.perf_counter()
        feats = [model.preprocess(c) for c in cols]
        value = loss(feats, None)
        value.backward()
        opt.step()
        opt.zero_grad()
        if i:
            per_step.append(time.perf_counter() - t)
    train_rows = pairs.height * (1 - config.val_fraction) * (1 + config.general_share)
    total_steps = config.max_steps if config.max_steps > 0 else math.ceil(train_rows / config.batch_size * config.epochs)
    step_s = sorted(per_step)[len(per_step) // 2]
    mining = 0.0
    if config.hard_negatives:
        t = time.perf_counter()
        with torch.no_grad():
            model.eval()
            model.encode(units[:64] + pairs["query"].head(64).to_list(), batch_size=64)
        mining = (time.perf_counter() - t) / 128 * (len(units) + pairs.height)
    return step_s * total_steps + mining


def train(pairs: pl.DataFrame, corpus: Corpus, config: TrainConfig, *, state: TrainState | None = None,
          resume: bool = False, encoder=None, log: Callable[[str], None] = print, card_info: dict | None = None
          ) -> TrainResult:
    """Fine-tune ``config.base_model`` on ``pairs`` (query, positive, doc_id[, source])."""
    from transformers import set_seed

    from ..core.models import load_model

    state = state or TrainState()
    set_seed(config.seed)
    model = load_model(config.base_model, max_seq_length=config.max_seq_length)
    data = prepare(pairs, corpus, config, model=model if config.hard_negatives else None, encoder=encoder, log=log)
    guide = load_model(config.base_model, max_seq_length=config.max_seq_length) if "gist" in config.loss else None
    trainer, total = build_trainer(model, data, corpus, config, state, guide=guide)
    log(f"training: {data.stats['train']} pairs ({data.stats.get('general_pairs', 0)} general), "
        f"{data.stats['val']} validation, {total} steps of {config.batch_size}")
    out = Path(config.output_dir)
    last = None
    if resume:
        ckpts = sorted((out / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
        last = str(ckpts[-1]) if ckpts else None
        log(f"resuming from {last}" if last else "no checkpoint to resume from: starting fresh")
    if state.deadline is not None and time.monotonic() >= state.deadline:
        raise BudgetError(f"the time limit ran out before training could start ({time.monotonic() - state.deadline:.0f} s "
                          "over, spent loading, splitting and mining hard negatives); allow more minutes")
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - t0
    if state.stop_reason == "time limit":
        log(f"stopped at step {trainer.state.global_step} of {total}: the time limit; the best model so far is kept")
    final = out  # ``SentenceTransformer(output_dir)`` loads the best model
    if config.merge_base:
        merge_into(model, load_model(config.base_model, max_seq_length=config.max_seq_length), config.merge_base)
        log(f"merged {config.merge_base:.0%} of the base model's weights into the tuned model")
    model.save(str(final), create_model_card=False)  # never sentence-transformers' card: it quotes training rows
    warnings = diagnose(state.losses, state.val_mrr)
    base_label = Path(config.base_model).name if Path(config.base_model).expanduser().exists() else config.base_model
    info = {"base_model": base_label, "pairs_per_source": data.stats.get("per_source", {}),
            "train_pairs": data.stats["train"], "validation_pairs": data.stats["val"],
            "general_pairs": data.stats.get("general_pairs", 0),
            "config": {k: v for k, v in dataclasses.asdict(config).items()  # no paths of this machine
                       if k not in ("output_dir", "general_pairs", "base_model")},
            "best_validation_mrr@10": max((m for _, m in state.val_mrr), default=None), **(card_info or {})}
    write_model_card(final, info)
    for ckpt in (out / "checkpoints").glob("checkpoint-*"):
        write_model_card(ckpt, {"note": "intermediate checkpoint", "base_model": base_label})
    write_json(out / "train_log.json", {"losses": state.losses, "val_mrr@10": state.val_mrr, "stats": data.stats,
                                        "warnings": warnings, "validation_seconds": state.eval_seconds})
    best = trainer.state.best_model_checkpoint
    if not state.stop.is_set():  # finished: nothing to resume, so keep the weights, not optimizer states
        best = prune_checkpoints(out / "checkpoints", best)
    return TrainResult(output_dir=str(final), best_checkpoint=best,
                       steps=trainer.state.global_step, seconds=seconds, losses=list(state.losses),
                       val_mrr=list(state.val_mrr), stats=data.stats, stopped_early=state.stop.is_set(),
                       warnings=warnings, stop_reason=state.stop_reason, validation_seconds=sum(state.eval_seconds))


#: What a checkpoint holds only to resume training (optimizer moments, scheduler, random states).
RESUME_FILES = ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin")


def prune_checkpoints(folder: Path, best: str | None) -> str | None:
    """After a finished run: keep only the best and the last checkpoint, as weights (no optimizer state:
    a finished run has nothing to resume). A stopped run keeps everything, so ``--resume`` continues it.
    Returns the best checkpoint's path (``None`` if there was none)."""
    ckpts = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    if not ckpts:
        return best
    keep = {ckpts[-1].resolve()} | ({Path(best).resolve()} if best else set())
    for ckpt in ckpts:
        if ckpt.resolve() not in keep:
            shutil.rmtree(ckpt, ignore_errors=True)
            continue
        for name in RESUME_FILES:
            (ckpt / name).unlink(missing_ok=True)
    return best if best and Path(best).exists() else None

