"""Step 4: fine-tune with MultipleNegativesRankingLoss on the sentence-transformers Trainer.

What this adds to the tutorial's script, each for a reason users of the peers ran into:

- only the loss's text columns (anchor, positive, negatives) reach the trainer: sentence-transformers 6
  feeds any other column (``doc_id``, ``source``) to the model and ``NO_DUPLICATES`` then compares it;
- the ``NO_DUPLICATES`` batch sampler: a duplicate query or positive in a batch is a false negative;
- a validation split of the *pairs*, grouped by normalised and near-duplicate query, never the eval set;
  checkpoints are chosen by MRR@10 of an IR evaluator running the validation queries over the full
  corpus (the tutorial selects on the set it reports: a leak);
- hard negatives from ``mine_hard_negatives`` with a relative margin against false negatives, never a
  sibling section of the positive's article;
- an optional general-domain share against forgetting; fp16/bf16 only on CUDA; warmup as a float
  ``warmup_steps`` (transformers 5); resume from the last checkpoint; a Stop that ends cleanly;
- every saved model card (final and per checkpoint) rewritten without training samples.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .errors import ConfigError, InputError
from .evalset import _groups
from .sources import Corpus, iter_jsonl

LOSSES = ("mnrl", "cached_mnrl")
PRECISIONS = ("fp32", "fp16", "bf16")


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@dataclass(frozen=True)
class TrainConfig:
    """Fine-tuning settings, validated on construction. See :meth:`defaults` for how they are chosen."""

    base_model: str = "all-MiniLM-L6-v2"
    output_dir: str = "runs/latest"
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    #: 128 tokens on CPU covers a query and a section's lead while training ~2x faster than 256.
    max_seq_length: int = 128
    seed: int = 42
    loss: str = "mnrl"
    #: cached_mnrl only: sub-batch size that bounds memory while keeping every in-batch negative.
    mini_batch_size: int = 16
    #: Hard negatives per pair (0: in-batch negatives only).
    hard_negatives: int = 1
    #: A negative must score below (1 - margin) x the positive's score (false-negative guard).
    hard_negative_margin: float = 0.05
    hard_negative_range: tuple[int, int] = (2, 30)
    general_pairs: str = ""
    general_share: float = 0.0
    val_fraction: float = 0.1
    precision: str = "fp32"
    #: Evaluate on the validation split and checkpoint every N steps (0: once per epoch).
    checkpoint_steps: int = 0
    #: Stop after this many optimizer steps (-1: no limit); for smoke tests and ETA timing.
    max_steps: int = -1
    #: Steps between loss log points.
    logging_steps: int = 5

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ConfigError(f"train.loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.precision != "fp32" and not cuda_available():
            raise ConfigError(f"train.precision = {self.precision!r} needs a CUDA GPU; on CPU use 'fp32' "
                              "(fp16/bf16 mixed precision fails or crawls on CPU)")
        for name in ("batch_size", "max_seq_length", "mini_batch_size", "logging_steps"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"train.{name} must be > 0, got {getattr(self, name)}")
        if self.epochs <= 0 or self.learning_rate <= 0:
            raise ConfigError("train.epochs and train.learning_rate must be > 0")
        if self.batch_size < 2:
            raise ConfigError("train.batch_size must be >= 2: MultipleNegativesRankingLoss needs in-batch negatives")
        for name in ("warmup_ratio", "general_share", "hard_negative_margin"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0 < self.val_fraction < 0.5:
            raise ConfigError(f"train.val_fraction must be in (0, 0.5), got {self.val_fraction}")
        lo, hi = self.hard_negative_range
        if not 0 <= lo < hi:
            raise ConfigError(f"train.hard_negative_range must be (low, high) with low < high, got {lo, hi}")

    @classmethod
    def defaults(cls, n_pairs: int, *, gpu: bool | None = None, **overrides) -> TrainConfig:
        """Defaults from data size and device.

        - CPU: 128 tokens, batch 32, 1.5 epochs, lr 5e-5, fp32. MiniLM trains ~8 pairs/s at 128 tokens
          on 2 cores and ~3.6 at 256, so 128 tokens buys twice the steps. Measured on the sample project
          (1,633 training pairs, 2 cores): 1 epoch gave Recall@5 0.780 / MRR@10 0.633 in ~5 min, 1.5
          epochs 0.817 / 0.645 in ~7 min, the tutorial's 3 epochs at 256 tokens and lr 2e-5 0.791 /
          0.620 in ~17 min. A short schedule needs the larger step than the tutorial's 2e-5.
        - GPU: 256 tokens, batch 64 (more in-batch negatives are free there), up to 3 epochs, lr 2e-5,
          bf16 when the card supports it, else fp16.
        - Under 500 pairs: 2 epochs on CPU (few steps otherwise), and a smaller batch so an epoch has
          at least ~10 steps.
        """
        gpu = cuda_available() if gpu is None else gpu
        if gpu:
            import torch

            prec = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            base = dict(max_seq_length=256, batch_size=64, epochs=3.0 if n_pairs < 20_000 else 1.0,
                        learning_rate=2e-5, precision=prec)
        else:
            base = dict(max_seq_length=128, batch_size=32, epochs=2.0 if n_pairs < 500 else 1.5,
                        learning_rate=5e-5, precision="fp32")
        base["batch_size"] = max(4, min(base["batch_size"], n_pairs // 10 or 4))
        base.update(overrides)
        return cls(**base)


# --------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class TrainData:
    train: pl.DataFrame  # anchor, positive[, negative_1..n], doc_id
    val: pl.DataFrame  # anchor, doc_id
    stats: dict = field(default_factory=dict)


def load_pairs(path: str | Path, corpus: Corpus | None = None) -> pl.DataFrame:
    """Read the tutorial's pairs JSONL (``query``, ``positive``; optional ``doc_id``, ``source``).

    Missing or empty fields are an :class:`InputError` naming the line; duplicates are dropped and
    counted in the frame's ``duplicates_dropped`` attribute of :func:`pairs_report`; positives that are
    not in the corpus (when a corpus is given and no ``doc_id`` maps them) are an error.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("pairs file not found", path=path)
    rows = []
    for n, line in iter_jsonl(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"malformed JSON ({e.msg})", path=path, line=n) from None
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object", path=path, line=n)
        for key in ("query", "positive"):
            v = obj.get(key)
            if not isinstance(v, str) or not v.strip():
                raise InputError("missing or empty" if v is None or isinstance(v, str) else "must be a string",
                                 path=path, line=n, field=key)
        rows.append({"query": obj["query"].strip(), "positive": obj["positive"].strip(),
                     "doc_id": str(obj.get("doc_id") or ""), "source": str(obj.get("source") or "pairs"), "line": n})
    if not rows:
        raise InputError("no pairs", path=path)
    frame = pl.DataFrame(rows)
    if corpus is not None:
        by_text = {t.strip(): d for t, d in zip(corpus.unit_texts(), corpus.unit_doc_ids(), strict=True)}
        for d, t, x in corpus.docs.select("doc_id", "title", "text").iter_rows():
            by_text.setdefault(x.strip(), d)
            by_text.setdefault(f"{t}\n{x}".strip(), d)
        known = set(corpus.doc_ids())
        doc_ids = []
        for r in frame.iter_rows(named=True):
            d = r["doc_id"] if r["doc_id"] in known else by_text.get(r["positive"])
            if d is None and r["doc_id"]:
                raise InputError(f"doc_id {r['doc_id']!r} is not in the corpus", path=path, line=r["line"],
                                 field="doc_id")
            if d is None:
                # a section or passage of an article: find the article whose text contains it
                d = next((doc for doc, _, x in corpus.docs.select("doc_id", "title", "text").iter_rows()
                          if r["positive"][:200] in x), None)
            if d is None:
                raise InputError("positive is not a passage of the corpus (give doc_id, or pass the matching "
                                 "--corpus)", path=path, line=r["line"], field="positive")
            doc_ids.append(d)
        frame = frame.with_columns(pl.Series("doc_id", doc_ids))
    return frame.drop("line")


