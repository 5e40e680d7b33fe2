"""The web chat (Gradio, mounted at ``/``) and the HTTP API (``/api``) on one FastAPI app.

Everything a user or the corpus typed is escaped before it reaches Markdown or HTML:
the Chatbot additionally sanitizes, but escaping is what makes ``<img onerror=…>``
show up as the literal text the user typed.
"""

from __future__ import annotations

import hmac
import html
import logging
import os
import re
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

# Gradio phones home for analytics and version checks unless told otherwise; this runs offline.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

from . import config  # noqa: E402
from .answering import Citation  # noqa: E402
from .chunking import unit_key, unit_path  # noqa: E402
from .feedback import FeedbackStore, Vote  # noqa: E402
from .parsing import Document, Unit, UnitKind  # noqa: E402
from .pipeline import InvalidQuestionError, PolicyQA, validate_question  # noqa: E402

logger = logging.getLogger(__name__)

LOADING_MESSAGE = "正在加载模型和索引…"
ADMIN_TOKEN_ENV = "POLICYQA_ADMIN_TOKEN"
PARENT_EXAMPLES = ("今年民办学校招生报名人数超过计划怎么办？", "孩子近视了，学校有什么措施？", "2020年计划新建几所小学？", "2020年新增多少个学前教育学位？")
TEACHER_EXAMPLES = ("教师师德考核有什么新规定？", "骨干教师怎么培养？", "新聘教师有哪些培训？")


