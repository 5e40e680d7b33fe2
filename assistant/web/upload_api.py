"""The admin routes that add documents: preview an upload, add it (then rebuild in the background), list the corpus.

All three need the admin token (401/403/429 as the other admin routes). An upload is multipart with one
``file`` field, capped while it streams in (413), checked by name and content (415) and for zip bombs (422).
Send ``Accept: text/html`` to get the admin view's rendered fragment instead of JSON.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ..ingest import IngestResult, Preview, Status
from . import render
from .api import ADMIN_ERRORS, ErrorResponse, admin_refusal, error
from .security import AdminGate, BodyTooLarge, too_large_body
from .uploads import JobStatus, Refusal, Staged, Uploads, receive_file


class PreviewOut(BaseModel):
    doc_id: str
    source: str
    title: str
    issuer: str
    date: str
    doc_number: str
    year: int | None
    units: int
    units_by_kind: dict[str, int]
    units_by_level: dict[int, int]
    first_items: list[str]
    lines_total: int
    lines_covered: int
    coverage: float
    warnings: list[str]

    @classmethod
    def of(cls, p: Preview) -> PreviewOut:
        return cls(
            doc_id=p.doc_id, source=p.source, title=p.title, issuer=p.issuer, date=p.date, doc_number=p.doc_number, year=p.year,
            units=p.units, units_by_kind=dict(p.units_by_kind), units_by_level=dict(p.units_by_level), first_items=list(p.first_items),
            lines_total=p.lines_total, lines_covered=p.lines_covered, coverage=round(p.coverage, 4), warnings=list(p.warnings),
        )


class JobOut(BaseModel):
    state: Literal["idle", "running", "done", "failed"]
    message_zh: str
    message_en: str
    started_at: str
    finished_at: str

    @classmethod
    def of(cls, s: JobStatus) -> JobOut:
        return cls(state=s.state.value, message_zh=s.message_zh, message_en=s.message_en, started_at=s.started_at, finished_at=s.finished_at)


class PreviewResponse(BaseModel):
    name: str  # the sanitised name the file would be stored under
    size: int
    preview: PreviewOut


class AddResponse(BaseModel):
    result: Literal["added", "skipped"]
    message_zh: str
    message_en: str
    doc_id: str
    preview: PreviewOut
    job: JobOut


class CorpusDocument(BaseModel):
    doc_id: str
    source: str
    title: str
    issuer: str
    date: str
    units: int
    coverage: float
    error: str
    indexed: bool  # served by the index the chat answers from now


class CorpusResponse(BaseModel):
    documents: list[CorpusDocument]
    job: JobOut
    max_upload_mb: float


UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    **ADMIN_ERRORS,
    400: {"model": ErrorResponse, "description": "不是有效的 multipart 请求 / malformed multipart body"},
    413: {"model": ErrorResponse, "description": "文件过大 / over the upload cap (POLICYQA_MAX_UPLOAD_MB)"},
    415: {"model": ErrorResponse, "description": "文件类型不支持或与内容不符 / unsupported type, or content not matching the name"},
    422: {"model": ErrorResponse, "description": "文件无法使用：空文件、压缩炸弹、无法解析 / empty, zip bomb or unparseable"},
}
HTML_TOO: dict[str, Any] = {"content": {"text/html": {}}}
# The body is read as a stream (to cap it), so FastAPI cannot infer it: described here for /docs.
MULTIPART: dict[str, Any] = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary", "description": "一个政策文件 / one policy document"}},
}}}}}


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def corpus_response(uploads: Uploads) -> CorpusResponse:
    # The job's state first: a job reads done only after the new index serves, so "done" never shows a stale "indexed".
    job = JobOut.of(uploads.job.status)
    served = uploads.indexed()
    docs = [
        CorpusDocument(doc_id=p.doc_id, source=p.source, title=p.title, issuer=p.issuer, date=p.date, units=p.units,
                       coverage=round(p.coverage, 4), error=p.error, indexed=p.doc_id in served)
        for p in uploads.documents()
    ]
    return CorpusResponse(documents=docs, job=job, max_upload_mb=round(uploads.max_bytes / 2**20, 2))


def added_response(result: IngestResult, found: Preview, job: JobStatus) -> AddResponse:
    if result.status is Status.ADDED:
        stored = result.stored.name if result.stored else found.source
        zh = f"已添加《{found.title or found.doc_id}》（保存为 {stored}），正在后台重建索引，问答照常进行"
        outcome: Literal["added", "skipped"] = "added"
    else:
        same = result.stored.name if result.stored else result.doc_id
        zh, outcome = f"内容与已有的文件 {same} 完全相同，没有重复添加", "skipped"
    return AddResponse(result=outcome, message_zh=zh, message_en=result.message, doc_id=result.doc_id or found.doc_id,
                       preview=PreviewOut.of(found), job=JobOut.of(job))


def _add_handlers(app: FastAPI, max_bytes: int) -> None:
    def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Refusal)
        return error(exc.status, exc.zh, exc.en)

    def too_large(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(too_large_body(max_bytes), status_code=413)

    app.add_exception_handler(Refusal, refused)
    app.add_exception_handler(BodyTooLarge, too_large)


async def staged_preview(request: Request, uploads: Uploads) -> tuple[Staged, Preview]:
    """Receive, check and parse the upload; the temporary copy is gone when this returns."""
    with tempfile.TemporaryDirectory(prefix="policyqa-upload-") as tmp:
        staged = await receive_file(request, Path(tmp), uploads.max_bytes)
        return staged, await run_in_threadpool(uploads.check, staged)


async def staged_add(request: Request, uploads: Uploads) -> tuple[IngestResult, Preview]:
    """Receive and add the upload, holding the rebuild slot (reserved by the caller); a new document starts the rebuild."""
    try:
        with tempfile.TemporaryDirectory(prefix="policyqa-upload-") as tmp:
            staged = await receive_file(request, Path(tmp), uploads.max_bytes)
            result, found = await run_in_threadpool(uploads.add, staged)
    except BaseException:  # refused, too large, or the client went away: the slot is free again
        uploads.job.release()
        raise
    if result.status is Status.ADDED:
        uploads.job.launch(result.stored.name if result.stored else found.source)
    else:
        uploads.job.release()
    return result, found


def add_upload_api(app: FastAPI, uploads: Uploads, gate: AdminGate) -> None:
    """Register the document routes; call before :func:`api.add_api`, whose catch-all must come last."""
    _add_handlers(app, uploads.max_bytes)

    @app.post("/api/admin/documents/preview", response_model=PreviewResponse, responses={200: HTML_TOO, **UPLOAD_ERRORS}, tags=["admin"], openapi_extra=MULTIPART,
              summary="预览上传文件的解析结果，不改动文件库（需管理令牌）/ parse an uploaded file and show what was found; nothing is stored")
    async def preview_upload(request: Request) -> Any:
        if (refusal := admin_refusal(gate, request)) is not None:
            return refusal
        staged, found = await staged_preview(request, uploads)
        body = PreviewResponse(name=found.source, size=staged.size, preview=PreviewOut.of(found))
        return HTMLResponse(render.upload_preview_html(body.preview)) if _wants_html(request) else body

    @app.post("/api/admin/documents", status_code=202, response_model=AddResponse,
              responses={202: HTML_TOO, 200: {"model": AddResponse, "description": "内容相同，已跳过 / identical content, skipped"},
                         409: {"model": ErrorResponse, "description": "正在重建索引 / a rebuild is running"}, 503: {"model": ErrorResponse}, **UPLOAD_ERRORS},
              tags=["admin"], openapi_extra=MULTIPART, summary="添加文件并在后台重建索引（需管理令牌）/ add a document and rebuild the index in the background")
    async def add_document(request: Request, response: Response) -> Any:
        if (refusal := admin_refusal(gate, request)) is not None:
            return refusal
        if (problem := uploads.unavailable()) is not None:
            return error(503, *problem)
        if not uploads.job.reserve():
            return error(409, "正在重建索引，请等这次完成后再添加文件", "an index rebuild is running; add the file when it has finished",
                         job=JobOut.of(uploads.job.status).model_dump())
        result, found = await staged_add(request, uploads)
        response.status_code = 202 if result.status is Status.ADDED else 200
        body = added_response(result, found, uploads.job.status)
        return HTMLResponse(render.upload_added_html(body), status_code=response.status_code) if _wants_html(request) else body

    @app.get("/api/admin/documents", response_model=CorpusResponse, responses={200: HTML_TOO, **ADMIN_ERRORS}, tags=["admin"],
             summary="文件库中的文件与索引重建状态（需管理令牌）/ the corpus documents and the rebuild status")
    def corpus(request: Request) -> Any:
        if (refusal := admin_refusal(gate, request)) is not None:
            return refusal
        body = corpus_response(uploads)
        return HTMLResponse(render.corpus_html(body)) if _wants_html(request) else body
