"""PDF with a text layer, through pypdf: positioned text → lines, tables, no page furniture.

Text runs are grouped into visual lines by their baseline; runs far apart on one line
are table cells. Running headers, footers and page numbers ("— 3 —", "第3页") in the
page margins are dropped, and a paragraph wrapped across lines or pages is joined again.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..markers import match_mark
from ..model import Line, ParseError, Source

SUFFIXES = (".pdf",)

_PAGE_NUMBER = re.compile(r"^[-—–－\s]*(?:第\s*)?\d{1,4}\s*(?:页)?(?:\s*[/／]\s*\d{1,4}|\s*共\s*\d{1,4}\s*页)?[-—–－\s]*$")
_MARGIN = 0.08  # share of the page height at the top and bottom where headers and footers live
_ENDS_PARAGRAPH = tuple("。！？：；!?:;")


@dataclass(frozen=True)
class _Run:
    x: float
    y: float
    size: float
    text: str

    @property
    def right(self) -> float:
        return self.x + sum(self.size if ord(ch) > 0x2E7F else self.size * 0.55 for ch in self.text)


@dataclass(frozen=True)
class _VisualLine:
    page: int
    y: float
    size: float
    runs: tuple[_Run, ...]  # left to right
    cells: tuple[str, ...]  # runs merged where they touch: one cell for ordinary text

    @property
    def text(self) -> str:
        return " ".join(self.cells)

    @property
    def x(self) -> float:
        return self.runs[0].x

    @property
    def right(self) -> float:
        return self.runs[-1].right


def _runs(page) -> list[_Run]:
    runs: list[_Run] = []

    def visit(text, cm, tm, font_dict, font_size) -> None:
        if not text.strip():
            return
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        size = (font_size or 1) * math.hypot(tm[0], tm[1]) * math.hypot(cm[0], cm[1])
        runs.append(_Run(x, y, size or 10.0, text.replace("\n", "").strip()))

    page.extract_text(visitor_text=visit)
    return [r for r in runs if r.text]


def _visual_lines(runs: list[_Run], page: int) -> list[_VisualLine]:
    rows: list[list[_Run]] = []
    for run in sorted(runs, key=lambda r: (-r.y, r.x)):
        if rows and abs(rows[-1][0].y - run.y) <= max(2.0, run.size * 0.3):
            rows[-1].append(run)
        else:
            rows.append([run])
    out: list[_VisualLine] = []
    for row in rows:
        row.sort(key=lambda r: r.x)
        cells = [row[0].text]
        for prev, run in itertools.pairwise(row):
            if run.x - prev.right > 1.5 * run.size:
                cells.append(run.text)
            else:
                cells[-1] += run.text
        size = max(r.size for r in row)
        out.append(_VisualLine(page, row[0].y, size, tuple(row), tuple(cells)))
    return out


def _furniture(pages: list[list[_VisualLine]], heights: list[float], body_size: float) -> set[tuple[int, float]]:
    """Lines in the top or bottom margin that are page numbers, repeat on other pages or are set small."""
    def norm(text: str) -> str:
        return re.sub(r"\d+", "#", text)

    counts: dict[str, int] = {}
    for lines in pages:
        for t in {norm(line.text) for line in lines}:
            counts[t] = counts.get(t, 0) + 1
    out: set[tuple[int, float]] = set()
    for lines, height in zip(pages, heights):
        for line in lines:
            if _MARGIN * height < line.y < (1 - _MARGIN) * height:
                continue
            repeated = len(pages) > 1 and counts[norm(line.text)] >= max(2, len(pages) // 2)
            if _PAGE_NUMBER.match(line.text) or repeated or line.size < body_size * 0.85:
                out.add((line.page, line.y))
    return out


def read(path: Path) -> Source:
    import pypdf

    reader = pypdf.PdfReader(str(path))
    pages = [_visual_lines(_runs(page), n) for n, page in enumerate(reader.pages)]
    if not any(pages):
        raise ParseError(f"{Path(path).name}: no text layer (a scanned PDF?); OCR is not supported — use the Word or text original")
    heights = [float(page.mediabox.height) for page in reader.pages]
    sizes = sorted(line.size for lines in pages for line in lines)
    furniture = _furniture(pages, heights, sizes[len(sizes) // 2])
    body = [line for lines in pages for line in lines if (line.page, line.y) not in furniture]
    return Source(tuple(_lines(body)), {}, ())


def _lines(body: list[_VisualLine]) -> list[Line]:
    """Visual lines → logical lines: tables as rows with their header, wrapped paragraphs joined."""
    right_edge = max((v.right for v in body if len(v.cells) == 1), default=0.0)
    out: list[Line] = []
    header: tuple[str, ...] | None = None
    previous: _VisualLine | None = None
    for v in body:
        if len(v.cells) > 1:
            if header is not None and v.cells == header:
                continue  # the table's header repeated on a new page
            if header is not None and len(v.cells) < len(header) and out and out[-1].header:
                out[-1] = _extend_row(out[-1], v, previous)
            elif header is None:
                header = v.cells
                out.append(Line(v.text, v.cells, ()))
            else:
                out.append(Line(v.text, v.cells, header))
            previous = v
            continue
        header = None
        text = v.cells[0]
        if previous is not None and out and not out[-1].is_table and _wraps(previous, v, right_edge):
            out[-1] = Line(out[-1].text + text)
        else:
            out.append(Line(text))
        previous = v
    return out


def _wraps(previous: _VisualLine, line: _VisualLine, right_edge: float) -> bool:
    """A full-width line that does not end a sentence continues on the next line (or page)."""
    full = previous.right >= right_edge - 2 * previous.size
    return full and not previous.text.endswith(_ENDS_PARAGRAPH) and match_mark(line.text) is None and line.x <= previous.x + previous.size


def _extend_row(row: Line, v: _VisualLine, previous: _VisualLine | None) -> Line:
    """A table cell wrapped onto a second line: add each run to the cell whose column it sits in."""
    starts = [r.x for r in previous.runs] if previous is not None and len(previous.runs) == len(row.cells) else []
    cells = list(row.cells)
    for run in v.runs:
        col = max((i for i, x in enumerate(starts) if x <= run.x + run.size), default=len(cells) - 1)
        cells[col] += run.text
    return Line(" ".join(cells), tuple(cells), row.header)
