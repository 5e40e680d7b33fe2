"""The interaction log and feedback store; every test runs on SQLite and on PostgreSQL (see tests/pg.py)."""

from __future__ import annotations

import csv
import io
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assistant import feedback
from assistant.feedback import CSV_COLUMNS, DB_NAME, MAX_REASON_CHARS, FeedbackStore, FeedbackUnavailable, Problem, Vote

from .conftest import ROOT
from .pg import BACKENDS, open_store, reopen

P20 = "《天津市东丽区2020年教育工作要点》五、以提升保障能力为重点，努力夯实教育可持续发展的基础 › 20、深化教育综合改革"
P7 = "《天津市东丽区2020年教育工作要点》二、以学生全面发展为根本，全面落实立德树人根本任务 › 7、确立体育的基础性地位"


def result(question: str, *, abstained: bool = False, paths: tuple[str, ...] = (P20,)) -> dict:
    """The shape of ``Answer.to_json()``, reduced to what the store reads."""
    return {
        "id": None,
        "question": question,
        "rewritten_question": question.replace("今年", "2020年"),
        "answer": "抱歉，……" if abstained else "“对报名人数超过招生计划的，实行电脑摇号随机录取。”（出自…第20条「深化教育综合改革」）",
        "abstained": abstained,
        "citations": [{"path": p, "quote": "" if abstained else "…"} for p in paths],
        "latency_ms": 1.0,
    }


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path: Path):
    s = open_store(request.param, tmp_path)
    assert s.available, s.status()
    yield s
    s.close()


# -- behaviour, on both backends ----------------------------------------------------------------
def test_answer_is_logged_and_feedback_updates_the_same_row(store: FeedbackStore):
    iid = store.log(result("今年民办学校招生报名人数超过计划怎么办？"))
    row = store.get(iid)
    assert row is not None
    assert (row.question, row.rewritten_question, row.abstained, row.feedback, row.reason) == ("今年民办学校招生报名人数超过计划怎么办？", "2020年民办学校招生报名人数超过计划怎么办？", False, None, "")
    assert row.cited_points == (P20,) and "电脑摇号" in row.answer and row.created_at

    assert store.set_feedback(iid, Vote.DOWN, "引用的条目不对")
    assert store.get(iid).feedback is Vote.DOWN and store.get(iid).reason == "引用的条目不对"
    assert store.set_feedback(iid, Vote.UP)  # a changed vote keeps the reason
    assert store.get(iid).feedback is Vote.UP and store.get(iid).reason == "引用的条目不对"
    assert store.set_feedback(iid, None)
    assert store.get(iid).feedback is None
    assert store.count() == 1


def test_votes_are_counted_per_cited_point_and_rows_read_in_pages(store: FeedbackStore):
    a = store.log(result("问一", paths=(P20, P7)))
    b = store.log(result("问二"))
    store.log(result("问三"))  # no vote: not counted
    store.set_feedback(a, Vote.UP)
    store.set_feedback(b, Vote.DOWN)
    assert sorted(store.vote_counts()) == sorted([(P20, 1, 1), (P7, 1, 0)])
    rows = list(store.iter_rows(page=2))  # three rows over two pages
    assert [r["question"] for r in rows] == ["问一", "问二", "问三"]


def test_unknown_id_and_long_reason(store: FeedbackStore):
    assert not store.set_feedback(999, Vote.UP)
    assert not store.set_reason(999, "x")
    assert store.get(999) is None
    iid = store.log(result("骨干教师怎么培养？"))
    assert store.set_reason(iid, "长" * (MAX_REASON_CHARS + 50))
    assert len(store.get(iid).reason) == MAX_REASON_CHARS


def test_abstentions_are_logged_without_feedback_and_counted(store: FeedbackStore):
    for _ in range(3):
        store.log(result("学校食堂一顿饭多少钱？", abstained=True, paths=(P7,)))
    store.log(result("校服怎么买？", abstained=True))
    store.log(result("今年民办学校招生报名人数超过计划怎么办？"))
    store.log(result("孩子近视了，学校有什么措施？", paths=(P7, P20)))

    assert [(c.key, c.count) for c in store.top_unanswered()] == [("学校食堂一顿饭多少钱？", 3), ("校服怎么买？", 1)]
    # Only answers count as citations: an abstention's nearest points do not.
    assert [(c.key, c.count) for c in store.point_counts()] == [(P20, 2), (P7, 1)]


