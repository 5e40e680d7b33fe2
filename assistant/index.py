"""The persisted index: chunks, their FAISS vectors and the BM25 keyword index.

Layout of an index directory::

    manifest.json    format version, model, dimension, corpus hash, chunk count, build info
    documents.json   the parsed documents (for citations and the document browser)
    chunks.jsonl     one chunk per line, in vector order
    vectors.faiss    IndexFlatIP over L2-normalized embeddings (inner product = cosine)
    keywords/        bm25s index, jieba user dictionary, document frequencies
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from . import __version__
from .chunking import Chunk, Level, chunk_corpus, unit_key
from .keywords import KeywordIndex, harvest_terms
from .parsing import Document, Unit, corpus_files, parse_corpus

logger = logging.getLogger(__name__)

#: Bump when the on-disk layout or the parsing/chunking rules change.
FORMAT_VERSION = 3


class IndexLoadError(RuntimeError):
    """The index directory cannot be used as it is; the message says how to fix it."""


class IndexMissingError(IndexLoadError):
    pass


class IndexMismatchError(IndexLoadError):
    pass


@dataclass(frozen=True)
class Manifest:
    format_version: int
    model: str
    dimension: int
    corpus_hash: str
    chunk_count: int
    documents: tuple[dict[str, Any], ...]
    built_at: str
    build_seconds: float
    built_by: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"documents": list(self.documents)}


def corpus_hash(paths: Sequence[Path]) -> str:
    """Hash of every corpus file's name and bytes, plus the format version."""
    h = hashlib.sha256(f"policyqa-format-{FORMAT_VERSION}".encode())
    for f in corpus_files(list(paths)):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


class Index:
    def __init__(self, manifest: Manifest, documents: list[Document], chunks: list[Chunk], vectors: np.ndarray, keywords: KeywordIndex):
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.vectors = vectors
        self.keywords = keywords
        self.faiss = faiss.IndexFlatIP(vectors.shape[1])
        self.faiss.add(vectors)
        self.docs_by_id = {d.doc_id: d for d in documents}
        self.units: dict[str, tuple[Document, Unit]] = {}
        for d in documents:
            for u in d.units:
                self.units[unit_key(d, u)] = (d, u)
        # chunk rows per unit, for aggregating sentence hits to their point
        self.rows_by_unit: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            self.rows_by_unit.setdefault(c.unit_key, []).append(i)

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, paths: Sequence[Path], embedder: Any, *, progress: Callable[[str], None] | None = None, built_by: str = "policyqa") -> Index:
        say = progress or logger.info
        start = time.perf_counter()
        paths = [Path(p) for p in paths]
        docs = parse_corpus(paths)
        chunks = chunk_corpus(docs)
        say(f"Parsed {len(docs)} document(s) into {len(chunks)} chunks; embedding them with {embedder.model_id} …")
        vectors = np.ascontiguousarray(embedder.encode_passages([c.text for c in chunks], show_progress=True), dtype=np.float32)
        say("Building the BM25 keyword index …")
        terms = harvest_terms(u.text for d in docs for u in d.units)
        keywords = KeywordIndex.build([c.text for c in chunks], terms)
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            model=embedder.model_id,
            dimension=int(vectors.shape[1]),
            corpus_hash=corpus_hash(paths),
            chunk_count=len(chunks),
            documents=tuple({"doc_id": d.doc_id, "title": d.title, "source": d.source, "units": len(d.units)} for d in docs),
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - start, 2),
            built_by=f"{built_by} {__version__} (python {platform.python_version()}, faiss {faiss.__version__})",
        )
        say(f"Index built in {manifest.build_seconds:.1f} s.")
        return cls(manifest, docs, chunks, vectors, keywords)

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write to a temporary sibling directory, then swap it in with renames."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.parent / f".{directory.name}.tmp-{os.getpid()}"
        old = directory.parent / f".{directory.name}.old-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            (tmp / "documents.json").write_text(json.dumps([d.to_json() for d in self.documents], ensure_ascii=False), encoding="utf-8")
            with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
                for c in self.chunks:
                    fh.write(json.dumps(dataclasses.asdict(c) | {"level": c.level.value}, ensure_ascii=False) + "\n")
            faiss.write_index(self.faiss, str(tmp / "vectors.faiss"))
            self.keywords.save(tmp / "keywords")
            # The manifest goes last: a directory without one is never a valid index.
            (tmp / "manifest.json").write_text(json.dumps(self.manifest.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
            if directory.exists():
                directory.rename(old)
            tmp.rename(directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if old.exists() and not directory.exists():
                old.rename(directory)
            raise
        shutil.rmtree(old, ignore_errors=True)
        logger.info("Saved index (%d chunks) to %s", len(self.chunks), directory)
        return directory

    @classmethod
    def load(cls, directory: Path, *, expect_model: str | None = None, expect_corpus_hash: str | None = None) -> Index:
        directory = Path(directory)
        mpath = directory / "manifest.json"
        if not mpath.is_file():
            raise IndexMissingError(f"no index at {directory} (manifest.json missing); build it with `policyqa index build`")
        try:
            raw = json.loads(mpath.read_text(encoding="utf-8"))
            manifest = Manifest(**raw | {"documents": tuple(raw["documents"])})
        except (ValueError, TypeError, KeyError) as exc:
            raise IndexMismatchError(f"{mpath} is unreadable ({exc}); rebuild with `policyqa index build`") from exc
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatchError(f"index format {manifest.format_version} at {directory}, this version reads {FORMAT_VERSION}; rebuild with `policyqa index build`")
        if expect_model is not None and manifest.model != expect_model:
            raise IndexMismatchError(f"index at {directory} was built with model {manifest.model!r}, not {expect_model!r}; rebuild with `policyqa index build`")
        if expect_corpus_hash is not None and manifest.corpus_hash != expect_corpus_hash:
            raise IndexMismatchError(f"corpus changed since the index at {directory} was built; rebuild with `policyqa index build`")
        index = faiss.read_index(str(directory / "vectors.faiss"))
        vectors = index.reconstruct_n(0, index.ntotal)
        chunks = [_chunk_from_json(json.loads(line)) for line in (directory / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line]
        if not (len(chunks) == index.ntotal == manifest.chunk_count) or index.d != manifest.dimension:
            raise IndexMismatchError(
                f"index at {directory} is inconsistent: manifest says {manifest.chunk_count} chunks of dimension {manifest.dimension}, "
                f"files hold {len(chunks)} chunks and {index.ntotal} vectors of dimension {index.d}; rebuild with `policyqa index build`"
            )
        docs = [Document.from_json(d) for d in json.loads((directory / "documents.json").read_text(encoding="utf-8"))]
        return cls(manifest, docs, chunks, vectors, KeywordIndex.load(directory / "keywords"))


def load_or_build(paths: Sequence[Path], directory: Path, embedder: Any, *, progress: Callable[[str], None] | None = None, rebuild: bool = False) -> Index:
    """Load the index if it matches the corpus and model; otherwise build and save it."""
    say = progress or logger.info
    if not rebuild:
        try:
            return Index.load(directory, expect_model=embedder.model_id, expect_corpus_hash=corpus_hash(paths))
        except IndexLoadError as exc:
            say(f"{exc} — building it now.")
    index = Index.build(paths, embedder, progress=progress)
    index.save(directory)
    return index


def _chunk_from_json(raw: dict[str, Any]) -> Chunk:
    return Chunk(**raw | {"level": Level(raw["level"])})
