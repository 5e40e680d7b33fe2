"""Adding documents in the admin view: checked uploads, a parse preview, a background rebuild the chat answers through.

HashEmbedder, in-process; every file (corpus, index, the server's temporary files) lives under tmp_path.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.index import load_or_build
from assistant.pipeline import PolicyQA
from assistant.web import create_app
from assistant.web.security import MAX_UPLOAD_ENV, Limits

from .conftest import ROOT, HashEmbedder, serving
from .render import to_docx
from .web_helpers import DESKTOP, PHONE, chromium, eventually, new_page, open_chat, require_chromium, run_axe, serious

TOKEN = "upload-admin-token"
AUTH = {"X-Admin-Token": TOKEN}
FICTION = ROOT / "tests" / "data" / "fiction"
FIRST = FICTION / "qinglan-2021-work-points.txt"  # the corpus the server starts with
BUS = FICTION / "qinglan-school-bus-management-measures.txt"  # the document added
BUS_TITLE = "青岚区中小学校校车安全管理办法"
BUS_QUESTION = "校车驾驶人资格审查由谁负责？"
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{2,})+")


class GatedEmbedder(HashEmbedder):
    """Embeds passages only while ``gate`` is open, so a test can hold a rebuild in the middle (queries never wait)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.embedding = threading.Event()  # a build has reached the embedding step

    def encode_passages(self, texts, *, batch_size: int = 32, show_progress: bool = False):
        self.embedding.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return super().encode_passages(texts)


@dataclass
class Site:
    client: TestClient
    app: FastAPI
    corpus: Path
    embedder: GatedEmbedder

    def corpus_names(self) -> list[str]:
        return sorted(p.name for p in self.corpus.iterdir())


@pytest.fixture(autouse=True)
def server_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's own temporary files (multipart spooling, staged uploads) go under tmp_path as well."""
    folder = tmp_path / "server-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    opened: list[TestClient] = []

    def make(*, limits: Limits | None = None, token: str = TOKEN) -> Site:
        corpus = tmp_path / "corpus"
        corpus.mkdir(exist_ok=True)
        shutil.copy(FIRST, corpus / FIRST.name)
        index_dir = tmp_path / "index" / "current"
        embedder = GatedEmbedder()
        qa = PolicyQA(load_or_build([corpus], index_dir, embedder), embedder)
        embedder.embedding.clear()  # set by the build above; the tests watch for the next one
        app = create_app(qa, data_dir=tmp_path / "data", index_dir=index_dir, admin_token=token, corpus=[corpus], poll_seconds=0, limits=limits)
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return Site(client, app, corpus, embedder)

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


