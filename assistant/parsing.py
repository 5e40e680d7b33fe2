"""Parse policy texts into documents made of numbered units.

Two layouts are understood:

* a notice such as 《天津市东丽区2020年教育工作要点》: a header, a preamble,
  parts ``一、…`` and numbered work points ``20、深化教育综合改革。…``;
* a legal text: optional YAML front matter, ``第X章`` chapters and ``第X条``
  articles that may run over several paragraphs.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class DocKind(str, Enum):
    NOTICE = "notice"
    LAW = "law"


class UnitKind(str, Enum):
    HEADER = "header"
    PREAMBLE = "preamble"
    POINT = "point"
    ARTICLE = "article"


@dataclass(frozen=True)
class Unit:
    """One citable unit: a work point, an article, the header or the preamble."""

    kind: UnitKind
    number: int | None  # work point or article number; None for header/preamble
    label: str  # how the text numbers it: "20、", "第六条", ""
    title: str  # point title (phrase before the first 。), "第六条", "通知", "总体要求"
    part: str  # enclosing part or chapter heading, "" when none
    text: str  # the unit's text without its number label, paragraphs joined by "\n"
    sentences: tuple[str, ...]
    section: str = ""  # the human label a citation shows: "20、", "第十二条", "三、（二）2.", "总体要求"


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

    def unit(self, number: int) -> Unit:
        for u in self.units:
            if u.number == number:
                return u
        raise KeyError(f"{self.doc_id} has no unit numbered {number}")

    @property
    def numbered(self) -> tuple[Unit, ...]:
        return tuple(u for u in self.units if u.number is not None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_json` reads it back into an equal Document."""
        out = dataclasses.asdict(self)
        out["kind"] = self.kind.value
        out["units"] = [dataclasses.asdict(u) | {"kind": u.kind.value, "sentences": list(u.sentences)} for u in self.units]
        out["parts"] = list(self.parts)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Document:
        units = tuple(Unit(**u | {"kind": UnitKind(u["kind"]), "sentences": tuple(u["sentences"])}) for u in raw["units"])
        return cls(**raw | {"kind": DocKind(raw["kind"]), "units": units, "parts": tuple(raw["parts"])})


class ParseError(ValueError):
    """The text has neither work points nor articles, or is malformed."""


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUM = "零〇一二两三四五六七八九十百千"


