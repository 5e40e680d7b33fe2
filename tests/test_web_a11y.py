"""Accessibility in Chromium: axe-core (npm, injected by Playwright) finds no serious or critical violation of
WCAG 2.1 AA on the chat, the document browser and the admin view, at 375 and 1280 px; plus what axe cannot
judge alone: Chinese names on Gradio's own controls, 44 px targets, text rather than markup for screen readers.

The chat runs on the HashEmbedder (the page, not the answers, is under test here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.index import Index
from assistant.pipeline import PolicyQA
from assistant.web import create_app

from .conftest import NOTICE, HashEmbedder, serving
from .web_helpers import ARTIFACTS, DESKTOP, PHONE, ask, by_impact, chromium, new_page, open_chat, require_chromium, run_axe, serious

pytestmark = pytest.mark.browser
sync_api = require_chromium()

TOKEN = "a11y-token"
QUESTION = "今年民办学校招生报名人数超过计划怎么办？"
VIEWPORTS = {"375": PHONE, "1280": DESKTOP}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    qa = PolicyQA(Index.build([NOTICE], HashEmbedder()), HashEmbedder())
    app = create_app(qa, data_dir=tmp_path_factory.mktemp("data"), admin_token=TOKEN)
    app.state.feedback.log({"question": "学校食堂一顿饭多少钱？", "rewritten_question": "学校食堂一顿饭多少钱？", "answer": "抱歉", "abstained": True, "citations": []})
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium(sync_api) as b:
        yield b


def _record(view: str, width: str, violations: list[dict]) -> None:
    """Keep what axe said (counts by impact and rule ids) beside the screenshots."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "axe.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    report[f"{view}@{width}"] = {"by_impact": by_impact(violations), "rules": sorted(v["id"] for v in violations)}
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")


def _open_view(page, base: str, view: str) -> None:
    open_chat(page, f"{base}/?admin=1")
    if view == "chat":
        ask(page, QUESTION)
        page.locator("#pq-chat summary.pq-cite").first.click()  # an open source is part of what is checked
    elif view == "documents":
        page.get_by_role("tab", name="文件浏览").click()
        page.locator("#pq-doc-view section.pq-unit").first.wait_for()
    else:
        page.get_by_role("tab", name="管理").click()
        page.get_by_label("管理令牌").fill(TOKEN)
        page.get_by_role("button", name="进入 / 刷新").click()
        page.locator(".pq-table").first.wait_for()


@pytest.mark.parametrize("width", VIEWPORTS)
@pytest.mark.parametrize("view", ["chat", "documents", "admin"])
def test_axe_finds_no_serious_or_critical_violation(browser, base: str, view: str, width: str):
    with new_page(browser, VIEWPORTS[width], locale="en-US") as page:  # an English browser still gets a Chinese page
        _open_view(page, base, view)
        violations = run_axe(page)
        _record(view, width, violations)
        assert serious(violations) == [], json.dumps(serious(violations), ensure_ascii=False, indent=1)
        assert page.errors == []


def test_the_page_speaks_chinese_to_screen_readers(browser, base: str):
    with new_page(browser, DESKTOP, locale="en-US") as page:
        open_chat(page, base)
        ask(page, QUESTION)
        assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
        assert page.get_by_role("textbox", name="您的问题").count() == 1
        chat = page.locator("#pq-chat")
        for name in ("有用", "没有用", "复制这条消息"):
            assert chat.get_by_role("button", name=name).count() >= 1, name
        names = chat.locator("button").evaluate_all("bs => bs.filter(b => b.offsetParent).map(b => b.getAttribute('aria-label') || b.textContent.trim())")
        assert all(n and not any(w in n.lower() for w in ("like", "copy", "clear", "share")) for n in names), names
        labelled = chat.locator("[aria-label]").evaluate_all("es => es.map(e => e.getAttribute('aria-label'))")
        assert not any("<" in label for label in labelled), labelled  # text, not markup
        cite = chat.locator("summary.pq-cite").first
        assert cite.evaluate("e => e.tabIndex") >= 0  # reachable by keyboard


def test_targets_are_at_least_44_px_on_a_phone(browser, base: str):
    with new_page(browser, PHONE) as page:
        open_chat(page, base)
        ask(page, QUESTION)
        small = page.evaluate(
            """() => [...document.querySelectorAll('button, summary, [role=tab], input, textarea')]
                .filter(e => e.offsetParent && getComputedStyle(e).visibility !== 'hidden')
                .map(e => [e.getAttribute('aria-label') || e.textContent.trim().slice(0, 20) || e.tagName, e.getBoundingClientRect()])
                .filter(([, r]) => r.width > 0 && (r.width < 44 || r.height < 44))
                .map(([n, r]) => `${n} ${Math.round(r.width)}x${Math.round(r.height)}`)"""
        )
        assert small == []


def test_status_messages_replace_each_other(browser, base: str):
    with new_page(browser, DESKTOP) as page:
        open_chat(page, base)
        send = page.get_by_role("button", name="发送")
        send.click()  # empty
        page.locator("#pq-status").get_by_text("问题不能为空").wait_for()
        page.locator("#pq-question textarea").fill("😀😀")
        send.click()
        page.locator("#pq-status").get_by_text("没有文字").wait_for()
        assert page.locator("#pq-status .pq-status").count() == 1 and page.locator(".toast-body").count() == 0


def test_screenshots_exist_for_the_report():
    # Written by test_browser.py; listed here so a missing one is noticed.
    expected = {"first-screen-375.png", "chat-375.png", "chat-1280.png", "docs-375.png", "docs-1280.png", "admin-375.png", "admin-1280.png"}
    present = {p.name for p in Path(ARTIFACTS).glob("*.png")}
    if not present:
        pytest.skip("run tests/test_browser.py first to produce the screenshots")
    assert expected <= present
