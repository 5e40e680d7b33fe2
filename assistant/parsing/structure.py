"""Build a document's numbering tree from clean lines: one parser for every format and layout.

The front lines (before the first numbered line) become a header and a preamble;
every numbered line opens a node (see :mod:`.markers`), unnumbered lines continue
the node they follow, table rows become row units under it, and a trailing
issuer + date becomes the 落款. Every non-empty line lands in exactly one unit.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .front_matter import DATE_LINE, FrontMatter, is_sentence, read_front, year_of
from .markers import DECIMAL_MARKS, POINT_MARKS, Mark, Role, match_mark, styled_mark
from .model import STRUCTURAL, DocKind, Document, Line, Source, Unit, UnitKind, spaced
from .numerals import split_sentences


@dataclass
class _Node:
    kind: str  # "mark", "paragraph", "row", "signoff"
    start: int
    mark: Mark | None = None
    parent: _Node | None = None
    text: list[str] = field(default_factory=list)
    end: int = 0
    children: list[_Node] = field(default_factory=list)
    tables: int = 0  # tables opened under this node
    row: int = 0  # for rows: its index in its table; for tables' rows numbering
    table: int = 0
    caption: str = ""  # for rows: the table's own numbered caption (表1 青岚区…补助标准), read as their heading

    @property
    def role(self) -> Role | None:
        return self.mark.rule.role if self.mark else None


def _title(body: str) -> str:
    head = body.split("。", 1)[0].split("\n", 1)[0]
    head = head if len(head) <= 40 else head[:40]
    return head.rstrip("；;，,：:") or head


def _heading_name(node: _Node) -> str:
    assert node.mark is not None
    if node.role is Role.HEADING:
        return re.sub(r"[\s\u3000]+", " ", f"{node.mark.label} {node.mark.rest}".strip())
    sep = " " if node.mark.rule.name in DECIMAL_MARKS else ""  # 2.1 校园食品安全, as decimal outlines are written
    return node.mark.label + sep + _title(node.mark.rest)


class _Tree:
    """The open nodes while lines are read; ``nodes`` keeps every node in document order."""

    def __init__(self) -> None:
        self.stack: list[_Node] = []
        self.nodes: list[_Node] = []
        self.root_paragraphs = 0
        self.root_tables = 0
        self.pending_header: tuple[int, Line] | None = None  # a table's header row, claimed by its first row
        self.table_no = self.row_no = 0
        self.caption = ""

    def _add(self, node: _Node) -> _Node:
        node.parent = self.stack[-1] if self.stack else None
        if node.parent is not None:
            node.parent.children.append(node)
        node.end = node.start + 1
        self.nodes.append(node)
        return node

    def open_mark(self, i: int, mark: Mark) -> None:
        role, name = mark.rule.role, mark.rule.name
        if role is Role.HEADING:
            while self.stack and not (self.stack[-1].role is Role.HEADING and self.stack[-1].mark.rule.rank < mark.rule.rank):  # type: ignore[union-attr]
                self.stack.pop()
        elif role is Role.ARTICLE:
            while self.stack and self.stack[-1].role is not Role.HEADING:
                self.stack.pop()
        elif role is Role.ATTACHMENT or (self.stack and self.stack[-1].kind == "signoff"):
            self.stack.clear()
        elif any(n.mark and n.mark.rule.name == name for n in self.stack):
            while self.stack[-1].mark is None or self.stack[-1].mark.rule.name != name:
                self.stack.pop()
            self.stack.pop()  # a sibling of the open node of the same mark
        node = self._add(_Node("mark", i, mark, text=[mark.rest] if mark.rest else []))
        self.stack.append(node)

    def continue_line(self, i: int, text: str) -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and top.kind in ("mark", "signoff") and top.role is not Role.HEADING and not top.children:
            top.text.append(text)
            top.end = i + 1
            return
        self._add(_Node("paragraph", i, text=[text]))

    def table_line(self, i: int, line: Line, caption: str = "") -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and top.role is Role.ARTICLE:  # an article holds its tables as text
            top.text.append(line.text)
            top.end = i + 1
            return
        if not line.header:  # a header row opens a table; its first row claims the line
            self.flush_table()
            if top is not None:
                top.tables += 1
            else:
                self.root_tables += 1
            numbered = re.match(r"^表\s*(\d{1,3})", caption)  # 表2 青岚区…一览表: the document's own table number
            self.table_no = int(numbered.group(1)) if numbered else (top.tables if top is not None else self.root_tables)
            # A numbered caption names what the rows hold, better than the item the table happens to follow.
            self.caption = re.sub(r"[\s\u3000]+", " ", caption).strip() if numbered else ""
            self.row_no = 0
            self.pending_header = (i, line)
            return
        start = self.pending_header[0] if self.pending_header else i
        self.pending_header = None
        self.row_no += 1
        node = self._add(_Node("row", start, text=[_row_text(line)], table=self.table_no, row=self.row_no, caption=self.caption))
        node.end = i + 1

    def flush_table(self) -> None:
        """A header row with no rows under it is a row of its own."""
        if self.pending_header is not None:
            i, line = self.pending_header
            self.pending_header = None
            self.row_no += 1
            self._add(_Node("row", i, text=["，".join(c for c in line.cells if c) + "。"], table=self.table_no, row=self.row_no, caption=self.caption))

    def signoff(self, i: int, text: str) -> None:
        top = self.stack[-1] if self.stack else None
        if top is not None and top.kind == "signoff" and not top.children:  # a table in between ends the 落款
            top.text.append(text)
            top.end = i + 1
            return
        self.stack.clear()
        self.stack.append(self._add(_Node("signoff", i, text=[text])))


def _row_text(line: Line) -> str:
    # An empty cell (spanned over, or left blank) says nothing: its column's name alone would read as a value.
    pairs = [f"{h}：{c}" if h and c else c for h, c in zip(line.header, line.cells)]
    pairs += list(line.cells[len(line.header):])
    return "，".join(p for p in pairs if p) + "。"


def _signoff_lines(lines: Sequence[Line], start: int) -> set[int]:
    """A date-only line and the short issuer line above it: the 落款."""
    out: set[int] = set()
    previous: int | None = None
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.text:
            continue
        if line.is_table:  # the issuer sits right above the date: a table between them belongs to the body
            previous = None
            continue
        if DATE_LINE.match(line.text):
            out.add(i)
            if previous is not None and not is_sentence(lines[previous].text) and len(lines[previous].text) <= 30 and not match_mark(lines[previous].text):
                out.add(previous)
        previous = i
    return out


def _attachment_lists(lines: Sequence[Line]) -> set[int]:
    """The numbered titles listed under a 附件： line are part of that list, not new items."""
    out: set[int] = set()
    in_list = False
    for i in range(len(lines)):
        text = lines[i].text
        if not text:
            continue
        mark = match_mark(text)
        if mark and mark.rule.role is Role.ATTACHMENT and mark.number == 0 and mark.rest[:1].isdigit():
            in_list = True
            continue
        if in_list and mark and mark.rule.name in POINT_MARKS and not is_sentence(text) and len(text) <= 40:
            out.add(i)
            continue
        in_list = False
    return out


def _first_mark(lines: Sequence[Line], skip: set[int], styled: dict[int, Mark]) -> int | None:
    for i, line in enumerate(lines):
        if i in styled:
            return i
        if line.text and i not in skip and not line.is_table and (mark := match_mark(line.text)) and mark.rule.role is not Role.ATTACHMENT:
            return i
    return None


def _styled(lines: Sequence[Line]) -> dict[int, Mark]:
    """Unnumbered heading lines the format marks (<h3>报名条件</h3>), after the body has begun: a heading above the
    first sentence is the document's title, whatever its style."""
    out: dict[int, Mark] = {}
    begun = False
    for i, line in enumerate(lines):
        if line.heading and begun and not line.is_table and not is_sentence(line.text) and match_mark(line.text) is None:
            out[i] = styled_mark(line.text, line.heading)
        begun = begun or (is_sentence(line.text) and not line.is_table)
    return out


