"""server.py's start-up helpers: the malloc arena cap and the warm-up answer before ready."""

from __future__ import annotations

import os
import platform

import pytest

from assistant.web import server


def test_arena_cap_reaches_worker_processes_through_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    server.limit_malloc_arenas()
    if platform.libc_ver()[0] == "glibc":
        assert os.environ["MALLOC_ARENA_MAX"] == str(server.MALLOC_ARENAS)


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
