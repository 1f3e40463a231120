"""The ``embtune`` command: the notebooks' steps, headless, through the same project-level calls.

Every deliberate error (:class:`EmbtuneError`) becomes one line on stderr and the exit code of its class;
no traceback. Output meant for machines is one JSON object on stdout (``--json``). Each command is a
handler with its arguments declared right above it (:func:`command`); ``--project``, ``--json`` and the
store options come from shared parent parsers.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable

from .core.errors import EmbtuneError, GateError, ModelError, RemoteError, StoreError
from .core.models import DEFAULT_MODEL


def _parent(*args: tuple[tuple, dict]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    for flags, kw in args:
        p.add_argument(*flags, **kw)
    return p


PROJECT = _parent((("--project",), {"help": "path to embtune.toml (default: $EMBTUNE_PROJECT, else the sample "
                                             "project)"}))
JSON = _parent((("--json",), {"action": "store_true", "help": "print one JSON object"}))
STORE = _parent((("--store",), {"help": "postgresql:// URL (default: [store] of the project, else the embedded "
                                         "server)"}))


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of minutes: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of minutes, got {text}")
    return value


BUDGET = _parent((("--max-minutes",), {"type": _minutes, "help": "bound the whole command, encoding and "
                  "validation included: training stops early and keeps its best model so far"}))
#: When this command started: ``--max-minutes`` counts from here.
_STARTED = [time.monotonic()]

#: (name, help, parents, arguments, handler), in the order ``--help`` lists them.
_COMMANDS: list[tuple[str, str, tuple, tuple, Callable]] = []


def arg(*flags: str, **kw) -> tuple[tuple, dict]:
    return flags, kw


def command(name: str, help: str, *args: tuple[tuple, dict], parents: tuple = ()):
    """Register ``fn`` as ``embtune NAME`` (``"pairs export"`` makes a nested command)."""
    def register(fn):
        _COMMANDS.append((name, help, parents, args, fn))
        return fn
    return register


#: Wider lists of objects print as one indented block per item instead of a table.
TABLE_WIDTH = 120


def _print(obj: dict, as_json: bool) -> None:
    """One JSON object (``--json``), else readable lines: ``key: value``, nested objects indented, lists of
    objects as small tables."""
    if as_json:
        print(json.dumps(obj, indent=2, sort_keys=False))
    else:
        print("\n".join(_readable(obj)))


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.4g}"
    if _numbers(v):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _numbers(v) -> bool:
    """A non-empty list of numbers (an interval, a pair) prints on one line."""
    return isinstance(v, list | tuple) and bool(v) and all(isinstance(x, int | float) and not isinstance(x, bool)
                                                            for x in v)


def _is_scalar(v) -> bool:
    return not isinstance(v, dict | list | tuple) or _numbers(v)


def _readable(obj, indent: int = 0) -> list[str]:
    """``obj`` (a dict, list or scalar) as indented ``key: value`` lines; a list of flat dicts is a table."""
    pad = "  " * indent
    if isinstance(obj, dict):
        width = max((len(str(k)) for k in obj), default=0)
        out = []
        for k, v in obj.items():
            if _is_scalar(v) or not v:
                out.append(f"{pad}{str(k) + ':':<{width + 1}} {_fmt(v) if _is_scalar(v) else 'none'}")
            else:
                out.append(f"{pad}{k}:")
                out.extend(_readable(v, indent + 1))
        return out
    if isinstance(obj, list | tuple):
        if obj and all(isinstance(r, dict) and all(_is_scalar(x) for x in r.values()) for r in obj):
            table = _table(obj)
            if max(map(len, table)) <= TABLE_WIDTH:
                return [pad + line for line in table]
        out = []
        for item in obj:
            lines = [_fmt(item)] if _is_scalar(item) else _readable(item) or ["none"]
            out.append(f"{pad}- {lines[0]}")
            out.extend(f"{pad}  {line}" for line in lines[1:])
        return out
    return [pad + _fmt(obj)]


def _table(rows: list[dict], columns: list[str] | None = None, headers: dict[str, str] | None = None) -> list[str]:
    """Rows as aligned text columns (numbers right-aligned), with a header line."""
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    headers = headers or {}
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    numeric = [all(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows if
                   r.get(c) is not None) for c in columns]
    head = [headers.get(c, c) for c in columns]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(head)]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric,
                                                                                 strict=True)).rstrip()
    return [line(head)] + [line(row) for row in cells]


def _beir(folder: str):
    """Corpus and eval set of a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels.tsv``)."""
    from .core.sources import load_docs, load_eval_set

    corpus = load_docs(os.path.join(folder, "corpus.jsonl"), "beir", split=False)
    return corpus, load_eval_set(folder, corpus)


def _open(args):
    from .core.project import open_project

    return open_project(args.project)


def _eval_set(project, what: str):
    """The project's eval set, or one line saying that ``what`` needs one and how to judge it."""
    from .core.errors import InputError

    if not project.has_eval_set:
        raise InputError(f"missing: {what} measures on the eval set; judge one first (`embtune judge --project "
                         "P --query ... --list`, or notebook 03)",
                         path=project.config.resolve(project.config.eval.path) or "[eval] path")
    return project.eval_set


