"""server.py's start-up helpers: the malloc arena cap and the warm-up answer before ready."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pytest

from assistant import supervisor
from assistant.web import server


def test_arena_cap_reaches_worker_processes_through_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    server.limit_malloc_arenas()
    if platform.libc_ver()[0] == "glibc":
        assert os.environ["MALLOC_ARENA_MAX"] == str(supervisor.MALLOC_ARENAS)


def test_an_explicit_arena_setting_wins(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    server.limit_malloc_arenas()

    assert os.environ["MALLOC_ARENA_MAX"] == "4"


def test_warm_up_answers_each_question_and_never_raises():
    asked: list[tuple[str, object]] = []

    class Failing:
        def ask(self, question: str, history: object = ()) -> None:
            asked.append((question, history))
            raise RuntimeError("boom")

    server.warm_up(Failing())  # type: ignore[arg-type]
    assert [q for q, _ in asked] == [q for q, _ in server.WARM_UP_QUESTIONS]


def _rss_kb(pid: int) -> int:
    return int(next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:")))


def test_serve_with_workers_keeps_the_supervisor_light(real_index_dir: Path, tmp_path: Path):
    import signal
    import socket
    import subprocess
    import time

    import httpx

    from .conftest import NOTICE

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"POLICYQA_CORPUS": str(NOTICE), "POLICYQA_INDEX_DIR": str(real_index_dir), "POLICYQA_DATA_DIR": str(tmp_path), "POLICYQA_NO_REBUILD": "1"}
    cmd = [sys.executable, "-m", "assistant", "serve", "--workers", "2", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 180, 0
        while status != 200 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code
            except httpx.HTTPError:
                pass
        assert status == 200, proc.stderr.read().decode() if proc.poll() is not None else "not ready in time"
        maps = Path(f"/proc/{proc.pid}/maps").read_text()
        assert "faiss" not in maps and "numpy" not in maps  # the supervisor (same pid, re-executed) loaded neither
        assert _rss_kb(proc.pid) < 50_000, _rss_kb(proc.pid)  # ~27 MB; it held a loaded pipeline (~300 MB) before
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    from assistant import cli, index

    assert cli.NO_REBUILD_ENV == index.NO_REBUILD_ENV
    assert supervisor.fresh_command("h", 1, 3)[1:] == ["-m", "assistant.supervisor", "--host", "h", "--port", "1", "--workers", "3"]


def test_the_index_is_checked_in_a_child_process_and_its_errors_reach_the_supervisor(real_index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from assistant.index import IndexMissingError

    from .conftest import NOTICE

    monkeypatch.setenv("POLICYQA_CORPUS", str(NOTICE))
    monkeypatch.setenv("POLICYQA_INDEX_DIR", str(real_index_dir))
    ready = supervisor.ensure_index()
    assert ready.chunks > 200 and ready.documents == 1 and ready.kind == "flat"
    monkeypatch.setenv("POLICYQA_INDEX_DIR", str(tmp_path / "nowhere" / "current"))
    monkeypatch.setenv("POLICYQA_NO_REBUILD", "1")
    with pytest.raises(IndexMissingError, match="no index at"):
        supervisor.ensure_index()
    assert not (tmp_path / "nowhere").exists()


def test_openmp_threads_sleep_and_workers_split_the_cores(monkeypatch: pytest.MonkeyPatch):
    for name in ("OMP_WAIT_POLICY", "OMP_THREAD_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(supervisor, "usable_cpus", lambda: 2)
    supervisor.tune_openmp(1)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" and "OMP_THREAD_LIMIT" not in os.environ  # one worker: the engine may use both cores
    supervisor.tune_openmp(2)
    assert os.environ["OMP_THREAD_LIMIT"] == "1"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    monkeypatch.setenv("OMP_THREAD_LIMIT", "2")
    supervisor.tune_openmp(2)  # an explicit setting wins
    assert (os.environ["OMP_WAIT_POLICY"], os.environ["OMP_THREAD_LIMIT"]) == ("ACTIVE", "2")