def _grow(lines: Sequence[Line], start: int, skip: set[int], styled: dict[int, Mark]) -> _Tree:
    tree = _Tree()
    signoffs = _signoff_lines(lines, start)
    caption = ""
    for i in range(start, len(lines)):
        line = lines[i]
        if not line.text:
            continue
        if line.is_table:
            tree.table_line(i, line, caption)
            continue
        caption = line.text
        tree.flush_table()
        if i in signoffs:
            tree.signoff(i, line.text)
        elif i not in skip and (mark := styled.get(i) or match_mark(line.text)) is not None and not _held_by_article(tree, mark):
            tree.open_mark(i, mark)
        else:
            tree.continue_line(i, line.text)
    tree.flush_table()
    return tree


_LABEL = re.compile(r"^[^\d，。；、：:（）()]{1,10}$")


def _key_value_tables(lines: Sequence[Line]) -> tuple[Line, ...]:
    """A table of names and values (报名时间 | 5月10日 / 报名地点 | 青禾一小) has no header row: each row reads as
    报名时间：5月10日, not as 报名时间：报名地点，5月10日：青禾一小. One line per row, so line numbers stay."""
    out = list(lines)
    i = 0
    while i < len(out):
        if not out[i].is_table or out[i].header:
            i += 1
            continue
        end = i + 1
        while end < len(out) and out[end].is_table and out[end].header == out[i].cells:
            end += 1
        rows = [out[k].cells for k in range(i, end)]
        if _is_key_value(rows):
            for k, row in enumerate(rows, i):
                # A blank form (姓名 | 　| 性别 | 　) keeps its names alone.
                pairs = (f"{row[c]}：{row[c + 1]}" if row[c + 1] else row[c] for c in range(0, len(row), 2))
                out[k] = Line("，".join(p for p in pairs if p) + "。")
        i = end
    return tuple(out)


