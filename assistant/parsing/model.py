"""The parsed shapes: a document, its citable units, the lines a reader yields."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class DocKind(str, Enum):
    NOTICE = "notice"  # numbered parts and items (一、 （一） 1、 …)
    LAW = "law"  # articles 第X条


class UnitKind(str, Enum):
    HEADER = "header"  # title block or the cover letter of a 关于印发 notice
    PREAMBLE = "preamble"  # text between the header and the first numbered line
    POINT = "point"  # a work point numbered uniquely across the document (the notice's 1、…30、)
    ARTICLE = "article"  # 第X条
    ITEM = "item"  # any other numbered line: 一、 （一） 1. （1） ① 附件1
    HEADING = "heading"  # a numbered line that only titles its children (第一章 总则, 一、总体要求)
    PARAGRAPH = "paragraph"  # an unnumbered paragraph no numbered unit holds
    TABLE_ROW = "table_row"  # one row of a table, with its header
    SIGNOFF = "signoff"  # 落款: issuer and date at the end


#: Kinds that only name their children: they carry no text of their own to retrieve.
STRUCTURAL = frozenset({UnitKind.HEADING})


_WORD_END = re.compile(r"[\u4e00-\u9fff\d]$")


def spaced(label: str, text: str) -> str:
    """``label`` then ``text``, set apart when the label ends in a word or a digit (附件1 一、, 报名条件 1.,
    2.1.1 学校食堂…); a label ending in its own mark (20、, （二）, 1.) runs on."""
    return f"{label} {text}" if label and text and _WORD_END.search(label) else label + text


def section_covers(cited: str, gold: str) -> bool:
    """Does a citation of section ``cited`` answer for the gold section ``gold``?

    Yes when it is that section, a unit inside it (四、表1第6行 inside 四、; 5、② inside 5、), or an
    article that holds the gold list item as its text (第九条 holds 第九条（一）).
    """
    if cited == gold:
        return True
    if cited.startswith(gold):
        rest = cited[len(gold):]
        return not (gold[-1:].isdigit() and rest[:1].isdigit())  # 附件1 does not hold 附件10
    return gold.startswith(cited) and re.fullmatch(r"第[^条]{1,8}条", cited) is not None


class ParseError(ValueError):
    """The file cannot be read or its text is malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Line:
    """One clean line from a reader; a table row also carries its cells and its table's header."""

    text: str
    cells: tuple[str, ...] = ()
    header: tuple[str, ...] = ()  # () for plain text and for the header row itself
    heading: int = 0  # the format marks the line a heading of this level (<h2>, Word's Heading 2), numbered or not

    @property
    def is_table(self) -> bool:
        return bool(self.cells)


@dataclass(frozen=True)
class Source:
    """What a reader gives the structure parser."""

    lines: tuple[Line, ...]
    meta: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitRef:
    """A typed reference to one unit; ``str()`` gives the stored form ``"doc_id#20"``."""

    doc_id: str
    key: str

    def __str__(self) -> str:
        return f"{self.doc_id}#{self.key}"

    @classmethod
    def parse(cls, text: str) -> UnitRef:
        doc_id, sep, key = text.rpartition("#")
        if not sep or not doc_id or not key:
            raise ValueError(f"not a unit reference: {text!r}; expected 'doc_id#key' such as 'notice#20'")
        return cls(doc_id, key)


@dataclass(frozen=True)
class Unit:
    """One citable unit: a work point, an article, an item, a table row, the header or the preamble."""

    kind: UnitKind
    number: int | None  # work point or article number; None otherwise
    label: str  # how the text numbers it: "20、", "第六条", "（二）", ""
    title: str  # point title (phrase before the first 。), "第六条", "通知", "总体要求"
    part: str  # enclosing headings joined with " › ", "" when none
    text: str  # the unit's text without its number label, paragraphs joined by "\n"
    sentences: tuple[str, ...]
    section: str = ""  # the human label a citation shows: "20、", "第十二条", "三、（二）2.", "总体要求"
    key: str = ""  # unique within the document: "20", "header", "三、（二）2."
    depth: int = 0  # 0 for top-level units, 1 for their children, …
    span: tuple[int, int] = (0, 0)  # source line indices [start, end) this unit covers


