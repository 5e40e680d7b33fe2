"""The chat page in Debian's Chromium, driven by Playwright (never a downloaded browser).

Runs the real model: the 民办 question must be answered from point 20 with 电脑摇号, its citation
must open the point with the quote highlighted, and hostile input must stay text.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.feedback import FeedbackStore, Vote
from assistant.web import ADMIN_TOKEN_ENV, create_app

from .conftest import ROOT, serving

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = ROOT / "artifacts" / "browser" / "chat.png"
QUESTION = "今年民办学校招生报名人数超过计划怎么办？"
XSS = "<img src=x onerror=alert(1)> 和 <script>window.__xss=1</script> 骨干教师怎么培养？"
TIMEOUT_MS = 30_000

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright (no browser download needed)")


def _server(qa, data_dir: Path, admin_token: str | None) -> Iterator[tuple[object, str]]:
    with pytest.MonkeyPatch.context() as mp:
        if admin_token:
            mp.setenv(ADMIN_TOKEN_ENV, admin_token)
        else:
            mp.delenv(ADMIN_TOKEN_ENV, raising=False)
        app = create_app(qa, data_dir=data_dir)  # the token is read here
    with serving(app) as base:
        yield app, base


@pytest.fixture(scope="module")
def server(real_qa, tmp_path_factory):
    yield from _server(real_qa, tmp_path_factory.mktemp("data"), None)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield pg
    context.close()


def wait_until_ready(page) -> None:
    page.wait_for_function("() => { const t = document.querySelector('#pq-question textarea'); return t && !t.disabled; }")


def open_chat(page, base: str) -> None:
    page.goto(base)
    wait_until_ready(page)


def ask(page, question: str) -> None:
    before = page.locator("#pq-chat .user-row").count()
    box = page.locator("#pq-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "([n]) => document.querySelectorAll('#pq-chat .bot-row').length > n && document.querySelector('#pq-question textarea').value === ''",
        arg=[before],
    )


def eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(300):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_chat_answers_cites_highlights_and_escapes(page, server):
    _, base = server
    open_chat(page, base)
    chat = page.locator("#pq-chat")

    # Hostile input shows up as the text that was typed; nothing runs.
    ask(page, XSS)
    chat.get_by_text("<script>window.__xss=1</script>", exact=False).first.wait_for()
    assert "<img src=x onerror=alert(1)>" in chat.inner_text()
    assert chat.locator("img[src='x'], script").count() == 0
    assert page.evaluate("() => typeof window.__xss") == "undefined"

    ask(page, QUESTION)
    cites = chat.locator(".bot-row").last.locator(".pq-cite")  # this answer's, not the first turn's
    cites.first.wait_for()
    assert cites.count() >= 1
    answer_text = chat.inner_text()
    assert "电脑摇号" in answer_text
    assert "第20条「深化教育综合改革」" in answer_text

    cites.first.click()
    mark = page.locator("#pq-source-html mark").first
    mark.wait_for()
    assert mark.inner_text().strip()
    panel = page.locator("#pq-source-html").inner_text()
    assert "›" in panel  # the path: part › point
    assert "电脑摇号" in mark.inner_text() and "20、深化教育综合改革" in panel

    assert page.dialogs == []  # type: ignore[attr-defined]
    assert page.evaluate("() => typeof window.__xss") == "undefined"

    page.set_viewport_size({"width": 375, "height": 812})
    page.wait_for_timeout(500)  # let the layout reflow before the picture
    page.evaluate("() => { const w = document.querySelector('#pq-chat .bubble-wrap'); if (w) w.scrollTop = w.scrollHeight; }")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375 + 1  # no sideways scrolling
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_examples_follow_ups_feedback_and_clear(page, server):
    app, base = server
    store: FeedbackStore = app.state.feedback
    open_chat(page, base)
    chat = page.locator("#pq-chat")

    page.get_by_role("button", name="2020年计划新建几所小学？").click()
    chat.get_by_text("2020年计划新建几所小学？").first.wait_for()
    ask(page, "那幼儿园呢？")
    eventually(lambda: any(i.question == "那幼儿园呢？" for i in _all(store)), "the follow-up to be logged")
    follow_up = next(i for i in _all(store) if i.question == "那幼儿园呢？")
    assert "幼儿园" in follow_up.rewritten_question and follow_up.rewritten_question != follow_up.question  # history reached qa.ask

    chat.get_by_role("button", name=re.compile(r"^(Dislike|踩)$")).last.click()  # Gradio translates its labels
    reason = page.locator("#pq-reason textarea")
    reason.wait_for()
    reason.fill("没有说幼儿园建几所")
    page.get_by_role("button", name="提交反馈").click()
    eventually(lambda: any(i.reason == "没有说幼儿园建几所" and i.feedback is Vote.DOWN for i in store.disliked()), "the 👎 and its reason to be stored")

    page.get_by_role("button", name="🗑️ 清空对话").click()
    eventually(lambda: chat.locator(".pq-cite").count() == 0, "the chat to clear")


def test_document_browser_shows_a_point(page, server):
    _, base = server
    open_chat(page, base)
    page.get_by_role("tab", name="📖 文件浏览").click()
    page.locator("#pq-part input").click()
    page.get_by_role("option", name="五、以提升保障能力为重点，努力夯实教育可持续发展的基础").click()
    page.get_by_label("20、深化教育综合改革").check()
    page.locator("#pq-point-html").get_by_text("电脑摇号", exact=False).wait_for()
    assert "20、深化教育综合改革" in page.locator("#pq-point-html").inner_text()
    assert page.get_by_role("tab", name="🔒 管理").count() == 0  # no admin token configured


def test_admin_tab_needs_the_token(page, real_qa, tmp_path):
    qa = real_qa
    for app, base in _server(qa, tmp_path, "s3cret-token"):
        store: FeedbackStore = app.state.feedback
        store.log({"question": "学校食堂一顿饭多少钱？", "rewritten_question": "学校食堂一顿饭多少钱?", "answer": "抱歉……", "abstained": True, "citations": []})
        open_chat(page, base)
        page.get_by_role("tab", name="🔒 管理").click()
        token = page.get_by_label("管理令牌")
        token.fill("wrong")
        page.get_by_role("button", name="进入 / 刷新").click()
        page.get_by_text("管理令牌不正确").first.wait_for()
        assert not page.get_by_text("最常见的未回答问题").first.is_visible()

        token.fill("s3cret-token")
        page.get_by_role("button", name="进入 / 刷新").click()
        page.get_by_text("学校食堂一顿饭多少钱？").filter(visible=True).first.wait_for()  # the Dataframe also keeps hidden copies
        page.get_by_role("button", name="导出 CSV").click()
        link = page.locator("#pq-export a[download]").first
        link.wait_for()
        with page.expect_download() as download:
            link.click()
        exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert exported.startswith("id,created_at,question") and "学校食堂一顿饭多少钱？" in exported


def _all(store: FeedbackStore):
    return [i for i in (store.get(n) for n in range(1, store.count() + 1)) if i is not None]



def test_page_shows_loading_until_the_assistant_is_ready(page, real_qa, tmp_path):
    release = threading.Event()

    def loader():
        release.wait(timeout=120)
        return real_qa

    with serving(create_app(loader=loader, data_dir=tmp_path)) as base:
        page.goto(base)
        page.get_by_text("正在加载模型和索引…").first.wait_for()
        assert page.locator("#pq-question textarea").is_disabled()
        release.set()
        wait_until_ready(page)  # no reload: the page polls and enables itself
        assert not page.get_by_text("正在加载模型和索引…").first.is_visible()
        ask(page, QUESTION)
        page.locator("#pq-chat .pq-cite").first.wait_for()
