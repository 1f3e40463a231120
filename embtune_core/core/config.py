"""The project file, ``embtune.toml``, as frozen dataclasses.

Every table of the file maps to one dataclass below. Loading is strict: an unknown key or a value of
the wrong type raises :class:`ConfigError` naming the key path (``search_log.fields.qeury``) and, when
a known key is close, "did you mean 'query'?". Relative paths are resolved against the file's folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .models import DEFAULT_MODEL, cuda_available


@dataclass(frozen=True)
class DocsFields:
    """Keys of a help-center export's records (``format = "export"``). ``""``: the first key a record
    has of those :data:`~embtune_core.core.doc_formats.FIELD_CANDIDATES` lists (``id``; ``title``;
    ``body``, ``body_html``, ``html`` ...; ``html_url``, ``url``), which fits Zendesk and Intercom."""

    id: str = ""
    title: str = ""
    body: str = ""
    url: str = ""


@dataclass(frozen=True)
class DocsConfig:
    """Where the help-center articles live and how long ones are split."""

    path: str = "docs"
    #: ``markdown`` (a folder of ``*.md``), ``html`` (a folder of ``*.html``/``*.htm``: a static site or a
    #: saved help center), ``jsonl`` (``{id,title,text,url}``), ``beir`` (a ``corpus.jsonl``), ``export``
    #: (a Zendesk/Intercom-style JSON or JSONL export with HTML bodies), or ``auto``: picked from the path
    #: and its contents (:func:`~embtune_core.core.doc_formats.detect_docs_format`).
    format: str = "auto"
    #: Split articles longer than ``split_min_words`` by their ``##`` headings into sections.
    split_sections: bool = True
    split_min_words: int = 400
    #: ``format = "export"`` only: which record keys hold id, title, body and URL.
    fields: DocsFields = field(default_factory=DocsFields)

    def __post_init__(self):
        _choice("docs.format", self.format, ("auto", "markdown", "html", "jsonl", "beir", "export"))
        _positive("docs.split_min_words", self.split_min_words)


@dataclass(frozen=True)
class SearchLogFields:
    """Column names of the search-log export (real exports name them their own way)."""

    query: str = "query"
    session: str = "session_id"
    timestamp: str = "timestamp"
    results: str = "results"
    clicks: str = "clicks"
    click_url: str = "url"
    click_position: str = "position"
    click_dwell: str = "dwell_seconds"
    search_id: str = "search_id"


@dataclass(frozen=True)
class SearchLogConfig:
    """A search log: one line per search, with the results shown and the clicks."""

    path: str = ""
    format: str = "auto"
    #: Share of bad lines (malformed, clicks on unknown articles) tolerated before loading fails.
    max_bad_share: float = 0.05
    fields: SearchLogFields = field(default_factory=SearchLogFields)

    def __post_init__(self):
        _choice("search_log.format", self.format, ("auto", "jsonl", "csv", "parquet"))
        _share("search_log.max_bad_share", self.max_bad_share)


@dataclass(frozen=True)
class TicketFields:
    """Column names of the support-ticket export."""

    id: str = "id"
    subject: str = "subject"
    body: str = "body"
    resolved: str = "resolved_articles"


@dataclass(frozen=True)
class TicketsConfig:
    """Support tickets and the article(s) that resolved them."""

    path: str = ""
    format: str = "auto"
    max_bad_share: float = 0.05
    fields: TicketFields = field(default_factory=TicketFields)

    def __post_init__(self):
        _choice("tickets.format", self.format, ("auto", "jsonl", "csv", "parquet"))
        _share("tickets.max_bad_share", self.max_bad_share)


@dataclass(frozen=True)
class LlmConfig:
    """An OpenAI-compatible chat endpoint for generated queries. The key comes from the environment only."""

    base_url: str = ""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    queries_per_doc: int = 4
    #: Cached generated queries (shipped with the sample project so the demo runs offline).
    cache: str = ""


@dataclass(frozen=True)
class EvalConfig:
    """The held-out, human-judged eval set (BEIR layout) and the complaints list."""

    path: str = "eval"
    complaints: str = ""
    #: Documented so later steps can say "proxy" when a click-built set is in use.
    kind: str = "human"
    #: Cosine (base model) at or above which a training query is a near duplicate of an eval query.
    leakage_threshold: float = 0.9

    def __post_init__(self):
        _choice("eval.kind", self.kind, ("human", "proxy"))
        _share("eval.leakage_threshold", self.leakage_threshold)


@dataclass(frozen=True)
class GeneralConfig:
    """A general-domain BEIR set (forgetting check) and general pairs (training mix)."""

    eval: str = ""
    pairs: str = ""


@dataclass(frozen=True)
class ModelConfig:
    """The base model and how it is used at train, eval and serve time (all fingerprinted)."""

    base: str = DEFAULT_MODEL
    query_prompt: str = ""
    document_prompt: str = ""
    #: ``0`` keeps the model's own limit.
    max_seq_length: int = 0
    batch_size: int = 64


@dataclass(frozen=True)
class LexicalConfig:
    """BM25 (bm25s) as every step uses it: step 1's candidates, hybrid retrievers, hybrid collections."""

    #: Snowball stemmer language (PyStemmer), ``""`` for none.
    stemmer: str = "english"
    #: bm25s stopword list (``en``; see ``bm25s.stopwords``), ``""`` for none.
    stopwords: str = "en"
    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self):
        if self.stemmer:
            import Stemmer

            _choice("lexical.stemmer", self.stemmer, tuple(Stemmer.algorithms()))
        if self.k1 <= 0:
            raise ConfigError(f"'lexical.k1' must be > 0, got {self.k1}")
        _share("lexical.b", self.b)


