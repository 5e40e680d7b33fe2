"""The interaction log and 👍/👎 feedback, in one SQLite file (WAL) under the data directory.

Every answered question becomes a row (abstentions included), so the admin view can list
what the notice does not cover even when nobody pressed 👎. Feedback updates that row by id.
Nothing about the person is stored: no IP, no session, no user agent.
"""

from __future__ import annotations

import csv
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import IntEnum
from pathlib import Path
from typing import Any

from . import config

logger = logging.getLogger(__name__)

DB_NAME = "feedback.sqlite3"
#: A reason is a short remark, not an essay; longer input is cut.
MAX_REASON_CHARS = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS interactions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at         TEXT    NOT NULL,
    question           TEXT    NOT NULL,
    rewritten_question TEXT    NOT NULL,
    answer             TEXT    NOT NULL,
    cited_points       TEXT    NOT NULL,  -- JSON array of citation paths
    abstained          INTEGER NOT NULL CHECK (abstained IN (0, 1)),
    feedback           INTEGER          CHECK (feedback IN (-1, 1)),
    reason             TEXT    NOT NULL DEFAULT '',
    feedback_at        TEXT
);
CREATE INDEX IF NOT EXISTS interactions_abstained ON interactions (abstained);
CREATE INDEX IF NOT EXISTS interactions_feedback ON interactions (feedback);
"""

CSV_COLUMNS = ("id", "created_at", "question", "rewritten_question", "answer", "cited_points", "abstained", "feedback", "reason")


class Vote(IntEnum):
    UP = 1
    DOWN = -1


@dataclass(frozen=True)
class Interaction:
    id: int
    created_at: str
    question: str
    rewritten_question: str
    answer: str
    cited_points: tuple[str, ...]
    abstained: bool
    feedback: Vote | None
    reason: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Interaction:
        return cls(
            id=row["id"],
            created_at=row["created_at"],
            question=row["question"],
            rewritten_question=row["rewritten_question"],
            answer=row["answer"],
            cited_points=tuple(json.loads(row["cited_points"])),
            abstained=bool(row["abstained"]),
            feedback=None if row["feedback"] is None else Vote(row["feedback"]),
            reason=row["reason"],
        )


@dataclass(frozen=True)
class Count:
    key: str
    count: int


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class FeedbackStore:
    """One shared connection; a lock serializes every statement, so any thread may call any method."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        # WAL lets a second process (an export, a sqlite3 shell) read while the server writes.
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            logger.warning("SQLite at %s runs in %s mode, not WAL", self.path, mode)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def open(cls, data_dir: Path | None = None) -> FeedbackStore:
        return cls(Path(data_dir or config.data_dir()) / DB_NAME)

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def journal_mode(self) -> str:
        with self._locked() as db:
            return db.execute("PRAGMA journal_mode").fetchone()[0]

    def close(self) -> None:
        with self._locked() as db:
            db.close()

    # -- writes ---------------------------------------------------------------------------
    def log(self, result: Mapping[str, Any]) -> int:
        """Record one answer (``Answer.to_json()``); returns the interaction id for later feedback."""
        cited = [c["path"] for c in result.get("citations", ())]
        with self._locked() as db:
            cur = db.execute(
                "INSERT INTO interactions (created_at, question, rewritten_question, answer, cited_points, abstained) VALUES (?, ?, ?, ?, ?, ?)",
                (_now(), result["question"], result["rewritten_question"], result["answer"], json.dumps(cited, ensure_ascii=False), int(bool(result["abstained"]))),
            )
            return int(cur.lastrowid)

    def set_feedback(self, interaction_id: int, vote: Vote | None, reason: str | None = None) -> bool:
        """Set (or with ``None`` withdraw) the vote; ``reason=None`` keeps the stored reason. False if no such row."""
        with self._locked() as db:
            if reason is None:
                cur = db.execute("UPDATE interactions SET feedback = ?, feedback_at = ? WHERE id = ?", (None if vote is None else int(vote), _now(), interaction_id))
            else:
                cur = db.execute(
                    "UPDATE interactions SET feedback = ?, reason = ?, feedback_at = ? WHERE id = ?",
                    (None if vote is None else int(vote), reason.strip()[:MAX_REASON_CHARS], _now(), interaction_id),
                )
            return cur.rowcount == 1

    def set_reason(self, interaction_id: int, reason: str) -> bool:
        with self._locked() as db:
            cur = db.execute("UPDATE interactions SET reason = ?, feedback_at = ? WHERE id = ?", (reason.strip()[:MAX_REASON_CHARS], _now(), interaction_id))
            return cur.rowcount == 1

    # -- reads for the admin view ---------------------------------------------------------
    def get(self, interaction_id: int) -> Interaction | None:
        with self._locked() as db:
            row = db.execute("SELECT * FROM interactions WHERE id = ?", (interaction_id,)).fetchone()
        return None if row is None else Interaction.from_row(row)

    def count(self) -> int:
        with self._locked() as db:
            return int(db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0])

    def top_unanswered(self, limit: int = 20) -> list[Count]:
        """Most frequent questions the assistant abstained on, most asked first."""
        with self._locked() as db:
            rows = db.execute(
                "SELECT question, COUNT(*) AS n FROM interactions WHERE abstained = 1 GROUP BY question ORDER BY n DESC, MAX(id) DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Count(r["question"], r["n"]) for r in rows]

    def disliked(self, limit: int = 100) -> list[Interaction]:
        with self._locked() as db:
            rows = db.execute("SELECT * FROM interactions WHERE feedback = -1 ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [Interaction.from_row(r) for r in rows]

    def point_counts(self) -> list[Count]:
        """How often each work point was cited in an answer (abstentions' nearest points do not count)."""
        with self._locked() as db:
            rows = db.execute(
                "SELECT j.value AS point, COUNT(*) AS n FROM interactions, json_each(interactions.cited_points) AS j "
                "WHERE abstained = 0 GROUP BY j.value ORDER BY n DESC, point"
            ).fetchall()
        return [Count(r["point"], r["n"]) for r in rows]

    def export_csv(self, path: Path) -> Path:
        with self._locked() as db:
            rows = db.execute("SELECT * FROM interactions ORDER BY id").fetchall()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # utf-8-sig: Excel opens Chinese CSV correctly only with a BOM.
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_COLUMNS)
            for r in rows:
                cited = "；".join(json.loads(r["cited_points"]))
                w.writerow([_cell(v) for v in (r["id"], r["created_at"], r["question"], r["rewritten_question"], r["answer"], cited, r["abstained"], r["feedback"], r["reason"])])
        return path


def _cell(value: object) -> object:
    """Defuse spreadsheet formulas: user text starting with = + - @ would run when opened in Excel."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
