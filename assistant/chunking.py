"""Turn parsed documents into retrieval chunks.

Each work point or article is one chunk of level ``UNIT``; each of its sentences
is a chunk of level ``SENTENCE`` pointing back at it, and the clauses of a long
sentence are chunks of level ``CLAUSE``. A list item is also read under its lead-in
(``CONTEXT``). Retrieval matches on all of them and always answers with whole
sentences of the unit (match on parts, return the point).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from .parsing import STRUCTURAL, Document, Unit, UnitKind, UnitRef


class Level(str, Enum):
    UNIT = "unit"
    CONTEXT = "context"  # a nested unit read under its heading (收费标准：收费实行…), a list item under its lead-in
    SENTENCE = "sentence"
    CLAUSE = "clause"
    TITLED = "titled"  # the unit under its document's title, for the embedding only (which document it is from)


#: Units that are parts of a larger whole (a list item, a table row): they are also read under their heading.
FRAGMENTS = frozenset({UnitKind.ITEM, UnitKind.TABLE_ROW})

#: Sentences longer than this also get clause chunks: one embedding of a
#: 150-character sentence blurs the clause that holds the asked fact.
CLAUSE_MIN_SENTENCE = 60
#: The start of a list item: （一） 1. ①.
ITEM_START = re.compile(r"\s*(?:[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}[.．、](?!\d)|[①-⑳])")
_CLAUSE_SPLIT = re.compile(r"(?<=[，；：,;:])")


def lists(sentences: Sequence[str]) -> list[range]:
    """The lists among a unit's sentences: each a lead-in ending in a colon (履行下列职责：) and the items after it."""
    spans: list[range] = []
    lead: int | None = None
    for i, sentence in enumerate(sentences):
        if lead is not None and ITEM_START.match(sentence):
            continue
        if lead is not None and i - lead > 1:
            spans.append(range(lead, i))
        lead = i if sentence.rstrip().endswith(("：", ":")) else None
    if lead is not None and len(sentences) - lead > 1:
        spans.append(range(lead, len(sentences)))
    return spans


def clauses(sentence: str) -> list[str]:
    if len(sentence) <= CLAUSE_MIN_SENTENCE:
        return []
    parts = [p for p in _CLAUSE_SPLIT.split(sentence) if p.strip()]
    # Very short clauses (按照…, 深入…) carry no fact of their own: merge them forward.
    merged: list[str] = []
    for p in parts:
        if merged and len(merged[-1]) < 8:
            merged[-1] += p
        else:
            merged.append(p)
    return merged if len(merged) > 1 else []


@dataclass(frozen=True)
class Chunk:
    chunk_id: str  # stable: hash of source, unit and text
    doc_id: str
    doc_title: str
    level: Level
    unit_key: str  # "doc_id#20", "doc_id#preamble": the unit this chunk belongs to
    point: int | None
    point_title: str
    part: str
    path: str  # 《title》part › 20、point title
    text: str
    sentence: int | None  # index into the unit's sentences; None for the unit itself
    section: str = ""  # the unit's human label: "20、", "第十二条", "三、（二）2."

    @property
    def ref(self) -> UnitRef:
        return UnitRef.parse(self.unit_key)


def unit_ref(doc: Document, unit: Unit) -> UnitRef:
    return doc.ref(unit)


def unit_key(doc: Document, unit: Unit) -> str:
    """The stored form of :func:`unit_ref`: ``"doc_id#20"``, ``"doc_id#preamble"``, ``"doc_id#三、（二）2."``."""
    return str(doc.ref(unit))


def unit_path(doc: Document, unit: Unit) -> str:
    return doc.path(unit)


def chunk_id(source: str, key: str, text: str) -> str:
    return hashlib.sha1(f"{source}\x1f{key}\x1f{text}".encode()).hexdigest()[:16]


def chunk_document(doc: Document) -> list[Chunk]:
    chunks: list[Chunk] = []
    for unit in doc.units:
        if unit.kind in STRUCTURAL:
            continue  # a heading's words are in its children's part and path; it has no text to quote
        key = unit_key(doc, unit)
        path = unit_path(doc, unit)
        # The unit chunk carries its title so a short title query still lands on it.
        texts: list[tuple[Level, str, int | None, str]] = [(Level.UNIT, unit.text, None, "unit")]
        if unit.kind in FRAGMENTS and unit.part:
            # An item says 家长须凭接送卡接送 under 6、安全管理; the question may name only the heading's topic.
            # (Work points and articles stand alone: their own first words name their topic.)
            texts.append((Level.CONTEXT, f"{unit.part.rsplit(' › ', 1)[-1]}：{unit.text}", None, "context"))
        # （三）交流教师家庭住址与接收学校的距离 means what it means under 统筹调配时按照以下顺序综合考虑：
        lead_of = {i: span.start for span in lists(unit.sentences) for i in span[1:]}
        for i, sentence in enumerate(unit.sentences):
            texts.append((Level.SENTENCE, sentence, i, f"s{i}"))
            texts += [(Level.CLAUSE, c, i, f"s{i}c{j}") for j, c in enumerate(clauses(sentence))]
            if i in lead_of:
                texts.append((Level.CONTEXT, f"{unit.sentences[lead_of[i]].strip()}{sentence}", i, f"s{i}lead"))
        for level, text, idx, where in texts:
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc.source or doc.doc_id, f"{key}/{where}", text),
                    doc_id=doc.doc_id,
                    doc_title=doc.title,
                    level=level,
                    unit_key=key,
                    point=unit.number,
                    point_title=unit.title,
                    part=unit.part,
                    path=path,
                    text=text,
                    sentence=idx,
                    section=unit.section,
                )
            )
    return chunks


def titled_chunks(doc: Document) -> list[Chunk]:
    """Each unit read under its document's title (《校车安全管理办法》：…第十五条…): with several documents, a question's
    topic is often in the title, not the unit (普惠园 for 中班不超过30人). Embedded only; BM25 never sees them, or every
    unit of a document would share its title's words."""
    out = []
    for unit in doc.units:
        if unit.kind in STRUCTURAL:
            continue
        key, text = unit_key(doc, unit), f"{doc.title}：{unit.text}"
        out.append(
            Chunk(
                chunk_id=chunk_id(doc.source or doc.doc_id, f"{key}/titled", text),
                doc_id=doc.doc_id,
                doc_title=doc.title,
                level=Level.TITLED,
                unit_key=key,
                point=unit.number,
                point_title=unit.title,
                part=unit.part,
                path=unit_path(doc, unit),
                text=text,
                sentence=None,
                section=unit.section,
            )
        )
    return out


def chunk_corpus(docs: list[Document]) -> list[Chunk]:
    """Every document's chunks, then every titled chunk: the first rows are what the keyword index holds."""
    return [c for d in docs for c in chunk_document(d)] + [c for d in docs for c in titled_chunks(d)]
