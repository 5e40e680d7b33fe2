"""Web pages through trafilatura: the main text only (navigation, breadcrumbs, footers and side bars dropped), tables kept as rows."""

from __future__ import annotations

import re
from copy import deepcopy
from pathlib import Path
from typing import Any

from ..markers import match_mark
from ..model import Line, ParseError, Source
from .text import clean

SUFFIXES = (".html", ".htm")


def _text(element: Any) -> list[str]:
    """An element's text split at its <lb/> line breaks."""
    parts = [element.text or ""]
    for child in element:
        parts.append(("\n" if child.tag == "lb" else "") + "".join(child.itertext()) + (child.tail or ""))
    return [s for s in (clean(t) for t in "".join(parts).split("\n")) if s]


def _table(table: Any) -> list[Line]:
    out: list[Line] = []
    header: tuple[str, ...] = ()
    for row in table.iter("row"):
        cells = tuple(" ".join(_text(cell)) for cell in row.iter("cell"))
        if not any(cells):
            continue
        if not header:
            header = cells
            out.append(Line(" ".join(c for c in cells if c), cells, ()))
        else:
            out.append(Line(" ".join(c for c in cells if c), cells, header))
    return out


def _list(element: Any) -> list[Line]:
    """A list's items; an <ol>'s items with the numbers the browser shows (1. 2. …) unless they write their own."""
    out: list[Line] = []
    for n, item in enumerate(element.findall("item"), 1):
        texts = _text(item)
        if texts and element.get("rend") == "ol" and match_mark(texts[0]) is None:
            texts[0] = f"{n}. {texts[0]}"  # the space: 1.2028年 would read as a number
        out += [Line(t) for t in texts]
    return out


def _lines(main: Any) -> list[Line]:
    out: list[Line] = []
    for element in main:
        if element.tag == "table":
            out += _table(element)
        elif element.tag == "list":
            out += _list(element)
        elif element.tag == "head":  # <h2>报名条件</h2>: a heading even when nothing numbers it
            level = int(rend[1]) if (rend := element.get("rend", "")) and re.fullmatch(r"h[1-6]", rend) else 2
            out += [Line(t, heading=level) for t in _text(element)]
        else:  # p, quote, code …
            out += [Line(t) for t in _text(element)]
    return out


def read(path: Path) -> Source:
    import trafilatura
    from lxml import etree
    from trafilatura.settings import use_config
    from trafilatura.utils import load_html

    config = use_config()
    # A short notice is still a whole document: below this size trafilatura would fall back to a flat
    # whole-page text that keeps the page's boilerplate and loses the paragraph breaks.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "1")
    tree = load_html(Path(path).read_bytes())  # parsed once: for the lost <h1>, then by trafilatura
    heading, xml = "", None
    if tree is not None:
        heading = _lost_title(tree)
        _unwrap_layout_tables(tree)
        _spread_row_spans(tree)
        _give_the_text_a_container(tree)
        xml = trafilatura.extract(
            tree, output_format="xml", include_tables=True, include_comments=False, include_images=False, config=config
        )
    if not xml:
        raise ParseError(f"{Path(path).name}: no main text found in the page; save the policy text itself as .txt or .docx")
    root = etree.fromstring(xml.encode("utf-8"))
    main = root.find("main")
    lines = _lines(main if main is not None else root)
    lost = [Line(heading)] if heading and all(line.text != heading for line in lines) else []
    return Source(tuple(lost + lines), {}, ())


def _lost_title(tree: Any) -> str:
    """The page's first <h1> when the page has no <title>: trafilatura then takes the <h1> for the title and leaves
    it out of the text, and the structure parser reads a document's title from its first lines. With a <title>
    (often the site's name) the <h1> stays in the text, and nothing is added. Read before trafilatura prunes the tree."""
    if any(clean(t.text_content()) for t in tree.iter("title")):
        return ""
    return next((text for h in tree.iter("h1") if (text := clean(h.text_content()))), "")


_CHROME = frozenset({"nav", "header", "footer", "aside"})


def _outside_chrome(element: Any) -> bool:
    return not any(a.tag in _CHROME for a in element.iterancestors())


_BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"})
_TEXT_BLOCKS = tuple(sorted(_BLOCKS - {"div"}))  # what holds a page's text (a div only lays it out)
_TABLE_PARTS = ("tbody", "thead", "tfoot", "tr", "td", "th")


def _own(table: Any, tags: tuple[str, ...]) -> list[Any]:
    """The table's own elements of ``tags``, not those of a table nested in one of its cells."""
    return [el for el in table.iter(*tags) if next(el.iterancestors("table"), None) is table]


def _is_layout(table: Any) -> bool:
    """A table that lays out the page rather than holding data, as older government sites are built: every row one
    cell, or a cell holding a table or the article itself (several paragraphs of text)."""
    rows = _own(table, ("tr",))
    cells = _own(table, ("td", "th"))
    if all(len([c for c in row if c.tag in ("td", "th")]) <= 1 for row in rows):
        return True
    for cell in cells:
        blocks = [el for el in cell.iterdescendants() if el.tag in _BLOCKS]
        if any(el.tag == "table" for el in blocks) or (len(blocks) >= 3 and len(clean(cell.text_content())) > 150):
            return True
    return False


def _unwrap_layout_tables(tree: Any) -> None:
    """Layout tables become plain blocks, so trafilatura reads the article inside by its paragraphs and drops the
    page's navigation and footer, instead of taking the whole page for one table cell. Data tables stay tables."""
    layout = [t for t in tree.iter("table") if _is_layout(t)]
    renamed = [el for t in layout for el in [t, *_own(t, _TABLE_PARTS)]]  # decided on the page as it was, then renamed
    for el in renamed:
        el.tag = "div"


def _spread_row_spans(tree: Any) -> None:
    """A cell spanning rows (阶段 | 报名 over two dates) is repeated in each row it spans, as Word's merged cells are
    read, so that every row says what it belongs to; trafilatura would give the rows below it an empty cell."""
    for table in tree.iter("table"):
        pending: dict[int, tuple[Any, int]] = {}  # column → (the spanning cell, rows still to fill)
        for row in _own(table, ("tr",)):
            cells = [c for c in row if c.tag in ("td", "th")]
            col, k = 0, 0
            while k < len(cells) or any(c >= col for c in pending):
                if col in pending:
                    cell, left = pending.pop(col)
                    copy = deepcopy(cell)
                    copy.attrib.pop("rowspan", None)
                    if k < len(cells):
                        cells[k].addprevious(copy)
                    else:
                        row.append(copy)
                    if left > 1:
                        pending[col] = (cell, left - 1)
                    col += _span(cell, "colspan")
                    continue
                if k >= len(cells):
                    col += 1
                    continue
                if (rows := _span(cells[k], "rowspan")) > 1:
                    pending[col] = (cells[k], rows - 1)
                cells[k].attrib.pop("rowspan", None)  # spread here: trafilatura would pad the rows below with an empty cell
                col += _span(cells[k], "colspan")
                k += 1


def _span(cell: Any, name: str) -> int:
    value = str(cell.get(name, "1")).strip()
    return min(int(value), 100) if value.isdigit() and int(value) > 0 else 1


def _give_the_text_a_container(tree: Any) -> None:
    """A page whose text sits straight in <body> or in a content system's own box (TRS_Editor) matches none of the
    containers trafilatura looks for. Its fallback keeps loose paragraphs and tables only, each text once: every
    heading and list was dropped (一、工作日程 vanished), and a 落款 repeating the issuer of the first line. The
    smallest element holding the page's paragraphs, headings, lists and tables becomes an <article>."""
    from lxml import etree
    from trafilatura.xpaths import BODY_XPATH

    body = tree.find(".//body")
    blocks = [el for el in body.iter(*_TEXT_BLOCKS) if _outside_chrome(el)] if body is not None else []
    if not blocks or any(expr(tree) for expr in BODY_XPATH):
        return
    shared = set(blocks[0].iterancestors())
    for el in blocks[1:]:
        shared &= set(el.iterancestors())
    box = next(a for a in blocks[0].iterancestors() if a in shared)  # the lowest ancestor they all share
    if box is body:
        article = etree.SubElement(body, "article")
        for child in list(body)[:-1]:
            article.append(child)
    else:
        box.tag = "article"
