"""The interaction log and 👍/👎 feedback: SQLite under the data directory, or PostgreSQL when
``POLICYQA_DATABASE_URL`` is set (several servers, one database).

Every answered question becomes a row (abstentions included), so the admin view can list
what the notice does not cover even when nobody pressed 👎. Feedback updates that row by id.
Nothing about the person is stored: no IP address, no session, no user agent. Questions are
kept for ``POLICYQA_RETENTION_DAYS`` days (default 180; 0 keeps them for ever) and older rows
are deleted when the store opens and once a day after.

Degrade, don't die: a read-only, full or broken data folder (or an unreachable database) never
raises out of :meth:`FeedbackStore.open`. The store then reports ``available = False``, every
call raises :class:`FeedbackUnavailable` with a Chinese and English message fit to show, failures
are counted and logged once per kind of problem, and the store tries again every 30 seconds.
Every write that returns is durable: SQLite runs in WAL mode with ``synchronous=FULL``. The one exception is
:meth:`FeedbackStore.log_later`, which the HTTP API uses for its question log: rows are written by a background
thread in one transaction (one fsync) every ``LOG_BATCH_SECONDS`` (0.25 s) or sooner when read, so a crash or
``kill -9`` can lose the questions of the last quarter second. Votes and reasons, and the chat page's own log rows
(whose ids votes refer to), are written synchronously as before.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum, IntEnum
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from . import config

logger = logging.getLogger(__name__)

DB_NAME = "feedback.sqlite3"
DATABASE_URL_ENV = "POLICYQA_DATABASE_URL"
RETENTION_ENV = "POLICYQA_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 180
#: A reason is a short remark, not an essay; longer input is cut.
MAX_REASON_CHARS = 500
#: How long an unavailable store waits before trying to open its database again.
RETRY_SECONDS = 30.0
#: How long :meth:`FeedbackStore.log_later` rows may wait before their batch is written (and fsynced).
LOG_BATCH_SECONDS = 0.25
#: Queued rows kept while the database is unavailable; older ones are dropped (and counted as failures) beyond.
MAX_PENDING_ROWS = 10_000
_INSERT_SQL = "INSERT INTO interactions (created_at, question, rewritten_question, answer, cited_points, abstained) VALUES (?, ?, ?, ?, ?, ?)"
CSV_COLUMNS = ("id", "created_at", "question", "rewritten_question", "answer", "cited_points", "abstained", "feedback", "reason")
#: Characters that make a spreadsheet read a cell as a formula (ASCII and full-width forms).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")

T = TypeVar("T")


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
    def from_row(cls, row: Mapping[str, Any]) -> Interaction:
        return cls(
            id=int(row["id"]),
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


class Problem(Enum):
    """Why the store cannot write, as (中文, English) for the message users see."""

    READ_ONLY = ("数据目录只读", "the data folder is read-only")
    FULL = ("磁盘已满", "the disk is full")
    BROKEN = ("数据库文件损坏或无法打开", "the database file is damaged or cannot be opened")
    UNREACHABLE = ("无法连接数据库", "the database server cannot be reached")
    OTHER = ("数据库出错", "the database reported an error")


class FeedbackUnavailable(RuntimeError):
    """Feedback cannot be stored or read right now; ``str()`` is a bilingual message fit to show users."""

    def __init__(self, problem: Problem):
        zh, en = problem.value
        super().__init__(f"反馈暂时无法保存：{zh}，回答不受影响。 / Feedback cannot be saved right now: {en}; answers are not affected.")
        self.problem = problem


class StorageError(Exception):
    """A backend's failure, classified; the store turns it into FeedbackUnavailable."""

    def __init__(self, problem: Problem, detail: str):
        super().__init__(detail)
        self.problem = problem


@dataclass(frozen=True)
class StoreStatus:
    backend: str  # "sqlite" or "postgresql"
    where: str  # the database file, or the URL without its password
    available: bool
    failures: int  # failed operations since start
    problem: Problem | None  # the last failure's kind, None once a later operation succeeded


