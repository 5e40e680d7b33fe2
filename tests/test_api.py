"""The HTTP API, against a real uvicorn server on a loopback port (HashEmbedder: fast, no model)."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant import config
from assistant.feedback import FeedbackStore
from assistant.index import Index
from assistant.pipeline import PolicyQA
from assistant.web import LOADING_MESSAGE, create_app, md_text, unit_html

from .conftest import NOTICE, HashEmbedder, serving

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{2,})+")  # a few English words in a row
QUESTIONS = ("今年民办学校招生报名人数超过计划怎么办？", "孩子近视了，学校有什么措施？", "2020年计划新建几所小学？", "教师师德考核有什么新规定？", "骨干教师怎么培养？", "学校食堂一顿饭多少钱？")


@pytest.fixture(scope="module")
def qa() -> PolicyQA:
    return PolicyQA(Index.build([NOTICE], HashEmbedder()), HashEmbedder())


@pytest.fixture(scope="module")
def server(qa: PolicyQA, tmp_path_factory):
    app = create_app(qa, data_dir=tmp_path_factory.mktemp("data"))
    with serving(app) as url:
        yield app, url


@pytest.fixture(scope="module")
def base(server) -> str:
    return server[1]


def without_latency(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k != "latency_ms"}


@pytest.mark.parametrize("question", QUESTIONS)
def test_ask_returns_exactly_the_cli_json(base: str, qa: PolicyQA, question: str):
    r = httpx.post(f"{base}/api/ask", json={"question": question, "history": []})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    expected = qa.ask(question).to_json()
    assert set(body) == set(expected)  # the same keys (the response model fixes their order)
    assert body["id"] is None
    assert isinstance(body["latency_ms"], float)
    assert without_latency(body) == without_latency(expected)


def test_ask_passes_history_for_follow_ups(base: str, qa: PolicyQA):
    history = ["2020年计划新建几所小学？"]
    body = httpx.post(f"{base}/api/ask", json={"question": "那幼儿园呢？", "history": history}).json()
    expected = qa.ask("那幼儿园呢？", history).to_json()
    assert without_latency(body) == without_latency(expected)
    assert body["rewritten_question"] != body["question"]


def test_history_may_be_omitted_or_null(base: str):
    assert httpx.post(f"{base}/api/ask", json={"question": "骨干教师怎么培养？"}).status_code == 200
    assert httpx.post(f"{base}/api/ask", json={"question": "骨干教师怎么培养？", "history": None}).status_code == 200


BAD_BODIES = {
    "empty": {"question": ""},
    "blank": {"question": " \n\t "},
    "number": {"question": 123},
    "null": {"question": None},
    "list": {"question": ["骨干教师"]},
    "missing": {"history": []},
    "too long": {"question": "问" * (config.MAX_QUESTION_CHARS + 1)},
    "history too long": {"question": "那幼儿园呢？", "history": ["骨干教师怎么培养？"] * (config.MAX_HISTORY_TURNS + 1)},
    "history not a list": {"question": "那幼儿园呢？", "history": "骨干教师怎么培养？"},
    "history of numbers": {"question": "那幼儿园呢？", "history": [1, 2]},
    "history entry too long": {"question": "那幼儿园呢？", "history": ["问" * (config.MAX_QUESTION_CHARS + 1)]},
    "not an object": ["骨干教师怎么培养？"],
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_input_is_422_in_chinese_and_english(base: str, body):
    r = httpx.post(f"{base}/api/ask", json=body)
    assert r.status_code == 422
    err = r.json()
    assert CJK.search(err["message_zh"]) and ENGLISH.search(err["message_en"])
    assert CJK.search(err["detail"]) and ENGLISH.search(err["detail"])


def test_malformed_json_is_422_in_chinese_and_english(base: str):
    r = httpx.post(f"{base}/api/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert CJK.search(r.json()["detail"]) and ENGLISH.search(r.json()["detail"])


def test_limits_are_inclusive(base: str):
    at_limit = {"question": "骨干教师怎么培养" + "？" * (config.MAX_QUESTION_CHARS - 8), "history": ["骨干教师怎么培养？"] * config.MAX_HISTORY_TURNS}
    assert httpx.post(f"{base}/api/ask", json=at_limit).status_code == 200


def test_health(base: str, qa: PolicyQA):
    r = httpx.get(f"{base}/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["model"] == "hash-bigram-64" and body["documents"] == 1
    assert body["memory"] == len(qa.memory) == 0  # this test's pipeline was built without labelled questions
    m = qa.index.manifest
    assert body["index"] == {"model": m.model, "dimension": 64, "chunk_count": m.chunk_count, "corpus_hash": m.corpus_hash, "built_at": m.built_at}


def test_documents_list_parts_and_all_30_points(base: str):
    r = httpx.get(f"{base}/api/documents")
    assert r.status_code == 200
    [doc] = r.json()["documents"]
    assert doc["title"] == "天津市东丽区2020年教育工作要点" and doc["point_count"] == 30
    assert [u["kind"] for u in doc["preface"]] == ["header", "preamble"]
    assert [p["title"][:2] for p in doc["parts"]] == ["一、", "二、", "三、", "四、", "五、"]
    points = [pt for part in doc["parts"] for pt in part["points"]]
    assert [pt["number"] for pt in points] == list(range(1, 31))
    p20 = points[19]
    assert p20["title"] == "深化教育综合改革" and "电脑摇号随机录取" in p20["text"]
    assert p20["path"].startswith("《天津市东丽区2020年教育工作要点》五、") and p20["path"].endswith("20、深化教育综合改革")
    assert all(set(pt) >= {"number", "title", "section", "path", "link", "text"} for pt in points)
    assert p20["link"] == "/?doc=dongli-2020-education-work-points&point=20"


def test_openapi_docs_are_served(base: str):
    r = httpx.get(f"{base}/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    spec = httpx.get(f"{base}/openapi.json").json()
    assert {"/api/ask", "/api/health", "/api/documents"} <= set(spec["paths"])
    assert "422" in spec["paths"]["/api/ask"]["post"]["responses"]


def test_chat_page_is_served_at_the_root(base: str):
    r = httpx.get(f"{base}/")
    assert r.status_code == 200 and "gradio" in r.text.lower()


def test_concurrent_requests_from_threads(base: str, qa: PolicyQA):
    expected = {q: without_latency(qa.ask(q).to_json()) for q in QUESTIONS}
    jobs = [QUESTIONS[i % len(QUESTIONS)] for i in range(48)]
    with httpx.Client(base_url=base, timeout=60) as client, ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda q: (q, client.post("/api/ask", json={"question": q})), jobs))
    assert all(r.status_code == 200 for _, r in responses)
    assert all(without_latency(r.json()) == expected[q] for q, r in responses)


def test_every_answer_is_logged_for_the_admin_view(server):
    app, base = server
    store: FeedbackStore = app.state.feedback
    before = store.count()
    httpx.post(f"{base}/api/ask", json={"question": "学校食堂一顿饭多少钱？"})
    httpx.post(f"{base}/api/ask", json={"question": ""})  # rejected: not an interaction
    assert store.count() == before + 1


def _poll(url: str, want: int) -> httpx.Response:
    for _ in range(200):
        r = httpx.get(url)
        if r.status_code == want:
            return r
        time.sleep(0.05)
    return r


def test_api_says_loading_until_the_loader_returns(qa: PolicyQA, tmp_path: Path):
    release = threading.Event()

    def loader() -> PolicyQA:
        release.wait(timeout=60)
        return qa

    with serving(create_app(loader=loader, data_dir=tmp_path)) as base:
        r = httpx.post(f"{base}/api/ask", json={"question": "骨干教师怎么培养？"})
        assert r.status_code == 503 and r.headers.get("retry-after")
        assert LOADING_MESSAGE in r.json()["message_zh"] and ENGLISH.search(r.json()["message_en"])
        health = httpx.get(f"{base}/api/health")
        assert health.status_code == 503 and health.json()["status"] == "loading"
        assert httpx.post(f"{base}/api/ask", json={"question": ""}).status_code == 422  # input is checked even while loading
        assert httpx.get(f"{base}/").status_code == 200  # the page is up and shows the loading state

        release.set()
        assert _poll(f"{base}/api/health", 200).json()["status"] == "ok"
        assert httpx.post(f"{base}/api/ask", json={"question": "骨干教师怎么培养？"}).status_code == 200


def test_a_failed_load_is_reported_not_fatal(tmp_path: Path):
    def loader() -> PolicyQA:
        raise FileNotFoundError("corpus path /nowhere does not exist")

    with serving(create_app(loader=loader, data_dir=tmp_path)) as base:
        for _ in range(200):
            health = httpx.get(f"{base}/api/health")
            if health.json()["status"] != "loading":
                break
            time.sleep(0.05)
        assert health.status_code == 503 and health.json()["status"] == "failed"
        r = httpx.post(f"{base}/api/ask", json={"question": "骨干教师怎么培养？"})
        assert r.status_code == 503 and "/nowhere" in r.json()["detail"]


# -- the escaping and highlighting helpers behind the page ------------------------------------
@given(st.text())
def test_md_text_leaves_no_markup(text: str):
    out = md_text(text)
    assert "<" not in out and ">" not in out
    # every Markdown link/emphasis/code character is backslash-escaped
    assert not re.search(r"(?<!\\)(?:\\\\)*[\[\]()*_`!]", out)


def test_unit_html_marks_the_quote_and_escapes_the_text(qa: PolicyQA):
    doc, unit = next(v for k, v in qa.index.units.items() if k.endswith("#20"))
    quote = "将民办义务教育学校招生纳入统一管理，与公办学校同步招生，对报名人数超过招生计划的，实行电脑摇号随机录取。"
    out = unit_html(doc, unit, quote)
    assert f"<mark>{quote}</mark>" in out and out.count("<mark>") == 1
    assert "五、以提升保障能力为重点，努力夯实教育可持续发展的基础 › 20、深化教育综合改革" in out
    evil = dataclasses.replace(unit, title="<script>x</script>", text="<img src=x onerror=alert(1)>", sentences=("<img src=x onerror=alert(1)>",))
    out = unit_html(doc, evil, "<img src=x onerror=alert(1)>")
    assert "<img" not in out and "<script" not in out and "<mark>&lt;img src=x onerror=alert(1)&gt;</mark>" in out
