"""Plain text and Markdown: UTF-8 (BOM or not), UTF-16 with a BOM, GB18030 read with a warning, YAML front matter, pipe tables
and tables typed as aligned columns (cells apart by tabs, two or more spaces, or inner pipes)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ..front_matter import ends_title, split_front_matter
from ..markers import opens_item
from ..model import Line, ParseError, Source

SUFFIXES = (".txt", ".md")

_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
# Markdown's own marks, which are no words of the policy: a quote's >, a bullet, a rule, emphasis and link targets.
_MD_LEAD = re.compile(r"^(?:>\s?)+|^[-*+]\s+(?=\S)")
_MD_RULE = re.compile(r"^(?:[-*]\s*){3,}$")  # not ___: a form's blank cut at a line end
_MD_EMPHASIS = re.compile(r"(?<![_*])(\*\*|__)(?=[^\s_*])(.+?)(?<=[^\s_*])\1(?![_*])")  # not in a form's blank: ____年__月
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)\s]*\)")
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
        out.append(Line(plain(s)))
    return tuple(_unwrap(out, raw))


def plain(line: str) -> str:
    """A line without Markdown's marks: **（一）小班**：… reads （一）小班：…, so its numbering is seen and quoted clean."""
    if _MD_RULE.match(line):
        return ""
    text = _MD_LEAD.sub("", _MD_HEADING.sub("", line))
    return _MD_EMPHASIS.sub(r"\2", _MD_LINK.sub(r"\1", text)).strip()


#: A form's field and its blank (公示日期：____年__月__日): a line of its own, not the rest of the line above.
_FIELD = re.compile(r"^[\u4e00-\u9fff（）()]{2,12}[：:][^，。；]{0,8}?[_＿]{2}")

#: Sentence ends: a text typed one paragraph per line ends its long lines with them; a hard-wrapped one seldom does.
_CLOSING = tuple("。！？；：!?;:")


def width(text: str) -> int:
    """Display width: a Chinese character or full-width mark counts two, a digit or Latin letter one."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap_width(raw: list[str]) -> int:
    """The width a hard-wrapped text was cut at (a text saved from a PDF or an e-mail), or 0. Its full lines end
    within two columns of one width (a Chinese character that does not fit goes to the next line) and mostly stop
    mid-sentence; the long lines of a text typed one paragraph per line scatter in width and end their sentences."""
    # Widths count an indent: a paragraph's first line is cut at the same column as the rest.
    widths = [(width(s), s.endswith(_CLOSING)) for s in (line.rstrip() for line in raw) if width(s) >= 40]
    if not widths:
        return 0
    top = max({w for w, _ in widths}, key=lambda t: (sum(t - 2 <= w <= t for w, _ in widths), t))
    full = [closed for w, closed in widths if top - 2 <= w <= top]
    wrapped = len(full) >= 3 and len(full) >= 0.25 * len(widths) and sum(full) <= 0.4 * len(full)
    return top if wrapped else 0


def _unwrap(lines: list[Line], raw: list[str]) -> list[Line]:
    """A paragraph hard-wrapped across lines is one line again (考试、测 / 试、面谈 → 考试、测试、面谈), as the PDF reader
    joins them: a full-width line continues into the next unless it ends a sentence (a break there costs nothing),
    or the next is indented or numbered (not after an enumeration comma: 按正文三、 / （五）执行), or either is laid out in columns (两个发文单位并排的落款) or a table row. The joined line's place keeps an empty
    line, so line numbers stay those of the file."""
    full = wrap_width(raw)
    if not full:
        return lines
    out = list(lines)
    head = 0
    title = next((i for i, line in enumerate(out) if line.text), -1)  # a title that fills the width still ends there
    for i in range(1, len(out)):
        prev, line, text = out[i - 1], out[i], raw[i] if i < len(raw) else ""
        wraps = (
            width(raw[i - 1].rstrip()) >= full - 2
            and not prev.is_table
            and not line.is_table
            and line.text
            and not clean(raw[i - 1]).endswith(_CLOSING)
            and not text.startswith((" ", "\t", "\u3000"))
            and not any(_COLUMN_GAP.search(clean(t)) for t in (raw[i - 1], text))
            and not opens_item(line.text, clean(raw[i - 1]))
            and not _FIELD.match(line.text)
            and not (i - 1 == title and ends_title(prev.text))
        )
        if wraps and out[head].text:
            out[head] = Line(out[head].text + line.text)
            out[i] = Line("")
        else:
            head = i
    return out


def source_of(text: str, warnings: tuple[str, ...] = ()) -> Source:
    meta, body, _skipped = split_front_matter(text)
    return Source(lines_of(body), meta, warnings)


def read(path: Path) -> Source:
    text, warnings = decode(Path(path).read_bytes(), Path(path).name)
    return source_of(text, warnings)
