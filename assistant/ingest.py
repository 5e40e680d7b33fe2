"""Add, list and remove corpus documents: checked uploads, a parse preview, atomic copies.

Library functions return frozen results and log; the ``ingest`` / ``documents`` /
``remove`` command handlers (:func:`add_commands`) print a per-file summary and then
bring the index up to date with :func:`assistant.index.load_or_build`.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import shutil
import sys
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .parsing import SUPPORTED_SUFFIXES, Document, ParseError, UnitKind, corpus_files, coverage, unsupported
from .parsing.corpus import load

if TYPE_CHECKING:  # the index (faiss, numpy) is imported only when an index is updated
    from .index import PassageEmbedder

logger = logging.getLogger(__name__)

#: Largest file accepted, in bytes.
MAX_BYTES = 20 * 1024 * 1024
#: A .docx may unpack to at most this many bytes, and at most RATIO times its packed size (a zip bomb does not).
MAX_UNPACKED = 200 * 1024 * 1024
MAX_RATIO = 100
MAX_ZIP_ENTRIES = 2000
_FIRST_ITEMS = 5


class Refused(str, Enum):
    """Why an upload was refused, for callers that answer in their own words (the web view's 413/415/422)."""

    TYPE = "type"  # a suffix we do not read
    CONTENT = "content"  # the bytes are not what the suffix says
    SIZE = "size"  # over the byte limit
    ZIP_BOMB = "zip_bomb"  # a .docx that unpacks far beyond its size
    EMPTY = "empty"
    INVALID = "invalid"  # damaged: not a readable file of its type


class UploadError(ValueError):
    """The file is refused before parsing: too big, the wrong type for its name, or a zip bomb."""

    def __init__(self, message: str, reason: Refused = Refused.INVALID):
        super().__init__(message)
        self.reason = reason


class Status(str, Enum):
    ADDED = "added"
    SKIPPED = "skipped"  # identical content is already in the corpus
    FAILED = "failed"


@dataclass(frozen=True)
class Upload:
    path: Path
    name: str  # the sanitised file name it would be stored under
    size: int
    sha256: str


@dataclass(frozen=True)
class Preview:
    """What a parse found, shown before (or after) a document joins the corpus."""

    doc_id: str
    source: str
    title: str = ""
    issuer: str = ""
    date: str = ""
    doc_number: str = ""
    year: int | None = None
    units_by_kind: tuple[tuple[str, int], ...] = ()
    units_by_level: tuple[tuple[int, int], ...] = ()  # depth in the numbering tree → units
    first_items: tuple[str, ...] = ()  # "三、（二）2. 录取办法" …
    lines_total: int = 0
    lines_covered: int = 0
    warnings: tuple[str, ...] = ()
    error: str = ""  # set when the file could not be parsed

    @property
    def coverage(self) -> float:
        return self.lines_covered / self.lines_total if self.lines_total else 1.0

    @property
    def units(self) -> int:
        return sum(n for _, n in self.units_by_kind)

    def summary(self) -> str:
        """One line for a terminal: units found, lines covered, warnings."""
        if self.error:
            return f"{self.source}: FAILED — {self.error}"
        kinds = ", ".join(f"{n} {k}" for k, n in self.units_by_kind)
        head = f"{self.source} → {self.doc_id}: 《{self.title}》 {self.issuer} {self.date} {self.doc_number}".rstrip()
        cover = f"lines covered {self.lines_covered}/{self.lines_total} ({self.coverage:.0%})"
        warn = f"; {len(self.warnings)} warning(s): " + " | ".join(self.warnings) if self.warnings else ""
        return f"{head}\n    {self.units} units ({kinds}); {cover}{warn}"


@dataclass(frozen=True)
class IngestResult:
    source: Path
    status: Status
    message: str
    doc_id: str = ""
    stored: Path | None = None
    preview: Preview | None = None


def preview_document(doc: Document, lines_total: int, lines_covered: int) -> Preview:
    kinds = Counter(u.kind.value for u in doc.tree)
    levels = Counter(u.depth for u in doc.tree)
    items = [u for u in doc.tree if u.kind not in (UnitKind.HEADER, UnitKind.PREAMBLE, UnitKind.SIGNOFF)]
    first = tuple(f"{u.section} {u.title}".strip() if u.title != u.section else u.section for u in items[:_FIRST_ITEMS])
    return Preview(
        doc.doc_id, doc.source, doc.title, doc.issuer, doc.date, doc.doc_number, doc.year,
        tuple(sorted(kinds.items(), key=lambda kv: -kv[1])), tuple(sorted(levels.items())), first,
        lines_total, lines_covered, doc.warnings,
    )


_Content = tuple[str, frozenset[str]]  # a document's title and its units' texts without layout


def preview(path: Path) -> Preview:
    """Parse ``path`` and say what was found; a file that cannot be parsed gets a Preview with ``error`` set."""
    return _parsed(path)[0]


def _parsed(path: Path) -> tuple[Preview, _Content | None]:
    """The preview of ``path`` and its content (to tell one document in two formats), from one parse."""
    path = Path(path)
    try:
        source, doc = load(path)
    except ParseError as exc:
        return Preview(path.stem, path.name, error=str(exc)), None
    total = sum(1 for line in source.lines if line.text.strip())
    return preview_document(doc, total, round(coverage(doc, source.lines) * total)), _content(doc)


# -- upload checks -------------------------------------------------------------------------------
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*#%&{}$!'`=@+;,]+")


def safe_name(name: str) -> str:
    """A file name safe to store: no folders, control or shell characters, no leading dot, at most 100 characters."""
    name = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    # control, format, unassigned and separator characters (any script's) become dashes
    name = "".join("-" if unicodedata.category(ch)[0] in "CZ" else ch for ch in name)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = re.sub(r"\s+", "-", _UNSAFE.sub("-", stem)).strip(".-_ ") or "document"
    suffix = re.sub(r"[^A-Za-z0-9]", "", suffix).lower()
    return f"{stem[:100]}.{suffix}" if suffix else stem[:100]


def _sniff(head: bytes, suffix: str) -> bool:
    """Does the content match the name? Magic bytes for binary formats, decodable text for the others."""
    if suffix == ".docx":
        return head.startswith(b"PK\x03\x04")
    if suffix == ".pdf":
        return head.lstrip()[:5] == b"%PDF-"
    if suffix in (".txt", ".md") and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True  # UTF-16 with its BOM (Windows Notepad's "Unicode"): its NUL bytes are text
    if b"\x00" in head:
        return False
    if suffix in (".html", ".htm"):
        return re.search(rb"<(!doctype|html|head|body|div|p|article|table)[\s>]", head.lower()) is not None
    return not head.startswith((b"PK\x03\x04", b"%PDF-", b"\x89PNG", b"\xff\xd8\xff", b"GIF8"))


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            names = {i.filename for i in infos}
    except zipfile.BadZipFile as exc:
        raise UploadError(f"{path.name}: not a valid .docx (zip) file ({exc})") from exc
    unpacked = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if len(infos) > MAX_ZIP_ENTRIES or unpacked > MAX_UNPACKED or unpacked / packed > MAX_RATIO:
        raise UploadError(
            f"{path.name}: refused, it unpacks to {unpacked:,} bytes from {packed:,} ({len(infos)} entries) — a zip bomb? "
            f"limits: {MAX_UNPACKED:,} bytes, ratio {MAX_RATIO}, {MAX_ZIP_ENTRIES} entries",
            Refused.ZIP_BOMB,
        )
    if "word/document.xml" not in names:
        raise UploadError(f"{path.name}: a zip file without word/document.xml is not a Word .docx")


def check_upload(path: Path, *, name: str | None = None, max_bytes: int = MAX_BYTES) -> Upload:
    """Refuse what should never be parsed; ``name`` is the uploader's file name when ``path`` is a temp file."""
    path = Path(path)
    stored = safe_name(name or path.name)
    suffix = Path(stored).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UploadError(unsupported(stored), Refused.TYPE)
    size = path.stat().st_size
    if size > max_bytes:
        raise UploadError(f"{stored}: {size:,} bytes is over the {max_bytes:,}-byte limit", Refused.SIZE)
    if size == 0:
        raise UploadError(f"{stored}: the file is empty", Refused.EMPTY)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not _sniff(head, suffix):
        raise UploadError(f"{stored}: its content is not a {suffix} file; rename it to its real type or re-save it", Refused.CONTENT)
    if suffix == ".docx":
        _check_zip(path)
    return Upload(path, stored, size, file_sha256(path))


def file_sha256(path: Path) -> str:
    """The content hash ingest compares files by (the index manifest can keep it per document)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- the corpus folder ---------------------------------------------------------------------------
def _existing(corpus_dir: Path) -> list[Path]:
    try:
        return corpus_files([corpus_dir])
    except FileNotFoundError:
        return []


def _free_name(name: str, taken_stems: set[str]) -> str:
    """``name`` or ``name-2``, ``name-3`` …: a doc id is the file's stem, so stems must differ across suffixes too."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, n = stem, 1
    while candidate in taken_stems:
        n += 1
        candidate = f"{stem}-{n}"
    return candidate + suffix


def _copy_atomic(src: Path, dest: Path) -> None:
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def ingest(paths: Sequence[Path], corpus_dir: Path, *, names: Sequence[str] | None = None, max_bytes: int = MAX_BYTES) -> list[IngestResult]:
    """Check, parse and copy each file into ``corpus_dir``; identical content is skipped, clashing names renamed."""
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    existing = _existing(corpus_dir)
    hashes = {file_sha256(f): f for f in existing}
    stems = {f.stem for f in existing}
    texts: dict[Path, _Content | None] = {}  # parsed only when a file that is new byte for byte needs comparing
    results: list[IngestResult] = []
    for i, raw in enumerate(paths):
        path = Path(raw)
        try:
            upload = check_upload(path, name=names[i] if names else None, max_bytes=max_bytes)
        except (UploadError, OSError) as exc:
            results.append(IngestResult(path, Status.FAILED, str(exc)))
            continue
        if upload.sha256 in hashes:
            same = hashes[upload.sha256]
            results.append(IngestResult(path, Status.SKIPPED, f"{upload.name}: identical to {same.name} already in the corpus", same.stem, same))
            continue
        found, mine = _parsed(upload.path)
        texts.update((f, _parsed(f)[1]) for f in existing if f not in texts)
        twin = next((f for f, theirs in texts.items() if mine and theirs and _same_document(mine, theirs)), None)
        if twin is not None:
            message = f"{upload.name}: the same text as {twin.name} already in the corpus (one document in two formats); remove {twin.stem} first to replace it"
            results.append(IngestResult(path, Status.SKIPPED, message, twin.stem, twin))
            continue
        result = _add(upload, found, corpus_dir, stems)
        if result.status is Status.ADDED and result.stored is not None:
            hashes[upload.sha256] = result.stored
            texts[result.stored] = mine
            stems.add(result.stored.stem)
        results.append(result)
    return results


def _content(doc: Document) -> _Content:
    """A document's title and its units' texts without layout (spaces, full-width forms)."""
    body = [u for u in doc.tree if u.kind not in (UnitKind.HEADER, UnitKind.SIGNOFF)]
    return doc.title, frozenset(re.sub(r"\s+", "", unicodedata.normalize("NFKC", u.text)) for u in body)


def _same_document(a: _Content, b: _Content) -> bool:
    """One document in two formats: a .docx and the .pdf printed from it differ in layout only. A revision, even of
    one unit, is a document of its own (and is added)."""
    return bool(a[1]) and a == b


def _add(upload: Upload, found: Preview, corpus_dir: Path, stems: set[str]) -> IngestResult:
    stored = corpus_dir / _free_name(upload.name, stems)
    if found.error:
        return IngestResult(upload.path, Status.FAILED, found.error, preview=found)
    _copy_atomic(upload.path, stored)
    found = Preview(**{**found.__dict__, "doc_id": stored.stem, "source": stored.name})
    renamed = f" (renamed from {upload.name}: the name was taken)" if stored.name != upload.name else ""
    logger.info("added %s to %s", stored.name, corpus_dir)
    return IngestResult(upload.path, Status.ADDED, f"added as {stored.name}{renamed}", stored.stem, stored, found)


def documents(corpus_dir: Path) -> list[Preview]:
    """Every document in the corpus folder with what its parse found (``error`` set for files that fail)."""
    return previews([Path(corpus_dir)])


def previews(paths: Sequence[Path]) -> list[Preview]:
    """A preview of every corpus file under ``paths`` (files or folders): the per-file summary of an index build."""
    try:
        files = corpus_files([Path(p) for p in paths])
    except FileNotFoundError:
        return []
    return _warn_twins(files, [_parsed(f) for f in files])


def _warn_twins(files: Sequence[Path], parsed: list[tuple[Preview, _Content | None]]) -> list[Preview]:
    """A file put in the corpus folder by hand next to the same text in another format (ingest skips those) is named:
    every answer from it is cited twice."""
    seen: dict[_Content, Path] = {}
    out: list[Preview] = []
    for path, (p, mine) in zip(files, parsed):
        if mine and mine[1] and (twin := seen.get(mine)) is not None:
            note = f"the same text as {twin.name} (one document in two formats): its answers are cited twice; remove one with `policyqa remove {path.stem}`"
            p = replace(p, warnings=(*p.warnings, note))
        elif mine:
            seen[mine] = path
        out.append(p)
    return out


def remove(doc_id: str, corpus_dir: Path) -> Path:
    """Delete the corpus file whose doc id is ``doc_id``; returns the removed path."""
    files = _existing(Path(corpus_dir))
    for f in files:
        if f.stem == doc_id:
            f.unlink()
            logger.info("removed %s", f)
            return f
    known = ", ".join(sorted(f.stem for f in files)) or "(none)"
    raise KeyError(f"no document {doc_id!r} in {corpus_dir}; known: {known}")


# -- command line ------------------------------------------------------------------------------------
EmbedderLoader = Callable[[str | None], "PassageEmbedder"]
EXIT_OK, EXIT_INPUT = 0, 2


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _corpus(args: argparse.Namespace) -> tuple[list[Path], Path]:
    """The corpus paths to index and the folder new files go into (the first folder among them)."""
    from . import config

    paths = [Path(p) for p in (args.corpus or config.corpus_paths())]
    folder = next((p for p in paths if p.is_dir() or not p.exists()), None)
    if folder is None:
        raise FileNotFoundError(f"no corpus folder among {', '.join(map(str, paths))}; pass --corpus FOLDER")
    return paths, folder


def _update_index(args: argparse.Namespace, paths: list[Path], load_embedder: EmbedderLoader | None) -> None:
    from . import config
    from .index import load_or_build

    if load_embedder is None:
        from .embedding import load_embedder as default_loader

        load_embedder = default_loader
    index = load_or_build(paths, args.index_dir or config.index_dir(), load_embedder(args.model), progress=_say)
    print(f"index: {index.manifest.chunk_count} chunks from {len(index.manifest.documents)} document(s)")


def cmd_ingest(args: argparse.Namespace, load_embedder: EmbedderLoader | None = None) -> int:
    paths, folder = _corpus(args)
    if args.dry_run:
        found = [preview(f) for f in args.files]
        for p in found:
            print(p.summary())
        return EXIT_OK if any(not p.error for p in found) else EXIT_INPUT  # a script sees that nothing could be read
    results = ingest(args.files, folder)
    for r in results:
        print(f"{r.status.value}: {r.message}")
        if r.preview is not None and r.status is Status.ADDED:
            print("    " + r.preview.summary().replace("\n", "\n    "))
            if r.preview.first_items:
                print("    first items: " + " / ".join(r.preview.first_items))
    if any(r.status is Status.ADDED for r in results):
        _update_index(args, paths, load_embedder)
    return EXIT_OK if any(r.status is not Status.FAILED for r in results) else EXIT_INPUT


def cmd_documents(args: argparse.Namespace) -> int:
    _, folder = _corpus(args)
    found = documents(folder)
    for p in found:
        print(p.summary())
    print(f"{len(found)} document(s) in {folder}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, load_embedder: EmbedderLoader | None = None) -> int:
    paths, folder = _corpus(args)
    try:
        removed = remove(args.doc_id, folder)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return EXIT_INPUT
    print(f"removed {removed.name}")
    _update_index(args, paths, load_embedder)
    return EXIT_OK


def add_commands(subparsers: Any, parents: Sequence[argparse.ArgumentParser] = (), load_embedder: EmbedderLoader | None = None) -> None:
    """Register ``ingest FILE…``, ``documents`` and ``remove DOC_ID`` on the policyqa command line."""
    p = subparsers.add_parser("ingest", parents=list(parents), help="add .txt/.md/.docx/.pdf/.html policy files to the corpus and update the index")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--dry-run", action="store_true", help="show what the parse finds; copy nothing")
    p.set_defaults(func=partial(cmd_ingest, load_embedder=load_embedder))
    d = subparsers.add_parser("documents", parents=list(parents), help="list the corpus documents with what their parse found")
    d.set_defaults(func=cmd_documents)
    r = subparsers.add_parser("remove", parents=list(parents), help="remove a document from the corpus and update the index")
    r.add_argument("doc_id", metavar="DOC_ID", help="the document id: its file name without the suffix (see `policyqa documents`)")
    r.set_defaults(func=partial(cmd_remove, load_embedder=load_embedder))