def _progress(label: str):
    def show(done: int, total: int) -> None:
        print(f"\r{label} {done}/{total}", end="\n" if done >= total else "", file=sys.stderr, flush=True)
    return show


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def _train_progress(state) -> None:
    """One overwritten stderr line per optimizer step: step, total, ETA, last loss."""
    if not state.total_steps:
        return
    eta = state.eta_seconds()
    loss = f", loss {state.losses[-1][1]:.3f}" if state.losses else ""
    left = f", ~{eta / 60:.1f} min left" if eta is not None else ""
    end = "\n" if state.step >= state.total_steps else ""
    print(f"\rtraining: step {state.step}/{state.total_steps}{left}{loss}   ", end=end, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _train_state(args):
    """A ``TrainState`` for a command that trains: one progress line on stderr, the ``--max-minutes``
    deadline counted from the command's start, and Ctrl-C: the first ends training after the current step
    (the best model so far is kept; before training starts it aborts at once), a second aborts."""
    import signal

    from .train import TrainState

    state = TrainState(on_update=_train_progress)
    if getattr(args, "max_minutes", None):
        state.deadline = _STARTED[0] + args.max_minutes * 60

    def stop(signum, frame):
        if state.stop.is_set() or not state.started:
            raise KeyboardInterrupt
        _log(f"\nstopping after step {state.step + 1} (Ctrl-C again to abort) ...")
        state.request_stop()

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# --------------------------------------------------------------------------------------------------
# Steps 1 and 3: the project, evaluation, leakage


@command("info", "sizes of a project's sources and its resolved base model",
         arg("--no-model", action="store_true", help="skip loading the base model"), parents=(PROJECT, JSON))
def cmd_info(args) -> None:
    _print(_open(args).info(with_model=not args.no_model), args.json)


@command("init", "write a commented embtune.toml for your docs (Markdown or HTML folder, JSONL, BEIR, or a "
                 "help-center export) and print the next commands",
         arg("docs", help="the docs: a folder of Markdown or HTML pages, a JSONL file, a BEIR corpus.jsonl, or a "
                          "Zendesk/Intercom JSON or JSONL export"),
         arg("--out", help="folder to write embtune.toml in (default: the current folder); never overwrites"),
         parents=(JSON,))
def cmd_init(args) -> None:
    from .init_project import scaffold

    report = scaffold(args.docs, args.out)
    if args.json:
        _print(report.as_dict(), True)
    else:
        print(report.summary())


def _beir_retriever(spec, corpus):
    """A retriever over a BEIR folder's corpus, outside a project: its embeddings go to the user cache
    (``$EMBTUNE_CACHE``, else ``~/.cache/embtune/embeddings``), so evaluating a model twice encodes once."""
    from .core.embeddings import Encoder, user_cache
    from .core.models import load_model
    from .core.retrievers import build

    cache = user_cache()
    return build(spec, corpus, load_encoder=lambda name: Encoder(load_model(name), cache))


@command("eval", "Recall@k / MRR@10 of a retriever (a model, bm25, or a model fused with BM25) on an eval set",
         arg("--model", help="model id or path, or 'bm25' (default: the project's base model)"),
         arg("--hybrid", action="store_true", help="fuse the model with BM25 (reciprocal rank fusion)"),
         arg("--eval-dir", help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels.tsv) instead of a project"),
         arg("--ci", action="store_true", help="add bootstrap 95%% confidence intervals"),
         arg("--save-baseline", action="store_true", help="save as the project's baseline (step 3)"),
         parents=(PROJECT, JSON))
def cmd_eval(args) -> None:
    from .core.retrievers import RetrieverSpec, evaluate_retriever

    if args.eval_dir and args.save_baseline:
        raise EmbtuneError("--save-baseline needs a project (--project), not --eval-dir")
    project = None if args.eval_dir else _open(args)
    spec = RetrieverSpec.parse(args.model or (project.config.model.base if project else DEFAULT_MODEL))
    if args.hybrid:
        if spec.kind == "lexical":
            raise EmbtuneError("--hybrid fuses a model with BM25: give --model a model, not 'bm25'")
        spec = RetrieverSpec("hybrid", spec.model)
    if args.save_baseline and spec.kind != "dense":
        raise EmbtuneError("--save-baseline saves the base model alone (dense); drop --hybrid / 'bm25'")
    if args.eval_dir:
        corpus, evalset = _beir(args.eval_dir)
        retriever = _beir_retriever(spec, corpus)
    else:
        corpus, evalset = project.corpus, _eval_set(project, "`embtune eval`")
        retriever = project.retriever(spec)
    res = evaluate_retriever(retriever, corpus, evalset, name=str(spec))
    keys = ("recall@5", "recall@10", "mrr@10", "ndcg@10", "accuracy@1", "accuracy@5", "map@100")
    out = {k: round(res.metrics[k], 6) for k in keys}
    fp = retriever.fingerprint
    out.update(retriever=str(spec), n_queries=res.n_queries, n_docs=res.n_docs, model_fingerprint=fp,
               eval_kind=evalset.kind, eval_hash=evalset.sha256)
    if args.ci:
        from .core.stats import metric_cis

        out["ci95"] = {k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in metric_cis(res.per_query, keys).items()}
    if args.save_baseline:
        from .eval_set import save_baseline

        save_baseline(project, res, fp)
        out["baseline_saved"] = str(project.workspace.path("baseline.json"))
    _print(out, args.json)


@command("leakage", "audit training pairs against an eval set (exact, normalized, near-duplicate)",
         arg("--pairs", required=True, help="pairs JSONL: query and positive (or doc_id)"),
         arg("--eval-dir", required=True, help="a BEIR folder"),
         arg("--model", default=DEFAULT_MODEL, help="model for near duplicates"),
         arg("--threshold", type=float, default=0.9, help="cosine threshold for near duplicates"),
         arg("--no-model", action="store_true", help="skip the near-duplicate check"), parents=(JSON,))
def cmd_leakage(args) -> None:
    from .core.embeddings import Encoder
    from .core.models import load_model
    from .eval_set import audit
    from .train import load_pairs

    corpus, evalset = _beir(args.eval_dir)
    pairs = load_pairs(args.pairs, corpus)  # the same strict reader training uses; maps positives to articles
    encoder = None if args.no_model else Encoder(load_model(args.model))
    report = audit(pairs.select("query", "doc_id"), evalset, encoder=encoder, threshold=args.threshold)
    _print(report.as_dict(), args.json)


@command("judge", "judge a question for the eval set: --list the pooled top 10 (BM25 and the base model), then "
                  "mark the articles that answer it (--relevant), --no-answer or --skip",
         arg("--query", required=True, help="a real question, as someone asked it"),
         arg("--list", action="store_true", help="print the articles to judge for the question (writes nothing)"),
         arg("--relevant", nargs="+", metavar="DOC", help="ids of the articles that answer it (the doc_id column "
                                                          "of --list)"),
         arg("--no-answer", action="store_true", help="the docs do not answer it (a content gap, not an eval query)"),
         arg("--skip", action="store_true", help="leave it unjudged (it leaves the queue)"),
         arg("--source", default="typed", choices=("typed", "search log", "generated"),
             help="where the question came from (eval slices use it; default: typed)"),
         arg("--k", type=_positive_int, default=10, help="articles to list (default 10)"),
         parents=(PROJECT, JSON))
def cmd_judge(args) -> None:
    import shlex

    from .core.privacy import scrub
    from .eval_set import ADVICE, judge, judging_progress, pooled_candidates
    from .eval_set.judging import candidates_frame

    project = _open(args)
    args.query = " ".join(scrub(args.query).split())  # what is listed, judged, written and printed
    chosen = [name for name, on in (("--relevant", bool(args.relevant)), ("--no-answer", args.no_answer),
                                    ("--skip", args.skip)) if on]
    if args.list == bool(chosen) or len(chosen) > 1:
        raise EmbtuneError("give --list to see the articles to judge, or one of --relevant DOC ..., --no-answer, "
                           "--skip to record a judgment")
    if args.list:
        cands = candidates_frame(pooled_candidates(project, args.query, args.k))
        progress = judging_progress(project)
        if args.json:
            _print({"query": args.query, "candidates": cands.to_dicts(), "progress": dataclasses.asdict(progress)},
                   True)
            return
        print(f"{args.query}\n")
        table = _table(cands.drop("snippet").to_dicts(), headers={"rank": "#", "doc_id": "doc id"}) \
            if cands.height else ["no articles found"]
        print(table[0])
        for line, row in zip(table[1:], cands.iter_rows(named=True), strict=True):
            print(line)
            print(f"    {row['snippet']}")
        where = f"--project {shlex.quote(args.project)} " if args.project else ""
        print(f"\njudge it: embtune judge {where}--query {shlex.quote(args.query)} --relevant DOC [DOC ...] "
              "(or --no-answer, --skip)")
        print(progress.summary())
        return
    saved = judge(project, args.query, args.relevant or (), no_answer=args.no_answer, skip=args.skip,
                  source=args.source)
    titles = project.corpus.titles()
    out = {"query": args.query, "judgment": "relevant" if args.relevant else "no answer" if args.no_answer else
           "skipped", "relevant": [{"doc_id": d, "title": titles[d]} for d in sorted(set(args.relevant or ()))],
           "eval_set": saved.path, "eval_queries": len(saved.evalset), "eval_hash": saved.sha256,
           "progress": dataclasses.asdict(saved.progress) | {"remaining": saved.progress.remaining}}
    if args.json:
        _print(out, True)
        return
    what = ", ".join(f"{r['doc_id']} ({r['title']})" for r in out["relevant"]) or out["judgment"]
    print(f"saved: {args.query!r} -> {what}")
    print(f"eval set: {saved.path} ({len(saved.evalset)} queries, hash {saved.sha256[:12]})")
    print(f"progress: {saved.progress.summary()}")
    if saved.progress.remaining:
        print(ADVICE)


# --------------------------------------------------------------------------------------------------
# Step 2: mining and pairs


@command("mine", "mine candidate pairs from logs, tickets, docs and LLM queries, and filter them",
         arg("--llm", action="store_true", help="also call the [llm] endpoint for new queries (cached)"),
         parents=(PROJECT, JSON))
def cmd_mine(args) -> None:
    from .mine_pairs import filters, mine_project
    from .mine_pairs.llm import ChatClient, generate_queries, project_generated

    project = _open(args)
    llm_dir = project.workspace.path("cache", "llm")
    failed = []
    if args.llm:
        c = project.config.llm
        client = ChatClient(c.base_url, c.model, api_key_env=c.api_key_env)
        llm, stats = generate_queries(project.corpus.docs, client, llm_dir, n=c.queries_per_doc,
                                      progress=_progress("LLM queries: articles"))
        _log(f"LLM: {stats.summary()}")
        failed = stats.failed
    else:
        llm = project_generated(project)  # this [llm] endpoint, model and these article versions only
    scored = mine_project(project, llm=llm)
    filtered = filters.apply(scored, project.config.filters)
    out = {"candidates": scored.height, "kept": int(filtered["kept"].sum()),
           "per_source": filters.summary(filtered).to_dicts(), "headroom": filters.headroom(scored),
           "path": str(project.workspace.path("candidates.parquet"))}
    if failed:
        out["llm_failed"] = failed
    _print(out, args.json)
    if failed:
        raise RemoteError(f"{len(failed)} LLM requests failed (answers so far are cached; rerun to resume): "
                          f"{failed[0]}")


@command("pairs export", "write pairs.jsonl (accepted + auto-accepted, leaks dropped)",
         arg("--out", help="output path (default: <workspace>/pairs.jsonl)"), parents=(PROJECT, JSON))
def cmd_pairs_export(args) -> None:
    from .mine_pairs import export_project
    from .mine_pairs.export import NOT_AUDITED

    project = _open(args)
    if not project.has_eval_set:
        _log("embtune: warning: no eval set yet, so no leakage audit: these pairs may contain the questions you "
             "judge later; export again after judging (`embtune judge`)")
    report = export_project(project, out=args.out)
    _print({"path": report.path, "pairs": report.total, "per_source": report.per_source,
            "leaks_dropped": report.leaks_dropped, "complaint_leaks_dropped": report.complaint_leaks_dropped,
            "leakage": report.leakage.counts() if report.leakage is not None else NOT_AUDITED}, args.json)


# --------------------------------------------------------------------------------------------------
# Steps 4 and 5: training, comparison, the whole pipeline


@command("train", "fine-tune with MultipleNegativesRankingLoss (prints a one-line JSON summary)",
         arg("--pairs", help="pairs JSONL with 'query' and 'positive' (default: the project's pairs.jsonl)"),
         arg("--out", help="output folder; SentenceTransformer(OUT) loads the result (default: a new "
                           "runs/<id> of the project)"),
         arg("--model", help="base model id or path (default: the project's base model)"),
         arg("--corpus", help="train without a project: the corpus for hard negatives and validation "
                              "(BEIR corpus.jsonl, JSONL or a Markdown folder); needs --pairs and --out"),
         arg("--epochs", type=float), arg("--batch-size", type=int), arg("--max-seq-length", type=int),
         arg("--max-steps", type=int, help="stop after N optimizer steps (smoke runs)"),
         arg("--no-hard-negatives", action="store_true", help="in-batch negatives only"),
         arg("--resume", action="store_true", help="continue from the last checkpoint in --out"),
         parents=(PROJECT, BUDGET))
def cmd_train(args) -> None:
    from .train import plan, train_run

    overrides = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size,
                                   "max_seq_length": args.max_seq_length, "max_steps": args.max_steps}.items()
                 if v is not None}
    if args.no_hard_negatives:
        overrides["hard_negatives"] = 0
    if args.corpus:
        from .core.sources import load_docs

        if not (args.pairs and args.out):
            raise EmbtuneError("--corpus trains without a project: give --pairs and --out too")
        p = plan(None, overrides, pairs=args.pairs, corpus=load_docs(args.corpus, split=False),
                 base_model=args.model, output_dir=args.out, log=_log)
    else:
        p = plan(_open(args), overrides, pairs=args.pairs, base_model=args.model, output_dir=args.out, log=_log)
    with _train_state(args) as state:
        run = train_run(p, state=state, resume=args.resume, started_by="embtune train", log=_log)
    print(json.dumps(run.summary()))


