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


def test_the_supervisor_imports_no_model_index_or_web_app():
    import subprocess

    code = "import sys, assistant.cli, assistant.supervisor; print(sorted(m for m in ('faiss', 'gradio', 'fastapi', 'numpy', 'assistant.web', 'assistant.pipeline') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]"


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