@dataclass(frozen=True)
class HybridConfig:
    """How a hybrid retriever fuses its dense and lexical rankings: reciprocal rank fusion,
    score(article) = sum of 1 / (rrf_k + rank) over both rankings, each ranking its top ``depth`` articles.

    ``depth`` 50: measured against 100 on the sample and the development benchmark (base and tuned
    models), Recall@5 was identical and MRR@10 within 0.002, and hybrid search in Postgres took half the
    time (``bench/bench_store.py``)."""

    rrf_k: int = 60
    depth: int = 50

    def __post_init__(self):
        _positive("hybrid.rrf_k", self.rrf_k)
        _positive("hybrid.depth", self.depth)
        if self.depth > 1000:
            raise ConfigError(f"'hybrid.depth' must be <= 1000, got {self.depth}")


@dataclass(frozen=True)
class ProductionConfig:
    """The retriever in production today, to compare against honestly in step 1.

    Either an OpenAI-compatible ``/v1/embeddings`` endpoint or a TREC run file of its results on the
    eval queries.
    """

    name: str = "production"
    embeddings_url: str = ""
    embeddings_model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    run_file: str = ""


@dataclass(frozen=True)
class MiningConfig:
    """How signals become candidate pairs."""

    #: A click with at least this dwell (seconds) is satisfied; so is a session's last click.
    min_dwell: float = 30.0
    #: Title -> body and heading -> section pairs from the docs themselves (noisy augmentation).
    doc_pairs: bool = True


@dataclass(frozen=True)
class FilterConfig:
    """Filter thresholds; every rejected pair keeps its reason. Changeable live in notebook 02."""

    min_chars: int = 3
    max_words: int = 48
    #: Cosine (base model) above which a query duplicates a kept query for the same article.
    near_duplicate: float = 0.95
    #: Token overlap with the title, or containment in one sentence of the positive, above which a
    #: query is "too easy" (it copies the text it should find).
    too_easy: float = 0.9
    #: LLM queries only: the base model must rank the source article within this many results.
    roundtrip_k: int = 20
    #: Docs pairs only: a title or heading shared by more articles than this is no query ("Overview").
    ambiguous_max_articles: int = 3

    def __post_init__(self):
        _positive("filters.max_words", self.max_words)
        _positive("filters.roundtrip_k", self.roundtrip_k)
        _positive("filters.ambiguous_max_articles", self.ambiguous_max_articles)
        _share("filters.near_duplicate", self.near_duplicate)
        _share("filters.too_easy", self.too_easy)


@dataclass(frozen=True)
class GateConfig:
    """The one ship gate, used everywhere (compare shows it, promote enforces it)."""

    #: The paired-bootstrap 95% lower bound of each delta (tuned - baseline) must be at least this.
    min_delta_ci_low: float = -0.01
    recall_k: int = 5
    mrr_k: int = 10
    #: No complaint query may lose a relevant article from its top ``complaints_top_k``.
    complaints_top_k: int = 3

    def __post_init__(self):
        from .cutoffs import MRR_AT, PR_AT

        for key, value, computed in (("recall_k", self.recall_k, PR_AT), ("mrr_k", self.mrr_k, MRR_AT)):
            if value not in computed:
                raise ConfigError(f"'gate.{key}' must be one of the cut-offs evaluation computes "
                                  f"({', '.join(map(str, computed))}), got {value}")
        _positive("gate.complaints_top_k", self.complaints_top_k)


