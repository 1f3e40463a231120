"""The ``embtune`` command: the notebooks' steps, headless.

Every deliberate error (:class:`EmbtuneError`) becomes one line on stderr and its exit code; no
traceback. Output meant for machines is one JSON object on stdout (``--json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from .errors import EmbtuneError, RemoteError


def _print(obj: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, indent=2, sort_keys=False))
    else:
        for k, v in obj.items():
            print(f"{k:>16}: {v}")


def cmd_info(args) -> int:
    from .project import open_project

    project = open_project(args.project)
    _print(project.info(with_model=not args.no_model), args.json)
    return 0


def cmd_eval(args) -> int:
    from .evaluate import evaluate_model
    from .models import fingerprint, load_model
    from .project import open_project
    from .sources import load_docs, load_eval_set

    if args.eval_dir:
        corpus = load_docs(os.path.join(args.eval_dir, "corpus.jsonl"), "beir", split=False)
        evalset = load_eval_set(args.eval_dir, corpus)
        cache = None
        model_name = args.model or "all-MiniLM-L6-v2"
        model = load_model(model_name)
    else:
        project = open_project(args.project)
        corpus, evalset, cache = project.corpus, project.eval_set, project.embedding_cache()
        model_name = args.model or project.config.model.base
        model = project.load_base_model() if model_name == project.config.model.base else load_model(model_name)
    res = evaluate_model(model, corpus, evalset, cache=cache, name=model_name)
    keys = ("recall@5", "recall@10", "mrr@10", "ndcg@10", "accuracy@1", "accuracy@5", "map@100")
    out = {k: round(res.metrics[k], 6) for k in keys}
    fp = fingerprint(model)
    out.update(n_queries=res.n_queries, n_docs=res.n_docs, model_fingerprint=fp,
               eval_kind=evalset.kind, eval_hash=evalset.sha256)
    if args.ci:
        from .stats import metric_cis

        out["ci95"] = {k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in metric_cis(res.per_query, keys).items()}
    if args.save_baseline:
        if args.eval_dir:
            raise EmbtuneError("--save-baseline needs a project (--project), not --eval-dir")
        from .baseline import save_baseline

        save_baseline(project, res, fp)
        out["baseline_saved"] = str(project.workspace.path("baseline.json"))
    _print(out, args.json)
    return 0


def cmd_leakage(args) -> int:
    from .leakage import audit
    from .models import load_model
    from .sources import load_docs, load_eval_set
    from .train import load_pairs

    corpus = load_docs(os.path.join(args.eval_dir, "corpus.jsonl"), "beir", split=False)
    evalset = load_eval_set(args.eval_dir, corpus)
    pairs = load_pairs(args.pairs, corpus)  # the same strict reader training uses; maps positives to articles
    encoder = None
    if not args.no_model:
        from .embeddings import Encoder

        encoder = Encoder(load_model(args.model))
    report = audit(pairs.select("query", "doc_id"), evalset, encoder=encoder, threshold=args.threshold)
    _print(report.as_dict(), args.json)
    return 0


def cmd_mine(args) -> int:
    from . import filters
    from .mining import mine_project
    from .mining.llm import ChatClient, generate_queries, load_generated
    from .project import open_project

    project = open_project(args.project)
    encoder = project.base_encoder()
    llm_dir = project.workspace.path("cache", "llm")
    failed = []
    if args.llm:
        c = project.config.llm
        client = ChatClient(c.base_url, c.model, api_key_env=c.api_key_env)

        def progress(done, total):
            print(f"\rLLM queries: {done}/{total} articles", end="", file=sys.stderr, flush=True)

        llm, stats = generate_queries(project.corpus.docs, client, llm_dir, n=c.queries_per_doc, progress=progress)
        print(f"\nLLM: {stats.summary()}", file=sys.stderr)
        failed = stats.failed
    else:
        llm = load_generated(llm_dir)
    scored = mine_project(project, encoder, llm=llm)
    filtered = filters.apply(scored, project.config.filters)
    out = {"candidates": scored.height, "kept": int(filtered["kept"].sum()),
           "per_source": filters.summary(filtered).to_dicts(), "headroom": filters.headroom(scored),
           "path": str(project.workspace.path("candidates.parquet"))}
    if failed:
        out["llm_failed"] = failed
    _print(out, args.json)
    if failed:
        print(f"embtune: error: {len(failed)} LLM requests failed (answers so far are cached; rerun to resume): "
              f"{failed[0]}", file=sys.stderr)
        return RemoteError.exit_code
    return 0


def cmd_pairs_export(args) -> int:
    from . import filters
    from .mining import load_candidates, mine_project
    from .pairs import export_pairs
    from .project import open_project
    from .review import ReviewStore

    project = open_project(args.project)
    encoder = project.base_encoder()
    scored = load_candidates(project)
    if scored is None:
        scored = mine_project(project, encoder)
    filtered = filters.apply(scored, project.config.filters)
    store = ReviewStore(project.workspace.path("review.sqlite"))
    report = export_pairs(project, filtered, store, encoder, args.out)
    _print({"path": report.path, "pairs": report.total, "per_source": report.per_source,
            "leaks_dropped": report.leakage.leaks.height, "leakage": report.leakage.counts()}, args.json)
    return 0


def cmd_train(args) -> int:
    import dataclasses

    from .sources import load_docs
    from .train import TrainConfig, load_pairs, train

    if args.corpus:
        corpus = load_docs(args.corpus, split=False)
    else:
        from .project import open_project

        corpus = open_project(args.project).corpus
    pairs = load_pairs(args.pairs, corpus)
    overrides = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size,
                                   "max_seq_length": args.max_seq_length, "max_steps": args.max_steps}.items()
                 if v is not None}
    if args.no_hard_negatives:
        overrides["hard_negatives"] = 0
    cfg = TrainConfig.defaults(pairs.height, base_model=args.model, output_dir=args.out, **overrides)
    from .models import load_model

    load_model(args.model)  # a base model that cannot load fails here, before any work
    import signal

    from .train import TrainState

    state = TrainState()

    def stop(signum, frame):  # first Ctrl-C: finish this step, save a checkpoint, stop; second: abort
        if state.stop.is_set():
            raise KeyboardInterrupt
        print("\nstopping after this step (Ctrl-C again to abort) ...", file=sys.stderr)
        state.stop.set()

    previous = signal.signal(signal.SIGINT, stop)
    try:
        result = train(pairs, corpus, cfg, state=state, resume=args.resume, log=lambda m: print(m, file=sys.stderr))
    finally:
        signal.signal(signal.SIGINT, previous)
    summary = result.summary()
    summary["config"] = {k: v for k, v in dataclasses.asdict(cfg).items() if k in (
        "epochs", "batch_size", "learning_rate", "max_seq_length", "hard_negatives", "precision", "loss")}
    print(json.dumps(summary))
    return 0


def cmd_compare(args) -> int:
    from .compare import compare
    from .evaluate import evaluate_model
    from .models import load_model
    from .sources import load_docs, load_eval_set

    base, tuned = load_model(args.base), load_model(args.tuned)
    if args.eval_dir:
        corpus = load_docs(os.path.join(args.eval_dir, "corpus.jsonl"), "beir", split=False)
        evalset = load_eval_set(args.eval_dir, corpus)
        b = evaluate_model(base, corpus, evalset, name=args.base)
        t = evaluate_model(tuned, corpus, evalset, name=args.tuned)
        gate, extra = None, None
    else:
        from .project import open_project
        from .workflow import evaluate_pair

        project = open_project(args.project)
        evalset, gate = project.eval_set, project.config.gate
        ev = evaluate_pair(project, base, tuned, project.embedding_cache())
        b, t = ev["base"], ev["tuned"]
        extra = (ev["complaints_base"], ev["complaints_tuned"], project.complaints.relevant) \
            if project.complaints is not None else None
    result = compare(b, t, evalset, gate=gate, complaints=extra).as_dict()
    result.update(base=args.base, tuned=args.tuned, n_queries=len(evalset), eval_kind=evalset.kind)
    _print(result, args.json)
    return 0


def cmd_run(args) -> int:
    from .workflow import run_all

    out = run_all(args.project, log=lambda m: print(m, file=sys.stderr), max_steps=args.max_steps)
    _print(out, args.json)
    return 0 if out["gate"]["passed"] else 7


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _progress(label: str):
    def show(done: int, total: int) -> None:
        print(f"\r{label} {done}/{total}", end="\n" if done >= total else "", file=sys.stderr, flush=True)
    return show


def _resolve_collection(store, name: str) -> str:
    """``live`` / ``candidate`` name the collection the alias points at."""
    from .errors import StoreError
    from .store import ALIASES

    if name in ALIASES:
        target = store.get_alias(name)
        if target is None:
            raise StoreError(f"the '{name}' alias points at no collection yet")
        return target
    return name


@contextlib.contextmanager
def _project_store(args):
    """The project of ``--project`` and its vector store (``--store``, else the project's), for one command."""
    from .project import open_project
    from .store import open_store

    project = open_project(args.project)
    with open_store(project, args.store) as store:
        yield project, store


def cmd_ship(args) -> int:
    import dataclasses

    from . import ship
    from .models import load_model
    from .sources import load_docs
    from .store import describe_url, store_url

    model = load_model(args.model)
    with _project_store(args) as (project, store):
        corpus = load_docs(args.corpus, split=project.config.docs.split_sections,
                           split_min_words=project.config.docs.split_min_words) if args.corpus else project.corpus
        res = ship.build_collection(store, model, corpus, name=args.collection, model_label=args.model,
                                    batch_size=project.config.model.batch_size,
                                    write_batch=project.config.store.batch_size, progress=_progress("encoding"))
        ship.record_build(project, res)
        print(res.summary(), file=sys.stderr)
        out = {"collection": res.info.name, "built": res.created,
               "store": describe_url(args.store or store_url(project.config)),
               **{k: v for k, v in dataclasses.asdict(res.info).items() if k != "name"},
               "seconds": round(res.seconds, 2)}
        if args.verify:
            rep = ship.verify(store, res.info.name, model, corpus, project.eval_set,
                              cache=project.embedding_cache())
            out["verify"] = {"ok": rep.ok, "rows": rep.rows()}
            print(rep.summary(), file=sys.stderr)
        if args.candidate:
            ship.set_candidate(project, store, res.info.name)
            out["alias"] = "candidate"
    _print(out, args.json)
    return 0 if out.get("verify", {"ok": True})["ok"] else 8


def cmd_search(args) -> int:
    from . import ship

    with _project_store(args) as (_, store):
        name = _resolve_collection(store, args.collection)
        model = ship.load_collection_model(store, name)
        hits = ship.search(store, name, model, [args.query], k=args.k)[0]
    out = {"collection": name, "query": args.query,
           "hits": [{"rank": i + 1, "doc_id": h.doc_id, "unit_id": h.unit_id, "title": h.title,
                     "score": round(h.score, 6)} for i, h in enumerate(hits)]}
    if args.json:
        _print(out, True)
    else:
        for h in out["hits"]:
            print(f"{h['rank']:>2}. {h['score']:.3f}  {h['title']}  ({h['unit_id']})")
    return 0


def cmd_collections(args) -> int:
    import dataclasses

    with _project_store(args) as (_, store):
        aliases = store.aliases()
        rows = [dataclasses.asdict(c) | {"aliases": sorted(a for a, n in aliases.items() if n == c.name)}
                for c in store.list()]
    if args.json:
        _print({"collections": rows, "aliases": aliases}, True)
    else:
        for r in rows:
            tag = f" [{', '.join(r['aliases'])}]" if r["aliases"] else ""
            print(f"{r['name']}{tag}: {r['unit_count']} units, dim {r['dim']}, {r['model']} ({r['created']})")
    return 0


def cmd_promote(args) -> int:
    from . import ship

    with _project_store(args) as (project, store):
        _print(ship.promote(project, store, force=args.force), args.json)
    return 0


def cmd_rollback(args) -> int:
    from . import ship

    with _project_store(args) as (project, store):
        _print(ship.rollback(project, store), args.json)
    return 0


def cmd_export(args) -> int:
    from .evaluate import evaluate_model
    from .models import load_model
    from .project import open_project
    from .serving import OnnxEncoder, check_parity, evaluate_onnx, export_onnx

    project = open_project(args.project)
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
    return 0 if out["parity_ok"] and out.get("int8_ok", True) else 4


def cmd_report(args) -> int:
    from .report import write_report

    path = write_report(args.project, args.out, run=args.run, include_examples=not args.no_examples,
                        redact=not args.no_redact)
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="embtune", description="Fine-tune a small embedding model on your own docs.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("info", help="sizes of a project's sources and its resolved base model")
    s.add_argument("--project", help="path to embtune.toml (default: the sample project)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--no-model", action="store_true", help="skip loading the base model")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("eval", help="Recall@k / MRR@10 of a model on an eval set")
    s.add_argument("--project", help="path to embtune.toml (default: the sample project)")
    s.add_argument("--model", help="model id or path (default: the project's base model)")
    s.add_argument("--eval-dir", help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels.tsv) instead of a project")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--ci", action="store_true", help="add bootstrap 95%% confidence intervals")
    s.add_argument("--save-baseline", action="store_true", help="save as the project's baseline (step 3)")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("leakage", help="audit training pairs against an eval set (exact, normalized, near-duplicate)")
    s.add_argument("--pairs", required=True, help="pairs JSONL: query and positive (or doc_id)")
    s.add_argument("--eval-dir", required=True, help="a BEIR folder")
    s.add_argument("--model", default="all-MiniLM-L6-v2", help="model for near duplicates")
    s.add_argument("--threshold", type=float, default=0.9, help="cosine threshold for near duplicates")
    s.add_argument("--no-model", action="store_true", help="skip the near-duplicate check")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_leakage)

    s = sub.add_parser("mine", help="mine candidate pairs from logs, tickets, docs and LLM queries, and filter them")
    s.add_argument("--project", help="path to embtune.toml (default: the sample project)")
    s.add_argument("--llm", action="store_true", help="also call the [llm] endpoint for new queries (cached)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_mine)

    s = sub.add_parser("pairs", help="training pairs: export the reviewed pairs")
    pairs_sub = s.add_subparsers(dest="pairs_command", required=True)
    e = pairs_sub.add_parser("export", help="write pairs.jsonl (accepted + auto-accepted, leaks dropped)")
    e.add_argument("--project", help="path to embtune.toml (default: the sample project)")
    e.add_argument("--out", help="output path (default: <workspace>/pairs.jsonl)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=cmd_pairs_export)

    s = sub.add_parser("train", help="fine-tune with MultipleNegativesRankingLoss (prints a one-line JSON summary)")
    s.add_argument("--pairs", required=True, help="pairs JSONL with 'query' and 'positive' (the tutorial's format)")
    s.add_argument("--model", default="all-MiniLM-L6-v2", help="base model id or path")
    s.add_argument("--out", required=True, help="output directory; SentenceTransformer(OUT) loads the result")
    s.add_argument("--corpus", help="corpus for hard negatives and validation: BEIR corpus.jsonl, JSONL or a "
                   "Markdown folder (default: the project's docs)")
    s.add_argument("--project", help="project whose docs are the corpus (default: the sample project)")
    s.add_argument("--epochs", type=float)
    s.add_argument("--batch-size", type=int)
    s.add_argument("--max-seq-length", type=int)
    s.add_argument("--max-steps", type=int, help="stop after N optimizer steps (smoke runs)")
    s.add_argument("--no-hard-negatives", action="store_true", help="in-batch negatives only")
    s.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("compare", help="base vs tuned on the same eval set: deltas with CIs, wins/losses, gate")
    s.add_argument("--base", required=True, help="base model id or path")
    s.add_argument("--tuned", required=True, help="tuned model path (or another run)")
    s.add_argument("--eval-dir", help="a BEIR folder (default: the project's eval set)")
    s.add_argument("--project", help="path to embtune.toml (default: the sample project)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("run", help="headless: mine -> pairs -> baseline -> train -> evaluate -> ship gate")
    s.add_argument("--project", help="path to embtune.toml (default: the sample project)")
    s.add_argument("--max-steps", type=int, default=-1, help="cap training steps (smoke runs)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_run)

    def store_args(s):
        s.add_argument("--project", help="path to embtune.toml (default: the sample project)")
        s.add_argument("--store", help="postgresql:// URL (default: [store] of the project, else the embedded server)")
        s.add_argument("--json", action="store_true", help="print one JSON object")

    s = sub.add_parser("ship", help="re-encode the corpus into a new versioned collection of the vector store")
    s.add_argument("--model", required=True, help="model id or path (a run folder)")
    s.add_argument("--corpus", help="docs to encode (default: the project's docs)")
    s.add_argument("--collection", help="collection name (default: <model or run>_<corpus hash>)")
    s.add_argument("--candidate", action="store_true", help="point the 'candidate' alias at it")
    s.add_argument("--verify", action="store_true", help="check the eval set through the database")
    store_args(s)
    s.set_defaults(func=cmd_ship)

    s = sub.add_parser("search", help="search a collection (or the live / candidate alias) with its own model")
    s.add_argument("--collection", required=True, help="collection name, or 'live' / 'candidate'")
    s.add_argument("--query", required=True)
    s.add_argument("--k", type=_positive_int, default=5, help="how many results (default 5)")
    store_args(s)
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("collections", help="collections of the vector store, with model, size and aliases")
    store_args(s)
    s.set_defaults(func=cmd_collections)

    s = sub.add_parser("promote", help="make the candidate collection live (refused if it fails the ship gate)")
    s.add_argument("--force", action="store_true", help="promote despite a failing gate (recorded)")
    store_args(s)
    s.set_defaults(func=cmd_promote)

    s = sub.add_parser("rollback", help="point 'live' back at the collection it pointed to before")
    store_args(s)
    s.set_defaults(func=cmd_rollback)

    s = sub.add_parser("export", help="export a model to ONNX (fp32 + int8) and check it against torch")
    s.add_argument("--model", required=True, help="model id or path (a run folder)")
    s.add_argument("--out", required=True, help="output folder (model.onnx, model.int8.onnx, tokenizer)")
    s.add_argument("--no-int8", action="store_true", help="skip the dynamically quantized int8 model")
    s.add_argument("--project", help="eval set for the parity check (default: the sample project)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("report", help="one self-contained HTML report that opens offline (no code, no secrets)")
    s.add_argument("--project", help="path to embtune.toml (default: the sample project)")
    s.add_argument("--out", required=True, help="the HTML file to write")
    s.add_argument("--run", help="tuned run folder or id (default: the newest run)")
    s.add_argument("--no-examples", action="store_true", help="aggregates only: no queries, titles or snippets")
    s.add_argument("--no-redact", action="store_true", help="keep example texts as they are (default: scrubbed)")
    s.set_defaults(func=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EmbtuneError as e:
        print(f"embtune: error: {e}", file=sys.stderr)
        return e.exit_code
    except Exception as e:
        if type(e).__module__.startswith("psycopg"):  # the database said no: one line, the store's exit code
            from .errors import StoreError

            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            print(f"embtune: error: vector store: {first}", file=sys.stderr)
            return StoreError.exit_code
        raise
    except KeyboardInterrupt:
        print("embtune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
