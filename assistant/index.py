"""The persisted index: chunks, their FAISS vectors and the BM25 keyword index.

Layout, beside the configured index path (``index/current`` by default)::

    index/current -> builds/current-<content hash>   a symlink, swapped in one atomic step
    index/builds/current-<content hash>/
        manifest.json    format, model, dimension, corpus hash, per-document hashes, size + sha256 of every file,
                         the tuning knobs (informational)
        documents.json   the parsed documents (for citations and the document browser)
        chunks.jsonl     one chunk per line, in vector order
        vectors.faiss    inner-product FAISS index over L2-normalized embeddings (cosine), memory-mapped: Flat, HNSW or
                         IVF-SQ8 by corpus size (``vectors.choose_kind``); the manifest names the kind and its search settings
        keywords/        bm25s index, jieba user dictionary, document frequencies

A build folder is written completely and fsynced under a temporary name, renamed to its
content hash, and only then does the symlink move (``os.replace``), so a reader or a ``kill -9``
sees the old complete index or the new complete one, never a mix. Loading verifies every
file against the manifest; any damage is an :class:`IndexLoadError` naming the file, which
:func:`load_or_build` answers by rebuilding. A plain folder written by an older version is
still read, and replaced by the symlink layout on the next save.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import logging
import os
import platform
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np

from . import __version__
from .chunking import Chunk, Level, chunk_corpus, unit_key
from .keywords import KeywordIndex, harvest_terms
from .lexicon import Settings
from .parsing import Document, Unit, corpus_files, parse_corpus
from .vectors import EXACT_KINDS, IndexKind, apply_search_params, build_vector_index, kind_of, search_params

logger = logging.getLogger(__name__)

#: Bump when the on-disk layout or the parsing/chunking rules change.
FORMAT_VERSION = 8  # 8: an empty table cell adds no bare column name (parsing.structure), a page's CMS box is its article, a hard-wrapped .txt is joined, a 红头 row in a Word table is front matter (parsing.readers); 7: decimal outlines, 【】 and format-marked headings, tables of names and values, lists under one heading as items (parsing.structure); 6: a list item is also chunked under its lead-in (chunking.chunk_document);  5: units are also chunked under their document's title (chunking.titled_chunks)
#: Completed builds kept beside the current one (the current and the one before it).
KEEP_BUILDS = 2
#: ``POLICYQA_NO_REBUILD=1`` makes :func:`load_or_build` refuse to build (the CLI's ``--no-rebuild``).
NO_REBUILD_ENV = "POLICYQA_NO_REBUILD"
BUILDS_DIR = "builds"
_FIX = "rebuild with `policyqa index build`"
# What a damaged file can raise while being parsed (faiss and bm25s raise RuntimeError / ValueError).
_READ_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError, IndexError, EOFError, AttributeError)


class IndexLoadError(RuntimeError):
    """The index directory cannot be used as it is; the message says how to fix it."""


class IndexMissingError(IndexLoadError):
    pass


class IndexMismatchError(IndexLoadError):
    pass


class IndexDamagedError(IndexLoadError):
    """A file of the index is missing, truncated, altered or unreadable; the message names it."""


class PassageEmbedder(Protocol):
    """What building needs from an embedder."""

    model_id: str

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class FileCheck:
    path: str  # relative to the build folder, "/"-separated
    size: int
    sha256: str


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
    files: tuple[FileCheck, ...] = ()  # empty in indexes written before checksums
    reused_vectors: int = 0  # vectors taken over from the previous build instead of embedded again
    index_kind: str = IndexKind.FLAT.value  # vectors.IndexKind; indexes written before the choice by size are Flat
    search_params: dict[str, int] = dataclasses.field(default_factory=dict)  # efSearch / nprobe / …, restored on load
    # Informational: the reviewed tuning knobs (lexicon/settings.tsv) when this index was built. They act at
    # query time, not on what is indexed, so they are no part of the rebuild check (format, model, corpus hash)
    # nor of the content hash (manifest.json is not among the checked files): changing a knob never forces a rebuild.
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)  # empty in indexes written before they were recorded

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"documents": list(self.documents), "files": [dataclasses.asdict(f) for f in self.files]}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Manifest:
        return cls(**raw | {"documents": tuple(raw["documents"]), "files": tuple(FileCheck(**f) for f in raw.get("files", ()))})

    @property
    def content_hash(self) -> str:
        """Hash of the files' checksums: names a build folder and tells a server that the index changed."""
        if not self.files:  # an older index: its corpus and build time identify it
            return hashlib.sha256(f"{self.corpus_hash}\0{self.built_at}".encode()).hexdigest()
        return hashlib.sha256("\n".join(f"{f.path}\0{f.size}\0{f.sha256}" for f in self.files).encode()).hexdigest()