@dataclass(frozen=True)
class StoreConfig:
    """The vector database of step 6. Empty ``url`` and no ``url_env`` variable: the embedded server."""

    #: ``postgresql://user@host/db``. Prefer ``url_env``: a password in this file would be committed.
    url: str = ""
    #: Environment variable holding the URL (read at run time, never written anywhere).
    url_env: str = "EMBTUNE_STORE_URL"
    batch_size: int = 256
    #: HNSW build parameters (pgvector defaults) and the search-time candidate list size.
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 100

    def __post_init__(self):
        _positive("store.batch_size", self.batch_size)
        _positive("store.hnsw_m", self.hnsw_m)
        _positive("store.hnsw_ef_construction", self.hnsw_ef_construction)
        _positive("store.hnsw_ef_search", self.hnsw_ef_search)


@dataclass(frozen=True)
class AbTestConfig:
    """How searches are split between the ``live`` and ``candidate`` collections."""

    #: Share of users routed to the candidate (the tutorial's "route 10% of traffic").
    share: float = 0.10
    #: One salt per experiment: changing it reshuffles who is in which arm, so keep it for the whole test.
    #: Empty: derived from the candidate collection's name (``embtune-ab:<collection>``, see
    #: ``embtune_core.ship.abtest.experiment_salt``), so each new candidate buckets users afresh.
    salt: str = ""
    #: The A/B event log to analyse (see ``embtune_core.ship.abtest`` for its schema).
    events: str = ""

    def __post_init__(self):
        _share("abtest.share", self.share)


#: mnrl: MultipleNegativesRankingLoss; gist: GISTEmbedLoss, in-batch negatives the base model (the guide)
#: scores above the positive are masked as likely false negatives; cached_*: the same with bounded memory.
LOSSES = ("mnrl", "cached_mnrl", "gist", "cached_gist")
MARGIN_KINDS = ("relative", "absolute")
#: MNRL's contrast directions: ``one_way`` ranks each query's positive above the batch's other documents;
#: ``symmetric`` also each positive's query above the other queries; ``improved`` (GTE's "improved
#: contrastive" loss) also query against query and document against document, in one softmax.
CONTRASTS = {"one_way": ("query_to_doc",), "symmetric": ("query_to_doc", "doc_to_query"),
             "improved": ("query_to_doc", "query_to_query", "doc_to_query", "doc_to_doc")}
PRECISIONS = ("fp32", "fp16", "bf16")
#: Share of general-domain pairs in the training mix when the project has some (against forgetting).
DEFAULT_GENERAL_SHARE = 0.1


