"""The Gradio page: the chat, the document browser and the admin view, as one small class.

Every event runs without Gradio's queue and no state is kept on the server: the conversation lives in
the browser (``gr.BrowserState``) and is sent with each event, so any worker process can answer it
and a reload of the page restores it. Text and markup come from :mod:`render`; looks and the few
browser-side behaviours (labels, counter, source panel, CSV download) from ``static/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from .. import config
from ..chunking import unit_key
from ..index import Index
from ..parsing import SUPPORTED_SUFFIXES
from ..pipeline import InvalidQuestionError, validate_question
from . import render
from .api import has_words
from .security import ACCESS_MESSAGES, Access, AdminGate
from .state import LOADING_MESSAGE, STORE_ERRORS, Feedback, Phase, QAHolder, admin_summary, vote_from

STATIC = Path(__file__).resolve().parent / "static"
HEAD = Path(__file__).resolve().parent / "templates" / "head.html"
PARENT_EXAMPLES = ("今年民办学校招生报名人数超过计划怎么办？", "孩子近视了，学校有什么措施？", "2020年计划新建几所小学？", "2020年新增多少个学前教育学位？")
TEACHER_EXAMPLES = ("教师师德考核有什么新规定？", "骨干教师怎么培养？", "新聘教师有哪些培训？")
KEPT_TURNS = 30  # the browser keeps this many turns; older ones are dropped first
_SEP = "\x1f"  # joins a document id and a section number in the picker's values
# Page events: not a public API, no queue (so no worker keeps state), and no spinners (the chat shows its own).
PRIVATE: dict[str, Any] = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}

# "No question pending" must be a value JavaScript finds truthy: Gradio never stores "" (or 0) in the browser,
# so a cleared pending question would otherwise come back after a reload.
NO_PENDING: dict[str, Any] = {"q": ""}
Turn = dict[str, Any]  # {"q": question, "r": Answer.to_json(), "id": interaction id or None}, as kept in the browser


@dataclass(frozen=True)
class Pending:
    """A question sent but not yet answered, kept in the browser so a reload can ask it again."""

    question: str
    fresh: bool = False  # True: ask without the earlier questions (作为新问题重问)

    def to_json(self) -> dict[str, Any]:
        return {"q": self.question, "fresh": self.fresh}

    @classmethod
    def from_json(cls, raw: object) -> Pending | None:
        if isinstance(raw, dict) and isinstance(raw.get("q"), str) and raw["q"].strip():
            return cls(raw["q"], bool(raw.get("fresh")))
        return None


def _turns(raw: object) -> list[Turn]:
    """The conversation as the browser sent it, minus anything malformed (the browser's storage is user-controlled)."""
    if not isinstance(raw, list):
        return []
    ok = [t for t in raw if isinstance(t, dict) and isinstance(t.get("q"), str) and isinstance(t.get("r"), dict)]
    return [t for t in ok if {"question", "rewritten_question", "answer", "abstained", "citations"} <= set(t["r"])][-KEPT_TURNS:]


def _message_turn(index: object) -> int:
    """Each turn is two messages (question, answer): which turn a chatbot message index belongs to."""
    first = index[0] if isinstance(index, (list, tuple)) and index else index
    return first // 2 if isinstance(first, int) and not isinstance(first, bool) else -1


class ChatUI:
    def __init__(self, holder: QAHolder, feedback: Feedback, gate: AdminGate, *, browser_secret: str | None = None, upload_mb: float = 20):
        self.holder = holder
        self.feedback = feedback
        self.gate = gate
        self.upload_mb = upload_mb
        # Gradio encrypts browser state with a key it sends to the page: shared by all workers so any of them can read it.
        self.browser_secret = browser_secret or os.environ.get("POLICYQA_BROWSER_SECRET", "policyqa-browser-state")

    @property
    def index(self) -> Index | None:
        qa = self.holder.qa
        return qa.index if qa is not None else None

    # -- the chat --------------------------------------------------------------------------
    def messages(self, turns: list[Turn], pending: Pending | None = None) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for t in turns:
            out.append({"role": "user", "content": render.question_html(t["q"])})
            out.append({"role": "assistant", "content": render.answer_html(t["r"], self.index)})
        if pending is not None:
            out.append({"role": "user", "content": render.question_html(pending.question)})
            out.append({"role": "assistant", "content": render.pending_html()})
        return out

    def problem_with(self, question: str) -> str:
        """Why this question cannot be sent, in Chinese; "" when it can."""
        if self.holder.qa is None:
            return f"{LOADING_MESSAGE}请稍候再提问。"
        if any("\ud800" <= ch <= "\udfff" for ch in question):
            return "问题里有无法识别的字符，请重新输入。"
        try:
            validate_question(question)
        except InvalidQuestionError as exc:
            return str(exc).partition(" / ")[0] + "。"
        return "" if has_words(question) else "问题需要包含文字，不能只有表情或符号。"

    def start(self, question: str, raw_turns: object, fresh: bool = False) -> tuple[Any, ...]:
        """Show the question at once and remember it as pending; :meth:`finish` answers it."""
        question = question or ""
        turns = _turns(raw_turns)
        problem = self.problem_with(question)
        if problem:  # the text stays in the box: nothing is cut or lost
            return gr.skip(), gr.skip(), gr.skip(), render.status_html(problem, "warn"), gr.skip()
        pending = Pending(question.strip(), fresh)
        return "", self.messages(turns, pending), pending.to_json(), "", gr.update(visible=False)

    def start_example(self, question: str, raw_turns: object) -> tuple[Any, ...]:
        return self.start(question, raw_turns)

    def start_fresh(self, raw_turns: object) -> tuple[Any, ...]:
        """Ask the last question again as a new one, without the earlier questions."""
        turns = _turns(raw_turns)
        if not turns:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.update(visible=False)
        return self.start(turns[-1]["q"], turns, fresh=True)

    def finish(self, raw_pending: object, raw_turns: object) -> tuple[Any, ...]:
        """Answer the pending question; the outputs are chatbot, conversation, pending, status and the re-ask button."""
        pending, turns, qa = Pending.from_json(raw_pending), _turns(raw_turns), self.holder.qa
        if pending is None or qa is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        history = [] if pending.fresh else [t["q"] for t in turns][-config.MAX_HISTORY_TURNS :]
        try:
            result = qa.ask(pending.question, history).to_json()
        except InvalidQuestionError as exc:
            return self.messages(turns), turns, NO_PENDING, render.status_html(str(exc).partition(" / ")[0], "warn"), gr.skip()
        turns = [*turns, {"q": result["question"], "r": result, "id": self.feedback.log(result)}][-KEPT_TURNS:]
        return self.messages(turns), turns, NO_PENDING, "", gr.update(visible=bool(result.get("used_history")))

    def clear(self) -> tuple[Any, ...]:
        return [], [], NO_PENDING, render.status_html("对话已清空。"), gr.update(visible=False), gr.update(visible=False), None

    # -- feedback ----------------------------------------------------------------------------
    def like(self, raw_turns: object, evt: gr.LikeData) -> tuple[Any, ...]:
        """A 👍/👎 (or its withdrawal): outputs status, the reason row, the reason box and the voted interaction."""
        turns = _turns(raw_turns)
        n = _message_turn(evt.index)
        interaction = turns[n].get("id") if 0 <= n < len(turns) else None
        vote = vote_from(evt.liked)
        if not isinstance(interaction, int) or not self.feedback.vote(interaction, vote):
            message = "反馈暂时无法保存（服务器的反馈记录不可用），回答不受影响。" if not self.feedback.available or isinstance(interaction, int) else "这条回答已无法评价。"
            return render.status_html(message, "warn"), gr.update(visible=False), gr.skip(), None
        if vote is None:
            return render.status_html("已撤销评价。"), gr.update(visible=False), gr.skip(), None
        label = "（可选）这个回答哪里有用？" if vote.value > 0 else "（可选）这个回答哪里不对？"
        return render.status_html("谢谢您的评价！"), gr.update(visible=True), gr.update(label=label, value=""), interaction

    def save_reason(self, reason: str, interaction: float | None) -> tuple[Any, ...]:
        if interaction is None or not (reason or "").strip():
            return "", gr.update(visible=False), render.status_html("没有填写原因。")
        saved = self.feedback.reason_for(int(interaction), reason)
        message = ("谢谢您的反馈！", "info") if saved else ("反馈暂时无法保存，请稍后再试。", "warn")
        return "", gr.update(visible=False), render.status_html(*message)

    # -- the document browser ------------------------------------------------------------------
    def picker_choices(self, index: Index) -> list[tuple[str, str]]:
        many = len(index.documents) > 1
        return [
            (f"《{d.title}》{s.title}" if many else s.title, f"{d.doc_id}{_SEP}{i}")
            for d in index.documents
            for i, s in enumerate(render.sections(d))
        ]

    def section_of(self, value: str | None) -> render.Section | None:
        index = self.index
        if index is None or not value:
            return None
        doc_id, _, n = value.partition(_SEP)
        doc = index.docs_by_id.get(doc_id)
        parts = render.sections(doc) if doc is not None else []
        return parts[int(n)] if n.isdigit() and int(n) < len(parts) else None

    def show_section(self, value: str | None) -> str:
        section = self.section_of(value)
        return render.section_html(section) if section is not None else render.hint_html("请先选择文件或部分。")

    def step(self, value: str | None, delta: int) -> tuple[Any, Any]:
        index = self.index
        if index is None:
            return gr.skip(), gr.skip()
        values = [v for _, v in self.picker_choices(index)]
        at = values.index(value) if value in values else 0
        new = values[min(max(at + delta, 0), len(values) - 1)]
        return new, self.show_section(new)

    def previous(self, value: str | None) -> tuple[Any, Any]:
        return self.step(value, -1)

    def next(self, value: str | None) -> tuple[Any, Any]:
        return self.step(value, +1)

    def search(self, term: str) -> str:
        index = self.index
        return render.search_html(index, term or "") if index is not None else render.hint_html(LOADING_MESSAGE)

    def deep_link(self, index: Index, doc_id: str, point: str) -> tuple[str, str] | None:
        """The picker value and view for ``/?doc=…&point=…``: the unit's part, scrolled to and marked."""
        doc = index.docs_by_id.get(doc_id) or (index.documents[0] if not doc_id and index.documents else None)
        if doc is None:
            return None
        unit = next((u for u in doc.units if render.unit_param(u) == point), None)
        if unit is None:
            return None
        for i, s in enumerate(render.sections(doc)):
            if s.part is not None and unit in s.units:
                return f"{doc.doc_id}{_SEP}{i}", render.section_html(s, target=unit_key(doc, unit))
        return None

    # -- the admin view ------------------------------------------------------------------------
    def admin(self, token: str, request: gr.Request) -> tuple[str, str]:
        """Checked on every call: the token travels in the event's body, never in a URL."""
        access = self.gate.check(token, request.client.host if request and request.client else "")
        if access is not Access.GRANTED:
            return render.status_html(ACCESS_MESSAGES[access][0] + "。", "warn"), ""
        if self.feedback.store is None:
            return render.status_html("反馈数据库不可用，没有可显示的记录。", "warn"), ""
        try:
            summary = admin_summary(self.feedback.store)
        except STORE_ERRORS as exc:
            return render.status_html(f"反馈数据库暂时无法读取：{exc}", "warn"), ""
        return render.status_html("已刷新。"), render.admin_html(summary)

    def reload_index(self, token: str, request: gr.Request) -> str:
        access = self.gate.check(token, request.client.host if request and request.client else "")
        if access is not Access.GRANTED:
            return render.status_html(ACCESS_MESSAGES[access][0] + "。", "warn")
        outcome = self.holder.reload(force=True).value
        messages = {"reloaded": "已加载新的索引。", "unchanged": "索引没有变化。", "not_watched": "这个服务没有指定索引目录，无法重新加载。"}
        return render.status_html(messages.get(outcome) or f"新的索引有问题，继续使用原来的索引：{self.holder.reload_error}", "info" if outcome != "failed" else "warn")

    # -- page load -------------------------------------------------------------------------
    def page_state(self) -> tuple[Any, ...]:
        """Header, banner, input, send button, picker choices and the loading timer, for the current phase."""
        index, phase = self.index, self.holder.phase
        banner = gr.update(visible=phase is not Phase.READY, value=render.banner_html(phase is Phase.LOADING, self.holder.error))
        ready = index is not None
        picker = gr.update(choices=self.picker_choices(index)) if index is not None else gr.skip()
        return render.header_html(index), banner, gr.update(interactive=ready), gr.update(interactive=ready), picker, gr.Timer(active=phase is Phase.LOADING)

    def on_load(self, raw_turns: object, raw_pending: object, request: gr.Request) -> tuple[Any, ...]:
        """Restore the conversation; open a deep link; show the admin tab only when asked for (``/?admin``)."""
        params = request.query_params if request is not None else {}
        turns, pending, index = _turns(raw_turns), Pending.from_json(raw_pending), self.index
        status = render.status_html(f"刷新前的问题“{pending.question}”还没有收到回答，正在重新提问……") if pending else ""
        tab, picker, view = gr.skip(), gr.skip(), gr.skip()
        if index is not None:
            linked = self.deep_link(index, params.get("doc", ""), params.get("point", "")) if params.get("point") else None
            if linked is not None:
                tab, picker, view = gr.Tabs(selected="docs"), gr.update(value=linked[0]), linked[1]
            elif index.documents:
                first = self.picker_choices(index)[0][1]
                picker, view = gr.update(value=first), self.show_section(first)
        admin = gr.update(visible=self.gate.enabled and "admin" in params)
        return (*self.page_state(), self.messages(turns, pending), status, tab, picker, view, admin)

    def build(self) -> gr.Blocks:
        return Layout(self).build()


def _html(value: str = "", **kwargs: Any) -> gr.HTML:
    """Plain HTML output: no click handler of Gradio's own on it."""
    return gr.HTML(value, js_on_load=None, **kwargs)


class Layout:
    """The component tree and its events; the handlers live on :class:`ChatUI`."""

    def __init__(self, ui: ChatUI):
        self.ui = ui

    def build(self) -> gr.Blocks:
        ui = self.ui
        with gr.Blocks(title="政策问答", analytics_enabled=False) as demo:
            self.conversation = gr.BrowserState([], storage_key="policyqa-conversation", secret=ui.browser_secret)
            self.pending = gr.BrowserState(NO_PENDING, storage_key="policyqa-pending", secret=ui.browser_secret)
            self.voted = gr.Number(visible=False, value=None)  # the interaction a reason belongs to
            self.header = _html(render.header_html(ui.index), elem_id="pq-header")
            self.banner = _html(render.banner_html(ui.holder.phase is Phase.LOADING, ui.holder.error), visible=ui.holder.phase is not Phase.READY)
            self.status = _html("", elem_id="pq-status")
            self.timer = gr.Timer(1.0, active=ui.holder.phase is Phase.LOADING)
            with gr.Tabs(elem_id="pq-tabs") as self.tabs:
                with gr.Tab("问答", id="chat", elem_id="pq-tab-chat"):
                    self._chat_tab()
                with gr.Tab("文件浏览", id="docs", elem_id="pq-tab-docs"):
                    self._docs_tab()
                with gr.Tab("管理", id="admin", visible=False, elem_id="pq-tab-admin") as self.admin_tab:
                    self._admin_tab()
            self._wire_chat()
            self._wire_page(demo)
        return demo

    def _chat_tab(self) -> None:
        ready = self.ui.holder.phase is Phase.READY
        with gr.Row(equal_height=False, elem_id="pq-chat-row"):
            with gr.Column(scale=3, min_width=300):
                self.chatbot = gr.Chatbot(
                    elem_id="pq-chat", label="对话", show_label=False, height=None, min_height=120, max_height=640,
                    sanitize_html=True, render_markdown=True, latex_delimiters=[], feedback_options=("Like", "Dislike"),
                    buttons=["copy"], group_consecutive_messages=False, layout="bubble", allow_tags=False,
                )
                self.rehist = gr.Button("作为新问题重问", visible=False, size="sm", elem_id="pq-fresh")
                with gr.Row(visible=False, elem_id="pq-reason-row") as self.reason_row:
                    self.reason = gr.Textbox(label="（可选）这个回答哪里不对？", placeholder="例如：引用的条目不对", max_lines=3, scale=4, elem_id="pq-reason")
                    self.reason_btn = gr.Button("提交反馈", scale=1, min_width=90)
                with gr.Row(elem_id="pq-ask-row"):
                    self.box = gr.Textbox(
                        label="您的问题", show_label=False, placeholder="请输入问题", max_lines=6, scale=5,
                        elem_id="pq-question", interactive=ready,
                    )
                    self.send = gr.Button("发送", variant="primary", scale=1, min_width=72, interactive=ready, elem_id="pq-send")
                with gr.Column(elem_classes="pq-examples-block"):
                    _html(render.render("examples_label.html", who="家长"))
                    with gr.Row(elem_classes="pq-examples"):
                        self.parent_chips = [gr.Button(q, size="sm", elem_classes="pq-chip") for q in PARENT_EXAMPLES]
                    _html(render.render("examples_label.html", who="教师"))
                    with gr.Row(elem_classes="pq-examples"):
                        self.teacher_chips = [gr.Button(q, size="sm", elem_classes="pq-chip") for q in TEACHER_EXAMPLES]
                self.clear_btn = gr.Button("清空对话", size="sm", variant="secondary", elem_id="pq-clear")
            with gr.Column(scale=2, min_width=280, elem_id="pq-side-col"):
                _html(render.render("side.html"), elem_id="pq-side")

    def _docs_tab(self) -> None:
        with gr.Row(elem_id="pq-doc-nav"):
            self.picker = gr.Dropdown(label="选择文件与部分", choices=[], value=None, filterable=False, elem_id="pq-picker", scale=3)
            self.prev_btn = gr.Button("‹ 上一部分", size="sm", scale=1, min_width=96, elem_id="pq-prev")
            self.next_btn = gr.Button("下一部分 ›", size="sm", scale=1, min_width=96, elem_id="pq-next")
        with gr.Row(elem_id="pq-doc-search"):
            self.term = gr.Textbox(label="在文件中搜索", placeholder="例如：摇号", scale=4, max_lines=1, elem_id="pq-search")
            self.search_btn = gr.Button("搜索", scale=1, min_width=72, elem_id="pq-search-btn")
        self.doc_view = _html(render.hint_html("请先选择文件或部分。"), elem_id="pq-doc-view")

    def _admin_tab(self) -> None:
        with gr.Row():
            self.token = gr.Textbox(label="管理令牌", type="password", scale=4, elem_id="pq-token")
            self.login = gr.Button("进入 / 刷新", scale=1, min_width=96, elem_id="pq-login")
        with gr.Row():
            gr.Button("导出 CSV", elem_id="pq-export", size="sm")  # a download with the token in a header: static/app.js
            self.reload_btn = gr.Button("重新加载索引", size="sm", elem_id="pq-reload")
        self.admin_status = _html("", elem_id="pq-admin-status")
        # Picking, previewing and adding a document: plain HTML driven by static/app.js (the token goes in a header).
        _html(render.upload_form_html(self.ui.upload_mb, SUPPORTED_SUFFIXES), elem_id="pq-upload-box")
        self.admin_view = _html("", elem_id="pq-admin-view")

    def _wire_chat(self) -> None:
        ui = self.ui
        started = [self.box, self.chatbot, self.pending, self.status, self.rehist]
        finished = [self.chatbot, self.conversation, self.pending, self.status, self.rehist]
        for trigger in (self.box.submit, self.send.click):
            trigger(ui.start, [self.box, self.conversation], started, **PRIVATE).then(ui.finish, [self.pending, self.conversation], finished, **PRIVATE)
        for chip in (*self.parent_chips, *self.teacher_chips):
            # The example's own text is the question: one tap asks it.
            chip.click(ui.start_example, [chip, self.conversation], started, **PRIVATE).then(ui.finish, [self.pending, self.conversation], finished, **PRIVATE)
        self.rehist.click(ui.start_fresh, [self.conversation], started, **PRIVATE).then(ui.finish, [self.pending, self.conversation], finished, **PRIVATE)
        self.chatbot.like(ui.like, [self.conversation], [self.status, self.reason_row, self.reason, self.voted], **PRIVATE)
        for trigger in (self.reason_btn.click, self.reason.submit):
            trigger(ui.save_reason, [self.reason, self.voted], [self.reason, self.reason_row, self.status], **PRIVATE)
        cleared = [self.chatbot, self.conversation, self.pending, self.status, self.rehist, self.reason_row, self.voted]
        self.clear_btn.click(ui.clear, None, cleared, **PRIVATE)
        self.chatbot.clear(ui.clear, None, cleared, **PRIVATE)  # Gradio's own 🗑 (hidden by app.css) must forget the stored conversation too

    def _wire_page(self, demo: gr.Blocks) -> None:
        ui = self.ui
        state = [self.header, self.banner, self.box, self.send, self.picker, self.timer]
        loaded = [*state, self.chatbot, self.status, self.tabs, self.picker, self.doc_view, self.admin_tab]
        finished = [self.chatbot, self.conversation, self.pending, self.status, self.rehist]
        # A question still pending when the page was reloaded is asked again.
        demo.load(ui.on_load, [self.conversation, self.pending], loaded, **PRIVATE).then(ui.finish, [self.pending, self.conversation], finished, **PRIVATE)
        self.timer.tick(ui.page_state, None, state, **PRIVATE)
        self.picker.input(ui.show_section, [self.picker], [self.doc_view], **PRIVATE)
        self.prev_btn.click(ui.previous, [self.picker], [self.picker, self.doc_view], **PRIVATE)
        self.next_btn.click(ui.next, [self.picker], [self.picker, self.doc_view], **PRIVATE)
        for trigger in (self.term.submit, self.search_btn.click):
            trigger(ui.search, [self.term], [self.doc_view], **PRIVATE)
        for trigger in (self.login.click, self.token.submit):
            trigger(ui.admin, [self.token], [self.admin_status, self.admin_view], **PRIVATE)
        self.reload_btn.click(ui.reload_index, [self.token], [self.admin_status], **PRIVATE)