@command("compare", "two retrievers on the same eval set: deltas with CIs, wins/losses, gate",
         arg("--base", required=True, help="retriever spec: a model id or path, 'bm25', or 'hybrid:<model>'"),
         arg("--tuned", required=True, help="retriever spec, e.g. a run folder or 'hybrid:<run folder>'"),
         arg("--eval-dir", help="a BEIR folder (default: the project's eval set)"), parents=(PROJECT, JSON))
def cmd_compare(args) -> None:
    from .compare import compare, compare_runs
    from .core.retrievers import evaluate_retriever

    if args.eval_dir:
        corpus, evalset = _beir(args.eval_dir)
        b, t = (evaluate_retriever(_beir_retriever(s, corpus), corpus, evalset, name=s) for s in (args.base, args.tuned))
        result = compare(b, t, evalset).as_dict()
    else:
        project = _open(args)
        evalset = _eval_set(project, "`embtune compare`")
        result = compare_runs(project, args.base, args.tuned).as_dict(project.config.gate)
    result.update(base=args.base, tuned=args.tuned, n_queries=len(evalset), eval_kind=evalset.kind)
    _print(result, args.json)


@command("run", "headless: mine -> pairs -> baseline -> train -> evaluate -> ship gate",
         arg("--max-steps", type=int, default=-1, help="cap training steps (smoke runs)"),
         parents=(PROJECT, JSON, BUDGET))
