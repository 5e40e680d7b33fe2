"""Question memory: reviewed questions whose answering unit (or lack of one) is known, as a learned vote.

A reader asks the same things in many words. Questions labelled once (``memory/*.jsonl``, written
by ``scripts/build_memory.py`` from the tuning sets, or rows an editor adds) are embedded with the
same model as the question; the nearest ones vote for the units that answered them. The vote is a
k-nearest-neighbour classifier over labelled questions: it only speaks when a labelled question
embeds very close (``Settings.memory_floor``); the pipeline uses it to order candidate units, to let thin
evidence answer, and to decline near paraphrases of questions the texts do not answer.

Rows: ``{"question": "…", "units": ["doc_id#20"], "source": "eval/dev.jsonl", "corpus": ["doc_id", …]}``,
with ``"units": []`` for a question the texts do not answer. ``corpus`` lists the documents indexed
when the row was labelled: a row votes only while every indexed document is among them.
Vectors are cached beside the index, keyed by the model and the rows' hash, written atomically
and checked against their sha256 on load.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .parsing.model import UnitRef

logger = logging.getLogger(__name__)


class QueryEmbedder(Protocol):
    model_id: str

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Example:
    """One labelled question: the units that answer it, none when the texts do not."""

    question: str
    units: tuple[UnitRef, ...]
    source: str = ""
    corpus: frozenset[str] = frozenset()  # the documents indexed when it was labelled (empty: any)

    @property
    def answerable(self) -> bool:
        return bool(self.units)


@dataclass(frozen=True)
class Vote:
    """What the nearest labelled questions say: a weight per unit (summing with ``abstain`` to at most 1)."""

    units: dict[str, float]  # unit key ("doc_id#20") → share of the vote
    abstain: float  # share of the vote for "the texts do not answer this"
    nearest: float  # cosine of the nearest labelled question (0 when none)

    def for_unit(self, key: str) -> float:
        return self.units.get(key, 0.0)

    def within(self, documents: frozenset[str]) -> Vote:
        """The vote for units of ``documents`` only (shares unchanged: the rest is not redistributed)."""
        return Vote({k: w for k, w in self.units.items() if UnitRef.parse(k).doc_id in documents}, self.abstain, self.nearest)


NO_VOTE = Vote({}, 0.0, 0.0)


class MemoryFileError(ValueError):
    """A memory row that cannot be read; the message names the file, the line and the expected shape."""


def read_examples(path: Path, on_error: Callable[[MemoryFileError], None] | None = None) -> list[Example]:
    """The rows of one memory file; a bad row names the file, the line and the fix. It is raised, or, given
    ``on_error``, reported there and skipped: one bad row costs that row, not the memory."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            units = tuple(UnitRef.parse(u) for u in raw["units"])
            corpus = frozenset(str(d) for d in raw.get("corpus", ()))
            out.append(Example(str(raw["question"]).strip(), units, str(raw.get("source", "")), corpus))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            error = MemoryFileError(f'{path}:{n}: not a memory row ({exc}); expected {{"question": "…", "units": ["doc_id#20"]}}')
            if on_error is None:
                raise error from exc
            on_error(error)
    return out


def load_examples(paths: Iterable[Path]) -> list[Example]:
    """Every readable row of the .jsonl files (or folders of them) at ``paths``; bad rows and missing or unreadable
    paths are logged and skipped."""
    files = []
    for path in paths:
        if not path.exists():
            logger.warning("question memory: %s does not exist; fix POLICYQA_MEMORY (or set it to off)", path)
        files += [path] if path.is_file() else sorted(path.glob("*.jsonl"))
    out = []
    for f in sorted(files):
        try:
            out += read_examples(f, on_error=lambda e: logger.warning("question memory: skipped %s", e))
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning("question memory: cannot read %s (%s); skipped", f, exc)
    return out


def examples_hash(examples: Sequence[Example]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps([e.question, [str(u) for u in e.units]], ensure_ascii=False).encode())
    return h.hexdigest()