def split_validation(pairs: pl.DataFrame, *, fraction: float, seed: int, encoder=None,
                     threshold: float = 0.9) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Train/validation split of the pairs, grouped so no query twin (normalised, token set, near
    duplicate) is on both sides. A group bigger than the validation budget stays in training; if the
    near-duplicate groups leave no room (an encoder that finds everything similar), the split falls back
    to normalised and token-set groups."""
    queries = pairs["query"].to_list()
    uq = sorted(set(queries))
    target = max(1, int(len(pairs) * fraction))
    for enc in ((encoder, None) if encoder is not None else (None,)):
        gid = dict(zip(uq, _groups(uq, enc, threshold), strict=True))
        g_col = pl.col("query").replace_strict(gid, return_dtype=pl.Int64)
        size = dict(pairs.group_by(g_col.alias("g")).len().iter_rows())
        groups = sorted(size)
        random.Random(seed).shuffle(groups)
        val_groups, n = set(), 0
        for g in groups:
            if n >= target:
                break
            if n + size[g] <= target * 1.5:
                val_groups.add(g)
                n += size[g]
        if val_groups:
            break
    is_val = g_col.is_in(list(val_groups))
    return pairs.filter(~is_val), pairs.filter(is_val)


def prepare(pairs: pl.DataFrame, corpus: Corpus, config: TrainConfig, *, model=None, encoder=None,
            log: Callable[[str], None] = print) -> TrainData:
    """Dedupe, split, add general pairs and hard negatives. Only text columns go to the trainer later."""
    before = pairs.height
    pairs = pairs.unique(subset=["query", "positive"], keep="first", maintain_order=True)
    stats = {"pairs": before, "duplicates_dropped": before - pairs.height}
    train, val = split_validation(pairs, fraction=config.val_fraction, seed=config.seed, encoder=encoder)
    if train.height < config.batch_size:
        raise InputError(f"only {train.height} training pairs after the validation split, fewer than one batch "
                         f"of {config.batch_size}: mine more pairs or lower the batch size")
    stats.update(train=train.height, val=val.height,
                 per_source=dict(train.group_by("source").len().sort("source").iter_rows()))
    train = train.select(pl.col("query").alias("anchor"), "positive", "doc_id")
    if config.general_pairs and config.general_share > 0:
        general = load_pairs(config.general_pairs)
        n = min(general.height, int(round(train.height * config.general_share / (1 - config.general_share))))
        general = general.sample(n, seed=config.seed, shuffle=True)
        train = pl.concat([train, general.select(pl.col("query").alias("anchor"), "positive",
                                                  pl.lit("__general__").alias("doc_id"))])
        stats["general_pairs"] = n
    if config.hard_negatives and model is not None:
        train = add_hard_negatives(train, corpus, model, config, log=log)
        stats["hard_negatives"] = config.hard_negatives
    return TrainData(train=train, val=val.select(pl.col("query").alias("anchor"), "doc_id"), stats=stats)


def add_hard_negatives(train: pl.DataFrame, corpus: Corpus, model, config: TrainConfig,
                       log: Callable[[str], None] = print) -> pl.DataFrame:
    """Mine ``config.hard_negatives`` per pair with sentence-transformers' ``mine_hard_negatives``.

    Candidates are the corpus's retrieval units ranked by the current model within
    ``hard_negative_range``, below ``(1 - margin) x`` the positive's score. A sibling section of the
    positive's article is never a negative (it is a false negative by construction); pairs left without
    enough candidates get a random unit from another article, so no pair is lost.
    """
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    units, unit_docs = corpus.unit_texts(), corpus.unit_doc_ids()
    doc_of = dict(zip(units, unit_docs, strict=True))
    want = config.hard_negatives
    extra = want + 4  # room to drop sibling sections
    lo, hi = config.hard_negative_range
    ds = Dataset.from_dict({"anchor": train["anchor"].to_list(), "positive": train["positive"].to_list()})
    mined = mine_hard_negatives(ds, model, corpus=units, range_min=lo, range_max=hi,
                                relative_margin=config.hard_negative_margin, num_negatives=extra,
                                sampling_strategy="top", output_format="labeled-list", batch_size=64,
                                verbose=False)
    found: dict[str, list[str]] = {}
    for a, texts, labels in zip(mined["anchor"], mined["positive"], mined["labels"], strict=True):
        found.setdefault(a, []).extend(t for t, lab in zip(texts, labels, strict=True) if lab == 0)
    # every article the anchor is paired with is a positive: none of their sections may be a negative
    anchor_docs: dict[str, set[str]] = {}
    for a, d in train.select("anchor", "doc_id").iter_rows():
        anchor_docs.setdefault(a, set()).add(d)
    rng = random.Random(config.seed)
    out, fallback = [], 0
    for a in train["anchor"].to_list():
        negs = list(dict.fromkeys(t for t in found.get(a, []) if doc_of.get(t) not in anchor_docs[a]))[:want]
        while len(negs) < want:
            fallback += 1
            t = units[rng.randrange(len(units))]
            if doc_of[t] not in anchor_docs[a] and t not in negs:
                negs.append(t)
        out.append(negs)
    log(f"hard negatives: {want} per pair from mine_hard_negatives (range {lo}-{hi}, relative margin "
        f"{config.hard_negative_margin}); {fallback} filled at random")
    return train.with_columns([pl.Series(f"negative_{i + 1}", [n[i] for n in out]) for i in range(want)])


# --------------------------------------------------------------------------------------------------
# Training


@dataclass
class TrainState:
    """Live state a notebook or CLI can watch and steer."""

    stop: threading.Event = field(default_factory=threading.Event)
    losses: list[tuple[int, float]] = field(default_factory=list)
    val_mrr: list[tuple[int, float]] = field(default_factory=list)
    step: int = 0
    total_steps: int = 0
    started: float = 0.0
    on_update: Callable[[TrainState], None] | None = None

    def eta_seconds(self) -> float | None:
        if self.step == 0:
            return None
        return (time.perf_counter() - self.started) / self.step * (self.total_steps - self.step)


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

    def summary(self) -> dict:
        return {"output_dir": self.output_dir, "best_checkpoint": self.best_checkpoint, "steps": self.steps,
                "seconds": round(self.seconds, 1), "final_loss": self.losses[-1][1] if self.losses else None,
                "best_val_mrr@10": max((m for _, m in self.val_mrr), default=None), "stopped_early": self.stopped_early,
                "warnings": self.warnings, **{k: v for k, v in self.stats.items() if k != "per_source"}}


def _callback(state: TrainState):
    from transformers import TrainerCallback

    class Watch(TrainerCallback):
        def on_train_begin(self, args, st, control, **kw):
            state.total_steps = st.max_steps
            state.started = time.perf_counter()

        def on_step_end(self, args, st, control, **kw):
            state.step = st.global_step
            if state.on_update:
                state.on_update(state)
            if state.stop.is_set():  # Stop: end cleanly after this step and keep it as a checkpoint
                control.should_save = True
                control.should_training_stop = True

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


def write_model_card(model_dir: str | Path, info: dict) -> None:
    """Replace sentence-transformers' card (which embeds training samples) with one that has none."""
    lines = ["---", "library_name: sentence-transformers", "tags: [sentence-transformers, embtune]", "---", "",
             "# Fine-tuned with embtune", "",
             "This card is written by embtune. It lists data sizes, settings and metrics, and deliberately no "
             "training examples (support tickets must not leak).", ""]
    for k, v in info.items():
        lines.append(f"- **{k}**: {json.dumps(v) if not isinstance(v, str) else v}")
    from .workspace import write_text

    write_text(Path(model_dir) / "README.md", "\n".join(lines) + "\n")