def test_feedback_survives_a_server_restart(store: FeedbackStore):
    iid = store.log(result("教师师德考核有什么新规定？"))
    store.set_feedback(iid, Vote.DOWN, "没说具体怎么考核")
    store.close()
    again = reopen(store)
    try:
        [row] = again.disliked()
        assert (row.id, row.question, row.feedback, row.reason) == (iid, "教师师德考核有什么新规定？", Vote.DOWN, "没说具体怎么考核")
        assert again.log(result("又一个问题")) > iid
    finally:
        again.close()


def test_concurrent_writes_from_threads(store: FeedbackStore):
    threads, per_thread = 8, 40
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                iid = store.log(result(f"线程{n}的第{i}个问题", abstained=i % 2 == 0))
                assert store.set_feedback(iid, Vote.DOWN if i % 3 == 0 else Vote.UP, f"原因{n}-{i}")
                with lock:
                    ids.append(iid)
        except Exception as exc:  # noqa: BLE001 - surfaced in the main thread below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors
    assert len(ids) == len(set(ids)) == threads * per_thread == store.count()
    assert len(store.disliked(limit=10_000)) == threads * len(range(0, per_thread, 3))


def test_csv_export_streams_and_defuses_formulas(store: FeedbackStore, tmp_path: Path):
    iid = store.log(result('=HYPERLINK("http://x")今年招生？'))
    store.set_feedback(iid, Vote.DOWN, "@SUM(A1)")
    store.log(result("校服怎么买？", abstained=True))
    for bad in ("+1+1", "-2+3", "\tTAB", "\rCR", "＝1+1"):
        store.log(result(bad))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    chunks = list(store.csv_chunks())
    assert chunks[0].startswith("\ufeff") and sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written to disk
    rows = list(csv.DictReader(io.StringIO("".join(chunks).removeprefix("\ufeff"))))
    assert [r["question"] for r in rows] == ["'=HYPERLINK(\"http://x\")今年招生？", "校服怎么买？", "'+1+1", "'-2+3", "'\tTAB", "'\rCR", "'＝1+1"]
    assert rows[0]["reason"] == "'@SUM(A1)" and rows[0]["feedback"] == "-1" and rows[0]["cited_points"] == P20
    assert rows[1]["abstained"] == "1" and rows[1]["feedback"] == ""
    assert next(store.export_rows()) == CSV_COLUMNS


def test_export_reads_page_by_page(store: FeedbackStore):
    for i in range(25):
        store.log(result(f"问题{i}"))
    rows = list(store.export_rows(page=7))
    assert [r[2] for r in rows[1:]] == [f"问题{i}" for i in range(25)]


def test_export_to_a_file_is_owner_only(store: FeedbackStore, tmp_path: Path):
    store.log(result("校服怎么买？"))
    out = store.export_csv(tmp_path / "export" / "all.csv")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and (out.stat().st_mode & 0o777) == 0o600


def test_retention_deletes_old_questions_on_start(store: FeedbackStore, monkeypatch):
    monkeypatch.setattr(feedback, "_now", lambda: "2001-01-01T00:00:00+00:00")
    store.log(result("很久以前的问题"))
    monkeypatch.undo()
    store.log(result("最近的问题"))
    store.close()
    kept = reopen(store, retention_days=0)  # 0 keeps everything
    assert kept.count() == 2
    kept.close()
    purged = reopen(store)  # the default, 180 days
    try:
        assert purged.retention_days == feedback.DEFAULT_RETENTION_DAYS
        assert [r[2] for r in list(purged.export_rows())[1:]] == ["最近的问题"]
        assert purged.purge(older_than_days=0) == 0
    finally:
        purged.close()


def test_schema_is_migrated_once(store: FeedbackStore):
    versions = [r["version"] for r in store._run(lambda b: b.query("SELECT version FROM schema_migrations ORDER BY version"))]
    assert versions == list(range(1, len(feedback._migrations("id")) + 1))
    store.close()
    again = reopen(store)
    try:
        assert again._run(lambda b: b.migrate(feedback._migrations("id"))) == []
    finally:
        again.close()