# -- backends --------------------------------------------------------------------------------
class Backend(Protocol):
    """A database that runs the store's SQL (``?`` placeholders), each statement committed on return."""

    name: str
    point_counts_sql: str
    vote_counts_sql: str

    def query(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]: ...

    def execute(self, sql: str, params: Sequence[object] = ()) -> int: ...  # rows changed

    def insert(self, sql: str, params: Sequence[object]) -> int: ...  # the new row's id

    def insert_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...  # in one transaction

    def migrate(self, migrations: Sequence[tuple[str, ...]]) -> list[int]: ...  # versions applied now

    def close(self) -> None: ...


_COLUMNS = """
    created_at         TEXT     NOT NULL,  -- ISO 8601, UTC
    question           TEXT     NOT NULL,
    rewritten_question TEXT     NOT NULL,
    answer             TEXT     NOT NULL,
    cited_points       TEXT     NOT NULL,  -- JSON array of citation paths
    abstained          SMALLINT NOT NULL CHECK (abstained IN (0, 1)),
    feedback           SMALLINT          CHECK (feedback IN (-1, 1)),
    reason             TEXT     NOT NULL DEFAULT '',
    feedback_at        TEXT
"""


def _migrations(id_column: str) -> tuple[tuple[str, ...], ...]:
    """Schema versions, oldest first; each is applied once and recorded in schema_migrations."""
    return (
        (
            f"CREATE TABLE IF NOT EXISTS interactions ({id_column}, {_COLUMNS})",
            "CREATE INDEX IF NOT EXISTS interactions_abstained ON interactions (abstained)",
            "CREATE INDEX IF NOT EXISTS interactions_feedback ON interactions (feedback)",
        ),
        ("CREATE INDEX IF NOT EXISTS interactions_created ON interactions (created_at)",),  # for the retention purge
    )


_SQLITE_ERRORS = {"SQLITE_FULL": Problem.FULL, "SQLITE_READONLY": Problem.READ_ONLY, "SQLITE_CANTOPEN": Problem.BROKEN, "SQLITE_NOTADB": Problem.BROKEN, "SQLITE_CORRUPT": Problem.BROKEN}
_OS_ERRORS = {errno.EROFS: Problem.READ_ONLY, errno.EACCES: Problem.READ_ONLY, errno.EPERM: Problem.READ_ONLY, errno.ENOSPC: Problem.FULL, errno.EDQUOT: Problem.FULL}


def _sqlite_problem(exc: BaseException) -> StorageError:
    if isinstance(exc, OSError):
        return StorageError(_OS_ERRORS.get(exc.errno or 0, Problem.BROKEN), str(exc))
    name = getattr(exc, "sqlite_errorname", "") or ""
    problem = next((p for prefix, p in _SQLITE_ERRORS.items() if name.startswith(prefix)), Problem.OTHER)
    if problem is Problem.OTHER and "readonly" in str(exc):
        problem = Problem.READ_ONLY
    return StorageError(problem, f"{name or type(exc).__name__}: {exc}")


