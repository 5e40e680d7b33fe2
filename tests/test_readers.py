"""Every format reads to the same units: each test document rendered to .docx, .pdf and .html in tmp_path."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from assistant.parsing import ParseError, UnitKind, coverage, overlaps, parse_corpus, parse_file, section_covers
from assistant.parsing.readers import read
from assistant.parsing.readers.text import wrap_width

from . import render
from .conftest import ROOT, unavailable

DATA = Path(__file__).parent / "data"
FICTION = sorted((DATA / "fiction").glob("*.txt"))
DOCUMENTS = sorted((DATA / "layouts").glob("*.txt")) + FICTION + sorted((DATA / "fiction_extra").glob("*.txt"))
TUNE_SECTIONS = DATA / "fiction" / "tune_sections.json"
FORMATS = ("txt", "docx", "pdf", "html")


@pytest.fixture(scope="session")
def font(tmp_path_factory) -> Path:
    if not render.NOTO.is_file():
        unavailable(f"{render.NOTO} missing: apt-get install fonts-noto-cjk")
    chars = "".join(sorted({ch for p in DOCUMENTS for ch in p.read_text(encoding="utf-8")} | set("青禾区教育局" + WRAPPED_TABLE)))
    return render.cjk_font(chars, tmp_path_factory.mktemp("font") / "cjk-subset.ttf")


@pytest.fixture(scope="session")
def rendered(tmp_path_factory, font) -> dict[tuple[str, str], Path]:
    out: dict[tuple[str, str], Path] = {}
    folder = tmp_path_factory.mktemp("rendered")
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        out[path.stem, "txt"] = path
        out[path.stem, "docx"] = render.to_docx(text, folder / f"{path.stem}.docx")
        out[path.stem, "pdf"] = render.to_pdf(text, folder / f"{path.stem}.pdf", font)
        out[path.stem, "html"] = render.to_html(text, folder / f"{path.stem}.html")
    return out


def _units(path: Path) -> list[tuple[str, UnitKind, str]]:
    # Runs of spaces inside a line are layout, which HTML and PDF do not keep; a line break reads as a space (a PDF line
    # ends at 考生签名：, the text goes on 考生签名： 年 月 日), while a word cut in two (测 / 试) still differs.
    return [(u.section, u.kind, re.sub(r"[ \u3000\n]*\n[ \u3000\n]*|[ \u3000]+", " ", u.text)) for u in parse_file(path).tree]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.stem)
def test_every_format_parses_like_the_text(rendered, doc: Path, fmt: str):
    path = rendered[doc.stem, fmt]
    parsed = parse_file(path)
    assert coverage(parsed, read(path).lines) == 1.0 and overlaps(parsed) == []
    assert _units(path) == _units(doc)
    base = parse_file(doc)
    assert (parsed.title, parsed.issuer, parsed.doc_number, parsed.date) == (base.title, base.issuer, base.doc_number, base.date)


def _tune_sections() -> list[tuple[str, str]]:
    if not TUNE_SECTIONS.is_file():
        return []
    return [(doc, section) for doc, section in json.loads(TUNE_SECTIONS.read_text(encoding="utf-8"))["sections"]]


@pytest.mark.skipif(not TUNE_SECTIONS.is_file(), reason="fiction documents not copied in yet")
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("doc_id,section", _tune_sections() or [("", "")])
def test_tuned_sections_exist_in_every_format(rendered, doc_id: str, section: str, fmt: str):
    """Each gold section of the tuning questions is a unit, or holds units (a heading over table rows), or is held by an article."""
    doc = parse_file(rendered[doc_id, fmt])
    assert any(section_covers(u.section, section) for u in doc.units), [u.section for u in doc.tree]


@pytest.mark.parametrize("fmt", ("docx", "pdf", "html"))
def test_tables_are_rows_with_their_header(rendered, fmt: str):
    doc = parse_file(rendered["qinghe-admission-plan", fmt])
    rows = [u for u in doc.units if u.kind is UnitKind.TABLE_ROW]
    assert [u.text for u in rows][1] == "阶段：现场审核，时间：5月20日至5月22日，内容：学校核验证件原件。"


def test_pdf_page_furniture_is_gone(rendered):
    lines = [line.text for line in read(rendered["qinghe-admission-plan", "pdf"]).lines]
    assert not any(t.startswith("—") or (t == "青禾区教育局" * 1 and i == 0) for i, t in enumerate(lines))
    assert "为做好我区2031年义务教育招生入学工作，保障适龄儿童少年依法接受义务教育，结合我区实际，制定本方案。" in lines  # wrapped line joined


def test_html_boilerplate_is_gone(rendered):
    text = "\n".join(line.text for line in read(rendered["qinghe-admission-plan", "html"]).lines)
    for boilerplate in ("信息公开", "当前位置", "版权所有", "浏览次数", "相关文件"):
        assert boilerplate not in text


def test_a_page_without_a_title_element_keeps_its_h1_as_the_title(tmp_path: Path):
    body = "<p>第一条 为了规范管理，制定本办法。</p><p>第二条 本办法自2031年1月1日起施行。</p>"
    bare = tmp_path / "bare.html"  # trafilatura takes the h1 for the title and leaves it out of the text
    bare.write_text(f"<html><body><h1>青禾区测试管理办法</h1>{body}</body></html>", encoding="utf-8")
    doc = parse_file(bare)
    assert doc.title == "青禾区测试管理办法" and [u.section for u in doc.units if u.kind is UnitKind.ARTICLE] == ["第一条", "第二条"]
    titled = tmp_path / "titled.html"  # a <title> naming the site is no line of the policy
    titled.write_text(f"<html><head><title>青禾区教育局门户网站</title></head><body><p>管理办法</p>{body}</body></html>", encoding="utf-8")
    assert "青禾区教育局门户网站" not in [line.text for line in read(titled).lines]


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.stem)
def test_a_page_laid_out_by_tables_parses_like_the_text(tmp_path: Path, doc: Path):
    # Older government sites put navigation, the article and the footer in table cells: the article is read by its
    # paragraphs, its data tables stay rows, and the navigation and ICP footer are dropped.
    page = render.to_html(doc.read_text(encoding="utf-8"), tmp_path / f"{doc.stem}.html", template=render.LAYOUT_TEMPLATE)
    parsed = parse_file(page)
    assert coverage(parsed, read(page).lines) == 1.0 and _units(page) == _units(doc)
    assert parsed.title == parse_file(doc).title
    assert not any(word in u.text for u in parsed.tree for word in ("ICP", "政务公开", "您现在的位置"))


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.stem)
def test_a_content_systems_page_keeps_its_headings_and_lists(tmp_path: Path, doc: Path):
    # The text in a CMS's own box (TRS_Editor) matches no container trafilatura knows: it fell back to loose
    # paragraphs and dropped every <h2> / <h3> heading (一、招生对象 vanished, and the numbering tree with it).
    page = render.to_html(doc.read_text(encoding="utf-8"), tmp_path / f"{doc.stem}.html", template=render.CMS_TEMPLATE)
    assert coverage(parse_file(page), read(page).lines) == 1.0 and _units(page) == _units(doc)
    assert not any(word in line.text for line in read(page).lines for word in ("ICP", "政务公开", "分享到"))


def test_cells_spanning_rows_or_columns_read_as_the_page_shows_them(tmp_path: Path):
    page = tmp_path / "schedule.html"
    page.write_text(
        "<html><body><h1>青禾区2032年小学招生工作日程</h1><p>现将工作日程安排如下。</p><h2>一、工作日程</h2><table>"
        "<tr><th>阶段</th><th>时间</th><th>工作内容</th></tr>"
        "<tr><td rowspan='2'>报名</td><td>5月10日至5月14日</td><td>网上报名</td></tr>"
        "<tr><td>5月17日至5月19日</td><td>现场审核材料</td></tr>"
        "<tr><td>录取</td><td colspan='2'>6月20日前公布录取结果</td></tr></table>"
        "<h2>二、咨询电话</h2><p>青禾区教育局基础教育科：022-12345678。</p></body></html>",
        encoding="utf-8",
    )
    rows = [u.text for u in parse_file(page).units if u.kind is UnitKind.TABLE_ROW]
    assert rows == [
        "阶段：报名，时间：5月10日至5月14日，工作内容：网上报名。",
        "阶段：报名，时间：5月17日至5月19日，工作内容：现场审核材料。",  # the spanning cell is each row's own
        "阶段：录取，时间：6月20日前公布录取结果。",  # a column spanned over adds no bare name
    ]
    assert [u.section for u in parse_file(page).units if u.kind is not UnitKind.TABLE_ROW][-1] == "二、"


@pytest.mark.parametrize("columns", [48, 66])
@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.stem)
def test_a_hard_wrapped_text_reads_as_its_paragraphs(tmp_path: Path, doc: Path, columns: int):
    # A .txt saved from a PDF keeps its line breaks: 考试、测 / 试、面谈 split a word, and a sentence, in two.
    # A break left where a sentence ends is kept (it may end a paragraph): line breaks inside a unit are layout.
    wrapped = tmp_path / f"{doc.stem}.txt"
    wrapped.write_text(render.hard_wrap(doc.read_text(encoding="utf-8"), columns), encoding="utf-8")
    cut = len(wrapped.read_text(encoding="utf-8").splitlines()) - len(doc.read_text(encoding="utf-8").splitlines())
    assert wrap_width(wrapped.read_text(encoding="utf-8").splitlines()) > 0 or cut < 10  # too few cuts to tell
    # A space the cut fell on (考生签名： 年 月 / 日) is layout too: the wrapped line keeps no trailing blank.
    unbroken = [(section, kind, re.sub(r"\s", "", text)) for section, kind, text in _units(wrapped)]
    assert unbroken == [(section, kind, re.sub(r"\s", "", text)) for section, kind, text in _units(doc)]
    assert coverage(parse_file(wrapped), read(wrapped).lines) == 1.0


def test_a_text_written_one_paragraph_per_line_is_not_taken_for_wrapped():
    for doc in [*DOCUMENTS, *sorted((ROOT / "corpus").glob("*.txt"))]:
        assert wrap_width(doc.read_text(encoding="utf-8").splitlines()) == 0, doc.name


def test_markdowns_marks_are_no_words_of_the_policy(tmp_path: Path):
    # **（一）小班**：… hid the numbering from the parser, and every quote carried the asterisks, bullets and >.
    plan = tmp_path / "plan.md"
    plan.write_text(
        "# 青禾区2032年幼儿园招生工作方案\n\n为做好招生工作，制定本方案。\n\n## 一、招生对象\n\n"
        "**（一）小班**：2028年9月1日至2029年8月31日出生的适龄幼儿。\n\n**（二）中班插班**：有空余学位的幼儿园可接收插班生。\n\n"
        "## 二、注意事项\n\n- 每名幼儿只能报名一所幼儿园；\n- 详见[青禾教育网](https://example.cn/zs)。\n\n---\n\n> 咨询电话：022-12345678\n",
        encoding="utf-8",
    )
    units = {u.section: u.text for u in parse_file(plan).units}
    assert units["一、（一）"] == "小班：2028年9月1日至2029年8月31日出生的适龄幼儿。"
    assert units["二、"] == "注意事项\n每名幼儿只能报名一所幼儿园；\n详见青禾教育网。\n咨询电话：022-12345678"


@pytest.mark.parametrize("line", ["2*3*4=24", "5 - 3 = 2", "-5℃以下停课", "“双减”*政策", "机构名称：________________", "________", "公示日期：______年____月____日"])
def test_text_that_only_looks_like_markdown_is_kept(line: str):
    from assistant.parsing.readers.text import plain

    assert plain(line) == line


def test_a_form_field_after_a_full_line_starts_its_own_line(tmp_path: Path):
    # The line above fills the wrap width by chance (…举报电话：022-58361270); 公示日期：____ is the form's next field.
    prose = "区教育局将组织开展校外培训机构专项检查，检查结果在区教育局网站公开，接受社会监督。" * 3
    lines = [prose[i : i + 24] for i in range(0, len(prose), 24)]
    text = "\n".join([*lines, "区教育局校外教育培训监管科举报电话：022-58361270", "公示日期：______年____月____日", ""])
    wrapped = tmp_path / "form.txt"
    wrapped.write_text(text, encoding="utf-8")
    assert wrap_width(text.splitlines()) == 48
    assert "公示日期：______年____月____日" in [line.text for line in read(wrapped).lines]


def test_a_red_header_laid_out_in_a_word_table_is_front_matter(tmp_path: Path):
    # Word 红头 files put 文号 | 签发人 in a borderless one-row table above the title: it was read as a table row,
    # the title was lost (the document was titled by its file name) and the front lines became loose paragraphs.
    import docx

    body = ["青禾区教育局关于做好2032年暑期学生安全工作的通知", "各中小学校：", "为确保学生暑期安全，现将有关事项通知如下。",
            "一、加强防溺水教育", "各学校要在放假前开展一次防溺水专题教育。", "青禾区教育局", "2032年6月28日"]  # fmt: skip
    word = docx.Document()
    word.add_paragraph("青禾区教育局文件")
    row = word.add_table(rows=1, cols=2).rows[0].cells
    row[0].text, row[1].text = "青教发〔2032〕3号", "签发人：张三"
    for line in body:
        word.add_paragraph(line)
    word.save(str(tmp_path / "notice.docx"))
    text = tmp_path / "notice.txt"
    text.write_text("\n".join(["青禾区教育局文件", "青教发〔2032〕3号", "签发人：张三", *body]) + "\n", encoding="utf-8")
    for doc in (parse_file(tmp_path / "notice.docx"), parse_file(text)):
        assert doc.title == body[0] and doc.doc_number == "青教发〔2032〕3号" and doc.issuer == "青禾区教育局"
        assert [u.section for u in doc.units] == ["标题", "总体要求", "一、", "落款"]
    assert _units(tmp_path / "notice.docx") == _units(text)


def test_docx_auto_numbering_is_written_out(rendered):
    import docx

    raw = [p.text for p in docx.Document(str(rendered["qinghe-admission-plan", "docx"])).paragraphs]
    assert "小学招生对象" in raw and "（一）小学招生对象" not in raw  # the label is Word's, not text
    assert "（一）小学招生对象" in [line.text for line in read(rendered["qinghe-admission-plan", "docx"]).lines]
    outline = [p.text for p in docx.Document(str(rendered["qinghe-campus-safety-plan", "docx"])).paragraphs]
    assert "校园食品安全" in outline and not any(t.startswith("2.1") for t in outline)  # Word numbers 1 / 2.1 / 2.1.1 itself
    lines = [line.text for line in read(rendered["qinghe-campus-safety-plan", "docx"]).lines]
    assert "2.1 校园食品安全" in lines and "1 工作目标" in lines  # the tab after a bare number is kept as a space


def test_scanned_pdf_has_no_text_layer(tmp_path: Path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 100, style="F")  # an image-only page, as a scanner makes
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(ParseError, match="no text layer.*OCR is not supported"):
        parse_file(tmp_path / "scan.pdf")


def test_damaged_files_name_the_file(tmp_path: Path):
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    (tmp_path / "empty.html").write_text("<html><body><nav>首页</nav></body></html>", encoding="utf-8")
    for name in ("broken.docx", "broken.pdf", "empty.html"):
        with pytest.raises(ParseError, match=name.replace(".", r"\.")):
            parse_file(tmp_path / name)


def test_one_bad_file_never_blocks_the_rest(tmp_path: Path, rendered):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (corpus / "notes.xlsx").write_bytes(b"ignored")
    for fmt in ("docx", "pdf", "html"):
        src = rendered["qinghe-management-measures", fmt]
        (corpus / f"measures-{fmt}{src.suffix}").write_bytes(src.read_bytes())
    failed: list[str] = []
    docs = parse_corpus([corpus], on_error=lambda p, e: failed.append(f"{p.name}: {e}"))
    assert sorted(d.source for d in docs) == ["measures-docx.docx", "measures-html.html", "measures-pdf.pdf"]
    assert len(failed) == 1 and failed[0].startswith("broken.docx")
    with zipfile.ZipFile(rendered["qinghe-management-measures", "docx"]) as z:
        assert "word/document.xml" in z.namelist()
    with pytest.raises(ParseError, match="none of the 1"):
        parse_corpus([corpus / "broken.docx"], on_error=lambda p, e: None)


WRAPPED_TABLE = """测试方案
一、时间安排
| 阶段 | 时间 | 内容 |
| --- | --- | --- |
| 网上报名阶段的第一轮填报与信息核对工作 | 5月10日至5月16日 | 家长登录平台填报信息，并上传户口簿、房产证明、居住证等材料的照片，逾期不再受理 |
| 现场审核 | 5月20日 | 学校核验 |
二、其他
本方案自发布之日起施行。
"""


def test_pdf_table_cells_that_wrap_stay_in_their_row(tmp_path: Path, font: Path):
    src = tmp_path / "wrapped.txt"
    src.write_text(WRAPPED_TABLE, encoding="utf-8")
    pdf = render.to_pdf(WRAPPED_TABLE, tmp_path / "wrapped.pdf", font)
    assert _units(pdf) == _units(src)
    row = parse_file(pdf).by_section("一、表1第1行")
    assert row.text == "阶段：网上报名阶段的第一轮填报与信息核对工作，时间：5月10日至5月16日，内容：家长登录平台填报信息，并上传户口簿、房产证明、居住证等材料的照片，逾期不再受理。"


def test_a_missing_format_library_says_what_to_install(tmp_path: Path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_docx(name, *args, **kwargs):
        if name == "docx":
            raise ImportError("No module named 'docx'", name="docx")
        return real_import(name, *args, **kwargs)

    (tmp_path / "a.docx").write_bytes(b"PK\x03\x04")
    monkeypatch.setattr(builtins, "__import__", no_docx)
    with pytest.raises(ParseError, match=r"a\.docx: reading docx files needs docx; install it with: pip install 'policy-qa\[formats\]'"):
        parse_file(tmp_path / "a.docx")


@pytest.mark.parametrize(
    "n,fmt,label",
    [(11, "chineseCounting", "十一"), (3, "decimalEnclosedCircle", "③"), (2, "decimalEnclosedParen", "⑵"), (12, "decimal", "12"), (2, "bullet", "")],
)
def test_word_numbering_formats_write_the_marks_the_parser_reads(n: int, fmt: str, label: str):
    from assistant.parsing.markers import match_mark
    from assistant.parsing.readers.docx import _format

    assert _format(n, fmt) == label
    if label and not label.isdigit():
        assert match_mark(f"{label}报名时间") is not None or match_mark(f"{label}、报名时间") is not None


def test_a_pages_heading_elements_and_ordered_lists_are_kept(tmp_path: Path):
    # A content system's page: 一、 headings as <h2>, items as an <ol> the browser numbers. Nothing may be lost.
    page = tmp_path / "notice.html"
    page.write_text(
        "<html><head><title>青禾区2032年幼儿园招生公告</title></head><body><nav><a href='/'>首页</a> &gt; 通知公告</nav>"
        "<h1>青禾区2032年幼儿园招生公告</h1><p>为做好我区2032年公办幼儿园招生工作，现将有关事项公告如下。</p>"
        "<h2>一、招生对象</h2><ol><li>2028年9月1日至2029年8月31日出生的适龄幼儿。</li><li>幼儿及其父母一方户籍在本区。</li></ol>"
        "<h2>二、报名时间</h2><p>2032年5月10日至5月20日。</p><footer>版权所有：青禾区教育局</footer></body></html>",
        encoding="utf-8",
    )
    doc = parse_file(page)
    assert doc.title == "青禾区2032年幼儿园招生公告"
    assert [(u.section, u.text) for u in doc.units if u.kind is UnitKind.ITEM] == [
        ("一、1.", "2028年9月1日至2029年8月31日出生的适龄幼儿。"), ("一、2.", "幼儿及其父母一方户籍在本区。"), ("二、", "报名时间\n2032年5月10日至5月20日。"),
    ]
    assert doc.by_section("一、1.").part == "一、招生对象"
    assert coverage(doc, read(page).lines) == 1.0 and "版权所有" not in " ".join(u.text for u in doc.units)


def test_headings_the_format_marks_but_nothing_numbers_head_their_text(tmp_path: Path):
    # <h3>招生对象</h3> on a page, Heading 2 in Word: a heading even with no 一、 before it; the title above the first
    # sentence stays the title, whatever its style.
    page = tmp_path / "notice.html"
    page.write_text(
        "<html><head><title>青禾区2032年公办幼儿园招生公告</title></head><body><article><h1>青禾区2032年公办幼儿园招生公告</h1>"
        "<p>为做好我区2032年公办幼儿园招生工作，现将有关事项公告如下。</p><h3>招生对象</h3><p>本区户籍适龄幼儿。</p>"
        "<h3>报名材料</h3><p>1. 户口簿；</p><p>2. 房产证明。</p><h3>咨询电话</h3><p>022-58610000。</p></article></body></html>",
        encoding="utf-8",
    )
    import docx

    word = docx.Document()
    word.add_paragraph("青禾区2032年公办幼儿园招生公告", style="Heading 1")
    word.add_paragraph("为做好我区2032年公办幼儿园招生工作，现将有关事项公告如下。")
    word.add_heading("招生对象", level=2)
    word.add_paragraph("本区户籍适龄幼儿。")
    word.add_heading("报名材料", level=2)
    word.add_paragraph("1. 户口簿；")
    word.add_paragraph("2. 房产证明。")
    word.add_heading("咨询电话", level=2)
    word.add_paragraph("022-58610000。")
    word.save(str(tmp_path / "notice.docx"))
    for path in (page, tmp_path / "notice.docx"):
        doc = parse_file(path)
        assert doc.title == "青禾区2032年公办幼儿园招生公告", path.name
        cited = [(u.section, u.text) for u in doc.units if u.kind is UnitKind.ITEM]
        assert cited == [("招生对象", "本区户籍适龄幼儿。"), ("报名材料 1.", "户口簿；"), ("报名材料 2.", "房产证明。"), ("咨询电话", "022-58610000。")], path.name
        assert doc.by_section("报名材料 2.").part == "报名材料" and doc.path(doc.by_section("招生对象")).endswith("招生对象 本区户籍适龄幼儿")
        assert coverage(doc, read(path).lines) == 1.0
