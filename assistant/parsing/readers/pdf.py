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

from ..markers import match_mark, opens_item
from ..model import Line, ParseError, Source

SUFFIXES = (".pdf",)

_PAGE_NUMBER = re.compile(r"^[-—–－\s]*(?:第\s*)?\d{1,4}\s*(?:页)?(?:\s*[/／]\s*\d{1,4}|\s*共\s*\d{1,4}\s*页)?[-—–－\s]*$")
_MARGIN = 0.06  # share of the page height at the top and bottom where headers and footers live
_ENDS_PARAGRAPH = tuple("。！？：；!?:;")
_BLANK = ("＿", "_")  # a fill-in blank


@dataclass(frozen=True)
class _Run:
    x: float
    y: float
    size: float
    text: str
    indented: bool = False  # starts with ideographic (or two plain) spaces: a paragraph's first line
    lead: float = 0.0  # width of the spaces the run starts with

    @property
    def right(self) -> float:
        # CJK fonts set ideographs, CJK punctuation and “”—… a full em wide, Latin letters and digits about half
        return self.x + self.lead + sum(self.size if ord(ch) >= 0x2000 else self.size * 0.55 for ch in self.text)


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
    indent_at: list[float] = []  # baselines where a whitespace-only run (an indent) was drawn

    def visit(text, cm, tm, font_dict, font_size) -> None:
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        raw = text.replace("\n", "")
        if not raw.strip():
            if "\u3000" in raw or len(raw) >= 2:
                indent_at.append(y)
            return
        size = (font_size or 1) * math.hypot(tm[0], tm[1]) * math.hypot(cm[0], cm[1])
        indented = raw[:1] == "\u3000" or raw[:2] == "  " or any(abs(y - at) < 1 for at in indent_at[-1:])
        spaces = raw[: len(raw) - len(raw.lstrip())]
        lead = sum(size if ch == "\u3000" else size * 0.3 for ch in spaces)
        runs.append(_Run(x, y, size or 10.0, raw.strip(), indented, lead))

    page.extract_text(visitor_text=visit)
    return runs


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
            if _PAGE_NUMBER.match(line.text) or repeated or line.size < body_size * 0.95:
                out.add((line.page, line.y))
    return out


def read(path: Path) -> Source:
    import pypdf

    reader = pypdf.PdfReader(str(path))
    pages = [_visual_lines(_runs(page), n) for n, page in enumerate(reader.pages)]
    if not any(pages):
        raise ParseError(f"{Path(path).name}: no text layer (a scanned PDF?); OCR is not supported — use the Word or text original")
    heights = [float(page.mediabox.height) for page in reader.pages]
    # The body text size: the size most characters of ordinary (non-table) lines are set in.
    weights: dict[float, int] = {}
    for line in (line for lines in pages for line in lines if len(line.cells) == 1):
        weights[round(line.size, 1)] = weights.get(round(line.size, 1), 0) + len(line.text)
    furniture = _furniture(pages, heights, max(weights, key=lambda s: weights[s]) if weights else 0.0)
    body = [line for lines in pages for line in lines if (line.page, line.y) not in furniture]
    return Source(tuple(_lines(body)), {}, ())


def _lines(body: list[_VisualLine]) -> list[Line]:
    """Visual lines → logical lines: tables as rows with their header, wrapped paragraphs joined."""
    # The text block's right edge: a high percentile of line ends, robust to a line whose width is over-estimated.
    ends = sorted(v.right for v in body if len(v.cells) == 1)
    right_edge = ends[int(0.9 * (len(ends) - 1))] if ends else 0.0
    indents = any(v.runs[0].indented for v in body)
    left_edge = min((v.x for v in body), default=0.0)
    out: list[Line] = []
    i = 0
    while i < len(body):
        v = body[i]
        if len(v.cells) == 1 and i + 1 < len(body) and _heads_cell(v, body[i + 1]):
            body = [*body[:i], body[i + 1], v, *body[i + 2 :]]  # the heading row's own line first: it sets the columns
            v = body[i]
        if len(v.cells) > 1:
            end = _table_end(body, i)
            out += _table_rows(body[i:end])
            i = end
            continue
        if i and out and not out[-1].is_table and _wraps(body[i - 1], v, left_edge, right_edge, indents):
            out[-1] = Line(out[-1].text + v.cells[0])
        else:
            out.append(Line(v.cells[0]))
        i += 1
    return out


def _wraps(previous: _VisualLine, line: _VisualLine, left_edge: float, right_edge: float, indents: bool) -> bool:
    """Does ``line`` continue the paragraph of the full-width line before it (on this page or the last)?

    Where paragraphs start indented, an unindented line after a full line continues it, even after a 。
    that fell at the line end; without indents, a full line that does not end a sentence continues.
    """
    full = previous.right >= right_edge - 2 * previous.size and previous.x <= left_edge + 2 * previous.size
    if not full or opens_item(line.text, previous.text) or line.x > left_edge + line.size:
        return False  # a short, centred or right-aligned line ends its paragraph; the next line starts anew
    if previous.text.endswith(_BLANK):
        return False  # a form's field ends in its blank (□其他＿＿＿＿ / 问题描述：): no word is cut there
    if indents:
        return not line.runs[0].indented
    return not previous.text.endswith(_ENDS_PARAGRAPH)