def build_trainer(model, data: TrainData, corpus: Corpus, config: TrainConfig, state: TrainState):
    """A ``SentenceTransformerTrainer`` with only the loss's text columns, NO_DUPLICATES batches and
    checkpoint selection by validation MRR@10 over the full corpus."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )

    text_cols = ["anchor", "positive"] + sorted(c for c in data.train.columns if c.startswith("negative_"))
    train_ds = Dataset.from_dict({c: data.train[c].to_list() for c in text_cols})
    units, unit_docs = corpus.unit_texts(), corpus.unit_doc_ids()
    corpus_map = {f"u{i}": t for i, t in enumerate(units)}
    by_doc: dict[str, set[str]] = {}
    for i, d in enumerate(unit_docs):
        by_doc.setdefault(d, set()).add(f"u{i}")
    queries, relevant = {}, {}
    for i, (a, d) in enumerate(data.val.select("anchor", "doc_id").iter_rows()):
        queries[f"v{i}"] = a
        relevant[f"v{i}"] = by_doc.get(d, set())
    evaluator = InformationRetrievalEvaluator(queries, corpus_map, relevant, name="val", mrr_at_k=[10],
                                              ndcg_at_k=[10], accuracy_at_k=[1, 5], precision_recall_at_k=[5],
                                              map_at_k=[10], write_csv=False, batch_size=64)
    if config.loss == "cached_mnrl":
        loss = CachedMultipleNegativesRankingLoss(model, mini_batch_size=config.mini_batch_size)
    else:
        loss = MultipleNegativesRankingLoss(model)
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


def estimate_seconds(pairs: pl.DataFrame, corpus: Corpus, config: TrainConfig, *, steps: int = 2) -> float:
    """Seconds a run will take, from timing a few real optimizer steps (forward, backward, update) on
    batches of the real pairs, plus the hard-negative mining pass (an encode of queries and units)."""
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from .models import load_model

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

    from .models import load_model

    state = state or TrainState()
    set_seed(config.seed)
    model = load_model(config.base_model, max_seq_length=config.max_seq_length)
    data = prepare(pairs, corpus, config, model=model if config.hard_negatives else None, encoder=encoder, log=log)
    trainer, total = build_trainer(model, data, corpus, config, state)
    log(f"training: {data.stats['train']} pairs ({data.stats.get('general_pairs', 0)} general), "
        f"{data.stats['val']} validation, {total} steps of {config.batch_size}")
    out = Path(config.output_dir)
    last = None
    if resume:
        ckpts = sorted((out / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
        last = str(ckpts[-1]) if ckpts else None
        log(f"resuming from {last}" if last else "no checkpoint to resume from: starting fresh")
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - t0
    final = out  # ``SentenceTransformer(output_dir)`` loads the best model
    model.save(str(final))
    warnings = diagnose(state.losses, state.val_mrr)
    info = {"base_model": config.base_model, "pairs_per_source": data.stats.get("per_source", {}),
            "train_pairs": data.stats["train"], "validation_pairs": data.stats["val"],
            "general_pairs": data.stats.get("general_pairs", 0), "config": dataclasses.asdict(config),
            "best_validation_mrr@10": max((m for _, m in state.val_mrr), default=None), **(card_info or {})}
    write_model_card(final, info)
    for ckpt in (out / "checkpoints").glob("checkpoint-*"):
        write_model_card(ckpt, {"note": "intermediate checkpoint", "base_model": config.base_model})
    (out / "train_log.json").write_text(json.dumps({"losses": state.losses, "val_mrr@10": state.val_mrr,
                                                   "stats": data.stats, "warnings": warnings}, indent=1))
    return TrainResult(output_dir=str(final), best_checkpoint=trainer.state.best_model_checkpoint,
                       steps=trainer.state.global_step, seconds=seconds, losses=list(state.losses),
                       val_mrr=list(state.val_mrr), stats=data.stats, stopped_early=state.stop.is_set(),
                       warnings=warnings)


__all__ = ["TrainConfig", "TrainResult", "TrainState", "diagnose", "estimate_seconds", "load_pairs", "prepare",
           "split_validation", "train", "write_model_card"]
