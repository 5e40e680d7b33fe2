"""Files and folders in, documents out: one bad file is reported and skipped, never fatal for the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from . import readers
from .model import Document, ParseError, Source
from .readers import SUPPORTED_SUFFIXES, unsupported
from .readers.text import source_of
from .structure import parse_source

logger = logging.getLogger(__name__)

OnError = Callable[[Path, Exception], None]


def parse_text(text: str, doc_id: str, source: str = "") -> Document:
    """Parse the text of a policy document (front matter, numbering, tables) into units."""
    return parse_source(source_of(text), doc_id, source)


def parse_file(path: Path) -> Document:
    """Read a .txt/.md/.docx/.pdf/.html file and parse it; every failure is a ParseError naming the file."""
    return load(path)[1]


def load(path: Path) -> tuple[Source, Document]:
    """The reader's lines and the parsed document (for coverage and previews)."""
    path = Path(path)
    kind = readers.reader_for(path)
    try:
        src = readers.read(path)
    except ParseError:
        raise
    except ImportError as exc:
        raise ParseError(f"{path.name}: reading {kind} files needs {exc.name}; install it with: pip install 'policy-qa[formats]'") from exc
    except OSError as exc:
        raise ParseError(f"{path.name}: cannot read it ({exc})") from exc
    except Exception as exc:  # the format libraries raise their own types for damaged files
        raise ParseError(f"{path.name}: not a readable {kind} file ({type(exc).__name__}: {exc})") from exc
    if not any(line.text for line in src.lines):
        raise ParseError(f"{path.name}: no text found in it")
    return src, parse_source(src, doc_id=path.stem, source_name=path.name)


def corpus_files(paths: list[Path]) -> list[Path]:
    """Expand files and folders into a sorted, de-duplicated list of policy files; unsupported files are logged."""
    files: set[Path] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in p.rglob("*"):
                if not f.is_file() or f.name.startswith(("README", ".")):
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.add(f)
                else:
                    logger.warning("skipping %s", unsupported(str(f)))
        elif p.is_file():
            files.add(p)
        else:
            raise FileNotFoundError(f"corpus path {p} does not exist; fix POLICYQA_CORPUS or --corpus")
    if not files:
        raise FileNotFoundError(f"no policy files ({' '.join(SUPPORTED_SUFFIXES)}) under {', '.join(map(str, paths))}")
    return sorted(files, key=lambda f: (f.name, str(f)))


def _report(path: Path, exc: Exception) -> None:
    logger.warning("skipped %s: %s", path, exc)


def parse_corpus(paths: list[Path], on_error: OnError | None = None) -> list[Document]:
    """Parse every file; a file that fails goes to ``on_error`` (default: a logged warning) and is skipped.

    Raises ParseError only when no file at all could be parsed.
    """
    report = on_error or _report
    docs: list[Document] = []
    seen: dict[str, str] = {}
    files = corpus_files(paths)
    for f in files:
        try:
            doc = parse_file(f)
            if doc.doc_id in seen:
                raise ParseError(f"{f.name}: another corpus file ({seen[doc.doc_id]}) has the same name {doc.doc_id!r}; rename one")
        except ParseError as exc:
            report(f, exc)
            continue
        seen[doc.doc_id] = doc.source
        docs.append(doc)
    if not docs:
        raise ParseError(f"none of the {len(files)} corpus file(s) could be parsed; see the messages above")
    return docs