def _heads_cell(line: _VisualLine, row: _VisualLine, above: bool = True) -> bool:
    """Is ``line`` a line of a heading cell wrapped in the table row next to it (收费标准（元/ above, 课时） below, the
    row's other cells between, as a cell centred in its row sets them)? It sits close above (or below), in a gap
    between the row's cells, right of the first."""
    run = line.runs[0]
    dy = line.y - row.y if above else row.y - line.y
    close = line.page == row.page and 0 < dy <= 1.5 * row.size
    return close and len(row.cells) > 1 and run.x > row.runs[0].right and all(run.right <= r.x or run.x >= r.right for r in row.runs)


def _starts(region: list[_VisualLine]) -> list[float]:
    """Where the columns start: the heading row's cells, a wrapped heading's lines above or below them included."""
    head = region[0]
    lines = [v for v in region[1:3] if len(v.cells) == 1 and (_heads_cell(v, head) or _heads_cell(v, head, above=False))]
    return sorted([r.x for r in head.runs] + [v.runs[0].x for v in lines])


def _column(x: float, starts: list[float], size: float) -> int:
    return max((k for k, s in enumerate(starts) if s <= x + size), default=0)


def _table_end(body: list[_VisualLine], start: int) -> int:
    """Where the table that starts at ``body[start]`` (its header) ends.

    A line stays in the table when it has several cells, or sits in a column right of the first
    (a wrapped cell), or fits inside the first column close below the line before it.
    """
    starts = _starts(body[start : start + 3])
    end = start + 1
    while end < len(body):
        v, prev = body[end], body[end - 1]
        near = v.page != prev.page or prev.y - v.y <= 2.2 * v.size
        if len(v.cells) > 1 or _column(v.x, starts, v.size) > 0:
            # each run must start where a column's text starts: a right-aligned 落款 below a table does not
            ok = near and all(abs(r.x - starts[_column(r.x, starts, r.size)]) <= r.size for r in v.runs)
        else:
            fits = len(starts) < 2 or v.right <= starts[1]
            ok = near and fits and match_mark(v.text) is None
        if not ok:
            break
        end += 1
    return end


def _centred_cells_joined(rows: list[list[_VisualLine]], starts: list[float]) -> list[list[_VisualLine]]:
    """A cell wrapped over three lines and centred in its row starts a line above the row's other cells and ends a
    line below: lines with nothing in the first column join the row of the same page whose nearest line is closest (the
    row above on a tie, as a top-aligned cell continues downwards)."""

    def keyed(row: list[_VisualLine]) -> bool:
        return any(_column(r.x, starts, r.size) == 0 for v in row for r in v.runs)

    def gap(row: list[_VisualLine], other: list[_VisualLine]) -> float:
        return min(abs(v.y - w.y) for v in row for w in other)

    anchors = {k for k, row in enumerate(rows) if k == 0 or keyed(row)}
    if len(anchors) == len(rows):
        return rows
    joined: dict[int, list[_VisualLine]] = {k: list(rows[k]) for k in anchors}
    ordered = sorted(anchors)
    for k, row in enumerate(rows):
        if k in anchors:
            continue
        same_page = [a for a in ordered if a > 0 and rows[a][0].page == row[0].page]
        if not same_page:
            joined[k] = list(row)  # no keyed row to belong to: a row of its own, as before
            continue
        # A line inside a cell sits closer than rows do; where the pitch is even, a line right above a row whose cell
        # also runs a line below it is that centred cell's first line.
        centred = k + 2 < len(rows) and k + 1 in anchors and k + 2 not in anchors and rows[k + 2][0].page == row[0].page
        best = min(same_page, key=lambda a: (round(gap(rows[a], row), 1), (a < k) if centred else (a > k)))
        joined[best] += row
    return [sorted(joined[k], key=lambda v: -v.y) for k in sorted(joined)]


def _table_rows(region: list[_VisualLine]) -> list[Line]:
    """Group a table's visual lines into rows (a wrapped cell's lines sit closer than rows do) and cells by column."""
    starts = _starts(region)
    rows: list[list[_VisualLine]] = []
    for v in region:
        if rows and v.page == rows[-1][-1].page and min(w.y for w in rows[-1]) - v.y <= 1.5 * v.size:
            rows[-1].append(v)
        else:
            rows.append([v])
    rows = _centred_cells_joined(rows, starts)
    out: list[Line] = []
    header: tuple[str, ...] = ()
    for row in rows:
        cells = [""] * len(starts)
        for v in sorted(row, key=lambda v: -v.y):
            for run in v.runs:
                cells[_column(run.x, starts, run.size)] += run.text
        found = tuple(cells)
        if header and found == header:
            continue  # the header repeated on a new page
        out.append(Line(" ".join(c for c in found if c), found, header))
        header = header or found
    return out