# -- the shared, read-only assistant, possibly still loading -------------------------------
class Phase(str, Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class QAHolder:
    """Holds the PolicyQA once loaded; requests read it without locking (it is read-only)."""

    def __init__(self, qa: PolicyQA | None = None):
        self.qa = qa
        self.error = ""
        self._thread: threading.Thread | None = None

    @property
    def phase(self) -> Phase:
        if self.qa is not None:
            return Phase.READY
        return Phase.FAILED if self.error else Phase.LOADING

    def start(self, loader: Callable[[], PolicyQA]) -> None:
        if self.qa is not None or self._thread is not None:
            return

        def run() -> None:
            try:
                self.qa = loader()
            except Exception as exc:  # shown on the page and in 503s instead of killing the server
                logger.exception("loading the assistant failed")
                self.error = str(exc) or type(exc).__name__

        self._thread = threading.Thread(target=run, name="policyqa-loader", daemon=True)
        self._thread.start()

    def unavailable_message(self) -> tuple[str, str]:
        if self.phase is Phase.FAILED:
            return f"模型或索引加载失败：{self.error}", f"loading the model or index failed: {self.error}"
        return f"{LOADING_MESSAGE}请稍后再试", "the model and index are still loading; retry in a few seconds"


def _log_interaction(store: FeedbackStore, result: dict[str, Any]) -> int | None:
    try:
        return store.log(result)
    except sqlite3.Error:  # the feedback log must never cost the user an answer
        logger.exception("could not log the interaction")
        return None


# -- escaping and rendering -----------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+\-.!|~$])")


def md_text(text: str) -> str:
    """Markdown that displays ``text`` literally: Markdown syntax backslash-escaped, then HTML-escaped."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", text))


def point_label(point: int | None, title: str) -> str:
    return f"第{point}条「{title}」" if point is not None else title


def find_unit(qa: PolicyQA, doc_id: str, point: int | None, title: str) -> tuple[Document, Unit] | None:
    doc = qa.index.docs_by_id.get(doc_id)
    if doc is None:
        return None
    for u in doc.units:
        if u.number == point and (point is not None or u.title == title):
            return doc, u
    return None


def _highlight_spans(unit: Unit, quote: str) -> list[tuple[int, int]]:
    """Where the quoted sentences sit in the unit's text (a quote is whole sentences, gaps shown as ……)."""
    spans, cursor = [], 0
    for sentence in unit.sentences:
        at = unit.text.find(sentence, cursor)
        if at < 0:
            continue
        cursor = at + len(sentence)
        if quote and sentence in quote:
            spans.append((at, cursor))
    return spans


def unit_html(doc: Document, unit: Unit, quote: str = "") -> str:
    """A unit's full text as escaped HTML, quoted sentences in <mark>, headed by its path."""
    body, pos = [], 0
    for start, end in _highlight_spans(unit, quote):
        body.append(html.escape(unit.text[pos:start]))
        body.append(f"<mark>{html.escape(unit.text[start:end])}</mark>")
        pos = end
    body.append(html.escape(unit.text[pos:]))
    text = "".join(body).replace("\n", "<br>")
    heading = point_label(unit.number, unit.title) if unit.kind is UnitKind.POINT else unit.label or unit.title
    return (
        '<div class="pq-source">'
        f'<div class="pq-path">{html.escape(unit_path(doc, unit))}</div>'
        f"<h3>{html.escape(heading)}</h3>"
        f'<p class="pq-text">{text}</p>'
        "</div>"
    )


def _panel_hint(text: str) -> str:
    return f'<div class="pq-source pq-hint">{html.escape(text)}</div>'


def _meaningful(text: str) -> str:
    return re.sub(r"[\W_]", "", text)


def answer_markdown(result: dict[str, Any]) -> str:
    if result["abstained"]:
        # The nearest points follow as clickable messages, so the plain list is left out here.
        lines = [ln for ln in result["answer"].split("\n") if not ln.startswith("· ")]
        head = "**⚠️ 文件中没有找到答案**"
        return "\n\n".join([head, *(md_text(ln) for ln in lines)]) + ("（点击下方条目查看全文）" if result["citations"] else "")
    parts = [f"> {md_text(line)}" for line in result["answer"].split("\n")]
    out = "**依据原文：**\n\n" + "\n>\n".join(parts)
    if _meaningful(result["rewritten_question"]) != _meaningful(result["question"]):
        out += f"\n\n（按“{md_text(result['rewritten_question'])}”理解）"
    return out


def citation_markdown(citation: dict[str, Any], abstained: bool) -> str:
    kind = "相关条目" if abstained else "出处"
    # A class survives the Chatbot's sanitizer, so CSS can make the whole message look clickable.
    return f'<span class="pq-cite">📄 {kind}：{md_text(point_label(citation["point"], citation["point_title"]))}（点击查看原文）</span>'


# -- the HTTP API ----------------------------------------------------------------------------
class AskRequest(BaseModel):
    question: str = Field(description="用户的问题 / the question, in Chinese", examples=["今年民办学校招生报名人数超过计划怎么办？"])
    history: list[str] | None = Field(default=None, description="此前的问题，按时间先后 / earlier questions of the conversation, oldest first", examples=[[]])


class AskResponse(BaseModel):
    """The same object as ``policyqa ask --json``."""

    id: str | None
    question: str
    rewritten_question: str
    answer: str
    abstained: bool
    citations: list[Citation]  # the answering dataclass: one definition of the citation fields
    latency_ms: float


class ErrorResponse(BaseModel):
    detail: str
    message_zh: str
    message_en: str


def _error(code: int, zh: str, en: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if code == 503 else None
    return JSONResponse({"detail": f"{zh} / {en}", "message_zh": zh, "message_en": en, **extra}, status_code=code, headers=headers)


def _unavailable(holder: QAHolder) -> JSONResponse:
    return _error(503, *holder.unavailable_message(), status=holder.phase.value)


_PYDANTIC_ZH = {
    "missing": "缺少字段 {field}",
    "string_type": "{field} 必须是文本",
    "list_type": "{field} 必须是字符串列表",
    "json_invalid": "请求体不是合法的 JSON",
    "model_attributes_type": "请求体必须是 JSON 对象",
    "dict_type": "请求体必须是 JSON 对象",
}


def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    zh, en = [], []
    for err in exc.errors():
        loc = () if err.get("type") == "json_invalid" else err.get("loc", ())
        field = ".".join(str(p) for p in loc if p != "body") or "body"
        zh.append(_PYDANTIC_ZH.get(err.get("type", ""), "{field} 格式不正确").format(field=field))
        en.append(f"{field}: {err.get('msg', 'invalid')}")
    return _error(
        422,
        "请求格式不正确：" + "；".join(zh),
        "invalid request: " + "; ".join(en) + ' (expected {"question": str, "history": [str]})',
        errors=[{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()],
    )


def _invalid_question(_: Request, exc: InvalidQuestionError) -> JSONResponse:
    zh, _, en = str(exc).partition(" / ")
    return _error(422, zh, en or zh)


def _add_api(app: FastAPI, holder: QAHolder, store: FeedbackStore) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidQuestionError, _invalid_question)  # type: ignore[arg-type]
    errors: dict[int | str, dict[str, Any]] = {422: {"model": ErrorResponse}, 503: {"model": ErrorResponse, "description": LOADING_MESSAGE}}

    # Plain ``def``: FastAPI runs them in its thread pool, so slow answers do not block the event loop.
    @app.post("/api/ask", response_model=None, responses={200: {"model": AskResponse}, **errors}, tags=["api"], summary="回答一个问题 / answer one question")
    def ask(body: AskRequest) -> JSONResponse:
        validate_question(body.question, body.history)  # bad input is a 422 even while loading
        qa = holder.qa
        if qa is None:
            return _unavailable(holder)
        result = qa.ask(body.question, body.history or ()).to_json()
        _log_interaction(store, result)
        return JSONResponse(result)

    @app.get("/api/health", tags=["api"], responses={503: {"model": ErrorResponse}}, summary="服务状态 / status")
    def health() -> Any:
        qa = holder.qa
        if qa is None:
            return _unavailable(holder)
        m = qa.index.manifest
        return {
            "status": "ok",
            "model": qa.embedder.model_id,
            "index": {"model": m.model, "dimension": m.dimension, "chunk_count": m.chunk_count, "corpus_hash": m.corpus_hash, "built_at": m.built_at},
            "documents": len(qa.index.documents),
        }

    @app.get("/api/documents", tags=["api"], responses={503: {"model": ErrorResponse}}, summary="文件、部分与条目 / documents, parts and points")
    def documents() -> Any:
        qa = holder.qa
        if qa is None:
            return _unavailable(holder)
        return {"documents": [document_json(d) for d in qa.index.documents]}


def _unit_json(doc: Document, unit: Unit) -> dict[str, Any]:
    return {"key": unit_key(doc, unit), "kind": unit.kind.value, "number": unit.number, "title": unit.title, "path": unit_path(doc, unit), "text": unit.text}


def document_json(doc: Document) -> dict[str, Any]:
    """A document as header/preamble units plus parts holding their numbered points, in text order."""
    parts: dict[str, list[dict[str, Any]]] = {p: [] for p in doc.parts}
    for u in doc.numbered:
        parts.setdefault(u.part, []).append(_unit_json(doc, u))
    return {
        "doc_id": doc.doc_id,
        "title": doc.title,
        "kind": doc.kind.value,
        "issuer": doc.issuer,
        "year": doc.year,
        "preface": [_unit_json(doc, u) for u in doc.units if u.number is None],
        "parts": [{"title": title, "points": points} for title, points in parts.items()],
        "point_count": len(doc.numbered),
    }


# -- the chat UI -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    """One question and its answer, and which chatbot messages show them."""

    question: str
    result: dict[str, Any]
    interaction_id: int | None
    first_message: int  # the user's message; the answer follows, then one message per citation
    last_message: int


def _turn_at(turns: Sequence[Turn], message: int) -> Turn | None:
    return next((t for t in reversed(turns) if t.first_message <= message <= t.last_message), None)


_CSS = """
.pq-source { line-height: 1.75; font-size: 15px; }
.pq-source h3 { margin: .3em 0 .4em; }
.pq-source mark { background: #fde68a; color: inherit; padding: 0 .1em; border-radius: 2px; }
.pq-path { color: var(--body-text-color-subdued); font-size: 13px; }
.pq-hint { color: var(--body-text-color-subdued); }
.pq-banner { padding: .6em .9em; border-radius: 8px; background: #fef3c7; color: #78350f; }
.pq-examples { flex-wrap: wrap !important; gap: 6px !important; }
.pq-examples > button { flex: 0 1 auto !important; min-width: 0 !important; }
.pq-cite { color: var(--link-text-color); cursor: pointer; }
/* Gradio scopes rules inside @media to its content, so the page margin shrinks with the viewport instead. */
.gradio-container > .main.app { padding-inline: clamp(8px, 3vw, 32px) !important; }
"""

# On a narrow screen the source panel sits below the chat: bring it into view once it opens.
_SCROLL_TO_SOURCE = "() => { if (window.innerWidth < 720) document.getElementById('pq-source')?.scrollIntoView({behavior: 'smooth', block: 'start'}); }"

_SOURCE_HINT = "点击回答下方的 📄 出处，这里会显示该条目的全文，引用的句子以高亮标出。"
_SEP = "\x1f"  # joins doc_id and part heading in the part selector's values

_PLACEHOLDER = (
    "**您好！我可以回答关于《天津市东丽区2020年教育工作要点》的问题。**\n\n"
    "每个回答都逐字引用原文并注明出自第几条；文件没有写到的内容，我会直接说明。"
)


def _build_ui(holder: QAHolder, store: FeedbackStore, admin_token: str | None) -> gr.Blocks:
    private: dict[str, Any] = {"api_visibility": "private"}  # UI events are not a public API; /api is
    export_dir = Path(tempfile.mkdtemp(prefix="policyqa-export-"))

    def banner_html() -> str:
        if holder.phase is Phase.FAILED:
            return f'<div class="pq-banner">加载失败：{html.escape(holder.error)}。请检查终端输出后重启服务。</div>'
        return f'<div class="pq-banner">⏳ {LOADING_MESSAGE}首次启动可能需要一两分钟。</div>'

    def ready_updates():
        """Banner, input, send button, document browser and the polling timer, for the current phase."""
        qa = holder.qa
        banner = gr.update(visible=holder.phase is not Phase.READY, value=banner_html())
        if qa is None:
            return banner, gr.update(interactive=False), gr.update(interactive=False), gr.update(), gr.Timer(active=holder.phase is Phase.LOADING)
        # A part is named by document and heading; "" stands for the document's header and preamble.
        choices = [(_part_label(qa, d, p), f"{d.doc_id}{_SEP}{p}") for d in qa.index.documents for p in ("", *d.parts)]
        return banner, gr.update(interactive=True), gr.update(interactive=True), gr.update(choices=choices, value=None), gr.Timer(active=False)

    def ask(question: str, messages: list[dict[str, Any]], turns: list[Turn]):
        question = question or ""
        messages = list(messages or [])
        qa = holder.qa
        if qa is None:
            gr.Warning(f"{LOADING_MESSAGE}请稍候再提问。")
            return question, messages, turns
        history = [t.question for t in turns][-config.MAX_HISTORY_TURNS :]
        try:
            result = qa.ask(question, history).to_json()
        except InvalidQuestionError as exc:
            gr.Warning(str(exc).partition(" / ")[0])
            return question, messages, turns
        first = len(messages)
        messages.append({"role": "user", "content": md_text(result["question"])})
        messages.append({"role": "assistant", "content": answer_markdown(result)})
        messages += [{"role": "assistant", "content": citation_markdown(c, result["abstained"])} for c in result["citations"]]
        turn = Turn(result["question"], result, _log_interaction(store, result), first, len(messages) - 1)
        return "", messages, [*turns, turn]

    def show_citation(turns: list[Turn], evt: gr.SelectData):
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        turn = _turn_at(turns, index)
        qa = holder.qa
        if turn is None or qa is None or index == turn.first_message or not turn.result["citations"]:
            return gr.skip(), gr.skip()
        cites = turn.result["citations"]
        c = cites[min(max(index - turn.first_message - 2, 0), len(cites) - 1)]  # the answer itself opens its first source
        found = find_unit(qa, c["doc_id"], c["point"], c["point_title"])
        if found is None:
            return _panel_hint("找不到这个条目。"), gr.Accordion(open=True)
        return unit_html(*found, quote=c["quote"]), gr.Accordion(open=True)

    def on_like(turns: list[Turn], evt: gr.LikeData):
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        turn = _turn_at(turns, index)
        if turn is None or turn.interaction_id is None:
            return None, gr.update(visible=False), gr.skip()
        vote = Vote.UP if evt.liked is True else Vote.DOWN if evt.liked is False else None
        store.set_feedback(turn.interaction_id, vote)
        if vote is None:  # the vote was withdrawn
            return None, gr.update(visible=False), gr.skip()
        label = "（可选）这个回答哪里有用？" if vote is Vote.UP else "（可选）这个回答哪里不对？"
        return turn.interaction_id, gr.update(visible=True), gr.update(label=label, value="")

    def save_reason(reason: str, pending: int | None):
        if pending is not None and (reason or "").strip():
            store.set_reason(pending, reason)
            gr.Info("谢谢您的反馈！")
        return "", None, gr.update(visible=False)

    def clear():
        return [], [], _panel_hint(_SOURCE_HINT), gr.Accordion(open=False), None, gr.update(visible=False)

    def parts_changed(part: str | None):
        qa = holder.qa
        if qa is None or not part:
            return gr.update(choices=[], value=None)
        doc_id, _, title = part.partition(_SEP)
        doc = qa.index.docs_by_id[doc_id]
        units = [u for u in doc.units if (u.number is None if not title else u.part == title and u.number is not None)]
        return gr.update(choices=[(_unit_choice(u), unit_key(doc, u)) for u in units], value=None)

    def show_point(key: str | None):
        qa = holder.qa
        if qa is None or not key or key not in qa.index.units:
            return _panel_hint("请选择一个条目。")
        return unit_html(*qa.index.units[key])

    def admin_view(token: str):
        # A status line rather than a toast: a toast vanishes before a slow reader (or test) sees it.
        if not _token_ok(admin_token, token):
            return "⚠️ 管理令牌不正确。", gr.update(visible=False), None, None, None
        unanswered = [[c.key, c.count] for c in store.top_unanswered(50)]
        disliked = [[i.created_at, i.question, i.answer, i.reason] for i in store.disliked(100)]
        points = [[c.key, c.count] for c in store.point_counts()]
        return "", gr.update(visible=True), unanswered, disliked, points

    def admin_export(token: str):
        if not _token_ok(admin_token, token):
            gr.Warning("管理令牌不正确。")
            return None
        # Gradio serves files from the temp dir by default; the data dir may lie outside what it allows.
        out = export_dir / f"policyqa-interactions-{datetime.now():%Y%m%d-%H%M%S}.csv"
        return str(store.export_csv(out))

    with gr.Blocks(title="东丽区2020年教育工作要点 · 政策问答") as demo:
        gr.Markdown("## 📘 东丽区2020年教育工作要点 · 政策问答")
        banner = gr.HTML(banner_html(), visible=holder.phase is not Phase.READY, js_on_load=None)
        timer = gr.Timer(1.0, active=holder.phase is Phase.LOADING)
        turns = gr.State([])
        pending = gr.State(None)

        with gr.Tabs():
            with gr.Tab("💬 问答"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=300):
                        chatbot = gr.Chatbot(
                            elem_id="pq-chat",
                            label="对话",
                            height=480,
                            placeholder=_PLACEHOLDER,
                            sanitize_html=True,
                            allow_tags=False,
                            render_markdown=True,
                            latex_delimiters=[],
                            feedback_options=("Like", "Dislike"),
                        )
                        with gr.Row(visible=False) as reason_row:
                            reason = gr.Textbox(label="（可选）这个回答哪里不对？", placeholder="例如：引用的条目不对、没有回答我的问题……", max_lines=3, scale=4, elem_id="pq-reason")
                            reason_btn = gr.Button("提交反馈", scale=1, min_width=90)
                        with gr.Row():
                            box = gr.Textbox(
                                show_label=False,
                                placeholder="请输入问题，例如：今年民办学校招生报名人数超过计划怎么办？",
                                max_lines=4,
                                scale=5,
                                elem_id="pq-question",
                                interactive=holder.phase is Phase.READY,
                                max_length=config.MAX_QUESTION_CHARS,
                            )
                            send = gr.Button("发送", variant="primary", scale=1, min_width=70, interactive=holder.phase is Phase.READY, elem_id="pq-send")
                        gr.Markdown("**家长常问**（点击即问）")
                        with gr.Row(elem_classes="pq-examples"):
                            parent_btns = [gr.Button(q, size="sm") for q in PARENT_EXAMPLES]
                        gr.Markdown("**教师常问**（点击即问）")
                        with gr.Row(elem_classes="pq-examples"):
                            teacher_btns = [gr.Button(q, size="sm") for q in TEACHER_EXAMPLES]
                        clear_btn = gr.Button("🗑️ 清空对话", size="sm", variant="secondary")
                    with gr.Column(scale=2, min_width=280):
                        with gr.Accordion("📄 条目原文", open=False, elem_id="pq-source") as source_acc:
                            source = gr.HTML(_panel_hint(_SOURCE_HINT), js_on_load=None, elem_id="pq-source-html")

            with gr.Tab("📖 文件浏览"):
                gr.Markdown("按部分浏览《天津市东丽区2020年教育工作要点》全文：先选部分，再点条目。")
                part = gr.Dropdown(label="部分", choices=[], value=None, elem_id="pq-part")
                point = gr.Radio(label="条目", choices=[], value=None, elem_id="pq-point")
                point_text = gr.HTML(_panel_hint("请选择一个条目。"), js_on_load=None, elem_id="pq-point-html")

            with gr.Tab("🔒 管理", visible=bool(admin_token)):
                with gr.Row():
                    token = gr.Textbox(label="管理令牌", type="password", scale=4)
                    login = gr.Button("进入 / 刷新", scale=1, min_width=90)
                admin_status = gr.Markdown("", elem_id="pq-admin-status")
                with gr.Column(visible=False) as admin_col:
                    unanswered = gr.Dataframe(headers=["未能回答的问题", "次数"], datatype=["str", "number"], label="最常见的未回答问题", interactive=False)
                    disliked = gr.Dataframe(headers=["时间 (UTC)", "问题", "回答", "原因"], datatype=["str", "str", "str", "str"], label="被点 👎 的回答", interactive=False, wrap=True)
                    points = gr.Dataframe(headers=["被引用的条目", "次数"], datatype=["str", "number"], label="各条目被引用次数", interactive=False)
                    export = gr.Button("导出 CSV")
                    export_file = gr.File(label="导出文件", interactive=False, elem_id="pq-export")

        ready_outputs = [banner, box, send, part, timer]
        demo.load(ready_updates, None, ready_outputs, show_progress="hidden", **private)
        timer.tick(ready_updates, None, ready_outputs, show_progress="hidden", **private)

        ask_outputs = [box, chatbot, turns]
        box.submit(ask, [box, chatbot, turns], ask_outputs, concurrency_limit=8, **private)
        send.click(ask, [box, chatbot, turns], ask_outputs, concurrency_limit=8, **private)
        for b in (*parent_btns, *teacher_btns):
            # The example's own text is the question: one click asks it.
            b.click(lambda m, t, q=b.value: ask(q, m, t)[1:], [chatbot, turns], [chatbot, turns], concurrency_limit=8, **private)
        chatbot.select(show_citation, [turns], [source, source_acc], **private).then(None, js=_SCROLL_TO_SOURCE, **private)
        chatbot.like(on_like, [turns], [pending, reason_row, reason], **private)
        reason_btn.click(save_reason, [reason, pending], [reason, pending, reason_row], **private)
        reason.submit(save_reason, [reason, pending], [reason, pending, reason_row], **private)
        cleared = [chatbot, turns, source, source_acc, pending, reason_row]
        clear_btn.click(clear, None, cleared, **private)
        chatbot.clear(clear, None, cleared, **private)  # the Chatbot's own 🗑 button must reset the turns too

        part.change(parts_changed, [part], [point], **private)
        point.change(show_point, [point], [point_text], **private)

        admin_outputs = [admin_status, admin_col, unanswered, disliked, points]
        login.click(admin_view, [token], admin_outputs, **private)
        token.submit(admin_view, [token], admin_outputs, **private)
        export.click(admin_export, [token], [export_file], **private)
    return demo


def _part_label(qa: PolicyQA, doc: Document, part: str) -> str:
    label = part or "通知与总体要求"
    return f"《{doc.title}》{label}" if len(qa.index.documents) > 1 else label


def _unit_choice(unit: Unit) -> str:
    return f"{unit.label}{unit.title}" if unit.kind is UnitKind.POINT else unit.label or unit.title


def _token_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and hmac.compare_digest((given or "").encode(), (expected or "").encode())


# -- the app ---------------------------------------------------------------------------------
def create_app(qa: PolicyQA | None = None, *, loader: Callable[[], PolicyQA] | None = None, data_dir: Path | None = None) -> FastAPI:
    """The web chat at ``/`` and the API at ``/api``; with only ``loader``, the page and API say "loading" until it returns."""
    holder = QAHolder(qa)
    store = FeedbackStore.open(data_dir)
    load = loader or (lambda: PolicyQA.load())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        holder.start(load)
        yield
        store.close()

    app = FastAPI(
        title="policy-qa",
        summary="《天津市东丽区2020年教育工作要点》问答 / grounded QA over the Dongli 2020 education work points",
        description="`POST /api/ask` returns the same JSON object as `policyqa ask --json`. Errors carry a Chinese and an English message.",
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.state.holder = holder
    app.state.feedback = store
    _add_api(app, holder, store)  # before mounting: the Gradio mount at "/" catches every path left over
    demo = _build_ui(holder, store, os.environ.get(ADMIN_TOKEN_ENV) or None)
    demo.queue(default_concurrency_limit=8)
    return gr.mount_gradio_app(app, demo, path="/", css=_CSS, footer_links=["gradio", "settings"])


def serve(host: str = "127.0.0.1", port: int = 7860, corpus: Sequence[Path] | None = None, index_dir: Path | None = None, model: str | None = None) -> None:
    """Start the server at once; the model and index load in the background while the page says so."""
    import uvicorn

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def loader() -> PolicyQA:
        say(f"{LOADING_MESSAGE} / loading the model and index …")
        try:
            qa = PolicyQA.load(corpus=corpus, index_dir=index_dir, model=model, progress=say)
        except Exception as exc:
            say(f"error: {exc}")
            raise
        m = qa.index.manifest
        say(f"就绪 / ready: {m.chunk_count} chunks from {len(qa.index.documents)} document(s), model {m.model}")
        return qa

    app = create_app(loader=loader)
    say(f"policy-qa 已启动 / running: http://{host}:{port}/   API 文档 / docs: http://{host}:{port}/docs   (Ctrl+C 停止 / to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
