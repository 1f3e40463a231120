"""The ``embtune`` command: the notebooks' steps, headless.

Every deliberate error (:class:`EmbtuneError`) becomes one line on stderr and its exit code; no
traceback. Output meant for machines is one JSON object on stdout (``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import EmbtuneError


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
    from .candidates import embedding_cache
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
        corpus, evalset, cache = project.corpus, project.eval_set, embedding_cache(project)
        m = project.config.model
        model_name = args.model or m.base
        model = load_model(model_name, max_seq_length=m.max_seq_length,
                           prompts={"query": m.query_prompt, "document": m.document_prompt})
    res = evaluate_model(model, corpus, evalset, cache=cache, name=model_name)
    keys = ("recall@5", "recall@10", "mrr@10", "ndcg@10", "accuracy@1", "accuracy@5", "map@100")
    out = {k: round(res.metrics[k], 6) for k in keys}
    out.update(n_queries=res.n_queries, n_docs=res.n_docs, model_fingerprint=fingerprint(model),
               eval_kind=evalset.kind, eval_hash=evalset.sha256)
    _print(out, args.json)
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
    s.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EmbtuneError as e:
        print(f"embtune: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("embtune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
