"""The HTTP API under ``/api``: ask, health, documents, and the token-guarded admin export and reload.

Every route declares its response model and FastAPI enforces it; every error is a bilingual JSON
object (:func:`security.error_body`), whatever went wrong with the request.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..answering import Citation
from ..chunking import unit_key, unit_path
from ..feedback import CSV_COLUMNS
from ..parsing import Document, Unit
from ..pipeline import InvalidQuestionError, validate_question
from .render import deep_link
from .security import ACCESS_MESSAGES, ACCESS_STATUS, ADMIN_HEADER, Access, AdminGate, error_body, neutralise_cell
from .state import STORE_ERRORS, Feedback, QAHolder, iter_interactions

EXAMPLE_QUESTION = "今年民办学校招生报名人数超过计划怎么办？"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def checked_text(value: str) -> str:
    """Refuse text no answer can come from: lone surrogates (not Unicode at all) and control characters."""
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise PydanticCustomError("lone_surrogate", "contains a lone surrogate (\\ud800-\\udfff), which is not a character")
    if _CONTROL.search(value):
        raise PydanticCustomError("control_character", "contains a control character such as NUL")
    return value


def has_words(value: str) -> bool:
    """Letters or digits once zero-width characters are dropped (emoji and symbols alone ask nothing)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in value)


# -- request and response models ---------------------------------------------------------------
class AskRequest(BaseModel):
    question: str = Field(description="用户的问题 / the question, in Chinese", examples=[EXAMPLE_QUESTION])
    history: list[str] | None = Field(default=None, description="此前的问题，按时间先后 / earlier questions of the conversation, oldest first", examples=[[]])

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        checked_text(value)
        if value.strip() and not has_words(value):
            raise PydanticCustomError("no_words", "has no letters or digits: ask in words")
        return value

    @field_validator("history")
    @classmethod
    def _history(cls, value: list[str] | None) -> list[str] | None:
        for item in value or ():
            checked_text(item)
        return value


class AskResponse(BaseModel):
    """The same object as ``policyqa ask --json``; the last three fields appear when the assistant provides them."""

    model_config = ConfigDict(extra="ignore")

    id: str | None
    question: str
    rewritten_question: str
    answer: str
    abstained: bool
    citations: list[Citation]  # the answering dataclass: one definition of the citation fields
    latency_ms: float
    coverage: Literal["full", "partial", "none"] | None = Field(default=None, description="答案覆盖了问题的全部、部分或没有 / how much of the question the answer covers")
    summary: str | None = Field(default=None, description="一句话概括，可能为空 / a plain lead line, may be empty")
    used_history: bool | None = Field(default=None, description="是否结合了此前的问题来理解 / whether earlier questions shaped the reading")


class ErrorResponse(BaseModel):
    detail: str
    message_zh: str
    message_en: str


class IndexInfo(BaseModel):
    model: str
    dimension: int
    chunk_count: int
    corpus_hash: str
    built_at: str


class HealthResponse(BaseModel):
    status: Literal["ok"]
    model: str
    index: IndexInfo
    documents: int
    memory: int = Field(default=0, description="参与投票的已标注问题数 / labelled questions of the question memory voting over this index")
    reload_error: str = Field(default="", description="为什么最新重建的索引没有加载 / why the newest rebuilt index was refused")


class UnitOut(BaseModel):
    key: str
    kind: str
    number: int | None
    title: str
    section: str
    path: str
    link: str
    text: str


class PartOut(BaseModel):
    title: str
    points: list[UnitOut]


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    kind: str
    issuer: str
    year: int | None
    preface: list[UnitOut]
    parts: list[PartOut]
    point_count: int


class DocumentsResponse(BaseModel):
    documents: list[DocumentOut]


class ReloadResponse(BaseModel):
    result: Literal["reloaded", "unchanged", "failed", "not_watched"]
    chunk_count: int
    error: str


def _unit_out(doc: Document, unit: Unit) -> UnitOut:
    return UnitOut(
        key=unit_key(doc, unit), kind=unit.kind.value, number=unit.number, title=unit.title, section=unit.section,
        path=unit_path(doc, unit), link=deep_link(doc, unit), text=unit.text,
    )


