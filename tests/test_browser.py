"""The chat page in Debian's Chromium, driven by Playwright (never a downloaded browser), with the real model.

A parent on a 375 px phone and a teacher at 1280 px: the source opens in place under the answer, a deep
link opens the document browser at its point, the conversation survives a reload (a question in flight
is asked again), everything works from the keyboard, and hostile input stays text. Screenshots go to
artifacts/browser/.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from pathlib import Path

import pytest

from assistant.feedback import FeedbackStore, Vote
from assistant.pipeline import PolicyQA
from assistant.web import create_app

from .conftest import serving
from .web_helpers import (
    DESKTOP,
    PHONE,
    answers,
    ask,
    chromium,
    eventually,
    new_page,
    open_chat,
    require_chromium,
    screenshot,
    wait_for_answers,
    wait_until_ready,
)

pytestmark = pytest.mark.browser
sync_api = require_chromium()

QUESTION = "今年民办学校招生报名人数超过计划怎么办？"
DOC = "dongli-2020-education-work-points"
XSS = "<img src=x onerror=alert(1)> 和 <script>window.__xss=1</script> 骨干教师怎么培养？"
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server(real_qa, tmp_path_factory):
    app = create_app(real_qa, data_dir=tmp_path_factory.mktemp("data"), admin_token=TOKEN)
    with serving(app) as base:
        yield app, base


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api) as b:
        yield b


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 60) <= size["height"]


def test_phone_first_screen_shows_what_to_ask(browser, server):
    _, base = server
    with new_page(browser, PHONE) as page:
        open_chat(page, base)
        chips = page.locator(".pq-chip")
        assert chips.count() >= 4
        for i in range(4):
            box = chips.nth(i).bounding_box()
            assert box["y"] + box["height"] <= PHONE["height"], f"example {i} is below the fold"
            assert box["height"] >= 44
        font = page.locator("#pq-question textarea").evaluate("e => getComputedStyle(e).fontSize")
        assert font == "16px"  # iOS zooms into anything smaller
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"] + 1  # no sideways scrolling
        screenshot(page, "first-screen-375.png")


def test_phone_source_opens_in_place_with_the_sentence_in_view(browser, server):
    _, base = server
    with new_page(browser, PHONE) as page:
        open_chat(page, base)
        ask(page, QUESTION)
        answer = page.locator("#pq-chat .pq-answer").last
        assert "电脑摇号" in answer.inner_text() and "第20条「深化教育综合改革」" in answer.inner_text()
        answer.locator("summary.pq-cite").first.click()  # one tap
        mark = answer.locator("details[open] mark").first
        mark.wait_for()
        eventually(lambda: in_viewport(page, mark), "the highlighted sentence to be in view")
        assert "电脑摇号" in mark.inner_text()
        assert "20、深化教育综合改革" in answer.locator("details[open] .pq-path").inner_text()
        screenshot(page, "chat-375.png")


def test_desktop_keeps_the_side_panel(browser, server):
    _, base = server
    with new_page(browser, DESKTOP) as page:
        open_chat(page, base)
        ask(page, QUESTION)
        page.locator("#pq-chat .pq-answer").last.locator("summary.pq-cite").first.click()
        side = page.locator("#pq-side-body")
        side.locator("mark").first.wait_for()
        assert "电脑摇号" in side.locator("mark").first.inner_text() and "›" in side.inner_text()
        screenshot(page, "chat-1280.png")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375", "1280"])
def test_a_deep_link_opens_the_document_at_its_point(browser, server, viewport):
    _, base = server
    with new_page(browser, viewport) as page:
        page.goto(f"{base}/?doc={DOC}&point=20")
        target = page.locator(".pq-target")
        target.wait_for()
        assert "20、深化教育综合改革" in target.inner_text() and "电脑摇号" in target.inner_text()
        assert page.get_by_role("tab", name="文件浏览").get_attribute("aria-selected") == "true"
        eventually(lambda: in_viewport(page, target.locator("h3")), "the linked point to be scrolled into view")
        # The whole part is there, with the points before and after it.
        assert page.locator("#pq-doc-view section.pq-unit").count() > 1
        screenshot(page, f"docs-{viewport['width']}.png")


def test_document_browser_picker_previous_next_and_search(browser, server):
    _, base = server
    with new_page(browser, DESKTOP) as page:
        open_chat(page, base)
        page.get_by_role("tab", name="文件浏览").click()
        page.locator("#pq-picker input").click()
        page.get_by_role("option", name=re.compile("^五、")).click()
        view = page.locator("#pq-doc-view")
        view.get_by_text("20、深化教育综合改革").wait_for()
        page.get_by_role("button", name="‹ 上一部分").click()
        view.locator("h2", has_text="四、").wait_for()
        page.get_by_role("button", name="下一部分 ›").click()
        view.locator("h2", has_text="五、").wait_for()
        page.get_by_label("在文件中搜索").fill("摇号")
        page.get_by_role("button", name="搜索", exact=True).click()
        view.locator("mark", has_text="摇号").first.wait_for()
        assert "出现在 1 个条目中" in view.inner_text()


def test_the_conversation_survives_a_reload_and_clearing_forgets_it(browser, server):
    app, base = server
    store: FeedbackStore = app.state.feedback
    with new_page(browser, DESKTOP) as page:
        open_chat(page, base)
        ask(page, "2020年计划新建几所小学？")
        open_chat(page, base)  # a reload
        wait_for_answers(page, 1)
        assert "2020年计划新建几所小学？" in page.locator("#pq-chat").inner_text()
        ask(page, "那幼儿园呢？")  # the follow-up after the reload still knows the first question
        follow_up = next(i for i in (store.get(n) for n in range(store.count(), 0, -1)) if i and i.question == "那幼儿园呢？")
        assert "幼儿园" in follow_up.rewritten_question and follow_up.rewritten_question != "那幼儿园呢？"
        page.get_by_role("button", name="清空对话", exact=True).click()
        eventually(lambda: answers(page) == 0, "the chat to clear")
        open_chat(page, base)
        assert answers(page) == 0


class SlowQA:
    """The real assistant, answering after a pause: long enough to reload the page mid-question."""

    def __init__(self, qa, seconds: float):
        self._qa, self.seconds = qa, seconds

    def __getattr__(self, name):
        return getattr(self._qa, name)

    def ask(self, *args, **kwargs):
        time.sleep(self.seconds)
        return self._qa.ask(*args, **kwargs)


def test_a_question_in_flight_during_a_reload_is_asked_again(browser, real_qa, tmp_path: Path):
    slow: PolicyQA = SlowQA(real_qa, 2.5)  # type: ignore[assignment]  # a stand-in with the same surface
    with serving(create_app(slow, data_dir=tmp_path)) as base, new_page(browser, DESKTOP) as page:
        open_chat(page, base)
        box = page.locator("#pq-question textarea")
        box.fill(QUESTION)
        box.press("Enter")
        page.locator("#pq-chat .pq-pending").wait_for()  # sent, not answered
        page.reload()
        page.get_by_text("还没有收到回答，正在重新提问").first.wait_for()
        wait_for_answers(page, 1)
        assert "电脑摇号" in page.locator("#pq-chat .pq-answer").last.inner_text()


def test_keyboard_only(browser, server):
    _, base = server
    with new_page(browser, DESKTOP) as page:
        open_chat(page, base)
        focused = "() => document.activeElement && (document.activeElement.closest('#pq-question') ? 'question' : document.activeElement.matches('summary.pq-cite') ? 'cite' : document.activeElement.tagName)"
        for _ in range(40):  # Tab to the input
            page.keyboard.press("Tab")
            if page.evaluate(focused) == "question":
                break
        assert page.evaluate(focused) == "question"
        page.keyboard.type(QUESTION)
        page.keyboard.press("Enter")
        wait_for_answers(page, 1)
        for _ in range(20):  # back up to the answer's citation
            page.keyboard.press("Shift+Tab")
            if page.evaluate(focused) == "cite":
                break
        assert page.evaluate(focused) == "cite"
        page.keyboard.press("Enter")
        opened = page.locator("#pq-chat details[open] mark").first
        opened.wait_for()
        assert "电脑摇号" in opened.inner_text()


def test_hostile_input_stays_text(browser, server):
    _, base = server
    with new_page(browser, DESKTOP) as page:
        open_chat(page, base)
        ask(page, XSS)
        chat = page.locator("#pq-chat")
        assert "<img src=x onerror=alert(1)>" in chat.inner_text() and "<script>window.__xss=1</script>" in chat.inner_text()
        assert chat.locator("img[src='x'], script").count() == 0
        assert page.evaluate("() => typeof window.__xss") == "undefined" and page.dialogs == []


def test_examples_feedback_and_a_long_paste(browser, server):
    app, base = server
    store: FeedbackStore = app.state.feedback
    with new_page(browser, DESKTOP) as page:
        open_chat(page, base)
        page.get_by_role("button", name="2020年计划新建几所小学？").click()
        wait_for_answers(page, 1)
        page.locator("#pq-chat").get_by_role("button", name="没有用").last.click()
        reason = page.locator("#pq-reason textarea")
        reason.wait_for()
        reason.fill("没有说幼儿园建几所")
        page.get_by_role("button", name="提交反馈").click()
        eventually(lambda: any(i.reason == "没有说幼儿园建几所" and i.feedback is Vote.DOWN for i in store.disliked()), "the 👎 and its reason to be stored")
        # A 2,000-character paste is not cut: the counter says how much is over, and sending explains why not.
        page.locator("#pq-question textarea").fill("问" * 2000)
        counter = page.locator("#pq-counter")
        assert "已超出 1500 字" in counter.inner_text() and counter.get_attribute("data-state") == "over"
        page.get_by_role("button", name="发送").click()
        page.locator("#pq-status").get_by_text("问题过长").wait_for()
        assert len(page.locator("#pq-question textarea").input_value()) == 2000


def test_admin_is_hidden_needs_the_token_and_shows_stored_text_as_text(browser, server):
    app, base = server
    store: FeedbackStore = app.state.feedback
    payload = '<img src=x onerror="window.__xss=1">'
    row = store.log({"question": payload, "rewritten_question": payload, "answer": payload, "abstained": False, "citations": []})
    store.set_feedback(row, Vote.DOWN, reason=payload)
    with new_page(browser, DESKTOP) as page:
        open_chat(page, base)
        assert page.get_by_role("tab", name="管理").count() == 0  # parents never see it
        assert page.request.get(f"{base}/api/admin/export.csv").status == 401  # the CSV refuses a request without the token
        open_chat(page, f"{base}/?admin=1")
        page.get_by_role("tab", name="管理").click()
        page.get_by_role("button", name="导出 CSV").click()
        page.locator("#pq-live").get_by_text("导出失败").wait_for()
        page.get_by_label("管理令牌").fill(TOKEN)
        page.get_by_role("button", name="进入 / 刷新").click()
        table = page.locator(".pq-table").last
        table.get_by_text(payload).first.wait_for()
        assert page.locator("#pq-admin-view img").count() == 0 and page.evaluate("() => typeof window.__xss") == "undefined"
        with page.expect_download() as download:
            page.get_by_role("button", name="导出 CSV").click()
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
        assert rows[0][:3] == ["id", "created_at", "question"] and [payload] * 3 in [r[2:5] for r in rows]
        for viewport, name in ((DESKTOP, "admin-1280.png"), (PHONE, "admin-375.png")):
            page.set_viewport_size(viewport)
            page.wait_for_timeout(300)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"] + 1  # the tables fit
            screenshot(page, name, full_page=True)


def test_page_shows_loading_until_the_assistant_is_ready(browser, real_qa, tmp_path):
    release = threading.Event()

    def loader():
        release.wait(timeout=120)
        return real_qa

    with serving(create_app(loader=loader, data_dir=tmp_path)) as base, new_page(browser, DESKTOP) as page:
        page.goto(base)
        page.get_by_text("正在加载模型和索引…").first.wait_for()
        assert page.locator("#pq-question textarea").is_disabled()
        release.set()
        wait_until_ready(page)  # no reload: the page polls and enables itself
        assert not page.get_by_text("正在加载模型和索引…").first.is_visible()
        ask(page, QUESTION)
        assert page.locator("#pq-chat .pq-cite").count() >= 1
