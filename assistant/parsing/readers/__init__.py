"""One reader per file format, each turning a file into clean lines (:class:`~assistant.parsing.model.Source`).

Adding a format is one module here with ``SUFFIXES`` and ``read(path) -> Source``, listed in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..model import ParseError, Source

_MODULES = {"text": (".txt", ".md"), "docx": (".docx",), "pdf": (".pdf",), "html": (".html", ".htm")}

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(s for suffixes in _MODULES.values() for s in suffixes)


#: Formats a bureau often sends that are not read, and how to save them as one that is.
_SAVE_AS = {
    ".doc": "open it in Word or WPS and save it as .docx", ".wps": "open it in WPS and save it as .docx",
    ".rtf": "open it in Word or WPS and save it as .docx", ".odt": "save it as .docx",
    ".mht": "save the page as .html", ".mhtml": "save the page as .html", ".xls": "copy its table into a .docx",
    ".xlsx": "copy its table into a .docx", ".et": "copy its table into a .docx", ".ofd": "export it as .pdf",
}


def unsupported(name: str) -> str:
    """The error for a file of a type no reader reads: the type, the supported ones, and how to convert it."""
    suffix = Path(name).suffix.lower()
    fix = f"; {_SAVE_AS[suffix]}" if suffix in _SAVE_AS else ""
    return f"{name}: unsupported file type {suffix or '(none)'!r}; supported: {' '.join(SUPPORTED_SUFFIXES)}{fix}"


def reader_for(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    for module, suffixes in _MODULES.items():
        if suffix in suffixes:
            return module
    raise ParseError(unsupported(Path(path).name))


def read(path: Path) -> Source:
    """Read any supported file; heavy format libraries load only when their format is read."""
    module = importlib.import_module(f"{__name__}.{reader_for(path)}")
    return module.read(Path(path))
