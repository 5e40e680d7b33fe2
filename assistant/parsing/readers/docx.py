"""Word .docx through python-docx: paragraphs and tables in body order, Word's auto-numbering written out.

A paragraph that Word numbers itself (（一）, 1., ①) does not hold its label as text;
the label is computed from numbering.xml (format, level text, start and restarts)
so the structure parser sees the same lines as in the text version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..markers import CIRCLED, PAREN_DIGITS
from ..model import Line, Source
from ..numerals import int_to_chinese
from .text import clean

SUFFIXES = (".docx",)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CN_DIGITS = "〇一二三四五六七八九"


def _format(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "chineseLegalSimplified", "ideographTraditional", "taiwaneseCounting"):
        return int_to_chinese(n) if n > 0 else "〇"
    if fmt in ("ideographDigital", "taiwaneseDigital"):
        return "".join(_CN_DIGITS[int(d)] for d in str(n))
    if fmt.startswith("decimalEnclosedCircle") and 0 < n <= len(CIRCLED):
        return CIRCLED[n - 1]
    if fmt == "decimalEnclosedParen" and 0 < n <= len(PAREN_DIGITS):
        return PAREN_DIGITS[n - 1]
    if fmt in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (n - 1) % 26)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt == "bullet" or fmt == "none":
        return ""
    return str(n)


@dataclass
class _Numbering:
    """Word list counters: numId → abstract levels (format, text, start) and running counts."""

    levels: dict[str, dict[int, tuple[str, str, int]]] = field(default_factory=dict)  # abstractNumId → ilvl → level
    nums: dict[str, tuple[str, dict[int, int]]] = field(default_factory=dict)  # numId → (abstractNumId, start overrides)
    counts: dict[str, dict[int, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Any) -> _Numbering:
        out = cls()
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError):
            return out
        for absn in root.iter(f"{_W}abstractNum"):
            levels: dict[int, tuple[str, str, int]] = {}
            for lvl in absn.iter(f"{_W}lvl"):
                fmt, text, start = lvl.find(f"{_W}numFmt"), lvl.find(f"{_W}lvlText"), lvl.find(f"{_W}start")
                levels[int(lvl.get(f"{_W}ilvl"))] = (
                    fmt.get(f"{_W}val") if fmt is not None else "decimal",
                    text.get(f"{_W}val") if text is not None else "",
                    int(start.get(f"{_W}val")) if start is not None else 1,
                )
            out.levels[absn.get(f"{_W}abstractNumId")] = levels
        for num in root.iter(f"{_W}num"):
            abstract = num.find(f"{_W}abstractNumId")
            overrides = {
                int(o.get(f"{_W}ilvl")): int(s.get(f"{_W}val"))
                for o in num.iter(f"{_W}lvlOverride")
                if (s := o.find(f"{_W}startOverride")) is not None
            }
            if abstract is not None:
                out.nums[num.get(f"{_W}numId")] = (abstract.get(f"{_W}val"), overrides)
        return out

    def label(self, num_id: str, ilvl: int) -> str:
        if num_id not in self.nums or num_id == "0":
            return ""
        abstract, overrides = self.nums[num_id]
        levels = self.levels.get(abstract, {})
        if ilvl not in levels:
            return ""
        counts = self.counts.setdefault(num_id, {})
        start = overrides.get(ilvl, levels[ilvl][2])
        counts[ilvl] = counts.get(ilvl, start - 1) + 1
        for deeper in [k for k in counts if k > ilvl]:
            del counts[deeper]  # a new item restarts the levels below it
        text = levels[ilvl][1]
        for k in range(ilvl + 1):
            fmt = levels.get(k, ("decimal", "", 1))[0]
            value = counts.get(k, overrides.get(k, levels.get(k, ("", "", 1))[2]))
            text = text.replace(f"%{k + 1}", _format(value, fmt))
        return text


def _num_pr(paragraph: Any) -> tuple[str, int] | None:
    """The paragraph's numbering (numId, level), set on it or inherited from its style."""
    candidates = [paragraph._p.pPr]
    style = paragraph.style
    while style is not None:
        candidates.append(style.element.pPr)
        style = style.base_style
    for ppr in candidates:
        if ppr is None or ppr.numPr is None or ppr.numPr.numId is None:
            continue
        ilvl = ppr.numPr.ilvl.val if ppr.numPr.ilvl is not None else 0
        return str(ppr.numPr.numId.val), int(ilvl)
    return None


def _table_lines(table: Any, at_top: bool) -> list[Line]:
    rows = [_row_cells(row) for row in table.rows]
    rows = [cells for cells in rows if any(cells)]
    if (at_top and len(rows) == 1) or all(sum(1 for c in cells if c) <= 1 for cells in rows):
        # A table that only lays out text (a 红头's 文号 | 签发人 row above the title, a boxed note): its cells are
        # lines, so the 文号 and the title below it are read as the document's front matter, not as a table row.
        return [Line(t) for cells in rows for c in cells if c for t in c.split("\n") if t]
    out: list[Line] = []
    header: tuple[str, ...] = ()
    for r, cells in enumerate(rows):
        cells = [c.replace("\n", " ") for c in cells]
        if r == 0 or not header:
            header = tuple(cells)
            out.append(Line(" ".join(c for c in cells if c), header, ()))
        else:
            out.append(Line(" ".join(c for c in cells if c), tuple(cells), header))
    return out


def _row_cells(row: Any) -> list[str]:
    """A row's cells, a merged cell once (it is listed once per grid column it spans), each cell's lines kept apart."""
    cells: list[str] = []
    seen: set[int] = set()
    for cell in row.cells:
        if id(cell._tc) in seen:
            continue
        seen.add(id(cell._tc))
        cells.append("\n".join(clean(t) for t in cell.text.splitlines() if clean(t)))
    return cells


def _heading_level(paragraph: Any) -> int:
    """2 for a paragraph styled Heading 2 (标题 2 in a Chinese Word), else 0."""
    style = paragraph.style
    m = re.fullmatch(r"(?:heading|标题)\s*([1-6])", (style.name or "").strip(), re.IGNORECASE) if style is not None else None
    return int(m.group(1)) if m else 0


def read(path: Path) -> Source:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
    numbering = _Numbering.of(document)
    lines: list[Line] = []
    for element in document.element.body.iterchildren():
        if element.tag == f"{_W}tbl":
            # at most the issuer's 文件 line above it: the head of a 红头 document
            lines += _table_lines(Table(element, document), at_top=sum(1 for line in lines if line.text) <= 1)
        elif element.tag == f"{_W}p":
            paragraph = Paragraph(element, document)
            num = _num_pr(paragraph)
            label = numbering.label(*num) if num else ""
            # Word puts a tab after the label; a bare number (2.1, 2.1.1) run into the text would read as part of it.
            label += " " if label[-1:].isdigit() else ""
            heading = _heading_level(paragraph)
            for i, part in enumerate(paragraph.text.split("\n")):
                lines.append(Line(clean((label if i == 0 else "") + part), heading=heading))
    # Core properties (title, author) are often a template's leftovers: the text itself is trusted instead.
    return Source(tuple(lines), {}, ())
