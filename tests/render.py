"""Render a plain-text test document (Markdown pipe tables) to .docx, .pdf and .html the way bureaus publish them.

* .docx: python-docx paragraphs, real Word tables, and the （一） marks as Word auto-numbering
  (the label is not in the paragraph text, so the reader must compute it from numbering.xml);
* .pdf: fpdf2 with a TrueType-outlined subset of Noto Sans CJK (its CFF outlines do not read back with
  pypdf), a running page header, a footer and "— N —" page numbers, wrapped paragraphs, drawn tables;
* .html: the text inside a page template with navigation, breadcrumbs and a site footer.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

from assistant.parsing.model import Line
from assistant.parsing.readers.text import lines_of

NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TEMPLATE = Path(__file__).parent / "data" / "page_template.html"
LAYOUT_TEMPLATE = Path(__file__).parent / "data" / "page_template_tables.html"  # an older site: the page laid out by tables
# A content system's page (TRS and the like): the text in its own box, with no article or main element around it.
CMS_TEMPLATE = Path(__file__).parent / "data" / "page_template_cms.html"
_AUTO_NUMBERED = re.compile(r"^（([一二三四五六七八九十]{1,3})）")
_DECIMAL = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,2})[ \u3000]+")  # 2.1 校园食品安全: Word's multilevel list %1.%2


def document_lines(text: str) -> list[Line]:
    """The non-empty lines of a test document, YAML front matter dropped, tables as rows."""
    body = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)
    return [line for line in lines_of(body) if line.text]


# -- font -------------------------------------------------------------------------------------------
def cjk_font(chars: str, out: Path) -> Path:
    """A TrueType (glyf) subset of Noto Sans CJK SC holding ``chars``: fpdf2 embeds it and pypdf reads it back."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.subset import Options, Subsetter
    from fontTools.ttLib import TTCollection, newTable

    collection = TTCollection(str(NOTO))
    font = next(f for f in collection.fonts if "SC" in f["name"].getDebugName(1))
    options = Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = Subsetter(options)
    subsetter.populate(text=chars + "".join(chr(c) for c in range(32, 127)) + "—\u3000")
    subsetter.subset(font)
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphs, glyf.glyphOrder = {}, font.getGlyphOrder()
    for name in glyf.glyphOrder:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"], font["loca"] = glyf, newTable("loca")
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    font["maxp"].tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(font["maxp"], attr, 0)
    font["maxp"].maxZones = 1
    font["head"].indexToLocFormat = 0
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0
    font.sfntVersion = "\x00\x01\x00\x00"
    font.save(str(out))
    return out


# -- docx -------------------------------------------------------------------------------------------
def to_docx(text: str, out: Path) -> Path:
    import docx
    from docx.shared import Pt

    doc = docx.Document()
    lines = document_lines(text)
    numbering = _Numbering(doc)
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.is_table:
            rows = [line]
            while i + 1 < len(lines) and lines[i + 1].is_table and lines[i + 1].header:
                i += 1
                rows.append(lines[i])
            table = doc.add_table(rows=len(rows), cols=len(rows[0].cells))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, cell in enumerate(row.cells):
                    table.cell(r, c).text = cell
        elif (m := _AUTO_NUMBERED.match(line.text)) is not None:
            p = doc.add_paragraph(line.text[m.end():].lstrip())
            numbering.number(p, restart=m.group(1) == "一")
        elif (m := _DECIMAL.match(line.text)) is not None:
            p = doc.add_paragraph(line.text[m.end():])
            numbering.decimal(p, level=m.group(1).count("."))
        else:
            p = doc.add_paragraph(line.text)
            if "。" in line.text:
                p.paragraph_format.first_line_indent = Pt(24)  # two characters, as official documents indent
        i += 1
    doc.save(str(out))
    return out