def cmd_run(args) -> None:
    from .pipeline import run_all

    with _train_state(args) as state:
        out = run_all(args.project, log=_log, max_steps=args.max_steps, state=state)
    _print(out, args.json)
    if not out["gate"]["passed"]:
        raise GateError("the tuned model fails the ship gate: " + "; ".join(out["gate"]["reasons"]))


# --------------------------------------------------------------------------------------------------
# Step 6: the vector store, serving, the report


@contextlib.contextmanager
def _project_store(args):
    """The project of ``--project`` and its vector store (``--store``, else the project's), for one command."""
    from .ship import open_store

    project = _open(args)
    with open_store(project, args.store) as store:
        yield project, store


def _resolve_collection(store, name: str) -> str:
    """``live`` / ``candidate`` name the collection the alias points at."""
    from .ship.store import ALIASES

    if name in ALIASES:
        target = store.get_alias(name)
        if target is None:
            raise StoreError(f"the '{name}' alias points at no collection yet")
        return target
    return name


@command("ship", "re-encode the corpus into a new versioned collection of the vector store",
         arg("--model", required=True, help="model id or path (a run folder), or 'hybrid:<model>' (= --hybrid)"),
         arg("--hybrid", action="store_true", help="also store the corpus's BM25 postings ([lexical]) and serve dense "
                                                    "+ BM25 fused by reciprocal rank fusion ([hybrid])"),
         arg("--corpus", help="docs to encode (default: the project's docs)"),
         arg("--collection", help="collection name (default: <model or run>_<corpus hash>, hybrid_... with --hybrid)"),
         arg("--candidate", action="store_true", help="point the 'candidate' alias at it"),
         arg("--verify", action="store_true", help="check the eval set through the database"),
         parents=(PROJECT, STORE, JSON))
