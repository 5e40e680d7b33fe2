"""What the web server holds: the assistant (loading, ready or failed, hot-reloaded) and the feedback store.

Requests read ``holder.qa`` once and keep that object for the whole answer; a reload replaces the
attribute in one assignment, so a request never sees half of an old and half of a new index.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from .. import feedback
from ..feedback import Count, FeedbackStore, Vote
from ..index import Index
from ..pipeline import PolicyQA

logger = logging.getLogger(__name__)

LOADING_MESSAGE = "正在加载模型和索引…"
#: How often a serving process looks at the index folder's manifest for a rebuilt index.
POLL_SECONDS = 3.0

# The store raises FeedbackUnavailable when it cannot be used; sqlite3 and OS errors can come from the admin reads.
STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, feedback.FeedbackUnavailable)


class Phase(str, Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class Reload(str, Enum):
    """What one look at the index folder did."""

    RELOADED = "reloaded"
    UNCHANGED = "unchanged"
    FAILED = "failed"  # the folder holds a damaged or half-written index: the last good one keeps serving
    NOT_WATCHED = "not_watched"


@dataclass(frozen=True)
class Fingerprint:
    """The manifest is written last by every build, so its identity changes exactly when a new index is complete."""

    mtime_ns: int
    size: int
    inode: int

    @classmethod
    def of(cls, directory: Path) -> Fingerprint | None:
        try:
            st = (directory / "manifest.json").stat()
        except OSError:  # mid-swap or not built yet: nothing to load
            return None
        return cls(st.st_mtime_ns, st.st_size, st.st_ino)


class QAHolder:
    """The shared, read-only assistant, possibly still loading; optionally watching its index folder."""

    def __init__(self, qa: PolicyQA | None = None, *, index_dir: Path | None = None, poll_seconds: float = POLL_SECONDS):
        self.qa = qa
        self.error = ""
        self.reload_error = ""  # why the newest index in the folder was refused, "" when it was not
        self.index_dir = index_dir
        self.poll_seconds = poll_seconds
        self._seen = Fingerprint.of(index_dir) if index_dir and qa is not None else None
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def phase(self) -> Phase:
        if self.qa is not None:
            return Phase.READY
        return Phase.FAILED if self.error else Phase.LOADING

    def start(self, loader: Callable[[], PolicyQA]) -> None:
        """Load in the background (if not loaded yet) and, with an index folder, start watching it."""
        if self.qa is None and not self._threads:
            self._spawn(self._load, loader, name="policyqa-loader")
        if self.index_dir is not None and self.poll_seconds > 0:
            self._spawn(self._watch, name="policyqa-index-watch")

    def stop(self) -> None:
        self._stop.set()

    def _spawn(self, target: Callable[..., None], *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _load(self, loader: Callable[[], PolicyQA]) -> None:
        fingerprint = Fingerprint.of(self.index_dir) if self.index_dir else None
        try:
            self.qa = loader()
            self._seen = fingerprint
        except Exception as exc:  # shown on the page and in 503s instead of killing the server
            logger.exception("loading the assistant failed")
            self.error = str(exc) or type(exc).__name__

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            if self.qa is not None:
                self.reload()

    def reload(self, *, force: bool = False) -> Reload:
        """Load the index folder's newest index if it changed (or ``force``); a damaged one never replaces a good one."""
        current, directory = self.qa, self.index_dir
        if current is None or directory is None:
            return Reload.NOT_WATCHED
        with self._reload_lock:
            fingerprint = Fingerprint.of(directory)
            if fingerprint is None or (fingerprint == self._seen and not force):
                return Reload.UNCHANGED
            try:
                index = Index.load(directory, expect_model=current.embedder.model_id)
                fresh = PolicyQA(index, current.embedder, settings=current.settings, memory=current.labelled)
            except Exception as exc:  # noqa: BLE001 - any failure (faiss, JSON, OS) keeps the last good index serving
                self._seen = fingerprint  # do not retry the same broken files every few seconds
                self.reload_error = str(exc) or type(exc).__name__
                logger.warning("the rebuilt index at %s was not loaded, the previous one keeps serving: %s", directory, self.reload_error)
                return Reload.FAILED
            self.qa, self._seen, self.reload_error = fresh, fingerprint, ""
            logger.info("loaded the rebuilt index at %s (%d chunks)", directory, index.manifest.chunk_count)
            return Reload.RELOADED

    def unavailable_message(self) -> tuple[str, str]:
        if self.phase is Phase.FAILED:
            return f"模型或索引加载失败：{self.error}", f"loading the model or index failed: {self.error}"
        return f"{LOADING_MESSAGE}请稍后再试", "the model and index are still loading; retry in a few seconds"