def _private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only (SQLite gives its -wal and -shm files the same mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class SQLiteBackend:
    name = "sqlite"
    point_counts_sql = (
        "SELECT j.value AS point, COUNT(*) AS n FROM interactions, json_each(interactions.cited_points) AS j "
        "WHERE abstained = 0 GROUP BY j.value ORDER BY n DESC, point"
    )
    vote_counts_sql = (
        "SELECT j.value AS point, SUM(CASE WHEN feedback = 1 THEN 1 ELSE 0 END) AS up, SUM(CASE WHEN feedback = -1 THEN 1 ELSE 0 END) AS down "
        "FROM interactions, json_each(interactions.cited_points) AS j WHERE feedback IS NOT NULL GROUP BY j.value"
    )

    def __init__(self, path: Path):
        self.path = path
        try:
            _private_file(path)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
        except (sqlite3.Error, OSError) as exc:
            raise _sqlite_problem(exc) from exc
        self._db.row_factory = sqlite3.Row
        try:
            # WAL lets a second process (another worker, an export, a sqlite3 shell) read while one writes;
            # FULL makes every acknowledged row survive power loss, not only a killed process.
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                logger.warning("SQLite at %s runs in %s mode, not WAL", path, mode)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")  # purged questions are overwritten, not left in free pages
        except sqlite3.Error as exc:
            self._db.close()
            raise _sqlite_problem(exc) from exc

    def query(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        try:
            return [dict(r) for r in self._db.execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            raise _sqlite_problem(exc) from exc

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        try:
            return self._db.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise _sqlite_problem(exc) from exc

    def insert(self, sql: str, params: Sequence[object]) -> int:
        try:
            return int(self._db.execute(sql, params).lastrowid or 0)
        except sqlite3.Error as exc:
            raise _sqlite_problem(exc) from exc

    def insert_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")  # one fsync for the batch
        except sqlite3.Error as exc:
            raise _sqlite_problem(exc) from exc

    def migrate(self, migrations: Sequence[tuple[str, ...]]) -> list[int]:
        try:
            self._db.execute("BEGIN IMMEDIATE")  # one process migrates at a time
            try:
                applied = _apply(self._db.execute, lambda sql: [tuple(r) for r in self._db.execute(sql).fetchall()], migrations)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return applied
        except sqlite3.Error as exc:
            raise _sqlite_problem(exc) from exc

    def close(self) -> None:
        self._db.close()


def _apply(run: Callable[..., object], rows: Callable[[str], list[tuple[Any, ...]]], migrations: Sequence[tuple[str, ...]]) -> list[int]:
    """Apply the migrations not yet recorded, inside the caller's transaction; the versions applied."""
    run("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {int(r[0]) for r in rows("SELECT version FROM schema_migrations")}
    applied = []
    for version, statements in enumerate(migrations, start=1):
        if version in done:
            continue
        for sql in statements:
            run(sql)
        run("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, _now()))
        applied.append(version)
    return applied


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresBackend:
    name = "postgresql"
    point_counts_sql = (
        "SELECT j.value AS point, COUNT(*) AS n FROM interactions, jsonb_array_elements_text(interactions.cited_points::jsonb) AS j(value) "
        "WHERE abstained = 0 GROUP BY j.value ORDER BY n DESC, point"
    )
    vote_counts_sql = (
        "SELECT j.value AS point, SUM(CASE WHEN feedback = 1 THEN 1 ELSE 0 END) AS up, SUM(CASE WHEN feedback = -1 THEN 1 ELSE 0 END) AS down "
        "FROM interactions, jsonb_array_elements_text(interactions.cited_points::jsonb) AS j(value) WHERE feedback IS NOT NULL GROUP BY j.value"
    )

    def __init__(self, url: str):
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise StorageError(Problem.OTHER, "PostgreSQL needs psycopg 3: pip install 'psycopg[binary]>=3.1'") from exc
        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=3, row_factory=dict_row)
        except psycopg.Error as exc:
            raise self._problem(exc) from exc

    def _problem(self, exc: BaseException) -> StorageError:
        errors = self._psycopg.errors
        if isinstance(exc, errors.DiskFull):
            return StorageError(Problem.FULL, str(exc))
        if isinstance(exc, (errors.ReadOnlySqlTransaction, errors.InsufficientPrivilege)):
            return StorageError(Problem.READ_ONLY, str(exc))
        if isinstance(exc, self._psycopg.OperationalError) or self._conn_broken():
            return StorageError(Problem.UNREACHABLE, str(exc))
        return StorageError(Problem.OTHER, f"{type(exc).__name__}: {exc}")

    def _conn_broken(self) -> bool:
        conn = getattr(self, "_conn", None)
        return conn is None or bool(conn.closed) or bool(conn.broken)

    def _run(self, sql: str, params: Sequence[object] = ()) -> Any:
        try:
            return self._conn.execute(sql.replace("?", "%s"), params)
        except self._psycopg.Error as exc:
            raise self._problem(exc) from exc

    def query(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        return list(self._run(sql, params).fetchall())

    def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        return int(self._run(sql, params).rowcount)

    def insert(self, sql: str, params: Sequence[object]) -> int:
        return int(self._run(sql + " RETURNING id", params).fetchone()["id"])

    def insert_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)
        except self._psycopg.Error as exc:
            raise self._problem(exc) from exc

    def migrate(self, migrations: Sequence[tuple[str, ...]]) -> list[int]:
        try:
            with self._conn.transaction():
                # Workers starting together: one migrates, the others wait and then find nothing to do.
                self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('policyqa-schema-migrations'))")
                return _apply(
                    lambda sql, params=(): self._conn.execute(sql.replace("?", "%s"), params),
                    lambda sql: [tuple(r.values()) for r in self._conn.execute(sql).fetchall()],
                    migrations,
                )
        except self._psycopg.Error as exc:
            raise self._problem(exc) from exc

    def close(self) -> None:
        self._conn.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _retention_days() -> int:
    raw = os.environ.get(RETENTION_ENV, "").strip()
    try:
        return int(raw) if raw else DEFAULT_RETENTION_DAYS
    except ValueError:
        logger.warning("%s=%r is not a number of days; keeping questions %d days", RETENTION_ENV, raw, DEFAULT_RETENTION_DAYS)
        return DEFAULT_RETENTION_DAYS


# -- the store -----------------------------------------------------------------------------------
class FeedbackStore:
    """One connection behind a lock, so any thread may call any method; never raises from the constructor."""

    def __init__(self, connect: Callable[[], Backend], *, backend: str, where: str, path: Path | None = None, retention_days: int | None = None):
        self.backend_name = backend
        self.where = where
        self.path = path  # the SQLite file; None for PostgreSQL
        self.retention_days = _retention_days() if retention_days is None else retention_days
        self.failures = 0
        self._connect_backend = connect
        self._backend: Backend | None = None
        self._problem: Problem | None = None
        self._logged: set[Problem] = set()
        self._retry_at = 0.0
        self._purged_at: float | None = None
        self._lock = threading.RLock()
        self._pending: list[tuple[object, ...]] = []  # log_later rows not written yet, oldest first
        self._pending_lock = threading.Lock()  # held only to append or take rows, never during I/O
        self._writer: threading.Thread | None = None
        self._closed = threading.Event()
        with self._lock:
            self._connect()

    @classmethod
    def open(cls, data_dir: Path | None = None, *, database_url: str | None = None, retention_days: int | None = None) -> FeedbackStore:
        """PostgreSQL at ``database_url`` (default ``POLICYQA_DATABASE_URL``) if set, else SQLite in ``data_dir``."""
        url = (os.environ.get(DATABASE_URL_ENV, "") if database_url is None else database_url).strip()
        if url:
            return cls(lambda: PostgresBackend(url), backend=PostgresBackend.name, where=redact(url), retention_days=retention_days)
        path = Path(data_dir or config.data_dir()) / DB_NAME
        return cls(lambda: SQLiteBackend(path), backend=SQLiteBackend.name, where=str(path), path=path, retention_days=retention_days)

    # -- availability -------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """True while the database is open and the last operation on it succeeded."""
        return self._backend is not None and self._problem is None

    def status(self) -> StoreStatus:
        return StoreStatus(self.backend_name, self.where, self.available, self.failures, self._problem)

    def _connect(self) -> None:
        backend: Backend | None = None
        try:
            backend = self._connect_backend()
            applied = backend.migrate(_migrations("id INTEGER PRIMARY KEY AUTOINCREMENT" if backend.name == "sqlite" else "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"))
            if applied:
                logger.info("feedback store %s: applied schema version(s) %s", self.where, applied)
            self._backend, self._problem = backend, None
            self._purge_if_due(backend)
        except StorageError as exc:
            if backend is not None:
                backend.close()
            self._backend = None
            self._failed(exc)

    def _failed(self, exc: StorageError) -> None:
        self.failures += 1
        self._problem = exc.problem
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if exc.problem not in self._logged:  # once per kind of problem, not once per 👍
            self._logged.add(exc.problem)
            logger.error("feedback store %s unavailable (%s): %s — answers still work, feedback is not saved", self.where, exc.problem.value[1], exc)

    def _run(self, op: Callable[[Backend], T]) -> T:
        with self._lock:
            if self._backend is None:
                if time.monotonic() < self._retry_at:
                    self.failures += 1
                    raise FeedbackUnavailable(self._problem or Problem.OTHER)
                self._connect()  # a failure here is counted and logged by _failed
                if self._backend is None:
                    raise FeedbackUnavailable(self._problem or Problem.OTHER)
            try:
                self._write_pending(self._backend)  # earlier rows first: ids stay in order, reads see every answer
                result = op(self._backend)
            except StorageError as exc:
                self._failed(exc)
                if exc.problem in (Problem.UNREACHABLE, Problem.BROKEN):
                    self._backend.close()
                    self._backend = None  # reconnect on a later call
                raise FeedbackUnavailable(exc.problem) from exc
            if self._problem is not None:
                logger.warning("feedback store %s is available again", self.where)
                self._problem, self._logged = None, set()
            return result

    def close(self) -> None:
        self._closed.set()
        try:
            self.flush()
        except FeedbackUnavailable:
            pass  # counted and logged by _failed
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None

    # -- retention ------------------------------------------------------------------------------
    def purge(self, older_than_days: int | None = None) -> int:
        """Delete interactions older than ``older_than_days`` (default: the retention period); the number deleted."""
        days = self.retention_days if older_than_days is None else older_than_days
        return self._run(lambda b: _purge(b, days))

    def _purge_if_due(self, backend: Backend) -> None:
        if self.retention_days <= 0 or (self._purged_at is not None and time.monotonic() - self._purged_at < 86400):
            return
        self._purged_at = time.monotonic()
        try:
            if n := _purge(backend, self.retention_days):
                logger.info("feedback store %s: deleted %d interaction(s) older than %d days", self.where, n, self.retention_days)
        except StorageError as exc:  # a store that cannot delete can still log answers
            logger.warning("feedback store %s: retention purge failed: %s", self.where, exc)

    # -- writes ---------------------------------------------------------------------------------
    def log(self, result: Mapping[str, Any]) -> int:
        """Record one answer (``Answer.to_json()``); the interaction id for later feedback. Durable when it returns."""
        row = _row(result)

        def op(b: Backend) -> int:
            self._purge_if_due(b)
            return b.insert(_INSERT_SQL, row)

        return self._run(op)

    def log_later(self, result: Mapping[str, Any]) -> None:
        """Record one answer without waiting for the disk: a background thread writes the rows queued in the last
        ``LOG_BATCH_SECONDS`` in one transaction (any read or write through this store writes them first). Never raises;
        a crash can lose the last batch. For answers nobody can vote on (the HTTP API returns no interaction id)."""
        row = _row(result)
        with self._pending_lock:
            self._pending.append(row)
            if len(self._pending) > MAX_PENDING_ROWS:
                del self._pending[0]
                self.failures += 1
            if self._writer is None and not self._closed.is_set():
                self._writer = threading.Thread(target=self._write_batches, name="feedback-log-writer", daemon=True)
                self._writer.start()

    def flush(self) -> None:
        """Write the rows :meth:`log_later` queued; raises FeedbackUnavailable (and drops them) if the database cannot take them."""
        with self._pending_lock:
            if not self._pending:
                return
        self._run(lambda b: None)

    def _write_batches(self) -> None:
        while not self._closed.wait(LOG_BATCH_SECONDS):
            try:
                self.flush()
            except FeedbackUnavailable:
                pass  # counted and logged once by _failed; answers go on

    def _write_pending(self, backend: Backend) -> None:
        with self._pending_lock:
            rows, self._pending = self._pending, []
        if rows:
            self._purge_if_due(backend)
            backend.insert_many(_INSERT_SQL, rows)

    def set_feedback(self, interaction_id: int, vote: Vote | None, reason: str | None = None) -> bool:
        """Set (or with ``None`` withdraw) the vote; ``reason=None`` keeps the stored reason. False if no such row."""
        value = None if vote is None else int(vote)
        params: tuple[object, ...]
        if reason is None:
            sql, params = "UPDATE interactions SET feedback = ?, feedback_at = ? WHERE id = ?", (value, _now(), interaction_id)
        else:
            sql, params = "UPDATE interactions SET feedback = ?, reason = ?, feedback_at = ? WHERE id = ?", (value, _reason(reason), _now(), interaction_id)
        return self._run(lambda b: b.execute(sql, params)) == 1

    def set_reason(self, interaction_id: int, reason: str) -> bool:
        return self._run(lambda b: b.execute("UPDATE interactions SET reason = ?, feedback_at = ? WHERE id = ?", (_reason(reason), _now(), interaction_id))) == 1

    # -- reads for the admin view ---------------------------------------------------------------
    def get(self, interaction_id: int) -> Interaction | None:
        rows = self._run(lambda b: b.query("SELECT * FROM interactions WHERE id = ?", (interaction_id,)))
        return Interaction.from_row(rows[0]) if rows else None

    def count(self) -> int:
        return int(self._run(lambda b: b.query("SELECT COUNT(*) AS n FROM interactions"))[0]["n"])

    def top_unanswered(self, limit: int = 20) -> list[Count]:
        """Most frequent questions the assistant abstained on, most asked first."""
        sql = "SELECT question, COUNT(*) AS n FROM interactions WHERE abstained = 1 GROUP BY question ORDER BY n DESC, MAX(id) DESC LIMIT ?"
        return [Count(r["question"], int(r["n"])) for r in self._run(lambda b: b.query(sql, (limit,)))]

    def disliked(self, limit: int = 100) -> list[Interaction]:
        rows = self._run(lambda b: b.query("SELECT * FROM interactions WHERE feedback = -1 ORDER BY id DESC LIMIT ?", (limit,)))
        return [Interaction.from_row(r) for r in rows]

    def point_counts(self) -> list[Count]:
        """How often each work point was cited in an answer (abstentions' nearest points do not count)."""
        return [Count(r["point"], int(r["n"])) for r in self._run(lambda b: b.query(b.point_counts_sql))]

    def vote_counts(self) -> list[tuple[str, int, int]]:
        """(cited point, 👍, 👎) for every point cited by an answer that got a vote."""
        return [(r["point"], int(r["up"] or 0), int(r["down"] or 0)) for r in self._run(lambda b: b.query(b.vote_counts_sql))]

    # -- export -----------------------------------------------------------------------------------
    def iter_rows(self, page: int = 500) -> Iterator[dict[str, Any]]:
        """Every interaction as its stored columns, oldest first, read page by page (nothing held in memory)."""
        after = 0
        while rows := self._run(partial(_page, after=after, size=page)):
            yield from rows
            after = int(rows[-1]["id"])

    def export_rows(self, page: int = 500) -> Iterator[tuple[str, ...]]:
        """The header, then every interaction as text cells, formulas neutralised, read page by page; nothing is written to disk.

        The first page is read now, so an unavailable store raises FeedbackUnavailable here, before a response starts.
        """
        first = self._run(partial(_page, after=0, size=page))
        return self._rows(first, page)

    def _rows(self, rows: list[dict[str, Any]], page: int) -> Iterator[tuple[str, ...]]:
        yield CSV_COLUMNS
        while rows:
            for r in rows:
                yield _csv_row(r)
            rows = self._run(partial(_page, after=int(rows[-1]["id"]), size=page))

    def csv_chunks(self) -> Iterator[str]:
        """The export as CSV text, one line per chunk, starting with a BOM (Excel reads Chinese CSV right only with one)."""
        return _csv_text(self.export_rows())

    def export_csv(self, path: Path) -> Path:
        """Write the export to ``path`` (owner-only); a web response should stream :meth:`csv_chunks` instead."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(self.csv_chunks())
        return path


def _row(result: Mapping[str, Any]) -> tuple[object, ...]:
    cited = json.dumps([c["path"] for c in result.get("citations", ())], ensure_ascii=False)
    return (_now(), result["question"], result["rewritten_question"], result["answer"], cited, int(bool(result["abstained"])))


def _csv_text(rows: Iterator[tuple[str, ...]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    for i, row in enumerate(rows):
        writer.writerow(row)
        yield ("\ufeff" if i == 0 else "") + buf.getvalue()
        buf.seek(0)
        buf.truncate()


def _page(backend: Backend, *, after: int, size: int) -> list[dict[str, Any]]:
    return backend.query("SELECT * FROM interactions WHERE id > ? ORDER BY id LIMIT ?", (after, size))


def _purge(backend: Backend, days: int) -> int:
    if days <= 0:
        return 0
    cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    return backend.execute("DELETE FROM interactions WHERE created_at < ?", (cutoff,))


def _reason(reason: str) -> str:
    return reason.strip()[:MAX_REASON_CHARS]


def _cell(value: object) -> str:
    """Defuse spreadsheet formulas: user text starting with = + - @ (or tab, CR) would run when opened in Excel."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)  # numbers (a -1 vote) stay numbers


def _csv_row(r: Mapping[str, Any]) -> tuple[str, ...]:
    cited = "；".join(json.loads(r["cited_points"]))
    return tuple(_cell(v) for v in (r["id"], r["created_at"], r["question"], r["rewritten_question"], r["answer"], cited, r["abstained"], r["feedback"], r["reason"]))
