"""Run the storage tests against both backends: SQLite always, PostgreSQL when a test server is given.

CI starts a real server with ``scripts/ci_postgres.sh`` and exports its URL as
``POLICYQA_TEST_DATABASE_URL``; without it the PostgreSQL cases are skipped with that reason.
"""

from __future__ import annotations

import os
from pathlib import Path

from assistant.feedback import FeedbackStore

from .conftest import unavailable

TEST_URL_ENV = "POLICYQA_TEST_DATABASE_URL"
BACKENDS = ("sqlite", "postgresql")


def database_url() -> str:
    url = os.environ.get(TEST_URL_ENV, "").strip()
    if not url:
        unavailable(f"{TEST_URL_ENV} is not set: start a server with `scripts/ci_postgres.sh start DIR` and export its URL")
    return url


def reset(url: str) -> None:
    """An empty database for the next test: the store's tables are dropped, so it migrates from scratch."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS interactions, schema_migrations")


def store_args(backend: str, data_dir: Path) -> dict:
    """Keyword arguments of FeedbackStore.open for ``backend`` (a fresh database each call for PostgreSQL)."""
    if backend == "postgresql":
        url = database_url()
        reset(url)
        return {"database_url": url}
    return {"data_dir": data_dir, "database_url": ""}  # "": SQLite even when POLICYQA_DATABASE_URL is set


def open_store(backend: str, data_dir: Path, **kwargs) -> FeedbackStore:
    return FeedbackStore.open(**store_args(backend, data_dir), **kwargs)


def reopen(store: FeedbackStore, **kwargs) -> FeedbackStore:
    """The same database opened again (a server restart), without resetting it."""
    if store.backend_name == "postgresql":
        return FeedbackStore.open(database_url=database_url(), **kwargs)
    assert store.path is not None
    return FeedbackStore.open(store.path.parent, database_url="", **kwargs)