@dataclass(frozen=True)
class Document:
    doc_id: str
    kind: DocKind
    title: str
    issuer: str
    year: int | None
    units: tuple[Unit, ...]
    parts: tuple[str, ...] = ()
    recipients: str = ""
    meta: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    source: str = ""  # file name the document was read from
    doc_number: str = ""  # 发文字号 such as 某教发〔2021〕12号
    date: str = ""  # ISO date from the front matter, the 落款 or the header
    warnings: tuple[str, ...] = ()
    #: Numbered lines that only title their children (第一章 总则, the notice's 一、… parts). Kept apart from
    #: ``units`` (what is retrieved and quoted) so a document's citable units stay what they were.
    headings: tuple[Unit, ...] = ()

    @property
    def tree(self) -> tuple[Unit, ...]:
        """Every unit, headings included, in text order."""
        return tuple(sorted(self.units + self.headings, key=lambda u: u.span))

    def unit(self, number: int) -> Unit:
        for u in self.units:
            if u.number == number:
                return u
        raise KeyError(f"{self.doc_id} has no unit numbered {number}")

    def ref(self, unit: Unit) -> UnitRef:
        key = unit.key or (str(unit.number) if unit.number is not None else unit.kind.value)
        return UnitRef(self.doc_id, key)

    def by_section(self, section: str) -> Unit:
        for u in self.units + self.headings:
            if u.section == section:
                return u
        raise KeyError(f"{self.doc_id} has no unit with section {section!r}")

    def path(self, unit: Unit) -> str:
        """The citation path: 《title》 part › where, e.g. 《…工作要点》五、… › 20、深化教育综合改革."""
        if unit.kind in (UnitKind.POINT, UnitKind.ITEM, UnitKind.HEADING):
            where = spaced(unit.label, unit.title) if unit.title != unit.label else unit.label
        elif unit.kind is UnitKind.ARTICLE:
            where = unit.label
        elif unit.kind in (UnitKind.TABLE_ROW, UnitKind.PARAGRAPH):
            where = unit.section
        else:
            where = unit.title
        return f"《{self.title}》" + " › ".join(p for p in (unit.part, where) if p)

    def cite_label(self, unit: Unit) -> str:
        """The short citation: 《title》第20条「深化教育综合改革」, 《title》第六条, 《title》三、（二）2.「录取办法」, 《title》总体要求."""
        if unit.kind is UnitKind.POINT:
            return f"《{self.title}》第{unit.number}条「{unit.title}」"
        if unit.kind is UnitKind.ARTICLE:
            return f"《{self.title}》{unit.label}"
        if unit.kind in (UnitKind.ITEM, UnitKind.HEADING) and unit.title:
            return f"《{self.title}》{unit.section}「{unit.title}」"
        return f"《{self.title}》{unit.section}"

    @property
    def numbered(self) -> tuple[Unit, ...]:
        return tuple(u for u in self.units if u.number is not None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reads it back into an equal Document."""
        out = dataclasses.asdict(self)
        out["kind"] = self.kind.value
        out["units"] = [_unit_json(u) for u in self.units]
        out["headings"] = [_unit_json(u) for u in self.headings]
        out["parts"] = list(self.parts)
        out["warnings"] = list(self.warnings)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Document:
        return cls(
            **raw
            | {
                "kind": DocKind(raw["kind"]),
                "units": tuple(_unit_from_json(u) for u in raw["units"]),
                "headings": tuple(_unit_from_json(u) for u in raw.get("headings", ())),
                "parts": tuple(raw["parts"]),
                "warnings": tuple(raw.get("warnings", ())),
            }
        )


def _unit_json(u: Unit) -> dict[str, Any]:
    return dataclasses.asdict(u) | {"kind": u.kind.value, "sentences": list(u.sentences), "span": list(u.span)}


def _unit_from_json(u: dict[str, Any]) -> Unit:
    return Unit(**u | {"kind": UnitKind(u["kind"]), "sentences": tuple(u["sentences"]), "span": tuple(u.get("span", (0, 0)))})
