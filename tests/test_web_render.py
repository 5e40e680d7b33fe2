"""The page's HTML and the chat's handlers, without a browser (HashEmbedder, the notice)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.index import Index
from assistant.pipeline import PolicyQA
from assistant.web import render
from assistant.web.security import AdminGate
from assistant.web.state import AdminSummary, DislikedRow, Feedback, PointVotes, QAHolder
from assistant.web.ui import ChatUI, Pending, _message_turn, _turns

from .conftest import NOTICE, HashEmbedder

WEB = Path(__file__).resolve().parents[1] / "assistant" / "web"
EVIL = "<img src=x onerror=alert(1)>"
QUESTION = "今年民办学校招生报名人数超过计划怎么办？"


@pytest.fixture(scope="module")
def qa() -> PolicyQA:
    return PolicyQA(Index.build([NOTICE], HashEmbedder()), HashEmbedder())


@pytest.fixture
def ui(qa, tmp_path: Path) -> ChatUI:
    return ChatUI(QAHolder(qa), Feedback.open(tmp_path), AdminGate("tok"))


def test_an_answer_carries_each_source_collapsed_under_its_quote(qa):
    result = qa.ask(QUESTION).to_json()
    out = render.answer_html(result, qa.index)
    assert "\n" not in out and not re.search(r">\s+<", out)  # one line: the Chatbot reads it as Markdown
    cite = result["citations"][0]
    assert out.index(f"“{cite['quote']}”") < out.index("<details") < out.index("<mark>")
    assert '<summary class="pq-cite">' in out and "出处：第" in out
    assert "/?doc=dongli-2020-education-work-points&amp;point=" in out
    assert "文件中没有找到答案" not in out and "只找到部分答案" not in out and "接着上一个问题理解" not in out


def test_new_answer_fields_are_shown_when_present(qa):
    result = qa.ask("那幼儿园呢？", ["2020年计划新建几所小学？"]).to_json()
    assert result["used_history"] is True  # 那…呢 cannot stand alone
    plain = render.answer_html(result | {"coverage": "full", "summary": "", "used_history": False}, qa.index)
    full = render.answer_html(result | {"coverage": "partial", "summary": "新建幼儿园的安排见下文。", "used_history": True}, qa.index)
    assert "只找到部分答案" in full and "新建幼儿园的安排见下文。" in full
    assert f"接着上一个问题理解：{result['rewritten_question']}" in full and "接着上一个问题理解" not in plain
    assert "只找到部分答案" not in render.answer_html(result | {"coverage": "full"}, qa.index)


def test_an_abstention_lists_related_points_without_quotes(qa):
    result = qa.ask("学校食堂一顿饭多少钱？").to_json()
    assert result["abstained"]
    out = render.answer_html(result, qa.index)
    assert "文件中没有找到答案" in out and "相关条目：" in out and "<blockquote>" not in out
    assert out.count("<details") == len(result["citations"])


def test_hostile_text_is_escaped_everywhere(qa):
    result = qa.ask(QUESTION).to_json()
    hostile = result | {"question": EVIL, "rewritten_question": EVIL, "summary": EVIL, "used_history": True}
    hostile["citations"] = [c | {"quote": EVIL, "point_title": EVIL} for c in result["citations"]]
    for out in (render.answer_html(hostile, qa.index), render.question_html(EVIL), render.status_html(EVIL), render.search_html(qa.index, EVIL)):
        assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    summary = AdminSummary((), (DislikedRow("2020-01-01", EVIL, EVIL, EVIL),), (PointVotes(EVIL, 1, 2, 3),), 1)
    admin = render.admin_html(summary)
    assert "<img" not in admin and admin.count("&lt;img src=x onerror=alert(1)&gt;") == 4


def test_unit_html_marks_the_quote_and_escapes_the_text(qa):
    doc, unit = next(v for k, v in qa.index.units.items() if k.endswith("#20"))
    quote = "将民办义务教育学校招生纳入统一管理，与公办学校同步招生，对报名人数超过招生计划的，实行电脑摇号随机录取。"
    out = render.unit_html(doc, unit, quote)
    assert f"<mark>{quote}</mark>" in out and out.count("<mark>") == 1
    evil = dataclasses.replace(unit, title="<script>x</script>", text=EVIL, sentences=(EVIL,))
    out = render.unit_html(doc, evil, EVIL)
    assert "<img" not in out and "<script" not in out and "<mark>&lt;img src=x onerror=alert(1)&gt;</mark>" in out


def test_sections_cover_the_document_and_a_deep_link_marks_its_point(qa):
    [doc] = qa.index.documents
    parts = render.sections(doc)
    assert [s.title for s in parts][:2] == ["全文", "通知与总体要求"] and len(parts) == 2 + len(doc.parts)
    assert sum(len(s.units) for s in parts[1:]) == len(doc.units)  # every unit in exactly one part
    part = next(s for s in parts if any(u.number == 20 for u in s.units))
    out = render.section_html(part, target=f"{doc.doc_id}#20")
    assert out.count("pq-target") == 1 and out.count("<section id=") == len(part.units)
    ids = re.findall(r'<section id="([^"]+)"', render.section_html(parts[0]))
    assert len(ids) == len(set(ids)) == len(doc.units) and all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)


def test_search_marks_every_hit(qa):
    out = render.search_html(qa.index, "摇号")
    assert "出现在 1 个条目中" in out and "<mark>摇号</mark>" in out
    assert "没有找到" in render.search_html(qa.index, "不存在的词语")


def test_titles_come_from_the_index_not_the_code(qa):
    assert "《天津市东丽区2020年教育工作要点》问答" in render.header_html(qa.index)
    laws = SimpleNamespace(documents=[SimpleNamespace(title="甲法"), SimpleNamespace(title="乙法")])
    header = render.header_html(laws)  # type: ignore[arg-type]
    assert "教育政策问答" in header and "收录 2 份政策文件" in header
    for path in WEB.rglob("*"):
        if path.is_file():
            assert "东丽" not in path.read_text(encoding="utf-8"), path


# -- the chat's handlers ---------------------------------------------------------------------
def _request(params: dict[str, str]) -> gr.Request:
    """What the handlers read of a page request: its query and (no) client."""
    return SimpleNamespace(query_params=params, client=None)  # type: ignore[return-value]


def _index(ui: ChatUI) -> Index:
    assert ui.index is not None
    return ui.index


def _like(index: int, liked: object) -> gr.LikeData:
    return gr.LikeData(target=None, data={"index": index, "value": "", "liked": liked})


def test_a_question_is_pending_until_answered_and_then_kept_in_the_browser(ui: ChatUI):
    box, chat, pending, status, _ = ui.start(QUESTION, [])
    assert box == "" and status == "" and Pending.from_json(pending) == Pending(QUESTION)
    assert "正在查找原文" in chat[-1]["content"]
    chat, turns, pending, status, _ = ui.finish(pending, [])
    assert Pending.from_json(pending) is None and pending and len(turns) == 1 and turns[0]["q"] == QUESTION and isinstance(turns[0]["id"], int)
    assert len(chat) == 2 and "<details" in chat[1]["content"]
    # A follow-up uses the kept questions; 作为新问题重问 asks the last one without them.
    _, _, pending, _, _ = ui.start("那幼儿园呢？", turns)
    _, turns, _, _, _ = ui.finish(pending, turns)
    assert turns[-1]["r"]["rewritten_question"] != "那幼儿园呢？"
    _, _, pending, _, _ = ui.start_fresh(turns)
    assert Pending.from_json(pending) == Pending("那幼儿园呢？", fresh=True)
    _, fresh_turns, _, _, _ = ui.finish(pending, turns)
    qa = ui.holder.qa
    assert qa is not None and fresh_turns[-1]["r"]["rewritten_question"] == qa.ask("那幼儿园呢？").rewritten_question


@pytest.mark.parametrize("question, message", [("", "问题不能为空"), ("问" * 501, "问题过长"), ("😀🎉", "没有文字"), ("\ud800", "无法识别")])
def test_a_question_that_cannot_be_sent_stays_in_the_box(ui: ChatUI, question: str, message: str):
    box, chat, pending, status, _ = ui.start(question, [])
    assert message in status and "pq-warn" in status
    assert all(isinstance(v, dict) and v.get("__type__") == "update" for v in (box, chat, pending))  # nothing changes


def test_votes_are_stored_or_explained(ui: ChatUI, tmp_path: Path):
    _, _, pending, _, _ = ui.start(QUESTION, [])
    _, turns, _, _, _ = ui.finish(pending, [])
    status, row, _, voted = ui.like(turns, _like(1, False))
    assert "谢谢" in status and voted == turns[0]["id"] and row["visible"]
    store = ui.feedback.store
    assert store is not None
    stored = store.get(voted)
    assert stored is not None and stored.feedback is not None and stored.feedback.value == -1
    _, _, status = ui.save_reason("引用的条目不对", voted)
    stored = store.get(voted)
    assert "谢谢" in status and stored is not None and stored.reason == "引用的条目不对"
    broken = ChatUI(ui.holder, Feedback(None, "read-only"), ui.gate)
    status, row, _, voted = broken.like(turns, _like(1, True))
    assert "无法保存" in status and voted is None and not row["visible"]


def test_reload_restores_the_conversation_and_re_asks_a_lost_question(ui: ChatUI):
    _, _, pending, _, _ = ui.start(QUESTION, [])
    _, turns, _, _, _ = ui.finish(pending, [])
    request = _request({})
    out = ui.on_load(turns, Pending("骨干教师怎么培养？").to_json(), request)
    chat, status = out[6], out[7]
    assert len(chat) == 4 and "正在查找原文" in chat[-1]["content"] and "重新提问" in status


def test_a_deep_link_opens_the_document_browser_at_its_point(ui: ChatUI):
    request = _request({"doc": "dongli-2020-education-work-points", "point": "20", "admin": ""})
    out = ui.on_load([], "", request)
    tab, picker, view, admin = out[8], out[9], out[10], out[11]
    assert tab.selected == "docs" and "pq-target" in view and "20、深化教育综合改革" in view
    assert picker["value"] in [v for _, v in ui.picker_choices(_index(ui))] and admin["visible"]
    assert ui.on_load([], "", _request({}))[11]["visible"] is False  # parents see no admin tab


def test_previous_and_next_walk_the_sections(ui: ChatUI):
    values = [v for _, v in ui.picker_choices(_index(ui))]
    assert ui.next(values[0])[0] == values[1] and ui.previous(values[1])[0] == values[0]
    assert ui.previous(values[0])[0] == values[0] and ui.next(values[-1])[0] == values[-1]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5), lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3)))
@settings(max_examples=200, deadline=None)
def test_whatever_the_browser_sends_back_is_read_safely(raw):
    assert isinstance(_turns(raw), list)
    assert Pending.from_json(raw) is None or isinstance(Pending.from_json(raw), Pending)
    assert isinstance(_message_turn(raw), int)