@dataclass(frozen=True)
class TrainConfig:
    """Fine-tuning settings of one run, validated on construction.

    The project's ``[train]`` table (:class:`TrainTable`) sets any of these keys except ``base_model``
    (that is ``[model] base``) and ``output_dir`` (one per run); :meth:`defaults` chooses the rest from
    the data size and the device.
    """

    base_model: str = DEFAULT_MODEL
    output_dir: str = "runs/latest"
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    #: 128 tokens on CPU covers a query and a section's lead while training ~2x faster than 256.
    max_seq_length: int = 128
    seed: int = 42
    loss: str = "mnrl"
    #: mnrl / cached_mnrl: which pairs the loss contrasts (:data:`CONTRASTS`); gist: ``symmetric`` also
    #: contrasts positives against positives.
    contrast: str = "one_way"
    #: mnrl / cached_mnrl: weight of in-batch negatives by their (detached) similarity to the query, so the
    #: hard ones count more (Lan et al. 2025 use 9; 0: off).
    hardness: float = 0.0
    #: cached_* only: sub-batch size that bounds memory while keeping every in-batch negative.
    mini_batch_size: int = 16
    #: Hard negatives per pair (0: in-batch negatives only).
    hard_negatives: int = 1
    #: False-negative guard of a mined negative: ``relative``: score < (1 - margin) x the positive's score;
    #: ``absolute``: score < the positive's score - margin (keeps candidates for pairs the model scores low).
    hard_negative_margin_kind: str = "relative"
    hard_negative_margin: float = 0.05
    hard_negative_range: tuple[int, int] = (2, 30)
    #: Average this share of the base model's weights into the tuned model (0: none): forgets less.
    merge_base: float = 0.0
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
    #: Validation ranks over the validation positives plus at most this many other units, so a pass costs
    #: a fraction of an epoch on a large corpus (0: the whole corpus). At 2,000, the three passes of a
    #: 1,000-pair run on the PostgreSQL manual (2,218 units) took 45% of it (bench_ablations, 2 cores).
    val_corpus_max: int = 500

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ConfigError(f"train.loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        _choice("train.hard_negative_margin_kind", self.hard_negative_margin_kind, MARGIN_KINDS)
        _choice("train.contrast", self.contrast, tuple(CONTRASTS))
        if self.hardness < 0:
            raise ConfigError(f"train.hardness must be >= 0, got {self.hardness}")
        if self.loss in ("gist", "cached_gist") and (self.contrast == "improved" or self.hardness):
            raise ConfigError("train.contrast = 'improved' and train.hardness apply to mnrl / cached_mnrl only")
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
        if self.val_corpus_max < 0:
            raise ConfigError(f"train.val_corpus_max must be >= 0, got {self.val_corpus_max}")
        for name in ("warmup_ratio", "general_share", "hard_negative_margin", "merge_base"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0 < self.val_fraction < 0.5:
            raise ConfigError(f"train.val_fraction must be in (0, 0.5), got {self.val_fraction}")
        lo, hi = self.hard_negative_range
        if not 0 <= lo < hi:
            raise ConfigError(f"train.hard_negative_range must be (low, high) with low < high, got {lo, hi}")

    @classmethod
    def defaults(cls, n_pairs: int, *, gpu: bool | None = None, table: TrainTable | None = None,
                 **overrides) -> TrainConfig:
        """Settings for ``n_pairs`` training pairs: the project's ``[train]`` table (``table``) first,
        then ``overrides`` (CLI flags, the notebook form) on top; what neither sets is chosen here.

        - CPU: 128 tokens, batch 32, 3 epochs (1 from 20,000 pairs), lr 5e-5, fp32. MiniLM trains ~8
          pairs/s at 128 tokens on 2 cores and ~3.6 at 256, so 128 tokens buys twice the steps for the
          tutorial's time. Measured with ``bench/bench_ablations.py`` (paired 95% CIs): on the development
          benchmark's 1,000 PostgreSQL pairs, 3 epochs against 1.5 gave Recall@5 +0.038 [+0.013, +0.065]
          and MRR@10 +0.040 [+0.025, +0.056] (on the sample a tie, +0.006 / +0.010), and the defaults beat
          the tutorial's script (3 epochs, 256 tokens, lr 2e-5) by +0.024 / +0.021 over two seeds in ~0.8x
          its CPU time (on the sample +0.004 / +0.023). Validation MRR@10 still rose at the last step of
          the query-pair runs; where it peaks early (docs-derived pairs: after the first epoch), the best
          checkpoint is kept.
        - GPU: 256 tokens, batch 64 (more in-batch negatives are free there), 3 epochs (1 from 20,000
          pairs), lr 2e-5, bf16 when the card supports it, else fp16.
        - Under ~320 pairs, a smaller batch so an epoch has at least ~10 steps.
        - General-domain pairs (``general_pairs``, from ``[general] pairs``) make up ``general_share``
          of the training mix: 0.1 unless set.
        """
        gpu = cuda_available() if gpu is None else gpu
        if gpu:
            import torch

            prec = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            base = dict(max_seq_length=256, batch_size=64, epochs=3.0 if n_pairs < 20_000 else 1.0,
                        learning_rate=2e-5, precision=prec)
        else:
            base = dict(max_seq_length=128, batch_size=32, epochs=3.0 if n_pairs < 20_000 else 1.0,
                        learning_rate=5e-5, precision="fp32")
        base["batch_size"] = max(4, min(base["batch_size"], n_pairs // 10 or 4))
        base.update(table.as_dict() if table else {})
        base.update(overrides)
        if "general_share" not in base:
            base["general_share"] = DEFAULT_GENERAL_SHARE if base.get("general_pairs") else 0.0
        return cls(**base)


@dataclass(frozen=True)
class TrainTable:
    """The ``[train]`` table as written: only the keys the project sets (validated against
    :class:`TrainConfig`). :meth:`TrainConfig.defaults` fills in everything else per run."""

    values: tuple[tuple[str, object], ...] = ()

    def as_dict(self) -> dict:
        return dict(self.values)


#: ``[train]`` keys that belong elsewhere.
_NOT_IN_TRAIN = {"base_model": "set the base model in [model] base", "output_dir": "each run gets its own folder "
                 "under the workspace's runs/", "general_pairs": "set general pairs in [general] pairs"}


@dataclass(frozen=True)
class ProjectConfig:
    """The whole ``embtune.toml``."""

    name: str = "embtune project"
    workspace: str = "workspace"
    docs: DocsConfig = field(default_factory=DocsConfig)
    search_log: SearchLogConfig = field(default_factory=SearchLogConfig)
    tickets: TicketsConfig = field(default_factory=TicketsConfig)
    llm: LlmConfig = field(default_factory=LlmConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    general: GeneralConfig = field(default_factory=GeneralConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    lexical: LexicalConfig = field(default_factory=LexicalConfig)
    hybrid: HybridConfig = field(default_factory=HybridConfig)
    production: ProductionConfig = field(default_factory=ProductionConfig)
    mining: MiningConfig = field(default_factory=MiningConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    abtest: AbTestConfig = field(default_factory=AbTestConfig)
    train: TrainTable = field(default_factory=TrainTable)
    #: Folder of the project file; relative paths resolve against it. Not read from the file.
    root: str = "."

    def resolve(self, relative: str) -> Path:
        """Absolute path of a path written in the project file (``""`` stays unset: returns ``None``)."""
        if not relative:
            return None  # type: ignore[return-value]
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (Path(self.root) / p).resolve()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("root")
        return d

    def hash(self, *sections: str) -> str:
        """Stable hash of the whole config, or of the named top-level sections only."""
        d = self.to_dict()
        if sections:
            d = {k: d[k] for k in sections}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate ``embtune.toml``. Raises :class:`ConfigError` naming the key path."""
    path = Path(path)
    if path.is_dir():
        path = path / "embtune.toml"
    if not path.is_file():
        raise ConfigError(f"{path}: project file not found (expected an embtune.toml)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    if "root" in raw:
        raise ConfigError(f"{path}: 'root' is set by embtune from the file's location; remove it")
    try:
        cfg = from_dict(ProjectConfig, raw, "")
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return dataclasses.replace(cfg, root=str(path.parent.resolve()))


def from_dict(cls: type, data: object, prefix: str):
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"'{prefix or '<top>'}' must be a table, got {_tname(data)}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.name != "root"}
    kwargs = {}
    for key, value in data.items():
        keypath = f"{prefix}.{key}" if prefix else key
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(known))}"
            raise ConfigError(f"unknown key '{keypath}'{hint}")
        kwargs[key] = _coerce(hints[key], value, keypath)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:  # pragma: no cover - defensive
        raise ConfigError(f"'{prefix}': {e}") from None


def _coerce(tp, value, keypath):
    if tp is TrainTable:
        return _train_table(value, keypath)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, keypath)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(args[0], value, keypath)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(tp)
        if len(value) != len(args):
            raise ConfigError(f"'{keypath}' must be an array of {len(args)} values, got {len(value)}")
        return tuple(_coerce(a, v, f"{keypath}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if tp in (str, int, float, bool):
        if type(value) is not tp:
            raise ConfigError(f"'{keypath}' must be {tp.__name__}, got {_tname(value)} {value!r}")
        return value
    raise ConfigError(f"'{keypath}': unsupported type {tp}")  # pragma: no cover


def _train_table(value, keypath: str) -> TrainTable:
    """Validate ``[train]`` like every table (key paths, "did you mean", types, ranges); keep what it sets."""
    if isinstance(value, dict):
        for key, why in _NOT_IN_TRAIN.items():
            if key in value:
                raise ConfigError(f"'{keypath}.{key}' is not a training setting: {why}")
    validated = from_dict(TrainConfig, value, keypath)
    return TrainTable(tuple(sorted((k, getattr(validated, k)) for k in value)))


def _tname(v) -> str:
    return {dict: "a table", list: "an array", str: "str", bool: "bool", int: "int", float: "float"}.get(
        type(v), type(v).__name__
    )


def _choice(key: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        close = difflib.get_close_matches(value, options, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"'{key}' must be one of {', '.join(options)}, got {value!r}{hint}")


def _positive(key: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"'{key}' must be > 0, got {value}")


def _share(key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"'{key}' must be between 0 and 1, got {value}")