def _manifest(
    paths: Sequence[Path], docs: list[Document], chunks: list[Chunk], model: str, vectors: faiss.Index, *, built_by: str, reused: int, seconds: float
) -> Manifest:
    per_doc: dict[str, int] = {}
    for c in chunks:
        per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
    return Manifest(
        format_version=FORMAT_VERSION,
        model=model,
        dimension=int(vectors.d),
        corpus_hash=corpus_hash(paths),
        chunk_count=len(chunks),
        documents=tuple(
            {"doc_id": d.doc_id, "title": d.title, "source": d.source, "units": len(d.units), "chunks": per_doc.get(d.doc_id, 0), "sha256": document_hash(d)}
            for d in docs
        ),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(seconds, 2),
        built_by=f"{built_by} {__version__} (python {platform.python_version()}, faiss {faiss.__version__})",
        reused_vectors=reused,
        index_kind=kind_of(vectors).value,
        search_params=search_params(vectors),
        settings=Settings().to_json(),
    )


def _describe(params: dict[str, int]) -> str:
    return ", " + ", ".join(f"{k} {v}" for k, v in params.items()) if params else ""


def corpus_hash(paths: Sequence[Path]) -> str:
    """Hash of every corpus file's name and bytes, plus the format version."""
    h = hashlib.sha256(f"policyqa-format-{FORMAT_VERSION}".encode())
    for f in corpus_files(list(paths)):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def document_hash(doc: Document) -> str:
    """Hash of a parsed document: changes when its text or the parsing rules change."""
    return hashlib.sha256(json.dumps(doc.to_json(), ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class Index:
    def __init__(self, manifest: Manifest, documents: list[Document], chunks: list[Chunk], vectors: faiss.Index, keywords: KeywordIndex):
        self.manifest = manifest
        self.documents = documents
        self.chunks = chunks
        self.faiss = vectors
        self.keywords = keywords
        self.docs_by_id = {d.doc_id: d for d in documents}
        self.units: dict[str, tuple[Document, Unit]] = {}
        for d in documents:
            for u in d.units:
                self.units[unit_key(d, u)] = (d, u)
        # chunk rows per unit, for aggregating sentence hits to their point
        self.rows_by_unit: dict[str, list[int]] = {}
        for i, c in enumerate(chunks):
            self.rows_by_unit.setdefault(c.unit_key, []).append(i)

    @property
    def vectors(self) -> np.ndarray:
        """The embeddings, row i for chunk i: for Flat, a read-only view of FAISS's own (memory-mapped) storage, valid while
        this Index lives; for the other kinds a copy reconstructed from the index (approximate for IVF's 8-bit codes)."""
        n, d = self.faiss.ntotal, self.faiss.d
        if n == 0:
            return np.zeros((0, d), dtype=np.float32)
        if isinstance(self.faiss, faiss.IndexFlat):
            view = faiss.rev_swig_ptr(self.faiss.get_xb(), n * d).reshape(n, d)
            view.flags.writeable = False  # the mapping is read-only: a write would crash the process
            return view
        return self.faiss.reconstruct_n(0, n)

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        paths: Sequence[Path],
        embedder: PassageEmbedder,
        *,
        reuse: Index | None = None,
        progress: Callable[[str], None] | None = None,
        built_by: str = "policyqa",
        kind: str | IndexKind = "auto",
    ) -> Index:
        """Parse, chunk, embed and index ``paths``; chunks already in ``reuse`` (same model) keep their vectors.

        ``kind`` is the vector index type, by default :func:`vectors.choose_kind` of the chunk count
        (Flat for the notice's few hundred chunks)."""
        say = progress or logger.info
        start = time.perf_counter()
        paths = [Path(p) for p in paths]
        docs = parse_corpus(paths)
        chunks = chunk_corpus(docs)
        if not chunks:
            raise IndexLoadError(f"nothing to index: no document under {', '.join(map(str, paths))} has text that could be parsed")
        embeddings, reused = _embed(chunks, embedder, reuse, say)
        vectors = build_vector_index(embeddings, kind)
        del embeddings  # FAISS holds its own copy
        say("Building the BM25 keyword index …")
        terms = harvest_terms(u.text for d in docs for u in d.units)
        keywords = KeywordIndex.build([c.text for c in chunks if c.level is not Level.TITLED], terms)
        manifest = _manifest(paths, docs, chunks, embedder.model_id, vectors, built_by=built_by, reused=reused, seconds=time.perf_counter() - start)
        say(f"Index built in {manifest.build_seconds:.1f} s ({manifest.index_kind} vector index{_describe(manifest.search_params)}).")
        return cls(manifest, docs, chunks, vectors, keywords)

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write a complete, fsynced build folder, then point ``directory`` (a symlink) at it in one atomic step."""
        directory = Path(directory)
        builds = directory.parent / BUILDS_DIR
        builds.mkdir(parents=True, exist_ok=True)
        tmp = builds / f".{directory.name}-tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            tmp.mkdir()
            manifest = self._write(tmp)
            final = builds / f"{directory.name}-{manifest.content_hash[:16]}"
            _place(tmp, final, manifest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        previous = _target(directory)
        _point(directory, final)
        self.manifest = manifest
        _clean_builds(directory, keep={final, previous})
        logger.info("Saved index (%d chunks) to %s -> %s", len(self.chunks), directory, final.name)
        return directory

    def _write(self, folder: Path) -> Manifest:
        (folder / "documents.json").write_text(json.dumps([d.to_json() for d in self.documents], ensure_ascii=False), encoding="utf-8")
        with open(folder / "chunks.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(dataclasses.asdict(c) | {"level": c.level.value}, ensure_ascii=False) + "\n" for c in self.chunks)
        faiss.write_index(self.faiss, str(folder / "vectors.faiss"))
        self.keywords.save(folder / "keywords")
        manifest = dataclasses.replace(self.manifest, files=_checksums(folder))
        # The manifest goes last: a folder without one is never a valid index.
        (folder / "manifest.json").write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
        _fsync_tree(folder)
        return manifest

    @classmethod
    def load(cls, directory: Path, *, expect_model: str | None = None, expect_corpus_hash: str | None = None) -> Index:
        """Load and verify the index at ``directory``; any problem is an :class:`IndexLoadError` that names the file."""
        folder = _resolve(Path(directory))
        manifest = cls.verify(folder, expect_model=expect_model, expect_corpus_hash=expect_corpus_hash)
        with _reading(folder / "vectors.faiss"):
            vectors = faiss.read_index(str(folder / "vectors.faiss"), _MMAP_FLAGS)
            _restore_search_params(vectors, manifest, folder)
        chunks = _read_chunks(folder / "chunks.jsonl")
        with _reading(folder / "documents.json"):
            docs = [Document.from_json(d) for d in json.loads((folder / "documents.json").read_text(encoding="utf-8"))]
        with _reading(folder / "keywords"):
            keywords = KeywordIndex.load(folder / "keywords")
        if not (len(chunks) == vectors.ntotal == manifest.chunk_count) or vectors.d != manifest.dimension:
            raise IndexMismatchError(
                f"index at {folder} is inconsistent: manifest says {manifest.chunk_count} chunks of dimension {manifest.dimension}, "
                f"files hold {len(chunks)} chunks and {vectors.ntotal} vectors of dimension {vectors.d}; {_FIX}"
            )
        return cls(manifest, docs, chunks, vectors, keywords)

    @staticmethod
    def verify(directory: Path, *, expect_model: str | None = None, expect_corpus_hash: str | None = None) -> Manifest:
        """Check the manifest and every file's size and sha256 without loading anything; returns the manifest."""
        folder = _resolve(Path(directory))
        manifest = _read_manifest(folder)
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatchError(f"index format {manifest.format_version} at {folder}, this version reads {FORMAT_VERSION}; {_FIX}")
        if expect_model is not None and manifest.model != expect_model:
            raise IndexMismatchError(f"index at {folder} was built with model {manifest.model!r}, not {expect_model!r}; {_FIX}")
        if expect_corpus_hash is not None and manifest.corpus_hash != expect_corpus_hash:
            raise IndexMismatchError(f"corpus changed since the index at {folder} was built; {_FIX}")
        for f in manifest.files:
            _check_file(folder / f.path, f)
        if not manifest.files:
            logger.info("index at %s predates checksums: read without verification", folder)
        return manifest

    @staticmethod
    def current_version(directory: Path) -> str:
        """The content hash of the index ``directory`` points at: cheap (a readlink), so a server can poll it and reload on change."""
        folder = _resolve(Path(directory))
        if m := _BUILD_NAME.fullmatch(folder.name):
            return m.group(2)
        return _read_manifest(folder).content_hash[:16]


def load_or_build(
    paths: Sequence[Path],
    directory: Path,
    embedder: PassageEmbedder,
    *,
    progress: Callable[[str], None] | None = None,
    rebuild: bool = False,
    allow_build: bool | None = None,
) -> Index:
    """Load the index if it matches the corpus and model and verifies; otherwise build and save it.

    With ``allow_build=False`` (default: ``POLICYQA_NO_REBUILD`` unset) a missing, stale or damaged
    index raises its :class:`IndexLoadError` instead of being rebuilt. A rebuild reuses the
    vectors of unchanged chunks when the old index was built with the same model.
    """
    say = progress or logger.info
    if allow_build is None:
        allow_build = os.environ.get(NO_REBUILD_ENV, "").strip() in ("", "0")
    if not rebuild:
        try:
            index = Index.load(directory, expect_model=embedder.model_id, expect_corpus_hash=corpus_hash(paths))
        except IndexLoadError as exc:
            if not allow_build:
                raise
            say(f"{exc} — building it now.")
        else:
            _migrate(index, Path(directory))
            return index
    index = Index.build(paths, embedder, reuse=_reusable(directory, embedder), progress=progress)
    index.save(directory)
    return index


# -- embedding, with reuse ------------------------------------------------------------------
def _embed(chunks: list[Chunk], embedder: PassageEmbedder, reuse: Index | None, say: Callable[[str], None]) -> tuple[np.ndarray, int]:
    """Vectors for ``chunks``: rows of ``reuse`` for chunk ids it holds (same model), the rest embedded now."""
    known: dict[str, int] = {}
    # Lossy codes (IVF-SQ8, PQ) are not reused: re-quantising reconstructed vectors would drift with every rebuild.
    if reuse is not None and reuse.manifest.model == embedder.model_id and kind_of(reuse.faiss) in EXACT_KINDS:
        known = {c.chunk_id: i for i, c in enumerate(reuse.chunks)}
    pairs = [(i, known[c.chunk_id]) for i, c in enumerate(chunks) if c.chunk_id in known]
    todo = [i for i, c in enumerate(chunks) if c.chunk_id not in known]
    say(f"{len(chunks)} chunks; embedding {len(todo)} with {embedder.model_id}" + (f", reusing {len(pairs)} from the previous build …" if pairs else " …"))
    fresh = np.ascontiguousarray(embedder.encode_passages([chunks[i].text for i in todo], show_progress=True), dtype=np.float32) if todo else None
    dim = fresh.shape[1] if fresh is not None else reuse.manifest.dimension if reuse is not None else 0
    if reuse is not None and pairs and reuse.manifest.dimension != dim:
        return _embed(chunks, embedder, None, say)  # same name, other dimension: nothing can be reused
    out = np.empty((len(chunks), dim), dtype=np.float32)
    if fresh is not None:
        out[todo] = fresh
    if pairs and reuse is not None:
        dst, src = zip(*pairs)
        out[list(dst)] = reuse.vectors[list(src)]
    return out, len(pairs)


def _reusable(directory: Path, embedder: PassageEmbedder) -> Index | None:
    """The previous index, if it is intact and was built with this model (its corpus may differ)."""
    try:
        return Index.load(directory, expect_model=embedder.model_id)
    except IndexLoadError:
        return None


def _migrate(index: Index, directory: Path) -> None:
    """Rewrite a plain folder from an older version in the checksummed symlink layout (best effort)."""
    if directory.is_symlink() or index.manifest.files:
        return
    try:
        index.save(directory)
    except OSError as exc:
        logger.warning("index at %s is in the old layout and could not be migrated: %s", directory, exc)


# -- reading and checking -------------------------------------------------------------------
_MMAP_FLAGS = getattr(faiss, "IO_FLAG_MMAP_IFC", faiss.IO_FLAG_MMAP) | faiss.IO_FLAG_READ_ONLY
_BUILD_NAME = re.compile(r"(.+)-([0-9a-f]{16})")


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Any error while parsing ``path`` becomes an IndexDamagedError that names it."""
    try:
        yield
    except IndexLoadError:
        raise
    except _READ_ERRORS as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise IndexDamagedError(f"{path} is unreadable ({type(exc).__name__}: {detail}); {_FIX}") from exc


def _restore_search_params(vectors: faiss.Index, manifest: Manifest, folder: Path) -> None:
    """Set the manifest's search-time settings (efSearch, nprobe, k_factor) on the loaded index. An index of another
    kind than the manifest names (or than ``choose_kind`` would pick today) is served as it is, with its own settings."""
    actual = kind_of(vectors)
    if actual.value != manifest.index_kind:
        logger.warning("index at %s: the manifest says a %s vector index, the file holds %s; serving it as %s", folder, manifest.index_kind, actual.value, actual.value)
        return
    if manifest.search_params:
        apply_search_params(vectors, manifest.search_params)


def _read_manifest(folder: Path) -> Manifest:
    mpath = folder / "manifest.json"
    if not mpath.is_file():
        raise IndexMissingError(f"no index at {folder} (manifest.json missing); build it with `policyqa index build`")
    try:
        return Manifest.from_json(json.loads(mpath.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
        raise IndexMismatchError(f"{mpath} is unreadable ({exc}); {_FIX}") from exc


def _read_chunks(path: Path) -> list[Chunk]:
    chunks: list[Chunk] = []
    with _reading(path), open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                chunks.append(Chunk(**raw | {"level": Level(raw["level"])}))
            except (ValueError, TypeError, KeyError) as exc:
                raise IndexDamagedError(f"{path} line {n} is unreadable ({type(exc).__name__}: {exc}); {_FIX}") from exc
    return chunks


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _checksums(folder: Path) -> tuple[FileCheck, ...]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
    return tuple(FileCheck(p.relative_to(folder).as_posix(), p.stat().st_size, _sha256(p)) for p in files)


def _check_file(path: Path, expected: FileCheck) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise IndexDamagedError(f"{path} is missing ({exc.strerror}); {_FIX}") from exc
    if size != expected.size:
        raise IndexDamagedError(f"{path} is truncated or altered: {size} bytes, the manifest says {expected.size}; {_FIX}")
    if _sha256(path) != expected.sha256:
        raise IndexDamagedError(f"{path} is damaged: its sha256 differs from the manifest's; {_FIX}")


# -- the atomic swap ------------------------------------------------------------------------
def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            _fsync(Path(dirpath) / name)
        _fsync(Path(dirpath))


def _place(tmp: Path, final: Path, manifest: Manifest) -> None:
    """Rename the written folder to its content-hash name; an intact folder of that name is the same index."""
    if final.exists():
        try:
            if Index.verify(final).content_hash == manifest.content_hash:
                shutil.rmtree(tmp)
                return
        except IndexLoadError:
            pass
        os.rename(final, final.parent / f".{final.name}-trash-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.rename(tmp, final)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not final.is_dir():
            raise
        shutil.rmtree(tmp)  # another writer placed a folder of this name a moment ago: the same content
    _fsync(final.parent)


def _target(directory: Path) -> Path | None:
    return directory.parent / os.readlink(directory) if directory.is_symlink() else None


def _point(directory: Path, build: Path) -> None:
    """Make ``directory`` a symlink to ``build`` with one rename (a plain old-layout folder is moved aside first)."""
    link = directory.parent / f".{directory.name}-link-{os.getpid()}-{secrets.token_hex(4)}"
    os.symlink(os.path.relpath(build, directory.parent), link)  # relative: the index folder can be copied or moved whole
    try:
        if directory.is_dir() and not directory.is_symlink():
            # Not atomic, but a reader finding no link falls back to the newest complete build (this one).
            os.rename(directory, build.parent / f".{directory.name}-legacy-{os.getpid()}-{secrets.token_hex(4)}")
        os.replace(link, directory)
    except BaseException:
        link.unlink(missing_ok=True)
        raise
    _fsync(directory.parent)


def _resolve(directory: Path) -> Path:
    """The folder holding the index: the symlink's target, an old plain folder, or the newest complete build if the link is gone."""
    if directory.is_symlink():
        target = directory.parent / os.readlink(directory)
        if target.is_dir():
            return target
    elif directory.is_dir():
        return directory
    builds = directory.parent / BUILDS_DIR
    pattern = re.compile(re.escape(directory.name) + r"-[0-9a-f]{16}")
    found = [p for p in builds.iterdir() if pattern.fullmatch(p.name) and (p / "manifest.json").is_file()] if builds.is_dir() else []
    if not found:
        raise IndexMissingError(f"no index at {directory} (manifest.json missing); build it with `policyqa index build`")
    newest = max(found, key=lambda p: p.stat().st_mtime_ns)
    logger.warning("index link %s is missing; using the newest complete build %s", directory, newest.name)
    try:
        _point(directory, newest)
    except OSError:  # a read-only index folder: read it where it is
        pass
    return newest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_builds(directory: Path, keep: set[Path | None]) -> None:
    """Remove builds other than ``keep`` and the temporary folders and links of writers that died."""
    builds = directory.parent / BUILDS_DIR
    name = re.escape(directory.name)
    complete = re.compile(name + r"-[0-9a-f]{16}")
    leftover = re.compile(r"\." + name + r"-(?:[0-9a-f]{16}-)?(tmp|legacy|trash|link)-(\d+)-[0-9a-f]+")
    kept = {p.resolve() for p in (*keep, _target(directory)) if p is not None}  # and whatever another writer linked meanwhile
    done = sorted((p for p in builds.iterdir() if complete.fullmatch(p.name) and p.resolve() not in kept), key=lambda p: p.stat().st_mtime_ns)
    stale = done[: max(0, len(done) - max(0, KEEP_BUILDS - len(kept)))]
    for folder in (*builds.iterdir(), *directory.parent.iterdir()):
        m = leftover.fullmatch(folder.name)
        if m and (not _pid_alive(int(m.group(2))) or (int(m.group(2)) == os.getpid() and m.group(1) != "tmp")):
            stale.append(folder)
    for p in stale:
        try:
            p.unlink() if p.is_symlink() or p.is_file() else shutil.rmtree(p)
        except OSError as exc:
            logger.warning("could not remove the old index folder %s: %s", p, exc)