def cmd_ship(args) -> None:
    from . import ship
    from .core.models import load_model
    from .core.retrievers import RetrieverSpec
    from .core.sources import load_docs

    spec = RetrieverSpec.parse(args.model)
    if spec.kind == "lexical":
        raise EmbtuneError("a collection holds a model's vectors: give --model a model (add --hybrid for BM25 too)")
    hybrid = args.hybrid or spec.kind == "hybrid"
    model = load_model(spec.model)
    with _project_store(args) as (project, store):
        d = project.config.docs
        corpus = load_docs(args.corpus, split=d.split_sections, split_min_words=d.split_min_words) \
            if args.corpus else project.corpus
        lexical = dict(lexical=project.config.lexical, hybrid=project.config.hybrid) if hybrid else {}
        res = ship.build_collection(store, model, corpus, name=args.collection, model_label=spec.model,
                                    batch_size=project.config.model.batch_size,
                                    write_batch=project.config.store.batch_size, progress=_progress("encoding"),
                                    **lexical)
        ship.record_build(project, res)
        _log(res.summary())
        out = {"collection": res.info.name, "built": res.created, "kind": res.info.kind,
               "retriever": res.info.retriever,
               "store": ship.describe_url(args.store or ship.store_url(project.config)),
               **{k: v for k, v in dataclasses.asdict(res.info).items() if k != "name"},
               "seconds": round(res.seconds, 2)}
        rep = None
        if args.verify:
            rep = ship.verify(store, res.info.name, model, corpus, project.eval_set, cache=project.embedding_cache())
            out["verify"] = {"ok": rep.ok, "rows": rep.rows()}
            _log(rep.summary())
        if args.candidate:
            ship.set_candidate(project, store, res.info.name)
            out["alias"] = "candidate"
    _print(out, args.json)
    if rep is not None and not rep.ok:
        raise StoreError(f"{res.info.name}: the database does not return what the in-memory evaluation "
                         f"measured: {rep.summary()}")