def _is_key_value(rows: list[tuple[str, ...]]) -> bool:
    """Names in the odd columns of every row, and a value (a figure, a date, a sentence) beside a name of the first row:
    what a header row never holds (项目 | 标准 is a header; 报名时间 | 2032年5月10日 is not). A first row of names only
    (学校名称 | 青禾一小) cannot be told from a header, and stays one."""
    width = len(rows[0])
    if len(rows) < 2 or width not in (2, 4) or any(len(r) != width for r in rows):
        return False
    names = all(_LABEL.match(r[c]) for r in rows for c in range(0, width, 2))
    return names and any(not _LABEL.match(rows[0][c]) for c in range(1, width, 2))


def _held_by_article(tree: _Tree, mark: Mark) -> bool:
    """Inside 第X条 a list mark (（一）, 1.) is part of the article's text."""
    return bool(tree.stack) and tree.stack[-1].role is Role.ARTICLE and mark.rule.role is Role.LIST


def parse_source(source: Source, doc_id: str, source_name: str = "") -> Document:
    """The one structure parser: front lines, numbering tree, tables and 落款 → a Document."""
    lines, meta = _key_value_tables(source.lines), source.meta
    skip = _attachment_lists(lines)
    styled = _styled(lines)
    first_mark = _first_mark(lines, skip, styled)
    first_table = next((i for i, line in enumerate(lines) if line.is_table), len(lines))
    start = min(first_mark if first_mark is not None else len(lines), first_table)
    head_idx = [i for i in range(start) if lines[i].text]
    head = [lines[i].text for i in head_idx]
    texts = [line.text for line in lines[start:] if line.text and not line.is_table]
    # The 落款 ends at its date, before any 附件 that follows it: the last date-only line, else the last lines.
    signed = next((i for i in range(len(texts) - 1, -1, -1) if DATE_LINE.match(texts[i])), len(texts) - 1)
    tail = texts[max(0, signed - 5) : signed + 1]
    front = read_front(head, meta, tail, doc_id)
    header_end = _header_end(head, front)
    warnings = list(source.warnings)
    if first_mark is None:
        # No numbering at all: the title lines head it, every other paragraph is its own unit.
        preamble: list[int] = []
        start = head_idx[header_end] if header_end < len(head_idx) else start
        if any(line.text for line in lines):
            warnings.append("no numbered lines (一、 （一） 1. 第X条 …) found: read as paragraphs")
    else:
        preamble = head_idx[header_end:]
    units = _front_units(lines, head_idx[:header_end], preamble, front)
    body, parts = _units(_grow(lines, start, skip, styled))
    units += body
    year = int(meta["year"]) if meta.get("year", "").isdigit() else year_of(front.title, meta.get("date", ""), front.date)
    kind = DocKind.LAW if any(u.kind is UnitKind.ARTICLE for u in units) else DocKind.NOTICE
    citable = tuple(u for u in units if u.kind not in STRUCTURAL)
    headings = tuple(u for u in units if u.kind in STRUCTURAL)
    return Document(
        doc_id, kind, front.title, front.issuer, year, citable, tuple(parts), front.recipients, dict(meta), source_name,
        front.doc_number, front.date, tuple(warnings), headings,
    )


