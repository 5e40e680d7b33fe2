"""Documents added from the admin view: receive the upload, preview or ingest it, rebuild the index in the background.

One rebuild at a time (an upload meanwhile is refused with a 409). The chat keeps answering from the current
index throughout; the build swaps the index folder's symlink in one step and the holder then replaces its
assistant in one assignment, so a question is answered by the old index or the new one, never a mix.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request

from ..index import load_or_build
from ..ingest import IngestResult, Preview, Refused, Status, UploadError, check_upload, ingest, preview, safe_name
from ..parsing import corpus_files
from .security import BodyTooLarge
from .state import QAHolder, Reload

logger = logging.getLogger(__name__)

FIELD = "file"  # the multipart field the document travels in


class Refusal(Exception):
    """An upload refused: the HTTP status and the message in Chinese and English."""

    def __init__(self, status: int, zh: str, en: str):
        super().__init__(en)
        self.status, self.zh, self.en = status, zh, en


# Why an upload was refused → the status and the Chinese for it.
_UPLOAD_REASONS: dict[Refused, tuple[int, str]] = {
    Refused.TYPE: (415, "不支持这种文件类型（支持 .txt .md .docx .pdf .html）"),
    Refused.CONTENT: (415, "文件内容与扩展名不符，请改成真实的类型或重新保存"),
    Refused.SIZE: (413, "文件过大"),
    Refused.ZIP_BOMB: (422, "这个 .docx 解压后过大，疑似压缩炸弹，已拒绝"),
    Refused.EMPTY: (422, "文件是空的"),
    Refused.INVALID: (422, "这个文件无法使用（不是有效的 Word .docx 文件？）"),
}


def refusal_of(exc: UploadError) -> Refusal:
    status, zh = _UPLOAD_REASONS[exc.reason]
    return Refusal(status, zh, str(exc))


# -- receiving the file ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Staged:
    """An upload written to a private temporary folder under its sanitised name."""

    path: Path
    name: str  # the uploader's own file name
    size: int


def copy_capped(src: BinaryIO, dest: Path, max_bytes: int) -> int:
    """Copy ``src`` to ``dest``; :class:`BodyTooLarge` as soon as it passes ``max_bytes``."""
    size = 0
    with open(dest, "wb") as out:
        for block in iter(lambda: src.read(1 << 16), b""):
            size += len(block)
            if size > max_bytes:
                raise BodyTooLarge(max_bytes)
            out.write(block)
    return size


async def receive_file(request: Request, folder: Path, max_bytes: int) -> Staged:
    """The one file of a multipart upload, read through the size cap and staged in ``folder``."""
    async with request.form(max_files=1, max_fields=4) as form:
        part = form.get(FIELD)
        if not isinstance(part, UploadFile):
            raise Refusal(422, "请选择要上传的文件", f'no file: send it in the multipart field "{FIELD}"')
        name = part.filename or ""
        dest = folder / safe_name(name or "document")
        size = await run_in_threadpool(copy_capped, part.file, dest, max_bytes)
    if size == 0:
        raise Refusal(422, "文件是空的", f"{dest.name}: the file is empty")
    return Staged(dest, name, size)


# -- the background rebuild ------------------------------------------------------------------------
class JobState(str, Enum):
    IDLE = "idle"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class JobStatus:
    state: JobState = JobState.IDLE
    message_zh: str = "服务启动以来没有重建过索引"
    message_en: str = "no rebuild since the server started"
    started_at: str = ""
    finished_at: str = ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class Rebuild:
    """One index rebuild at a time: :meth:`reserve` first, then :meth:`launch` it or :meth:`release` the slot."""

    def __init__(self, build: Callable[[], tuple[str, str]]):
        self._build = build
        self._lock = threading.Lock()
        self._before = JobStatus()
        self.status = JobStatus()
        self.thread: threading.Thread | None = None

    def reserve(self) -> bool:
        with self._lock:
            if self.status.state is JobState.RUNNING:
                return False
            self._before = self.status
            self.status = JobStatus(JobState.RUNNING, "正在接收和检查文件…", "receiving and checking the file …", _now())
            return True

    def release(self) -> None:
        """Nothing was added: the status goes back to what it was."""
        with self._lock:
            self.status = self._before

    def launch(self, added: str) -> None:
        zh, en = f"已添加 {added}，正在重建索引；问答照常进行", f"added {added}; rebuilding the index while the chat keeps answering"
        self.status = JobStatus(JobState.RUNNING, zh, en, _now())
        self.thread = threading.Thread(target=self._run, name="policyqa-rebuild", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        started = self.status.started_at
        try:
            zh, en = self._build()
        except Exception as exc:  # any failure is reported; the previous index keeps serving
            logger.exception("rebuilding the index after an upload failed")
            reason = str(exc) or type(exc).__name__
            self.status = JobStatus(JobState.FAILED, f"重建索引失败，继续使用原来的索引：{reason}", f"the rebuild failed, the previous index keeps serving: {reason}", started, _now())
        else:
            self.status = JobStatus(JobState.DONE, zh, en, started, _now())


# -- the corpus and the index ----------------------------------------------------------------------
class Uploads:
    """Where uploaded documents go, how they are checked, and the rebuild that follows."""

    def __init__(self, holder: QAHolder, corpus: Sequence[Path], max_bytes: int):
        self.holder = holder
        self.corpus = [Path(p) for p in corpus]
        self.max_bytes = max_bytes
        self.job = Rebuild(self.rebuild)
        self._previews: dict[tuple[Path, int, int], Preview] = {}

    @property
    def folder(self) -> Path | None:
        """The first corpus folder (an existing folder, or a path not yet created): new documents go there."""
        return next((p for p in self.corpus if p.is_dir() or not p.exists()), None)

    def unavailable(self) -> tuple[str, str] | None:
        """Why documents cannot be added on this server now, or None."""
        if self.holder.qa is None:
            return "模型和索引还在加载，请稍后再添加", "the model and index are still loading; add documents when they are ready"
        if self.holder.index_dir is None:
            return "这个服务没有指定索引目录，无法重建索引", "this server was started without an index folder, so it cannot rebuild"
        if self.folder is None:
            return "没有可以放入新文件的文件夹", "no corpus folder to add documents to: configure POLICYQA_CORPUS with a folder"
        return None

    def check(self, staged: Staged) -> Preview:
        """The parse preview; :class:`Refusal` when the file is refused or cannot be parsed."""
        try:
            check_upload(staged.path, name=staged.name, max_bytes=self.max_bytes)
        except UploadError as exc:
            raise refusal_of(exc) from exc
        found = preview(staged.path)
        if found.error:
            raise Refusal(422, "无法解析这个文件", found.error)
        return found

    def add(self, staged: Staged) -> tuple[IngestResult, Preview]:
        """Check, then copy into the corpus folder (identical content is skipped, clashing names renamed)."""
        found = self.check(staged)
        folder = self.folder
        assert folder is not None  # unavailable() was asked first
        result = ingest([staged.path], folder, names=[staged.name], max_bytes=self.max_bytes)[0]
        if result.status is Status.FAILED:
            raise Refusal(422, "无法添加这个文件", result.message)
        return result, result.preview or found

    def rebuild(self) -> tuple[str, str]:
        """Bring the index up to date (only new chunks are embedded) and switch the holder to it."""
        qa, directory = self.holder.qa, self.holder.index_dir
        if qa is None or directory is None:
            raise RuntimeError("the assistant is not loaded or has no index folder")
        index = load_or_build(self.corpus, directory, qa.embedder, progress=logger.info)
        if self.holder.reload(force=True) is Reload.FAILED:
            raise RuntimeError(self.holder.reload_error)
        n, chunks = len(index.documents), index.manifest.chunk_count
        return f"索引已更新并开始使用：{n} 个文件，{chunks} 段", f"the index is rebuilt and serving: {n} document(s), {chunks} chunks"

    def documents(self) -> list[Preview]:
        """Every corpus document's preview; a file is parsed again only when it changed."""
        try:
            files = corpus_files(self.corpus)
        except FileNotFoundError:
            return []
        cache: dict[tuple[Path, int, int], Preview] = {}
        for p in files:
            try:
                st = p.stat()
            except OSError:  # removed meanwhile
                continue
            key = (p, st.st_mtime_ns, st.st_size)
            cache[key] = self._previews.get(key) or preview(p)
        self._previews = cache
        return list(cache.values())

    def indexed(self) -> set[str]:
        qa = self.holder.qa
        return set(qa.index.docs_by_id) if qa is not None else set()