@command("search", "search a collection (or the live / candidate alias) with its own model; a hybrid collection "
                   "fuses it with BM25",
         arg("--collection", required=True, help="collection name, or 'live' / 'candidate'"),
         arg("--query", required=True), arg("--k", type=_positive_int, default=5, help="how many results (default 5)"),
         arg("--hybrid", action="store_true", help="require hybrid search (refused on a dense-only collection)"),
         arg("--dense", action="store_true", help="search a hybrid collection's vectors alone"),
         parents=(PROJECT, STORE, JSON))
def cmd_search(args) -> None:
    from . import ship

    if args.hybrid and args.dense:
        raise EmbtuneError("--hybrid and --dense exclude each other")
    with _project_store(args) as (project, store):
        name = _resolve_collection(store, args.collection)
        model = ship.load_collection_model(store, name)
        want = True if args.hybrid else (False if args.dense else None)
        kind = ship.search_kind(store.get(name), want)
        k = args.k if kind == "hybrid" else args.k * _units_per_article(project)  # hybrid hits are articles
        hits = ship.search(store, name, model, [args.query], k=k, hybrid=kind == "hybrid")[0]
    out = {"collection": name, "retriever": kind, "query": args.query, "hits": _article_hits(project, hits, args.k)}
    if args.json:
        _print(out, True)
    else:
        print(f"{name}: {args.query}")
        print("\n".join(_table(out["hits"], ["rank", "score", "title", "heading", "url"],
                                {"rank": "#", "heading": "section"})) if out["hits"] else "no results")


