"""Plain text and Markdown: UTF-8 (BOM or not), UTF-16 with a BOM, GB18030 read with a warning, YAML front matter, pipe tables
and tables typed as aligned columns (cells apart by tabs, two or more spaces, or inner pipes)."""

from __future__ import annotations

import re
from pathlib import Path

from ..front_matter import split_front_matter
from ..model import Line, ParseError, Source

SUFFIXES = (".txt", ".md")

_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
# A column gap in a plain-text table: a tab, two or more (ideographic) spaces, or a pipe (a table typed without the
# outer pipes); one space is a word gap.
_COLUMN_GAP = re.compile(r"(?:\t|[ \u3000]{2,}|[ \u3000]*[|｜][ \u3000]*)+")


def clean(line: str) -> str:
    # NBSP and ideographic spaces count as indentation too.
    return line.strip(" \t\u3000\u00a0\ufeff")


def decode(raw: bytes, name: str) -> tuple[str, tuple[str, ...]]:
    """UTF-8 first; a GB18030 (GBK) file is read too, with a warning saying so."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its BOM: what Windows Notepad saves as "Unicode"
        try:
            return raw.decode("utf-16"), ()
        except UnicodeDecodeError as exc:
            raise ParseError(f"{name}: starts as UTF-16 but does not decode ({exc.reason}); re-save it as UTF-8") from None
    try:
        return raw.decode("utf-8-sig"), ()
    except UnicodeDecodeError as exc:
        reason = exc.reason
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        raise ParseError(f"{name}: not UTF-8 text ({reason}) and not GB18030 either; re-save it as UTF-8") from None
    letters = [ch for ch in text if not ch.isspace()]
    cjk = sum(1 for ch in letters if "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef")
    if not letters or cjk / len(letters) < 0.3:
        raise ParseError(f"{name}: not UTF-8 text ({reason}); re-save it as UTF-8")
    return text, (f"{name}: not UTF-8; read as GB18030 (GBK). Re-save it as UTF-8 to be sure every character is right",)


def aligned_tables(lines: list[str]) -> dict[int, tuple[tuple[str, ...], bool]]:
    """The cells of lines that form aligned-column tables: two or more consecutive lines, each cut by column gaps
    into the same number (at least two) of cells; a table's first line is its header (the bool). A prose line with
    one wide gap stands alone and is no table."""
    cells = [tuple(parts) if len(parts := _COLUMN_GAP.split(clean(line))) > 1 else () for line in lines]
    tables: dict[int, tuple[tuple[str, ...], bool]] = {}
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and len(cells[end]) >= 2 and len(cells[end]) == len(cells[start]):
            end += 1
        if end - start >= 2:
            tables.update((i, (cells[i], i == start)) for i in range(start, end))
        start = max(end, start + 1)
    return tables


def lines_of(text: str) -> tuple[Line, ...]:
    """One Line per source line; Markdown pipe tables and aligned-column tables become rows that carry their header."""
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    aligned = aligned_tables(raw)
    out: list[Line] = []
    header: tuple[str, ...] | None = None
    for line in raw:
        s = clean(line)
        if s.startswith("|") and s.endswith("|") and len(s) > 1:
            if _TABLE_SEPARATOR.match(s):
                out.append(Line(""))  # keeps line numbers aligned with the file
                continue
            cells = tuple(c.strip() for c in s.strip("|").split("|"))
            starts = header is None
            out.append(Line(" ".join(c for c in cells if c), cells, () if starts else header or ()))
            header = cells if starts else header
            continue
        if (aligned_row := aligned.get(len(out))) is not None:
            row, starts = aligned_row
            out.append(Line(" ".join(row), row, () if starts else header or ()))
            header = row if starts else header
            continue
        header = None
        out.append(Line(_MD_HEADING.sub("", s)))
    return tuple(out)


def source_of(text: str, warnings: tuple[str, ...] = ()) -> Source:
    meta, body, _skipped = split_front_matter(text)
    return Source(lines_of(body), meta, warnings)


def read(path: Path) -> Source:
    text, warnings = decode(Path(path).read_bytes(), Path(path).name)
    return source_of(text, warnings)
