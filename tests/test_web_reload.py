"""A rebuilt index is picked up while serving, without a failed query; a damaged one never replaces a good one."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from assistant.index import Index
from assistant.pipeline import PolicyQA
from assistant.web import create_app
from assistant.web.state import Fingerprint, QAHolder, Reload

from .conftest import NOTICE, HashEmbedder, serving
from .web_helpers import eventually

QUESTIONS = ("今年民办学校招生报名人数超过计划怎么办？", "骨干教师怎么培养？", "学校食堂一顿饭多少钱？", "孩子近视了，学校有什么措施？")
TOKEN = "reload-token"


def _build(paths: list[Path], directory: Path) -> None:
    Index.build(paths, HashEmbedder()).save(directory)


def _qa(directory: Path) -> PolicyQA:
    return PolicyQA(Index.load(directory), HashEmbedder())


@pytest.fixture
def law(laws_dir: Path) -> Path:
    return min(p for p in laws_dir.iterdir() if p.is_file())


def test_rebuilds_under_concurrent_clients_fail_no_query(tmp_path: Path, law: Path):
    directory = tmp_path / "index"
    _build([NOTICE], directory)
    app = create_app(_qa(directory), data_dir=tmp_path / "data", index_dir=directory, poll_seconds=0.1)
    outcomes: Counter[int] = Counter()
    stop = threading.Event()

    def client(base: str, n: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as c:
            i = n
            while not stop.is_set():
                r = c.post("/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
                outcomes[r.status_code] += 1
                i += 1

    with serving(app) as base:
        threads = [threading.Thread(target=client, args=(base, n)) for n in range(4)]
        for t in threads:
            t.start()
        for corpus, documents in (([NOTICE, law], 2), ([NOTICE], 1), ([NOTICE, law], 2)):
            _build(corpus, directory)  # the same folder the server reads, swapped in place as `policyqa index build` does
            eventually(lambda n=documents: httpx.get(f"{base}/api/health").json()["documents"] == n, f"the server to serve {documents} document(s)", seconds=30.0)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert outcomes[200] > 20 and set(outcomes) == {200}, outcomes


def test_a_damaged_index_never_replaces_the_good_one(tmp_path: Path, law: Path):
    directory = tmp_path / "index"
    _build([NOTICE], directory)
    holder = QAHolder(_qa(directory), index_dir=directory, poll_seconds=0)
    good = holder.qa
    assert holder.reload() is Reload.UNCHANGED

    _build([NOTICE, law], directory)
    (directory / "vectors.faiss").write_bytes(b"not a faiss index")
    assert holder.reload() is Reload.FAILED
    assert holder.qa is good and holder.reload_error  # the last good index keeps serving, and the reason is kept
    assert holder.reload() is Reload.UNCHANGED  # the same broken files are not retried every few seconds

    _build([NOTICE, law], directory)  # repaired by the next build
    assert holder.reload() is Reload.RELOADED
    assert holder.qa is not None and holder.qa is not good and len(holder.qa.index.documents) == 2 and holder.reload_error == ""


def test_a_half_written_folder_is_left_alone(tmp_path: Path):
    directory = tmp_path / "index"
    _build([NOTICE], directory)
    holder = QAHolder(_qa(directory), index_dir=directory, poll_seconds=0)
    (directory / "manifest.json").unlink()  # mid-swap: no manifest, nothing to load
    assert Fingerprint.of(directory) is None and holder.reload() is Reload.UNCHANGED
    assert holder.qa is not None


def test_the_admin_reload_needs_the_token_and_reports_a_damaged_index(tmp_path: Path, law: Path):
    directory = tmp_path / "index"
    _build([NOTICE], directory)
    app = create_app(_qa(directory), data_dir=tmp_path / "data", index_dir=directory, poll_seconds=0, admin_token=TOKEN)
    with serving(app) as base:
        assert httpx.post(f"{base}/api/admin/reload").status_code == 401
        r = httpx.post(f"{base}/api/admin/reload", headers={"X-Admin-Token": TOKEN})
        assert r.status_code == 200 and r.json()["result"] == "reloaded"  # forced: the same index, loaded again
        _build([NOTICE, law], directory)
        (directory / "chunks.jsonl").write_text("{garbled\n", encoding="utf-8")
        r = httpx.post(f"{base}/api/admin/reload", headers={"X-Admin-Token": TOKEN}).json()
        assert r["result"] == "failed" and r["error"]
        health = httpx.get(f"{base}/api/health").json()
        assert health["documents"] == 1 and health["reload_error"]  # still the good index, and it says why
        assert httpx.post(f"{base}/api/ask", json={"question": QUESTIONS[0]}).status_code == 200


def test_each_worker_app_watches_the_configured_index_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from assistant.web import app_factory

    monkeypatch.setenv("POLICYQA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("POLICYQA_DATA_DIR", str(tmp_path / "data"))
    app = app_factory()  # what `serve(workers=N)` gives uvicorn: nothing loads until the worker starts
    holder = app.state.holder
    assert holder.qa is None and holder.index_dir == tmp_path / "index" and holder.poll_seconds > 0