class _Numbering:
    """Word lists: （一）（二）… (chineseCounting), restarted wherever the text restarts it, and a decimal outline."""

    W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

    def __init__(self, doc) -> None:
        self.part = doc.part.numbering_part.element
        self.abstract_id = 90
        abstract = ET.fromstring(
            f'<w:abstractNum xmlns:w="{self.W[1:-1]}" w:abstractNumId="{self.abstract_id}"><w:multiLevelType w:val="singleLevel"/>'
            '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%1）"/>'
            '<w:lvlJc w:val="left"/></w:lvl></w:abstractNum>'
        )
        from docx.oxml import parse_xml

        self.part.insert(0, parse_xml(ET.tostring(abstract)))
        levels = "".join(
            f'<w:lvl w:ilvl="{k}"><w:start w:val="1"/><w:numFmt w:val="decimal"/>'
            f'<w:lvlText w:val="{".".join(f"%{j + 1}" for j in range(k + 1))}"/><w:lvlJc w:val="left"/></w:lvl>'
            for k in range(3)
        )
        outline = ET.fromstring(
            f'<w:abstractNum xmlns:w="{self.W[1:-1]}" w:abstractNumId="{self.abstract_id + 1}">'
            f'<w:multiLevelType w:val="multilevel"/>{levels}</w:abstractNum>'
        )
        self.part.insert(1, parse_xml(ET.tostring(outline)))
        self.num_id = 0
        self.decimal_id = 0

    def decimal(self, paragraph, *, level: int) -> None:
        """One list numbered 1 / 1.1 / 1.1.1 for the whole document (Word restarts the deeper levels itself)."""
        from docx.oxml import parse_xml

        if not self.decimal_id:
            self.decimal_id = 100 + len(self.part.findall(f"{self.W}num"))
            num = ET.fromstring(
                f'<w:num xmlns:w="{self.W[1:-1]}" w:numId="{self.decimal_id}"><w:abstractNumId w:val="{self.abstract_id + 1}"/></w:num>'
            )
            self.part.append(parse_xml(ET.tostring(num)))
        ppr = paragraph._p.get_or_add_pPr()
        ppr.append(parse_xml(ET.tostring(ET.fromstring(
            f'<w:numPr xmlns:w="{self.W[1:-1]}"><w:ilvl w:val="{level}"/><w:numId w:val="{self.decimal_id}"/></w:numPr>'
        ))))

    def number(self, paragraph, *, restart: bool) -> None:
        from docx.oxml import parse_xml

        if restart or not self.num_id:
            self.num_id = 100 + len(self.part.findall(f"{self.W}num"))
            num = ET.fromstring(
                f'<w:num xmlns:w="{self.W[1:-1]}" w:numId="{self.num_id}"><w:abstractNumId w:val="{self.abstract_id}"/>'
                '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
            )
            self.part.append(parse_xml(ET.tostring(num)))
        ppr = paragraph._p.get_or_add_pPr()
        ppr.append(parse_xml(ET.tostring(ET.fromstring(
            f'<w:numPr xmlns:w="{self.W[1:-1]}"><w:ilvl w:val="0"/><w:numId w:val="{self.num_id}"/></w:numPr>'
        ))))


# -- pdf --------------------------------------------------------------------------------------------
def to_pdf(text: str, out: Path, font: Path, running_header: str = "青禾区教育局") -> Path:
    from fpdf import FPDF

    class Page(FPDF):
        def header(self) -> None:
            self.set_font("cjk", size=9)
            self.cell(0, 6, running_header, align="C", new_x="LMARGIN", new_y="NEXT")
            self.ln(4)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("cjk", size=10)
            self.cell(0, 8, f"— {self.page_no()} —", align="C")

    pdf = Page(format="A4")
    pdf.add_font("cjk", fname=str(font))
    pdf.add_font("cjk", style="B", fname=str(font))  # table headings are bold
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    lines = document_lines(text)
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.is_table:
            rows = [line]
            while i + 1 < len(lines) and lines[i + 1].is_table and lines[i + 1].header:
                i += 1
                rows.append(lines[i])
            pdf.set_font("cjk", size=10)
            with pdf.table(first_row_as_headings=True) as table:
                for row in rows:
                    cells = table.row()
                    for cell in row.cells:
                        cells.cell(cell)
            pdf.ln(2)
        else:
            pdf.set_font("cjk", size=12)
            align = _align(lines, i)
            indent = "\u3000\u3000" if align == "L" and "。" in line.text else ""  # body paragraphs start two ideographic spaces in
            # CJK text breaks between any two characters, not at spaces
            pdf.multi_cell(0, 7, indent + line.text, align=align, new_x="LMARGIN", new_y="NEXT", wrapmode="CHAR")
        i += 1
    pdf.output(str(out))
    return out


