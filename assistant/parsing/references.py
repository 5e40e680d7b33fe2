"""Units that cite other units of their own document.

A penalty article rarely repeats the duty it enforces: 校车驾驶人违反本办法第十一条规定的，由区公安分局依法处罚
names 第十一条, not 加油. A question worded like the duty (司机加油违规会怎样处理) finds 第十一条, and the
answer it needs is in the unit that cites it. Three forms are read: an article of this text
(本办法第十一条, 本法第二十七条、第二十八条), the article before (前条), and an item beside the citing
one (因第（一）项第5目情形, cited from 六、（二） → 六、（一）5.).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .model import Document, Unit, UnitKind
from .numerals import CN_NUM, chinese_to_int

_THIS_TEXT = r"本(?:法|办法|细则|条例|规定|方案|意见|实施办法|实施细则)"
_ARTICLES = re.compile(rf"{_THIS_TEXT}((?:第[{CN_NUM}]+条(?:第[{CN_NUM}]+款)?[、和及或]?)+)")
_ARTICLE = re.compile(rf"第([{CN_NUM}]+)条")
_PREVIOUS = re.compile(r"前条")
_ITEM = re.compile(rf"第（([{CN_NUM}]+)）项(?:第(\d+)目)?")


def cited(doc: Document, unit: Unit, articles: dict[int, Unit] | None = None) -> tuple[Unit, ...]:
    """The units of ``doc`` that ``unit`` cites, in the order it names them; itself never. ``articles`` (number →
    article, from :func:`_articles`) saves building it again for every unit of the document."""
    found = [u for u in _resolve(doc, unit, _articles(doc) if articles is None else articles) if u is not unit]
    return tuple({id(u): u for u in found}.values())


def _articles(doc: Document) -> dict[int, Unit]:
    return {u.number: u for u in doc.units if u.kind is UnitKind.ARTICLE and u.number is not None}


def _resolve(doc: Document, unit: Unit, articles: dict[int, Unit]) -> Iterator[Unit]:
    for m in _ARTICLES.finditer(unit.text):
        for n in _ARTICLE.findall(m.group(1)):
            if (u := articles.get(chinese_to_int(n))) is not None:
                yield u
    if _PREVIOUS.search(unit.text) and unit.kind is UnitKind.ARTICLE and unit.number is not None:
        if (u := articles.get(unit.number - 1)) is not None:
            yield u
    for m in _ITEM.finditer(unit.text):
        if (u := _sibling_item(doc, unit, m.group(1), m.group(2))) is not None:
            yield u


def _sibling_item(doc: Document, unit: Unit, item: str, sub: str | None) -> Unit | None:
    """（一） beside the citing unit's own （二）: its section with the last bracketed number replaced."""
    cut = unit.section.rfind("（")
    if cut < 0:
        return None
    section = f"{unit.section[:cut]}（{item}）{f'{sub}.' if sub else ''}"
    try:
        return doc.by_section(section)
    except KeyError:
        return None


def citing_units(documents: Iterable[Document]) -> dict[str, frozenset[str]]:
    """Unit key (``doc_id#11``) → the keys of the units of its document that cite it or a unit holding it: citing
    第十一条 cites its item 第十一条（一） too."""
    out: dict[str, set[str]] = {}
    for doc in documents:
        articles = _articles(doc)
        for unit in doc.units:
            for target in cited(doc, unit, articles):
                for held in (u for u in doc.units if u is target or (u.depth > target.depth and u.section.startswith(target.section))):
                    out.setdefault(str(doc.ref(held)), set()).add(str(doc.ref(unit)))
    return {k: frozenset(v) for k, v in out.items()}