class Memory:
    """Labelled questions and their vectors; :meth:`vote` is thread-safe (read-only)."""

    def __init__(self, examples: Sequence[Example], vectors: np.ndarray):
        if len(examples) != len(vectors):
            raise ValueError(f"{len(examples)} labelled questions but {len(vectors)} vectors")
        self.examples = tuple(examples)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    @classmethod
    def empty(cls) -> Memory:
        return cls([], np.zeros((0, 1), np.float32))

    def _rows(self, rows: Sequence[int]) -> Memory:
        return Memory([self.examples[i] for i in rows], self.vectors[list(rows)] if rows else self.vectors[:0])

    def scoped(self, known: Iterable[str], documents: Iterable[str]) -> Memory:
        """The rows that may vote over an index of ``documents`` holding the units ``known`` ("doc_id#20"): those
        whose units it holds, labelled while every one of its documents was indexed (a document added since may
        answer better: a notice-only label must not pull a law question)."""
        keep, docs = set(known), set(documents)
        return self._rows(
            [i for i, e in enumerate(self.examples) if all(str(u) in keep for u in e.units) and (not e.corpus or docs <= e.corpus)]
        )

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def documents(self) -> frozenset[str]:
        """The documents some labelled question is answered from."""
        return frozenset(u.doc_id for e in self.examples for u in e.units)

    def without(self, sources: Iterable[str]) -> Memory:
        """This memory minus the rows of ``sources``: an evaluation set is never scored with its own labels."""
        drop = set(sources)
        return self._rows([i for i, e in enumerate(self.examples) if Path(e.source).name not in drop])

    def vote(self, query: np.ndarray, *, k: int, floor: float, temperature: float) -> Vote:
        """The ``k`` nearest labelled questions at cosine ``floor`` or above, weighted by closeness."""
        if not len(self):
            return NO_VOTE
        sims = self.vectors @ query.astype(np.float32)
        top = np.argsort(-sims)[:k]
        near = [i for i in top if sims[i] >= floor]
        if not near:
            return Vote({}, 0.0, float(sims[top[0]]))
        weights = np.exp((sims[near] - sims[near[0]]) / temperature)
        weights /= weights.sum()
        units: dict[str, float] = {}
        abstain = 0.0
        for i, w in zip(near, weights, strict=True):
            ex = self.examples[i]
            if not ex.answerable:
                abstain += float(w)
            for u in ex.units:
                units[str(u)] = units.get(str(u), 0.0) + float(w) / len(ex.units)
        return Vote(units, abstain, float(sims[top[0]]))


def load_memory(
    paths: Sequence[Path], embedder: QueryEmbedder, cache_dir: Path, progress: Callable[[str], None] | None = None
) -> Memory:
    """The memory of ``paths`` (files or folders of .jsonl), its vectors read from ``cache_dir`` or embedded once."""
    examples = load_examples(paths)
    if not examples:
        return Memory.empty()
    key = hashlib.sha256(f"{embedder.model_id}\n{examples_hash(examples)}".encode()).hexdigest()[:16]
    cache = cache_dir / f"memory-{key}.npy"
    vectors = _read_cache(cache, len(examples))
    if vectors is None:
        message = f"Embedding the {len(examples)} labelled questions of the question memory (once; cached in {cache_dir})"
        (progress or logger.info)(message)
        vectors = embedder.encode_queries([e.question for e in examples]).astype(np.float32)
        _write_cache(cache, vectors)
    return Memory(examples, vectors)


def _read_cache(path: Path, rows: int) -> np.ndarray | None:
    check = path.with_suffix(".sha256")
    if not path.is_file() or not check.is_file():
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != check.read_text().strip():
        logger.warning("question memory cache %s fails its checksum; embedding again", path)
        return None
    vectors = np.load(io.BytesIO(data), allow_pickle=False)
    return vectors if vectors.ndim == 2 and len(vectors) == rows else None


def _write_cache(path: Path, vectors: np.ndarray) -> None:
    """Write atomically; a read-only folder only costs embedding again next time."""
    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    data = buffer.getvalue()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        path.with_suffix(".sha256").write_text(hashlib.sha256(data).hexdigest())
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("could not cache the question memory in %s (%s); it is embedded again at the next start", path.parent, exc)