def chinese_to_int(text: str) -> int:
    """Convert a Chinese numeral such as 一百零八 or 二十 (or plain digits) to an int."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_NUM for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
    return total + (digit or 0)


def int_to_chinese(n: int) -> str:
    """Inverse of :func:`chinese_to_int` for 1..9999, in the form laws use (第一百零八条)."""
    if not 0 < n < 10000:
        raise ValueError(f"out of range for a Chinese numeral: {n}")
    digits = "零一二三四五六七八九"
    out, zero = [], False
    for value, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, value)
        if d:
            if zero:
                out.append("零")
            out.append(digits[d] + name)
            zero = False
        elif out:
            zero = True
    s = "".join(out)
    return s[1:] if s.startswith("一十") else s


_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")


def split_sentences(text: str) -> tuple[str, ...]:
    """Split on 。！？ and semicolons, and on paragraph breaks; keep the punctuation."""
    out: list[str] = []
    for para in text.split("\n"):
        for piece in _SENTENCE_END.split(para):
            piece = piece.strip()
            if piece:
                out.append(piece)
    return tuple(out)


def _clean_lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    # NBSP and ideographic spaces count as indentation too.
    return [line.strip(" \t\u3000\u00a0") for line in text.split("\n")]


def _year_of(*texts: str) -> int | None:
    for t in texts:
        m = re.search(r"((?:19|20)\d{2})(?:\s*年|-\d)", t or "")
        if m:
            return int(m.group(1))
    return None


def _split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Read a ``---`` block of ``key: value`` lines.

    Parsed line by line rather than as YAML: real headers hold values such as
    ``source: repo @ sha : path`` that strict YAML rejects.
    """
    stripped = text.lstrip("\ufeff")
    if not stripped.startswith("---"):
        return {}, text
    m = re.match(r"---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", stripped, re.S)
    if not m:
        raise ParseError("front matter opened with '---' but never closed; add a closing '---' line")
    meta: dict[str, str] = {}
    for n, line in enumerate(m.group(1).splitlines(), start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        kv = re.match(r"^\s*([A-Za-z_][\w-]*)\s*:\s?(.*)$", line)
        if not kv:
            raise ParseError(f"front matter line {n} is not 'key: value': {line!r}")
        meta[kv.group(1)] = kv.group(2).strip().strip("'\"")
    return meta, stripped[m.end():]


_POINT = re.compile(r"^(\d{1,3})[、.．]\s*(.+)$")
_PART = re.compile(r"^([一二三四五六七八九十]{1,3})、\s*(.+)$")
_ARTICLE = re.compile(rf"^第([{_CN_NUM}\d]+)条(?:之[{_CN_NUM}]+)?[\s\u3000]*(.*)$")
_CHAPTER = re.compile(rf"^第([{_CN_NUM}\d]+)[章编][\s\u3000]*(.*)$")
_SECTION = re.compile(rf"^第([{_CN_NUM}\d]+)节[\s\u3000]*(.*)$")


def _point_title(body: str) -> str:
    head = body.split("。", 1)[0]
    return head if len(head) <= 40 else head[:40]


def parse_text(text: str, doc_id: str, source: str = "") -> Document:
    """Parse a notice or a legal text; the layout is detected from its lines."""
    meta, body = _split_front_matter(text)
    lines = _clean_lines(body)
    if any(_ARTICLE.match(line) for line in lines):
        return _parse_law(lines, meta, doc_id, source)
    if any(_POINT.match(line) for line in lines):
        return _parse_notice(lines, meta, doc_id, source)
    raise ParseError(
        f"{source or doc_id}: found neither numbered work points ('1、…') nor articles ('第一条 …'); "
        "is this a policy text?"
    )


def _parse_notice(lines: list[str], meta: dict[str, str], doc_id: str, source: str) -> Document:
    first_point = next(i for i, line in enumerate(lines) if _POINT.match(line))
    # The part heading right before point 1 belongs to the body, not the preamble.
    body_start = first_point
    if body_start and _PART.match(lines[body_start - 1]):
        body_start -= 1
    head = [line for line in lines[:body_start] if line]
    head_text = "".join(head)

    title = meta.get("title") or ""
    if not title:
        quoted = re.search(r"《([^》]+)》", head_text)
        title = quoted.group(1) if quoted else (head[0] if head else doc_id)
    issuer = meta.get("issuer") or ""
    if not issuer:
        m = re.match(r"(.+?)关于", head_text)
        issuer = m.group(1) if m else ""
    recipients = next((line.rstrip("：:") for line in head if line.endswith(("：", ":")) and "附件" not in line), "")

    # The preamble is what follows the title line repeated after 附件; else the last paragraph(s).
    pre_start = 0
    for i, line in enumerate(head):
        if line == title:
            pre_start = i + 1
    header_lines, preamble_lines = head[:pre_start], head[pre_start:]
    if not header_lines:  # no title line to split on: all of it is preamble
        header_lines, preamble_lines = [], head

    units: list[Unit] = []
    if header_lines:
        htext = "\n".join(header_lines)
        units.append(Unit(UnitKind.HEADER, None, "", "通知", "", htext, split_sentences(htext), "印发通知"))
    if preamble_lines:
        ptext = "\n".join(preamble_lines)
        units.append(Unit(UnitKind.PREAMBLE, None, "", "总体要求", "", ptext, split_sentences(ptext), "总体要求"))

    parts: list[str] = []
    part = ""
    current: list[str] | None = None
    number = 0

    def flush() -> None:
        if current is not None:
            ptext = "\n".join(current)
            units.append(Unit(UnitKind.POINT, number, f"{number}、", _point_title(ptext), part, ptext, split_sentences(ptext), f"{number}、"))

    for line in lines[body_start:]:
        if not line:
            continue
        if (m := _POINT.match(line)) is not None:
            flush()
            number, current = int(m.group(1)), [m.group(2).strip()]
        elif _PART.match(line):
            flush()
            current = None
            part = line
            parts.append(line)
        elif current is not None:
            current.append(line)  # a point running over several paragraphs
    flush()

    year = int(meta["year"]) if meta.get("year", "").isdigit() else _year_of(title, meta.get("date", ""))
    return Document(doc_id, DocKind.NOTICE, title, issuer, year, tuple(units), tuple(parts), recipients, meta, source)


def _parse_law(lines: list[str], meta: dict[str, str], doc_id: str, source: str) -> Document:
    units: list[Unit] = []
    parts: list[str] = []
    header: list[str] = []
    chapter = ""
    current: list[str] | None = None
    label, number = "", 0

    def flush() -> None:
        if current is not None:
            text = "\n".join(current)
            units.append(Unit(UnitKind.ARTICLE, number, label, label, chapter, text, split_sentences(text), label))

    for line in lines:
        if not line:
            continue
        if (m := _ARTICLE.match(line)) is not None:
            flush()
            number = chinese_to_int(m.group(1))
            label = line[: len(line) - len(m.group(2))].strip(" \u3000")
            current = [m.group(2).strip()] if m.group(2).strip() else []
        elif _CHAPTER.match(line) or _SECTION.match(line):
            flush()
            current = None
            heading = re.sub(r"[\s\u3000]+", " ", line)
            chapter = heading if _CHAPTER.match(line) else f"{chapter.split(' › ')[0]} › {heading}"
            parts.append(chapter)
        elif current is not None:
            current.append(line)
        else:
            header.append(line)
    flush()

    title = meta.get("title") or (header[0] if header else doc_id)
    if header:
        htext = "\n".join(header)
        units.insert(0, Unit(UnitKind.HEADER, None, "", "标题", "", htext, split_sentences(htext), "标题"))
    year = _year_of(meta.get("date", ""), title)
    return Document(doc_id, DocKind.LAW, title, meta.get("issuer", ""), year, tuple(units), tuple(parts), "", meta, source)


SUPPORTED_SUFFIXES = (".txt", ".md")


def parse_file(path: Path) -> Document:
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ParseError(f"{path}: unsupported file type {path.suffix!r}; use UTF-8 .txt or .md")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{path}: not UTF-8 text ({exc.reason}); re-save it as UTF-8") from exc
    return parse_text(text, doc_id=path.stem, source=path.name)


def corpus_files(paths: list[Path]) -> list[Path]:
    """Expand files and folders into a sorted, de-duplicated list of policy files."""
    files: set[Path] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.update(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES and not f.name.startswith(("README", ".")))
        elif p.is_file():
            files.add(p)
        else:
            raise FileNotFoundError(f"corpus path {p} does not exist; fix POLICYQA_CORPUS or --corpus")
    if not files:
        raise FileNotFoundError(f"no .txt or .md policy files under {', '.join(map(str, paths))}")
    return sorted(files, key=lambda f: (f.name, str(f)))


def parse_corpus(paths: list[Path]) -> list[Document]:
    docs = [parse_file(f) for f in corpus_files(paths)]
    seen: dict[str, str] = {}
    for d in docs:
        if d.doc_id in seen:
            raise ParseError(f"two corpus files share the name {d.doc_id!r} ({seen[d.doc_id]}, {d.source}); rename one")
        seen[d.doc_id] = d.source
    return docs