def _header_end(head: list[str], front: FrontMatter) -> int:
    """How many front lines are the header.

    After a cover letter: through the repeated title, else through the cover's date,
    else through the recipients line and the one paragraph a cover letter has (and its 附件 line).
    Without a cover: the leading title lines (no sentence punctuation).
    """
    repeats = [i for i, line in enumerate(head) if line == front.title]
    if repeats and repeats[-1] > 0:
        return repeats[-1] + 1
    if front.cover:
        dates = [i for i, line in enumerate(head) if DATE_LINE.match(line)]
        if dates:
            return dates[0] + 1
        to = next((i for i, line in enumerate(head) if line.endswith(("：", ":"))), None)
        if to is not None:
            end = min(len(head), to + 2)
            while end < len(head) and head[end].startswith(("附件", "附表")):
                end += 1
            return end
    n = 0
    while n < len(head) and not is_sentence(head[n]) and not head[n].endswith(("：", ":")):
        n += 1
    return n


def _front_units(lines: Sequence[Line], header: list[int], preamble: list[int], front: FrontMatter) -> list[Unit]:
    units: list[Unit] = []
    if header:
        text = "\n".join(lines[i].text for i in header)
        name, section = ("通知", "印发通知") if front.cover else ("标题", "标题")
        units.append(Unit(UnitKind.HEADER, None, "", name, "", text, split_sentences(text), section, "header", 0, (header[0], header[-1] + 1)))
    if preamble:
        text = "\n".join(lines[i].text for i in preamble)
        span = (preamble[0], preamble[-1] + 1)
        units.append(Unit(UnitKind.PREAMBLE, None, "", "总体要求", "", text, split_sentences(text), "总体要求", "preamble", 0, span))
    return units


_CONTENT_PUNCT = re.compile(r"[。；;！？!?：:]")


def _ancestors(node: _Node) -> list[_Node]:
    out: list[_Node] = []
    p = node.parent
    while p is not None:
        out.append(p)
        p = p.parent
    return out[::-1]


def _point_marks(nodes: list[_Node]) -> set[str]:
    """Arabic marks numbered once each across the document, at the top or right under the parts: work points. A plan's
    1. 2. under a single 一、 are that heading's list, not points 1 and 2: 1. numbers points only where the numbering runs
    on from one part to the next (a notice's 1、 numbers them under one part too)."""
    out: set[str] = set()
    for name in POINT_MARKS:
        marked = [n for n in nodes if n.mark and n.mark.rule.name == name]
        numbers = [n.mark.number for n in marked if n.mark]
        shallow = all(len(_ancestors(n)) <= 1 for n in marked)
        runs_on = name != "ar_dot" or all(n.parent is None for n in marked) or len({id(n.parent) for n in marked}) > 1
        if numbers and len(set(numbers)) == len(numbers) and shallow and runs_on:
            out.add(name)
    return out


def _kind(node: _Node, points: set[str]) -> UnitKind:
    if node.kind == "paragraph":
        return UnitKind.PARAGRAPH
    if node.kind == "row":
        return UnitKind.TABLE_ROW
    if node.kind == "signoff":
        return UnitKind.SIGNOFF
    assert node.mark is not None
    role = node.mark.rule.role
    if role is Role.HEADING:
        return UnitKind.HEADING
    if role is Role.ARTICLE:
        return UnitKind.ARTICLE
    if node.children and len(node.text) <= 1 and not _CONTENT_PUNCT.search(node.mark.rest):
        return UnitKind.HEADING
    return UnitKind.POINT if node.mark.rule.name in points else UnitKind.ITEM