def _units_per_article(project) -> int:
    """The most retrieval units one article has: how many unit hits may hold ``k`` distinct articles."""
    per = project.corpus.sections.group_by("doc_id").len()
    return max(1, int(per["len"].max() or 1))


def _article_hits(project, hits, k: int) -> list[dict]:
    """Unit hits grouped by article, best section first (as evaluation ranks them), the top ``k``, with the
    article's title, the section's heading and the article's URL read from the project's corpus."""
    corpus = project.corpus
    docs = corpus.docs.select("doc_id", "title", "url").rows_by_key("doc_id", unique=True)
    heads = dict(zip(corpus.sections["section_id"], corpus.sections["heading"], strict=True))
    out, seen = [], set()
    for h in hits:
        if h.doc_id in seen:
            continue
        seen.add(h.doc_id)
        title, url = docs.get(h.doc_id, (h.title, ""))
        out.append({"rank": len(out) + 1, "doc_id": h.doc_id, "unit_id": h.unit_id, "title": title or h.title,
                    "score": round(h.score, 6), "heading": heads.get(h.unit_id) or "", "url": url or ""})
        if len(out) == k:
            break
    return out


@command("collections", "collections of the vector store, with model, size and aliases",
         parents=(PROJECT, STORE, JSON))
def cmd_collections(args) -> None:
    with _project_store(args) as (_, store):
        aliases = store.aliases()
        rows = [dataclasses.asdict(c) | {"kind": c.kind, "retriever": c.retriever,
                                         "aliases": sorted(a for a, n in aliases.items() if n == c.name)}
                for c in store.list()]
    if args.json:
        _print({"collections": rows, "aliases": aliases}, True)
    else:
        for r in rows:
            tag = f" [{', '.join(r['aliases'])}]" if r["aliases"] else ""
            print(f"{r['name']}{tag}: {r['kind']}, {r['unit_count']} units, dim {r['dim']}, {r['model']} "
                  f"({r['created']})")


