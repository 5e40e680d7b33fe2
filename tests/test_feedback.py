from __future__ import annotations

import csv
import sqlite3
import threading
from pathlib import Path

import pytest

from assistant.feedback import DB_NAME, MAX_REASON_CHARS, FeedbackStore, Vote

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


@pytest.fixture
def store(tmp_path: Path):
    s = FeedbackStore.open(tmp_path)
    yield s
    s.close()


def test_database_is_in_wal_mode_under_the_data_dir(store: FeedbackStore, tmp_path: Path):
    assert store.path == tmp_path / DB_NAME and store.path.is_file()
    assert store.journal_mode().lower() == "wal"
    # Another connection (e.g. an admin's sqlite3 shell) sees WAL too: it is a property of the file.
    with sqlite3.connect(store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"


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


def test_unknown_id_and_long_reason(store: FeedbackStore):
    assert not store.set_feedback(999, Vote.UP)
    assert not store.set_reason(999, "x")
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


def test_feedback_survives_a_server_restart(tmp_path: Path):
    first = FeedbackStore.open(tmp_path)
    iid = first.log(result("教师师德考核有什么新规定？"))
    first.set_feedback(iid, Vote.DOWN, "没说具体怎么考核")
    first.close()

    again = FeedbackStore.open(tmp_path)
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
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors
    assert len(ids) == len(set(ids)) == threads * per_thread == store.count()
    assert len(store.disliked(limit=10_000)) == threads * len(range(0, per_thread, 3))


def test_csv_export_defuses_formulas(store: FeedbackStore, tmp_path: Path):
    iid = store.log(result("=HYPERLINK(\"http://x\")今年招生？"))
    store.set_feedback(iid, Vote.DOWN, "@SUM(A1)")
    store.log(result("校服怎么买？", abstained=True))
    out = store.export_csv(tmp_path / "export" / "all.csv")
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM, for Excel
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["question"] for r in rows] == ["'=HYPERLINK(\"http://x\")今年招生？", "校服怎么买？"]
    assert rows[0]["reason"] == "'@SUM(A1)" and rows[0]["feedback"] == "-1" and rows[0]["cited_points"] == P20
    assert rows[1]["abstained"] == "1" and rows[1]["feedback"] == ""
