"""One reader per file format, each turning a file into clean lines (:class:`~assistant.parsing.model.Source`).

Adding a format is one module here with ``SUFFIXES`` and ``read(path) -> Source``, listed in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..model import ParseError, Source

_MODULES = {"text": (".txt", ".md"), "docx": (".docx",), "pdf": (".pdf",), "html": (".html", ".htm")}

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(s for suffixes in _MODULES.values() for s in suffixes)


def reader_for(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    for module, suffixes in _MODULES.items():
        if suffix in suffixes:
            return module
    raise ParseError(f"{Path(path).name}: unsupported file type {suffix or '(none)'!r}; supported: {' '.join(SUPPORTED_SUFFIXES)}")


def read(path: Path) -> Source:
    """Read any supported file; heavy format libraries load only when their format is read."""
    module = importlib.import_module(f"{__name__}.{reader_for(path)}")
    return module.read(Path(path))