def upload(site: Site, path: Path, *, route: str = "/api/admin/documents", name: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    files = {"file": (name or path.name, path.read_bytes(), "application/octet-stream")}
    return site.client.post(route, files=files, headers=AUTH if headers is None else headers)


def preview(site: Site, path: Path, **kwargs: Any) -> httpx.Response:
    return upload(site, path, route="/api/admin/documents/preview", **kwargs)


def bilingual(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert CJK.search(body["message_zh"]) and ENGLISH.search(body["message_en"]), body
    return body


def wait_for_job(site: Site, seconds: float = 30.0) -> dict[str, Any]:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        body = site.client.get("/api/admin/documents", headers=AUTH).json()
        if body["job"]["state"] not in ("running", "idle"):
            return body
        time.sleep(0.05)
    raise AssertionError("the rebuild did not finish")


def cited(site: Site, question: str) -> list[str]:
    r = site.client.post("/api/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return [c["doc_id"] for c in r.json()["citations"]]


# -- the admin gate -----------------------------------------------------------------------------
ROUTES = [("post", "/api/admin/documents/preview"), ("post", "/api/admin/documents"), ("get", "/api/admin/documents")]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_every_document_route_needs_the_admin_token(site: Site, method: str, route: str):
    files = {"file": (BUS.name, BUS.read_bytes(), "text/plain")} if method == "post" else None
    for headers in ({}, {"X-Admin-Token": "wrong"}):
        body = bilingual(site.client.request(method, route, files=files, headers=headers), 401)
        assert "令牌" in body["message_zh"] and "X-Admin-Token" in body["message_en"]
    assert site.corpus_names() == [FIRST.name]  # nothing was added


def test_wrong_tokens_lock_the_client_out_and_no_token_configured_is_403(make_site: Callable[..., Site]):
    site = make_site()
    for _ in range(5):
        preview(site, BUS, headers={"X-Admin-Token": "guess"})
    body = bilingual(preview(site, BUS), 429)  # even the right token waits now
    assert "一分钟" in body["message_zh"]
    disabled = make_site(token="")
    body = bilingual(disabled.client.get("/api/admin/documents", headers=AUTH), 403)
    assert "POLICYQA_ADMIN_TOKEN" in body["message_en"]


# -- preview -------------------------------------------------------------------------------------
def test_preview_of_a_txt_shows_what_the_parse_found_and_changes_nothing(site: Site, server_tmp: Path):
    r = preview(site, BUS)
    assert r.status_code == 200, r.text
    body = r.json()
    p = body["preview"]
    assert body["name"] == BUS.name and body["size"] == BUS.stat().st_size
    assert p["title"] == BUS_TITLE and p["doc_number"] == "青教规〔2021〕2号" and p["date"] == "2021-03-22"
    assert "公安分局" in p["issuer"]
    assert p["units_by_kind"]["article"] == 28 and p["units"] == sum(p["units_by_kind"].values())
    assert p["first_items"][:2] == ["第一章 总则", "第一条"]
    assert p["lines_covered"] == p["lines_total"] > 0 and p["coverage"] == 1.0
    assert site.corpus_names() == [FIRST.name]
    assert list(server_tmp.iterdir()) == []  # the staged copy is gone


def test_preview_of_a_docx(site: Site, tmp_path: Path):
    docx = to_docx(BUS.read_text(encoding="utf-8"), tmp_path / "校车管理办法.docx")
    body = preview(site, docx).json()
    assert body["name"] == "校车管理办法.docx"
    assert body["preview"]["title"] == BUS_TITLE and body["preview"]["units_by_kind"]["article"] == 28
    assert site.corpus_names() == [FIRST.name]


def test_the_preview_as_html_is_the_admin_views_fragment_escaped(site: Site, tmp_path: Path):
    hostile = tmp_path / "hostile.txt"
    hostile.write_text(BUS.read_text(encoding="utf-8").replace(BUS_TITLE, "<img src=x onerror=alert(1)>校车办法", 1), encoding="utf-8")
    r = preview(site, hostile, name="../../<b>evil.txt", headers={**AUTH, "Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "解析预览" in r.text and "第一章 总则" in r.text and "条 28" in r.text
    assert "<img" not in r.text and "&lt;img" in r.text
    assert "<b>" not in r.text and "b-evil.txt" in r.text and "../" not in r.text


def test_names_are_sanitised_when_stored(site: Site, tmp_path: Path):
    r = upload(site, BUS, name="..\\..\\报告 <script>.TXT")
    assert r.status_code == 202, r.text
    stored = set(site.corpus_names()) - {FIRST.name}
    assert len(stored) == 1 and re.fullmatch(r"[^/\\<>\s]+\.txt", stored.pop())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "data", "index", "server-tmp"]  # nothing escaped the corpus
    wait_for_job(site)


# -- refusals ------------------------------------------------------------------------------------
def test_an_oversized_file_is_413(make_site: Callable[..., Site], tmp_path: Path):
    site = make_site(limits=Limits(upload=4 * 1024))
    body = bilingual(preview(site, BUS), 413)
    assert "文件过大" in body["message_zh"] and "limit" in body["message_en"]
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (200 * 1024))  # over the multipart slack too: refused on its Content-Length
    body = bilingual(upload(site, big), 413)
    assert "文件过大" in body["message_zh"]
    assert site.corpus_names() == [FIRST.name]


def test_an_oversized_stream_is_refused_before_it_is_all_read(site: Site):
    """No Content-Length: the cap is counted as the body streams in, and reading stops at the cap."""
    boundary = "pqboundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'.encode()
    chunk, chunks = b"x" * (1024 * 1024), 40  # 40 MB on offer against the 20 MB default cap
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        body = head if pulled == 1 else chunk
        return {"type": "http.request", "body": body, "more_body": pulled <= chunks}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-type", f"multipart/form-data; boundary={boundary}".encode()), (b"x-admin-token", TOKEN.encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http", "path": "/api/admin/documents/preview",
             "raw_path": b"/api/admin/documents/preview", "root_path": "", "query_string": b"", "headers": headers, "client": ("127.0.0.1", 5), "server": ("testserver", 80)}
    asyncio.run(site.app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    assert start["status"] == 413 and "20 MB" in body["message_zh"]
    assert pulled <= 22 < chunks  # stopped just past the cap, never read the rest


def test_the_cap_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(MAX_UPLOAD_ENV, "0.5")
    assert Limits().upload == 512 * 1024
    monkeypatch.setenv(MAX_UPLOAD_ENV, "lots")
    assert Limits().upload == 20 * 1024 * 1024


def test_a_pdf_that_is_really_text_is_refused(site: Site, tmp_path: Path):
    fake = tmp_path / "notice.pdf"
    fake.write_bytes(BUS.read_bytes())
    for route in ("/api/admin/documents/preview", "/api/admin/documents"):
        body = bilingual(upload(site, fake, route=route), 415)
        assert "扩展名不符" in body["message_zh"] and "content is not a .pdf" in body["message_en"]
    assert site.corpus_names() == [FIRST.name]
    assert site.client.get("/api/admin/documents", headers=AUTH).json()["job"]["state"] == "idle"  # the refusal freed the slot


def test_an_unsupported_type_is_415(site: Site, tmp_path: Path):
    exe = tmp_path / "setup.exe"
    exe.write_bytes(b"MZ\x90\x00" + b"\x00" * 100)
    body = bilingual(preview(site, exe), 415)
    assert "不支持" in body["message_zh"] and "unsupported file type" in body["message_en"]


def test_a_zip_bomb_docx_is_refused(site: Site, tmp_path: Path):
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as member:
            for _ in range(16):
                member.write(b"\0" * (1024 * 1024))  # 16 MB of zeros packs into a few KB
    assert bomb.stat().st_size < 100 * 1024
    for route in ("/api/admin/documents/preview", "/api/admin/documents"):
        body = bilingual(upload(site, bomb, route=route), 422)
        assert "压缩炸弹" in body["message_zh"] and "zip bomb" in body["message_en"]
    assert site.corpus_names() == [FIRST.name]


def test_a_request_without_a_file_or_not_multipart(site: Site):
    body = bilingual(site.client.post("/api/admin/documents/preview", files={"other": ("a.txt", b"x")}, headers=AUTH), 422)
    assert "请选择" in body["message_zh"] and '"file"' in body["message_en"]
    body = bilingual(site.client.post("/api/admin/documents", json={"file": "x"}, headers=AUTH), 415)
    assert "multipart/form-data" in body["message_zh"]


# -- adding ---------------------------------------------------------------------------------------
def test_add_rebuilds_in_the_background_while_the_chat_keeps_answering(site: Site):
    assert "qinglan-school-bus-management-measures" not in cited(site, BUS_QUESTION)
    site.embedder.gate.clear()  # hold the rebuild at its embedding step
    r = upload(site, BUS)
    assert r.status_code == 202, r.text
    added = r.json()
    assert added["result"] == "added" and added["doc_id"] == BUS.stem and added["preview"]["title"] == BUS_TITLE
    assert added["job"]["state"] == "running" and "重建索引" in added["job"]["message_zh"]
    assert site.embedder.embedding.wait(10)

    # While it runs: the chat answers from the old index, the status says running, and a second upload waits its turn.
    assert "qinglan-school-bus-management-measures" not in cited(site, BUS_QUESTION)
    status = site.client.get("/api/admin/documents", headers=AUTH).json()
    assert status["job"]["state"] == "running"
    assert {d["doc_id"]: d["indexed"] for d in status["documents"]} == {FIRST.stem: True, BUS.stem: False}
    body = bilingual(upload(site, FICTION / "qinglan-2021-admission-plan.txt"), 409)
    assert "正在重建索引" in body["message_zh"] and body["job"]["state"] == "running"
    assert sorted(site.corpus_names()) == sorted([FIRST.name, BUS.name])  # the refused one was not stored

    site.embedder.gate.set()
    done = wait_for_job(site)
    assert done["job"]["state"] == "done" and "2 个文件" in done["job"]["message_zh"], done["job"]
    assert all(d["indexed"] for d in done["documents"])
    assert set(cited(site, BUS_QUESTION)) == {BUS.stem}
    health = site.client.get("/api/health").json()
    assert health["documents"] == 2 and health["reload_error"] == ""


def test_the_chat_answers_concurrently_with_a_running_rebuild(site: Site):
    site.embedder.gate.clear()
    assert upload(site, BUS).status_code == 202
    assert site.embedder.embedding.wait(10)
    results: list[tuple[int, list[str]]] = []

    def ask() -> None:
        r = site.client.post("/api/ask", json={"question": "青岚区今年教育工作的重点是什么？"})
        results.append((r.status_code, [c["doc_id"] for c in r.json().get("citations", [])]))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert site.client.get("/api/admin/documents", headers=AUTH).json()["job"]["state"] == "running"  # they ran during the build
    site.embedder.gate.set()
    assert [status for status, _ in results] == [200] * 4
    assert all(set(docs) <= {FIRST.stem} for _, docs in results)  # answered from the index being served
    assert wait_for_job(site)["job"]["state"] == "done"


def test_identical_content_is_skipped_without_a_rebuild(site: Site, tmp_path: Path, server_tmp: Path):
    copy = tmp_path / "same-content-other-name.txt"
    copy.write_bytes(FIRST.read_bytes())
    r = upload(site, copy)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result"] == "skipped" and "完全相同" in body["message_zh"] and FIRST.name in body["message_zh"]
    assert "identical" in body["message_en"] and body["job"]["state"] == "idle"
    assert site.corpus_names() == [FIRST.name]
    assert not site.embedder.embedding.is_set()  # nothing was rebuilt
    assert list(server_tmp.iterdir()) == []  # the staged upload and the multipart spool are gone


def test_the_status_fragment_and_a_clashing_name(site: Site, tmp_path: Path):
    clash = tmp_path / FIRST.name
    clash.write_bytes(BUS.read_bytes())  # other content under a name the corpus already has
    r = upload(site, clash, headers={**AUTH, "Accept": "text/html"})
    assert r.status_code == 202 and "已添加" in r.text and "qinglan-2021-work-points-2.txt" in r.text and "解析预览" in r.text
    wait_for_job(site)
    page = site.client.get("/api/admin/documents", headers={**AUTH, "Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-state="done"' in page.text and "文件库中的文件（2 个）" in page.text and BUS_TITLE in page.text
    assert "等待重建" not in page.text


def test_a_failed_rebuild_is_reported_and_the_old_index_keeps_serving(site: Site, monkeypatch: pytest.MonkeyPatch):
    def broken(*_: Any, **__: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("assistant.web.uploads.load_or_build", broken)
    assert upload(site, BUS).status_code == 202
    done = wait_for_job(site)
    assert done["job"]["state"] == "failed" and "disk full" in done["job"]["message_en"] and "原来的索引" in done["job"]["message_zh"]
    assert site.client.post("/api/ask", json={"question": BUS_QUESTION}).status_code == 200
    assert site.client.get("/api/health").json()["documents"] == 1


# -- the admin view ------------------------------------------------------------------------------
def test_the_admin_view_carries_the_upload_form(site: Site):
    config = site.client.get("/config").json()
    form = next(c["props"]["value"] for c in config["components"] if c.get("props", {}).get("elem_id") == "pq-upload-box")
    assert '<label for="pq-upload-file">选择文件</label>' in form and 'id="pq-upload-file"' in form
    assert "不超过 20 MB" in form and 'accept=".txt,' in form
    for label in ("预览", "确认添加", "刷新文件列表"):
        assert f">{label}</button>" in form
    assert 'role="status"' in form  # what happened is announced
    assert site.client.get("/openapi.json").json()["paths"]["/api/admin/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]


@pytest.mark.browser
def test_pick_preview_confirm_in_the_browser(make_site: Callable[..., Site]):
    sync_api = require_chromium()
    site = make_site()
    with serving(site.app) as base, chromium(sync_api) as browser:
        for viewport in (PHONE, DESKTOP):
            with new_page(browser, viewport) as page:
                open_chat(page, f"{base}/?admin=1")
                page.get_by_role("tab", name="管理").click()
                page.get_by_label("管理令牌").fill(TOKEN)
                page.get_by_label("选择文件").set_input_files(str(BUS))
                assert page.get_by_role("button", name="确认添加").is_disabled()  # preview first
                page.get_by_role("button", name="预览").click()
                page.locator("#pq-upload-result .pq-preview").get_by_text(BUS_TITLE).wait_for()
                assert serious(run_axe(page)) == [] and page.errors == []
        with new_page(browser, DESKTOP) as page:
            open_chat(page, f"{base}/?admin=1")
            page.get_by_role("tab", name="管理").click()
            page.get_by_label("管理令牌").fill(TOKEN)
            page.get_by_label("选择文件").set_input_files(str(BUS))
            page.get_by_role("button", name="预览").click()
            page.get_by_role("button", name="确认添加").click()
            eventually(lambda: page.locator('#pq-upload-corpus .pq-job[data-state="done"]').count() == 1, "the rebuild to finish", 30)
            assert "2 个文件" in page.locator("#pq-upload-msg").text_content()
            assert serious(run_axe(page)) == [] and page.errors == []
    assert set(cited(site, BUS_QUESTION)) == {BUS.stem}