def document_out(doc: Document) -> DocumentOut:
    """A document as header/preamble units plus parts holding their numbered points, in text order."""
    parts: dict[str, list[UnitOut]] = {p: [] for p in doc.parts}
    for u in doc.numbered:
        parts.setdefault(u.part, []).append(_unit_out(doc, u))
    return DocumentOut(
        doc_id=doc.doc_id, title=doc.title, kind=doc.kind.value, issuer=doc.issuer, year=doc.year,
        preface=[_unit_out(doc, u) for u in doc.units if u.number is None],
        parts=[PartOut(title=t, points=p) for t, p in parts.items()], point_count=len(doc.numbered),
    )


# -- errors ---------------------------------------------------------------------------------
def error(code: int, zh: str, en: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if code == 503 else {"Retry-After": "60"} if code == 429 else None
    return JSONResponse(error_body(zh, en, **extra), status_code=code, headers=headers)


_PYDANTIC_ZH = {
    "missing": "缺少字段 {field}",
    "string_type": "{field} 必须是文本",
    "list_type": "{field} 必须是字符串列表",
    "json_invalid": "请求体不是合法的 JSON",
    "model_attributes_type": "请求体必须是 JSON 对象",
    "dict_type": "请求体必须是 JSON 对象",
    "lone_surrogate": "{field} 含有无法识别的字符（孤立的代理项）",
    "control_character": "{field} 含有控制字符（如 NUL）",
    "no_words": "{field} 需要包含文字，不能只有表情或符号",
    "string_unicode": "{field} 含有无法识别的字符",
}


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    zh, en, errors = [], [], []
    for err in exc.errors():
        loc = () if err.get("type") == "json_invalid" else tuple(err.get("loc", ()))
        field = ".".join(str(p) for p in loc if p != "body") or "body"
        zh.append(_PYDANTIC_ZH.get(err.get("type", ""), "{field} 格式不正确").format(field=field))
        en.append(f"{field}: {err.get('msg', 'invalid')}")
        # The offending input is left out: it may be the very value that cannot be encoded.
        errors.append({"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return error(422, "请求格式不正确：" + "；".join(zh), "invalid request: " + "; ".join(en) + ' (expected {"question": str, "history": [str]})', errors=errors)


def _invalid_question(_: Request, exc: Exception) -> JSONResponse:
    zh, _sep, en = str(exc).partition(" / ")
    return error(422, zh, en or zh)


_HTTP_ZH = {400: "请求无法解析", 404: "没有这个地址", 405: "不支持这种请求方法", 413: "请求体过大", 415: "不支持的内容类型"}


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    zh = _HTTP_ZH.get(exc.status_code, "请求出错")
    return error(exc.status_code, zh, str(exc.detail) or "request error")


def admin_refusal(gate: AdminGate, request: Request) -> JSONResponse | None:
    """None when the request carries the admin token; otherwise the refusal to send."""
    given = request.headers.get(ADMIN_HEADER) or _bearer(request.headers.get("authorization", ""))
    access = gate.check(given, request.client.host if request.client else "")
    if access is Access.GRANTED:
        return None
    return error(ACCESS_STATUS[access], *ACCESS_MESSAGES[access])


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def csv_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The interaction log as CSV text, a row at a time (BOM first: Excel reads Chinese CSV only with one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    for r in rows:
        buffer.seek(0)
        buffer.truncate()
        cited = "；".join(json.loads(r.get("cited_points") or "[]"))
        writer.writerow([neutralise_cell(r.get(c) if c != "cited_points" else cited) for c in CSV_COLUMNS])
        yield buffer.getvalue()


def log_later(feedback: Feedback, result: dict[str, Any]) -> None:
    """Queue the answer for the batched question log (no vote can refer to an API answer, so no id is waited for);
    like every feedback failure, a refused row costs no answer and is counted once."""
    if feedback.store is None:
        return
    try:
        feedback.store.log_later(result)
    except STORE_ERRORS as exc:
        feedback._failed("log the interaction", exc)


# -- routes ---------------------------------------------------------------------------------
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "请求无法解析 / the body cannot be parsed"},
    413: {"model": ErrorResponse, "description": "请求体过大 / body over the size cap"},
    415: {"model": ErrorResponse, "description": "请求体不是 JSON / body is not JSON"},
    422: {"model": ErrorResponse, "description": "输入不正确 / invalid input"},
    503: {"model": ErrorResponse, "description": "正在加载 / still loading"},
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (401, 403, 429)}


def add_api(app: FastAPI, holder: QAHolder, feedback: Feedback, gate: AdminGate) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidQuestionError, _invalid_question)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    # Plain ``def``: FastAPI runs them in its thread pool, so slow answers do not block the event loop.
    @app.post("/api/ask", response_model=AskResponse, response_model_exclude_unset=True, responses=ERRORS, tags=["api"], summary="回答一个问题 / answer one question")
    def ask(body: AskRequest) -> Any:
        validate_question(body.question, body.history)  # bad input is a 422 even while loading
        qa = holder.qa  # read once: a hot reload must not switch index in the middle of an answer
        if qa is None:
            return error(503, *holder.unavailable_message(), status=holder.phase.value)
        result = qa.ask(body.question, body.history or ()).to_json()
        log_later(feedback, result)
        return result

    @app.get("/api/health", response_model=HealthResponse, responses={503: ERRORS[503]}, tags=["api"], summary="服务状态 / status")
    def health() -> Any:
        qa = holder.qa
        if qa is None:
            return error(503, *holder.unavailable_message(), status=holder.phase.value)
        m = qa.index.manifest
        index = IndexInfo(model=m.model, dimension=m.dimension, chunk_count=m.chunk_count, corpus_hash=m.corpus_hash, built_at=m.built_at)
        return HealthResponse(
            status="ok", model=qa.embedder.model_id, index=index, documents=len(qa.index.documents), memory=len(qa.memory), reload_error=holder.reload_error
        )

    @app.get("/api/documents", response_model=DocumentsResponse, responses={503: ERRORS[503]}, tags=["api"], summary="文件、部分与条目 / documents, parts and points")
    def documents() -> Any:
        qa = holder.qa
        if qa is None:
            return error(503, *holder.unavailable_message(), status=holder.phase.value)
        return DocumentsResponse(documents=[document_out(d) for d in qa.index.documents])

    add_admin_api(app, holder, feedback, gate)

    # Last: any other /api path or method gets the bilingual error here, not Gradio's page mounted at "/".
    known = {path for r in app.routes if (path := getattr(r, "path", "")).startswith("/api/")}

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], include_in_schema=False)
    def elsewhere(rest: str) -> JSONResponse:
        if f"/api/{rest}" in known:
            return error(405, _HTTP_ZH[405], "method not allowed on this path")
        return error(404, _HTTP_ZH[404], f"no such API path: /api/{rest}")


