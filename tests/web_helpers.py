"""Shared by the browser tests: Debian's Chromium through Playwright, axe-core from npm, and small page helpers."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "artifacts" / "browser"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000
# WCAG 2.1 A and AA, plus axe's best practices: what the page promises.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def require_chromium():
    """Playwright's sync API, or skip the module: never a downloaded browser."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk", module=True)
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright (no browser download needed)")


@contextmanager
def chromium(sync_api) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser, viewport: dict[str, int] = DESKTOP, locale: str = "zh-CN") -> Iterator[Any]:
    context = browser.new_context(viewport=viewport, locale=locale)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.dialogs = []
    page.errors = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()


def wait_until_ready(page) -> None:
    page.wait_for_function("() => { const t = document.querySelector('#pq-question textarea'); return t && !t.disabled; }")


def open_chat(page, url: str) -> None:
    """Open the page and wait for its load event (restores the conversation, opens deep links) to have run."""
    with page.expect_response(lambda r: "/gradio_api/run/predict" in r.url):
        page.goto(url)
    wait_until_ready(page)
    page.locator(".pq-chip").first.wait_for()


def answers(page) -> int:
    return page.locator("#pq-chat .pq-answer").count()


def ask(page, question: str, *, submit: Callable[[Any], None] | None = None) -> None:
    """Type a question, send it (Enter by default) and wait for its answer to replace the placeholder."""
    before = answers(page)
    box = page.locator("#pq-question textarea")
    box.fill(question)
    (submit or (lambda b: b.press("Enter")))(box)
    wait_for_answers(page, before + 1)


def wait_for_answers(page, n: int) -> None:
    page.wait_for_function("([n]) => document.querySelectorAll('#pq-chat .pq-answer').length >= n && !document.querySelector('#pq-chat .pq-pending')", arg=[n])


def eventually(check: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def screenshot(page, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def run_axe(page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now: [{id, impact, nodes, help, targets}]."""
    if not AXE.is_file():
        unavailable(f"axe-core is missing at {AXE}: run `npm ci` in the checkout")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))  # inline: the page's CSP allows inline scripts
    return page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help,
                                           targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }""",
        AXE_TAGS,
    )


def by_impact(violations: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(v["impact"] for v in violations))


def serious(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in ("serious", "critical")]