_DATE_LINE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")


def _align(lines: list[Line], i: int) -> str:
    """As bureaus lay out a page: the 落款 right, titles, red headers and table captions centred, the rest left."""
    text = lines[i].text
    following = lines[i + 1].text if i + 1 < len(lines) else ""
    if _DATE_LINE.match(text) or (_DATE_LINE.match(following) and len(text) <= 40 and "。" not in text):
        return "R"
    numbered = re.match(r"^([一二三四五六七八九十]+、|（|\(|\d+[.．、]|第.{1,4}[章条节]|附件|[①-⑳])", text)
    if not numbered and len(text) <= 40 and not re.search(r"[。，；：、]", text):
        return "C"
    return "L"


# -- hard-wrapped text -------------------------------------------------------------------------------
def hard_wrap(text: str, columns: int) -> str:
    """``text`` as a text saved from a PDF or an e-mail: every prose line cut at ``columns`` display columns
    (a Chinese character two, a digit one); table rows, piped or in aligned columns, are left whole."""
    from assistant.parsing.readers.text import width

    out: list[str] = []
    for line in text.splitlines():
        if "|" in line or re.search(r"\t|\S[ \u3000]{2,}\S", line) or width(line) <= columns:
            out.append(line)
            continue
        cut = ""
        for ch in line:
            if width(cut + ch) > columns:
                out.append(cut)
                cut = ""
            cut += ch
        out.append(cut)
    return "\n".join(out) + "\n"


# -- html -------------------------------------------------------------------------------------------
_HEADINGS = ((re.compile(r"^(?:[一二三四五六七八九十]+、|第.{1,4}章)"), "h2"), (re.compile(r"^（[一二三四五六七八九十]+）"), "h3"))


def _html_tag(text: str) -> str:
    """As content systems mark up a bureau's page: a short numbered heading line as <h2> / <h3>, the rest as <p>."""
    if len(text) <= 30 and not re.search(r"[。；]", text):
        return next((tag for pattern, tag in _HEADINGS if pattern.match(text)), "p")
    return "p"


def to_html(text: str, out: Path, title: str = "", template: Path = TEMPLATE) -> Path:
    lines = document_lines(text)
    article = ET.Element("div", {"class": "article-content"})
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.is_table:
            table = ET.SubElement(article, "table")
            head = ET.SubElement(table, "tr")
            for cell in line.cells:
                ET.SubElement(head, "th").text = cell
            while i + 1 < len(lines) and lines[i + 1].is_table and lines[i + 1].header:
                i += 1
                tr = ET.SubElement(table, "tr")
                for cell in lines[i].cells:
                    ET.SubElement(tr, "td").text = cell
        else:
            ET.SubElement(article, _html_tag(line.text)).text = line.text
        i += 1
    page = template.read_text(encoding="utf-8")
    # An older site's cell, or a content system's box, holds the paragraphs themselves, with no article element around them.
    bare = template in (LAYOUT_TEMPLATE, CMS_TEMPLATE)
    body = "".join(ET.tostring(el, encoding="unicode", method="html") for el in article) if bare else ET.tostring(article, encoding="unicode", method="html")
    out.write_text(page.replace("{{title}}", title or lines[0].text).replace("{{article}}", body), encoding="utf-8")
    return out


def render_as(doc: Path, fmt: str, out: Path, font: Path) -> Path:
    """``doc`` (a .txt fixture) as ``fmt`` ("txt", "docx", "pdf" or "html") in folder ``out``; a .txt is returned as is."""
    text = doc.read_text(encoding="utf-8")
    if fmt == "txt":
        return doc
    if fmt == "docx":
        return to_docx(text, out / f"{doc.stem}.docx")
    if fmt == "pdf":
        return to_pdf(text, out / f"{doc.stem}.pdf", font)
    return to_html(text, out / f"{doc.stem}.html")