@command("promote", "make the candidate collection live (refused if it fails the ship gate)",
         arg("--force", action="store_true", help="promote despite a failing gate (recorded)"),
         parents=(PROJECT, STORE, JSON))
def cmd_promote(args) -> None:
    from . import ship

    with _project_store(args) as (project, store):
        _print(ship.promote(project, store, force=args.force), args.json)


@command("rollback", "point 'live' back at the collection it pointed to before", parents=(PROJECT, STORE, JSON))
def cmd_rollback(args) -> None:
    from . import ship

    with _project_store(args) as (project, store):
        _print(ship.rollback(project, store), args.json)


@command("export", "export a model to ONNX (fp32 + int8) and check it against torch",
         arg("--model", required=True, help="model id or path (a run folder)"),
         arg("--out", required=True, help="output folder (model.onnx, model.int8.onnx, tokenizer)"),
         arg("--no-int8", action="store_true", help="skip the dynamically quantized int8 model"),
         parents=(PROJECT, JSON))
def cmd_export(args) -> None:
    from .core.evaluate import evaluate_model
    from .core.models import load_model
    from .ship.serving import OnnxEncoder, check_parity, evaluate_onnx, export_onnx

    project = _open(args)
    model = load_model(args.model)
    exp = export_onnx(model, args.out, quantize=not args.no_int8)
    queries = list(project.eval_set.queries.values())
    parity = check_parity(model, exp, queries, kind="query")
    out = {"out": str(exp.out_dir), "fp32_min_cosine": round(parity.fp32_min, 6), "parity_ok": parity.ok}
    if exp.model_int8 is not None:
        torch_res = evaluate_model(model, project.corpus, project.eval_set, cache=project.embedding_cache())
        int8_res = evaluate_onnx(OnnxEncoder(exp, variant="int8"), project.corpus, project.eval_set)
        out.update(int8_min_cosine=round(parity.int8_min, 6), **{
            f"{k}_{side}": round(r.metrics[k], 4) for k in ("recall@5", "mrr@10")
            for side, r in (("torch", torch_res), ("int8", int8_res))})
        out["int8_ok"] = all(abs(int8_res.metrics[k] - torch_res.metrics[k]) <= 0.01 for k in ("recall@5", "mrr@10"))
    _print(out, args.json)
    if not (out["parity_ok"] and out.get("int8_ok", True)):
        raise ModelError(f"the ONNX export does not match the torch model (fp32 min cosine {parity.fp32_min:.4f}"
                         + (f", int8 within 0.01: {out['int8_ok']}" if "int8_ok" in out else "") + ")")


@command("report", "one self-contained HTML report that opens offline (no code, no secrets)",
         arg("--out", required=True, help="the HTML file to write"),
         arg("--run", help="tuned run folder or id (default: the newest run)"),
         arg("--no-examples", action="store_true", help="aggregates only: no queries, titles or snippets"),
         arg("--no-redact", action="store_true", help="keep example texts as they are (default: scrubbed)"),
         parents=(PROJECT,))
def cmd_report(args) -> None:
    from .report import write_report

    print(write_report(args.project, args.out, run=args.run, include_examples=not args.no_examples,
                       redact=not args.no_redact))


# --------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="embtune", description="Fine-tune a small embedding model on your own docs.")
    sub = p.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, help, parents, args, fn in _COMMANDS:
        where = sub
        if " " in name:
            group, name = name.split(" ", 1)
            if group not in groups:
                groups[group] = sub.add_parser(group, help=f"{group}: {help}").add_subparsers(
                    dest=f"{group}_command", required=True)
            where = groups[group]
        s = where.add_parser(name, help=help, parents=list(parents))
        for flags, kw in args:
            s.add_argument(*flags, **kw)
        s.set_defaults(func=fn)
    return p


def main(argv: list[str] | None = None) -> int:
    _STARTED[0] = time.monotonic()
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
        return 0
    except EmbtuneError as e:
        from .core.privacy import mask_secrets

        print(f"embtune: error: {mask_secrets(str(e))}", file=sys.stderr)  # a last guard: no secret in a message
        return e.exit_code
    except KeyboardInterrupt:
        print("\nembtune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