def _section(node: _Node, kind: UnitKind, chain: list[_Node], paragraph: int) -> str:
    """The numbering labels from the top numbered level down to the unit, as the text writes them."""
    if kind in (UnitKind.POINT, UnitKind.ARTICLE):
        # A numbered list under a 附件 is the attachment's: 附件 3., not the body's 3.
        held = [a.mark.label for a in chain[:-1] if a.mark and a.mark.rule.role is Role.ATTACHMENT]
        return " ".join([*held, node.mark.label]) if node.mark else ""
    if kind is UnitKind.SIGNOFF:
        return "落款"
    if node.mark is not None and node.mark.rule.role is Role.HEADING:
        return "".join(a.mark.label for a in chain if a.mark and a.mark.rule.role is Role.HEADING)
    marked = [a.mark for a in chain if a.mark and a.mark.rule.role in (Role.LIST, Role.ATTACHMENT)]
    # 2.1.1, not 22.12.1.1: a decimal label already holds the decimal labels above it.
    shown = [m for m, below in zip(marked, [*marked[1:], None]) if not (below and {m.rule.name, below.rule.name} <= DECIMAL_MARKS)]
    base = ""
    for m in shown:  # 附件1 一、（二）, 报名条件 1.
        base = spaced(base, m.label)
    if node.kind == "paragraph":
        return f"{base}第{paragraph}段"
    if node.kind == "row":
        parent = chain[-2] if len(chain) > 1 else None
        if parent is not None and parent.mark and parent.mark.label.startswith("附表") and parent.tables == 1:
            return f"{base}第{node.row}行"  # 附表2 holding one table: 附表2第3行, not 附表2表1第3行
        return f"{base}表{node.table}第{node.row}行"
    return base


def _units(tree: _Tree) -> tuple[list[Unit], list[str]]:
    points = _point_marks(tree.nodes)
    units: list[Unit] = []
    parts: list[str] = []
    used: set[str] = {"header", "preamble"}
    paragraphs: dict[int, int] = {}  # paragraphs seen so far under each parent (0: the top level)
    for node in tree.nodes:
        ancestors = _ancestors(node)
        kind = _kind(node, points)
        holder = id(node.parent) if node.parent else 0
        if node.kind == "paragraph":
            paragraphs[holder] = paragraphs.get(holder, 0) + 1
        section = _section(node, kind, [*ancestors, node], paragraphs.get(holder, 0))
        part = " › ".join([*(_heading_name(a) for a in ancestors if a.mark), *([node.caption] if node.caption else [])])
        text = "\n".join(node.text) if node.text else (node.mark.label if node.mark else "")
        number = node.mark.number if kind in (UnitKind.POINT, UnitKind.ARTICLE) and node.mark else None
        key = _unique(str(number) if number is not None else ("signoff" if kind is UnitKind.SIGNOFF else section), used)
        title = _unit_title(node, kind, text)
        label = node.mark.label if node.mark else ""
        units.append(Unit(kind, number, label, title, part, text, split_sentences(text), section, key, len(ancestors), (node.start, node.end)))
        if node.mark and (kind is UnitKind.HEADING or node.children):
            parts.append(" › ".join(p for p in (part, _heading_name(node)) if p))
    return units, parts


def _unit_title(node: _Node, kind: UnitKind, text: str) -> str:
    if kind is UnitKind.ARTICLE:
        return node.mark.label if node.mark else ""
    if kind is UnitKind.HEADING:
        return (node.mark.rest or (node.text[0] if node.text else node.mark.label)) if node.mark else ""
    if kind is UnitKind.SIGNOFF:
        return "落款"
    if kind is UnitKind.TABLE_ROW:
        return text.split("，", 1)[0].rstrip("。")
    return _title(text)


def _unique(key: str, used: set[str]) -> str:
    out, n = key, 1
    while out in used:
        n += 1
        out = f"{key}~{n}"
    used.add(out)
    return out


def coverage(doc: Document, lines: Sequence[Line]) -> float:
    """Share of the non-empty source lines that some unit covers (1.0 when nothing is dropped)."""
    wanted = {i for i, line in enumerate(lines) if line.text.strip()}
    if not wanted:
        return 1.0
    return len(wanted & covered_lines(doc)) / len(wanted)


def covered_lines(doc: Document) -> set[int]:
    return {i for u in doc.tree for i in range(*u.span)}


def overlaps(doc: Document) -> list[tuple[Unit, Unit]]:
    """Pairs of units that claim the same source line (there should be none)."""
    spans = [u for u in doc.tree if u.span[1] > u.span[0]]
    return [(a, b) for a, b in itertools.pairwise(spans) if b.span[0] < a.span[1]]