def test_no_ip_address_or_client_detail_is_stored(store: FeedbackStore):
    store.log(result("校服怎么买？") | {"client": "203.0.113.7", "ip": "203.0.113.7", "user_agent": "Mozilla"})
    if store.backend_name == "sqlite":
        columns = [r["name"] for r in store._run(lambda b: b.query("PRAGMA table_info(interactions)"))]
    else:
        columns = [r["column_name"] for r in store._run(lambda b: b.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'interactions'"))]
    assert sorted(columns) == sorted(("id", *CSV_COLUMNS[1:], "feedback_at"))
    assert "203.0.113.7" not in "".join(store.csv_chunks())


# -- SQLite specifics ------------------------------------------------------------------------------
def test_sqlite_is_in_wal_mode_and_owner_only(tmp_path: Path):
    store = FeedbackStore.open(tmp_path, database_url="")
    try:
        store.log(result("校服怎么买？"))
        assert store.path == tmp_path / DB_NAME and store.path.is_file()
        # Another connection (e.g. an admin's sqlite3 shell) sees WAL too: it is a property of the file.
        with sqlite3.connect(store.path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        for f in (store.path, tmp_path / f"{DB_NAME}-wal"):
            assert (f.stat().st_mode & 0o777) == 0o600, f
    finally:
        store.close()


def test_old_sqlite_database_is_upgraded_in_place(tmp_path: Path):
    with sqlite3.connect(tmp_path / DB_NAME) as db:  # the schema of the previous version, one row in it
        db.executescript(
            "CREATE TABLE interactions (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, question TEXT NOT NULL, "
            "rewritten_question TEXT NOT NULL, answer TEXT NOT NULL, cited_points TEXT NOT NULL, abstained INTEGER NOT NULL, "
            "feedback INTEGER, reason TEXT NOT NULL DEFAULT '', feedback_at TEXT);"
        )
        db.execute("INSERT INTO interactions (created_at, question, rewritten_question, answer, cited_points, abstained) VALUES (?, '旧问题', '旧问题', '答', '[]', 0)", (feedback._now(),))
    (tmp_path / DB_NAME).chmod(0o644)
    store = FeedbackStore.open(tmp_path, database_url="")
    try:
        assert store.available and store.count() == 1 and store.get(1).question == "旧问题"
        assert ((tmp_path / DB_NAME).stat().st_mode & 0o777) == 0o600  # tightened
    finally:
        store.close()


# -- degrade, don't die -----------------------------------------------------------------------------
def _assert_unavailable(store: FeedbackStore, problem: Problem) -> None:
    assert not store.available and store.status().problem is problem
    with pytest.raises(FeedbackUnavailable) as info:
        store.log(result("校服怎么买？"))
    zh, en = problem.value
    assert zh in str(info.value) and en in str(info.value) and " / " in str(info.value)
    with pytest.raises(FeedbackUnavailable):
        store.set_feedback(1, Vote.UP)
    with pytest.raises(FeedbackUnavailable):
        store.csv_chunks()  # raises on the call, before a web response would have started


def test_broken_data_folder_degrades(tmp_path: Path, caplog, monkeypatch):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="assistant.feedback"):
        store = FeedbackStore.open(blocker, database_url="")
        _assert_unavailable(store, Problem.BROKEN)
        for _ in range(5):
            with pytest.raises(FeedbackUnavailable):
                store.log(result("又一个"))
    assert store.failures >= 7
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1, "logged once, not once per write"
    # Fixed by hand: the store opens the database on a later write, no restart needed.
    blocker.unlink()
    monkeypatch.setattr(feedback, "RETRY_SECONDS", 0.0)
    store._retry_at = 0.0
    assert store.log(result("修好以后")) == 1 and store.available
    store.close()


def test_damaged_database_file_degrades(tmp_path: Path):
    (tmp_path / DB_NAME).write_bytes(b"this is not a database" * 500)
    store = FeedbackStore.open(tmp_path, database_url="")
    _assert_unavailable(store, Problem.BROKEN)
    assert (tmp_path / DB_NAME).read_bytes().startswith(b"this is not a database")  # nothing is deleted
    store.close()


def test_full_disk_fails_the_write_with_a_clear_message(tmp_path: Path):
    store = FeedbackStore.open(tmp_path, database_url="")
    store.log(result("第一个"))
    db = store._backend._db  # a database at its size limit fails exactly as a full disk does (SQLITE_FULL)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(FeedbackUnavailable, match="磁盘已满.*the disk is full"):
        for i in range(1000):
            store.log(result(f"很长的问题{i}" * 50))
    assert not store.available and store.failures == 1
    db.execute("PRAGMA max_page_count = 1073741823")
    store.log(result("空间够了"))
    assert store.available and store.count() >= 2
    store.close()


_READ_ONLY = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, {root!r})
    from assistant.feedback import FeedbackStore, FeedbackUnavailable
    if os.geteuid() == 0:  # root writes anywhere: drop to nobody after the imports
        os.setgid(65534)
        os.setuid(65534)
    store = FeedbackStore.open(sys.argv[1], database_url="")
    try:
        store.log({{"question": "q", "rewritten_question": "q", "answer": "a", "abstained": False}})
        print(json.dumps({{"available": store.available, "error": None}}))
    except FeedbackUnavailable as exc:
        print(json.dumps({{"available": store.available, "error": str(exc), "problem": store.status().problem.name}}, ensure_ascii=False))
    """
)


@pytest.mark.parametrize("existing", [False, True], ids=["new-database", "existing-database"])
def test_read_only_data_folder_degrades(tmp_path: Path, existing: bool):
    data = tmp_path / "data"
    data.mkdir()
    if existing:
        FeedbackStore.open(data, database_url="").close()
        for f in data.iterdir():
            f.chmod(0o644)
    data.chmod(0o555)
    tmp_path.chmod(0o755)
    script = tmp_path / "ro.py"
    script.write_text(_READ_ONLY.format(root=str(ROOT)), encoding="utf-8")
    script.chmod(0o644)
    try:
        out = subprocess.run([sys.executable, str(script), str(data)], check=False, capture_output=True, text=True, timeout=60)
    finally:
        data.chmod(0o755)
    assert out.returncode == 0, out.stderr
    report = __import__("json").loads(out.stdout)
    assert report["available"] is False and "Traceback" not in out.stderr
    assert report["problem"] == "READ_ONLY" and " / Feedback cannot be saved right now" in report["error"]


def test_unreachable_postgresql_degrades():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = FeedbackStore.open(database_url=f"postgresql://policyqa:secret@127.0.0.1:{port}/policyqa")
    _assert_unavailable(store, Problem.UNREACHABLE)
    assert store.where == f"postgresql://policyqa:***@127.0.0.1:{port}/policyqa"  # the password never reaches a message
    store.close()


def test_database_url_from_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("POLICYQA_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert FeedbackStore.open(tmp_path).backend_name == "postgresql"
    monkeypatch.delenv("POLICYQA_DATABASE_URL")
    assert FeedbackStore.open(tmp_path).backend_name == "sqlite"
    monkeypatch.setenv("POLICYQA_RETENTION_DAYS", "30")
    assert FeedbackStore.open(tmp_path).retention_days == 30
    monkeypatch.setenv("POLICYQA_RETENTION_DAYS", "soon")
    assert FeedbackStore.open(tmp_path).retention_days == feedback.DEFAULT_RETENTION_DAYS
    assert os.environ.get("POLICYQA_RETENTION_DAYS") == "soon"


def test_batched_question_log_is_written_in_order_and_seen_by_every_read(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(feedback, "LOG_BATCH_SECONDS", 30.0)  # only reads, writes and close() write the batch here
    store = FeedbackStore.open(tmp_path)
    first = store.log(result("同步的问题"))
    for i in range(5):
        store.log_later(result(f"批量问题{i}", abstained=i == 0))
    assert store.count() == 6  # a read writes the queued rows first
    later = store.log(result("又一个同步的问题"))
    assert later == first + 6  # queued rows took the ids in between, in the order they were logged
    assert [r["question"] for r in store.iter_rows()][1:6] == [f"批量问题{i}" for i in range(5)]
    store.log_later(result("关闭前的问题"))
    store.close()
    again = FeedbackStore.open(tmp_path)
    assert again.count() == 8 and [q.key for q in again.top_unanswered()] == ["批量问题0"]


def test_batched_rows_are_written_by_the_background_thread(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(feedback, "LOG_BATCH_SECONDS", 0.05)
    store = FeedbackStore.open(tmp_path)
    store.log_later(result("后台写入的问题"))
    db = sqlite3.connect(tmp_path / DB_NAME)  # another connection: sees only what was committed
    deadline = time.monotonic() + 10
    while db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert db.execute("SELECT question FROM interactions").fetchall() == [("后台写入的问题",)]
    db.close()
    store.close()