# -- feedback, which may be unavailable (read-only or full data folder) ----------------------
class Feedback:
    """The feedback store behind a guard: every failure is logged once and reported as ``False``/``None``."""

    def __init__(self, store: FeedbackStore | None, reason: str = ""):
        self.store = store
        self.reason = reason
        self.failures = 0

    @classmethod
    def open(cls, data_dir: Path | None) -> Feedback:
        try:
            return cls(FeedbackStore.open(data_dir))
        except STORE_ERRORS as exc:
            logger.error("feedback is disabled, the chat keeps answering: cannot open the feedback database: %s", exc)
            return cls(None, str(exc))

    @property
    def available(self) -> bool:
        return self.store is not None and bool(getattr(self.store, "available", True))

    def _failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        if self.failures == 1:  # once: a full disk must not flood the log
            logger.error("could not %s (feedback keeps failing quietly from now on): %s", what, exc)

    def log(self, result: dict[str, Any]) -> int | None:
        if self.store is None:
            return None
        try:
            return self.store.log(result)
        except STORE_ERRORS as exc:  # the feedback log must never cost the user an answer
            self._failed("log the interaction", exc)
            return None

    def vote(self, interaction_id: int, vote: Vote | None) -> bool:
        if self.store is None:
            return False
        try:
            return self.store.set_feedback(interaction_id, vote)
        except STORE_ERRORS as exc:
            self._failed("store a vote", exc)
            return False

    def reason_for(self, interaction_id: int, reason: str) -> bool:
        if self.store is None:
            return False
        try:
            return self.store.set_reason(interaction_id, reason)
        except STORE_ERRORS as exc:
            self._failed("store a reason", exc)
            return False

    def close(self) -> None:
        if self.store is not None:
            try:
                self.store.close()
            except STORE_ERRORS:
                pass


@dataclass(frozen=True)
class PointVotes:
    key: str
    cited: int
    up: int
    down: int


@dataclass(frozen=True)
class DislikedRow:
    created_at: str
    question: str
    answer: str
    reason: str


@dataclass(frozen=True)
class AdminSummary:
    unanswered: tuple[Count, ...]
    disliked: tuple[DislikedRow, ...]
    points: tuple[PointVotes, ...]
    total: int


def admin_summary(store: FeedbackStore) -> AdminSummary:
    """What the admin view shows; raises one of STORE_ERRORS when the database cannot be read."""
    cited = {c.key: c.count for c in store.point_counts()}
    votes = _vote_counts(store)
    keys = sorted(set(cited) | set(votes), key=lambda k: (-cited.get(k, 0), k))
    points = tuple(PointVotes(k, cited.get(k, 0), votes.get(k, (0, 0))[0], votes.get(k, (0, 0))[1]) for k in keys)
    disliked = tuple(DislikedRow(i.created_at, i.question, i.answer, i.reason) for i in store.disliked(100))
    return AdminSummary(tuple(store.top_unanswered(50)), disliked, points, store.count())


def _vote_counts(store: FeedbackStore) -> dict[str, tuple[int, int]]:
    return {k: (up, down) for k, up, down in store.vote_counts()}


def iter_interactions(store: FeedbackStore) -> Iterator[dict[str, Any]]:
    """Every logged interaction as a dict of the stored columns, oldest first, read page by page."""
    return store.iter_rows()


def vote_from(liked: object) -> Vote | None:
    """Gradio's LikeData.liked: True, False, or a withdrawn vote (None / "")."""
    return Vote.UP if liked is True else Vote.DOWN if liked is False else None