def add_admin_api(app: FastAPI, holder: QAHolder, feedback: Feedback, gate: AdminGate) -> None:
    csv_response: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "问答记录 CSV / the interaction log"}}

    @app.get("/api/admin/export.csv", response_class=StreamingResponse, responses={**csv_response, **ADMIN_ERRORS, 503: ERRORS[503]}, tags=["admin"],
             summary="导出问答记录（需管理令牌）/ export the interaction log (admin token in X-Admin-Token)")
    def export(request: Request) -> Any:
        if (refused := admin_refusal(gate, request)) is not None:
            return refused
        if feedback.store is None:
            return error(503, "反馈数据库不可用", f"the feedback database is unavailable: {feedback.reason}")
        try:
            rows = iter_interactions(feedback.store)
            first = [next(rows, None)]  # open the database now, so a failure is a 503 rather than a cut-off download
        except STORE_ERRORS as exc:
            return error(503, "反馈数据库不可读", f"the feedback database cannot be read: {exc}")
        name = f"policyqa-interactions-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
        body = csv_lines(r for part in (first, rows) for r in part if r is not None)
        headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
        return StreamingResponse(body, media_type="text/csv; charset=utf-8", headers=headers)

    @app.post("/api/admin/reload", response_model=ReloadResponse, responses=ADMIN_ERRORS, tags=["admin"],
              summary="重新加载重建后的索引（需管理令牌）/ load a rebuilt index now (admin token in X-Admin-Token)")
    def reload(request: Request) -> Any:
        if (refused := admin_refusal(gate, request)) is not None:
            return refused
        outcome = holder.reload(force=True)
        qa = holder.qa
        return ReloadResponse(result=outcome.value, chunk_count=qa.index.manifest.chunk_count if qa else 0, error=holder.reload_error)
