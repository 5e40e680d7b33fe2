"""Every request path is total over bad input, and the server's security promises hold (HashEmbedder, in-process)."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from assistant.feedback import FeedbackStore, FeedbackUnavailable, Problem, Vote
from assistant.index import Index
from assistant.pipeline import PolicyQA
from assistant.web import create_app
from assistant.web.security import Access, AdminGate, Limits, neutralise_cell

from .conftest import NOTICE, HashEmbedder

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{2,})+")
TOKEN = "s3cret-admin-token"


@pytest.fixture(scope="module")
def qa() -> PolicyQA:
    return PolicyQA(Index.build([NOTICE], HashEmbedder()), HashEmbedder())


@pytest.fixture(scope="module")
def app(qa, tmp_path_factory):
    return create_app(qa, data_dir=tmp_path_factory.mktemp("data"), admin_token=TOKEN)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def assert_bilingual(r, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert CJK.search(body["message_zh"]) and ENGLISH.search(body["message_en"])
    assert body["detail"] == f"{body['message_zh']} / {body['message_en']}"
    return body


def post_raw(client: TestClient, body: bytes | str, content_type: str = "application/json"):
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return client.post("/api/ask", content=data, headers={"content-type": content_type})


# -- bad input: each a 4xx with the bilingual message, never a 500 ------------------------------
BAD_JSON = {
    "lone surrogate": r'{"question": "\ud800"}',
    "lone surrogate inside text": r'{"question": "骨干教师\udfff怎么培养？"}',
    "surrogate in history": r'{"question": "那幼儿园呢？", "history": ["\ud83d"]}',
    "NUL": r'{"question": "骨干教师\u0000怎么培养？"}',
    "control characters": r'{"question": "\u0007\u001b[31m骨干教师"}',
    "zero-width only": r'{"question": "\u200b\u200c\u200d\ufeff"}',
    "emoji only": '{"question": "😀😀🎉"}',
    "symbols only": '{"question": "？？！！……"}',
    "10,000-item history": json.dumps({"question": "那幼儿园呢？", "history": ["问"] * 10_000}),
    "deeply nested": '{"question": ' + "[" * 20_000 + "]" * 20_000 + "}",
    "nested object": json.dumps({"question": {"text": {"deeper": ["骨干教师"]}}}),
    "not JSON": "question=骨干教师",
    "truncated": '{"question": "骨干',
    "bare string": '"骨干教师怎么培养？"',
    "null": "null",
}


@pytest.mark.parametrize("body", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_bad_bodies_are_4xx_in_chinese_and_english(client: TestClient, body: str):
    r = post_raw(client, body)
    assert 400 <= r.status_code < 500, r.text
    assert_bilingual(r, r.status_code)


def test_a_lone_surrogate_is_a_422_naming_the_problem(client: TestClient):
    body = assert_bilingual(post_raw(client, r'{"question": "\ud800"}'), 422)
    assert "代理项" in body["message_zh"] and "surrogate" in body["message_en"]


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"])
def test_wrong_content_types_are_415(client: TestClient, ctype: str):
    assert_bilingual(post_raw(client, '{"question": "骨干教师怎么培养？"}', ctype), 415)


def test_oversized_bodies_are_413_before_they_are_read(client: TestClient):
    big = json.dumps({"question": "骨干教师怎么培养？", "history": ["问" * 400] * 60})
    assert len(big.encode()) > Limits().api_body
    assert_bilingual(post_raw(client, big), 413)
    # A lying Content-Length is refused up front, too.
    r = client.post("/api/ask", content=b"{}", headers={"content-type": "application/json", "content-length": str(10**9)})
    assert r.status_code in (400, 413)


def test_a_question_with_emoji_and_words_is_answered(client: TestClient):
    assert client.post("/api/ask", json={"question": "骨干教师怎么培养？😀"}).status_code == 200


def test_unknown_api_paths_and_methods_are_bilingual(client: TestClient):
    assert_bilingual(client.get("/api/ask"), 405)


# -- headers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/api/health", "/pq-static/app.js"])
def test_responses_carry_csp_and_frame_protection(client: TestClient, path: str):
    r = client.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "connect-src 'self'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


def test_cors_gives_other_origins_nothing(client: TestClient):
    r = client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers and "access-control-allow-credentials" not in r.headers
    pre = client.options("/api/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert pre.headers.get("access-control-allow-origin") in (None, "") and "access-control-allow-credentials" not in pre.headers


def test_gradio_upload_is_disabled(client: TestClient):
    r = client.post("/gradio_api/upload", files={"files": ("x.txt", b"hello", "text/plain")})
    assert_bilingual(r, 403)


# -- the admin export ----------------------------------------------------------------------------
def _exports_on_disk() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("policyqa-export*")}


def test_the_export_needs_the_token_in_a_header_on_every_request(client: TestClient, app):
    store: FeedbackStore = app.state.feedback
    store.log({"question": "=HYPERLINK(\"http://x\")", "rewritten_question": "-1+1", "answer": "@SUM(A1)", "abstained": True, "citations": []})
    before = _exports_on_disk()
    assert_bilingual(client.get("/api/admin/export.csv"), 401)
    assert_bilingual(client.get(f"/api/admin/export.csv?token={TOKEN}"), 401)  # never in a URL
    assert_bilingual(client.get("/api/admin/export.csv", headers={"X-Admin-Token": "wrong"}), 401)
    r = client.get("/api/admin/export.csv", headers={"X-Admin-Token": TOKEN})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"] and r.headers["cache-control"] == "no-store"
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["id", "created_at", "question"]
    evil = next(row for row in rows if "HYPERLINK" in row[2])
    assert evil[2].startswith("'=") and evil[3].startswith("'-") and evil[4].startswith("'@")
    assert client.get("/api/admin/export.csv", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert _exports_on_disk() == before  # streamed: no copy left behind


def test_wrong_tokens_are_rate_limited(qa, tmp_path: Path):
    with TestClient(create_app(qa, data_dir=tmp_path, admin_token=TOKEN)) as c:
        codes = [c.get("/api/admin/export.csv", headers={"X-Admin-Token": f"guess-{i}"}).status_code for i in range(5)]
        assert codes == [401] * 5
        locked = c.get("/api/admin/export.csv", headers={"X-Admin-Token": TOKEN})  # even the right one, for now
        assert_bilingual(locked, 429)
        assert locked.headers["retry-after"]


def test_the_gate_unlocks_after_its_window_and_compares_whole_tokens():
    now = [0.0]
    gate = AdminGate("abc", max_failures=2, window=60, clock=lambda: now[0])
    assert gate.check("ab") is Access.DENIED and gate.check("abcd") is Access.DENIED
    assert gate.check("abc") is Access.LOCKED
    assert gate.check("abc", client="other") is Access.GRANTED  # one client's guesses do not lock out another
    now[0] = 61.0
    assert gate.check("abc") is Access.GRANTED
    assert AdminGate(None).check("anything") is Access.DISABLED
    assert AdminGate("").check("") is Access.DISABLED


def test_admin_routes_say_disabled_without_a_configured_token(qa, tmp_path: Path):
    with TestClient(create_app(qa, data_dir=tmp_path, admin_token="")) as c:
        assert_bilingual(c.get("/api/admin/export.csv", headers={"X-Admin-Token": ""}), 403)


@pytest.mark.parametrize("value, expected", [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("a=1", "a=1"), (None, ""), (3, 3)])
def test_csv_cells_are_neutralised(value, expected):
    assert neutralise_cell(value) == expected


# -- feedback storage that cannot be used ---------------------------------------------------------
def test_an_unusable_data_folder_leaves_the_chat_answering(qa, tmp_path: Path):
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file where the data folder should be")
    app = create_app(qa, data_dir=not_a_dir)
    assert not app.state.feedback_guard.available  # the store degrades instead of failing the app
    with TestClient(app) as c:
        assert c.post("/api/ask", json={"question": "骨干教师怎么培养？"}).status_code == 200
        assert_bilingual(c.get("/api/admin/export.csv", headers={"X-Admin-Token": "x"}), 403)  # no token configured here


def test_a_failing_store_costs_no_answer(qa, tmp_path: Path, monkeypatch):
    app = create_app(qa, data_dir=tmp_path)

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise FeedbackUnavailable(Problem.FULL)

    for method in ("log", "log_later", "set_feedback", "set_reason"):
        monkeypatch.setattr(app.state.feedback, method, full_disk)
    guard = app.state.feedback_guard
    with TestClient(app) as c:
        assert c.post("/api/ask", json={"question": "骨干教师怎么培养？"}).status_code == 200
    assert guard.failures >= 1 and guard.vote(1, Vote.UP) is False


# -- fuzzing the API against its own schema ----------------------------------------------------------
def test_schemathesis_fuzzes_the_api_against_its_own_openapi_schema(app):
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [r.ok() for r in schema.include(path_regex="^/api/(ask|health|documents)$").get_all_operations()]
    assert {op.path for op in operations} == {"/api/ask", "/api/health", "/api/documents"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            response = case.call()
            assert response.status_code < 500, (case.body, response.text)
            # Status, content type and body as the schema declares. Schema-valid text may still be refused
            # (a control character, no words at all): the schema's "string" cannot say so, the 422 does.
            case.validate_response(response, excluded_checks=[positive_data_acceptance])

        check()
