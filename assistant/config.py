"""Paths, environment overrides and input limits, in one place."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: Longest question accepted, in characters (after trimming whitespace).
MAX_QUESTION_CHARS = 500
#: Most earlier turns accepted in ``history``; each turn obeys MAX_QUESTION_CHARS.
MAX_HISTORY_TURNS = 20


def corpus_paths() -> list[Path]:
    """Files or folders to index: ``POLICYQA_CORPUS`` (``:``-separated) or ``corpus/``."""
    raw = os.environ.get("POLICYQA_CORPUS", "").strip()
    if not raw:
        return [PROJECT_ROOT / "corpus"]
    return [Path(p).expanduser() for p in raw.split(":") if p.strip()]


def memory_paths() -> list[Path]:
    """Labelled questions (.jsonl files or folders of them): ``POLICYQA_MEMORY`` (``:``-separated; ``off`` for none) or ``memory/``."""
    raw = os.environ.get("POLICYQA_MEMORY", "").strip()
    if raw.lower() == "off":
        return []
    if not raw:
        default = PROJECT_ROOT / "memory"
        return [default] if default.is_dir() else []  # an install without labelled questions has no memory
    return [Path(p).expanduser() for p in raw.split(":") if p.strip()]


def index_dir() -> Path:
    """Where the built index lives: ``POLICYQA_INDEX_DIR`` or ``index/current``."""
    raw = os.environ.get("POLICYQA_INDEX_DIR", "").strip()
    return Path(raw).expanduser() if raw else PROJECT_ROOT / "index" / "current"


def data_dir() -> Path:
    """Where feedback and logs live: ``POLICYQA_DATA_DIR`` or ``data/``."""
    raw = os.environ.get("POLICYQA_DATA_DIR", "").strip()
    return Path(raw).expanduser() if raw else PROJECT_ROOT / "data"
