"""The one numbering tree: marks, sections, coverage, front matter, references and chunk keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.chunking import Level, chunk_document, unit_key, unit_path
from assistant.parsing import DocKind, Document, UnitKind, UnitRef, coverage, int_to_chinese, overlaps, parse_file, parse_source, parse_text
from assistant.parsing.front_matter import iso_date
from assistant.parsing.markers import RULES, match_mark
from assistant.parsing.readers import read

from .conftest import NOTICE

LAYOUTS = Path(__file__).parent / "data" / "layouts"
PLAN = LAYOUTS / "qinghe-admission-plan.txt"
MEASURES = LAYOUTS / "qinghe-management-measures.txt"
SAFETY = LAYOUTS / "qinghe-campus-safety-plan.txt"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_mark_rule_matches_its_example(rule):
    mark = match_mark(rule.example)
    assert mark is not None and mark.rule is rule
    assert rule.example.startswith(mark.label) and mark.number >= (0 if rule.name == "bracket" else 1)  # 【报名时间】 has no number


@pytest.mark.parametrize(
    "line",
    ["2020年全区教育工作总体要求是：", "1.5倍的招生计划", "附件1所列材料须在报名时提交。", "第一百条款", "一二年级", "2.5万元专项经费",
     "3 月 5 日召开动员会", "10 个工作日内答复", "1.5小时", "2 所学校完成改造，其余学校明年完成。",
     "0）和举报邮箱qlxwpx@hcqinglan.gov.cn。"],  # 8:30—17:3 / 0）: a figure cut at a line end; no list counts from 0
)
def test_lines_that_only_look_numbered(line):
    mark = match_mark(line)
    assert mark is None or (mark.rule.name == "tiao" and line == "第一百条款" and mark.rest == "款")


def _all_documents(laws_dir: Path) -> list[Path]:
    return [NOTICE, PLAN, MEASURES, SAFETY, *sorted(laws_dir.glob("*.txt"))]


def test_every_line_in_exactly_one_unit(laws_dir: Path):
    for path in _all_documents(laws_dir):
        doc = parse_file(path)
        assert coverage(doc, read(path).lines) == 1.0, path.name
        assert overlaps(doc) == [], path.name


def test_admission_plan_tree():
    doc = parse_file(PLAN)
    assert doc.kind is DocKind.NOTICE
    assert (doc.title, doc.issuer, doc.doc_number, doc.date, doc.year) == (
        "青禾区2031年义务教育招生入学工作实施方案", "青禾区教育局", "青教发〔2031〕7号", "2031-04-02", 2031)
    assert doc.recipients == "各中小学、各街镇教育办"
    item = doc.by_section("三、（二）2.")
    assert item.kind is UnitKind.ITEM and item.number is None and "电脑随机派位" in item.text
    assert item.part == "三、报名与录取 › （二）录取办法"
    assert doc.by_section("三、（一）1.（2）").depth == 3
    assert doc.by_section("二、").kind is UnitKind.HEADING
    assert doc.by_section("一、").kind is UnitKind.ITEM  # a heading with a paragraph of its own is quotable
    assert doc.by_section("附件1 ②").text == "房产证明或租赁备案证明；"
    # 1. restarts under every （一）: none of them is a work point
    assert not doc.numbered
    keys = [u.key for u in doc.units]
    assert len(keys) == len(set(keys))


def test_decimal_outline_tree():
    doc = parse_file(SAFETY)
    # The title above its 文号 is the title, not an issuer: the issuer comes from the 落款.
    assert (doc.title, doc.issuer, doc.doc_number, doc.date) == ("青禾区2032年校园安全工作方案", "青禾区教育局", "青教安〔2032〕3号", "2032-02-10")
    assert [u.section for u in doc.units if u.kind is UnitKind.ITEM] == ["1.1", "1.2", "2.1.1", "2.1.2", "2.2", "2.3.1", "2.3.2", "3", "4"]
    assert [u.section for u in doc.tree if u.kind is UnitKind.HEADING] == ["1", "2", "2.1", "2.3"]
    item = doc.by_section("2.1.2")
    assert item.part == "2 重点任务 › 2.1 校园食品安全" and item.depth == 2 and "自查不少于2次" in item.text
    assert doc.by_section("2.3.2表1第2行").text == "月份：9月，演练内容：火灾疏散演练，参加对象：全体师生。"
    assert "1.5万元每校" in doc.by_section("3").text  # a quantity inside the text is no mark
    assert doc.by_section("4").text == "联系方式\n联系电话：022-58610001。\n责任科室：区教育局安全科。"  # names and values, no header
    assert not doc.numbered


def test_the_variant_marks_nest_like_the_standard_ones():
    # 一. for 一、, ㈠ for （一）, 1） for 1., ⑴ for （1）: as Word, WPS and typists write them.
    text = "\n".join([
        "某区2032年课后服务实施方案", "一.服务对象", "㈠小学", "1）一至三年级学生自愿参加。", "⑴家长提出申请；", "⑵学校审核。",
        "2）四至六年级学生可参加延时服务。", "㈡初中", "初中学生参加晚自习。", "二.收费标准", "每生每月不超过120元。",
    ])
    doc = parse_text(text, "variants")
    assert [u.section for u in doc.units if u.kind is UnitKind.ITEM] == ["一.㈠1）", "一.㈠1）⑴", "一.㈠1）⑵", "一.㈠2）", "一.㈡", "二."]
    assert doc.by_section("一.㈠1）⑵").part == "一.服务对象 › ㈠小学 › 1）一至三年级学生自愿参加"
    assert coverage(doc, read_lines(text)) == 1.0 and overlaps(doc) == []


def test_a_web_notices_bracketed_headings_head_their_paragraphs():
    text = "\n".join([
        "青禾区2032年公办幼儿园招生公告", "为做好招生工作，现将有关事项公告如下。", "【招生对象】", "本区户籍适龄幼儿。", "【报名材料】",
        "1.户口簿；", "2.房产证明。", "【咨询电话】", "022-58610000", "青禾区教育局", "2032年4月20日",
    ])
    doc = parse_text(text, "bracket")
    assert [u.section for u in doc.units if u.kind is UnitKind.ITEM] == ["【招生对象】", "【报名材料】1.", "【报名材料】2.", "【咨询电话】"]
    assert doc.by_section("【咨询电话】").text == "022-58610000" and doc.by_section("【报名材料】2.").part == "【报名材料】"
    assert (doc.title, doc.issuer, doc.date) == ("青禾区2032年公办幼儿园招生公告", "青禾区教育局", "2032-04-20")
    assert coverage(doc, read_lines(text)) == 1.0 and overlaps(doc) == []
    assert match_mark("【政策解读】青禾区招生问答") is None  # a tag before a title is no heading


def test_a_table_of_names_and_values_reads_row_by_row():
    # 报名时间 | 2032年5月10日…: the first row is no header, so each row reads 报名时间：…, not 报名时间：报名地点，…
    text = "\n".join([
        "某区2032年幼儿园招生简章", "为做好招生工作，现将招生信息公布如下。", "一、招生信息",
        "| 报名时间 | 2032年5月10日至5月20日 |", "| 报名地点 | 青禾区第一幼儿园 |", "| 招生人数 | 120人 |",
        "二、收费", "| 项目 | 标准 |", "| 保教费 | 每生每月800元 |", "| 伙食费 | 每生每天15元 |",
        "三、学校概况", "| 学校名称 | 青禾区第一幼儿园 | 建园时间 | 2001年 |", "| 班级数 | 12个 | 教职工 | 40人 |",
        "附件", "| 幼儿姓名 |  | 性别 |  |", "| 家长电话 |  | 住址 |  |",
    ])
    doc = parse_text(text, "kv")
    assert doc.by_section("一、").text == "招生信息\n报名时间：2032年5月10日至5月20日。\n报名地点：青禾区第一幼儿园。\n招生人数：120人。"
    assert doc.by_section("二、表1第1行").text == "项目：保教费，标准：每生每月800元。"  # a header row stays a header
    assert doc.by_section("三、").text.endswith("学校名称：青禾区第一幼儿园，建园时间：2001年。\n班级数：12个，教职工：40人。")
    assert doc.by_section("附件").text.endswith("幼儿姓名，性别。\n家长电话，住址。")  # a blank form keeps its names
    assert coverage(doc, read_lines(text)) == 1.0 and overlaps(doc) == []


def test_a_list_under_one_heading_is_its_items_not_work_points():
    # 1. 2. numbered once but only under 一、: cited 一、1., not as work point 第1条 (the notice's 1、…30、 run on across parts).
    text = "某区2032年小学招生通知\n为做好招生工作，现通知如下。\n一、招生对象\n1. 本区户籍儿童。\n2. 随迁子女。\n二、报名时间\n6月1日至6月7日。"
    doc = parse_text(text, "one-list")
    assert [(u.kind, u.section) for u in doc.units if u.section.startswith("一、")] == [(UnitKind.ITEM, "一、1."), (UnitKind.ITEM, "一、2.")]
    assert not doc.numbered
    assert len(parse_file(NOTICE).numbered) == 30


def test_table_rows_carry_their_header():
    doc = parse_file(PLAN)
    rows = [u for u in doc.units if u.kind is UnitKind.TABLE_ROW]
    assert [u.section for u in rows] == ["四、表1第1行", "四、表1第2行", "四、表1第3行"]
    assert rows[2].text == "阶段：随机派位，时间：6月5日，内容：区招生办统一派位。"
    assert rows[0].part == "四、时间安排" and rows[0].title == "阶段：随机派位".replace("随机派位", "网上报名")


ALIGNED = """某区2033年学生资助方案
一、资助标准
具体标准见表1。
表1 资助项目及标准
项目  对象  标准
学前教育资助\t在园困难幼儿\t每生每年1200元
寄宿生生活补助　　困难寄宿生　　每生每学期625元
二、申请程序
学生向学校提交申请表，学校在5个工作日内完成评议  并公示。
"""


def test_aligned_column_tables_in_plain_text_are_rows_with_their_header():
    doc = parse_text(ALIGNED, "aid")
    rows = [u for u in doc.units if u.kind is UnitKind.TABLE_ROW]
    assert [u.section for u in rows] == ["一、表1第1行", "一、表1第2行"]
    assert rows[1].text == "项目：寄宿生生活补助，对象：困难寄宿生，标准：每生每学期625元。"  # tabs, spaces, 　 alike
    # One wide gap in a line of prose is no table: the line stays in its item.
    assert "并公示" in doc.by_section("二、").text
    assert not any(u.kind is UnitKind.TABLE_ROW and "公示" in u.text for u in doc.units)


PIPED = """一、招生计划
表1 某区2031年普通高中招生计划
学校 | 类别 | 计划数
某区第一中学 | 公办 | 640
某区第二中学 | 民办 | 300
二、咨询
咨询电话见附件。
"""


def test_pipe_tables_without_outer_pipes_are_rows_with_their_header():
    doc = parse_text(PIPED, "plan")
    rows = [u for u in doc.units if u.kind is UnitKind.TABLE_ROW]
    assert [u.section for u in rows] == ["一、表1第1行", "一、表1第2行"]
    assert rows[1].text == "学校：某区第二中学，类别：民办，计划数：300。"
    assert rows[0].part == "一、招生计划 › 表1 某区2031年普通高中招生计划"  # a numbered caption heads its rows


def test_a_captioned_table_after_an_item_is_headed_by_its_caption_not_the_item():
    text = "一、扶持项目\n（一）教师补助\n1. 补助标准见表1。\n2. 新聘本科毕业生一次性奖励1万元。\n表1 某区补助标准\n等级 | 生均补助\n一级园 | 1500\n"
    doc = parse_text(text, "rules")
    row = next(u for u in doc.units if u.kind is UnitKind.TABLE_ROW)
    assert row.part.endswith("2.新聘本科毕业生一次性奖励1万元 › 表1 某区补助标准") and row.section == "一、（一）2.表1第1行"
    assert coverage(doc, read_lines(text)) == 1.0  # the caption line is still quoted with the item it follows


def test_a_list_under_an_unnumbered_attachment_is_the_attachments():
    text = "某区教师交流办法\n第一条 为了规范交流，制定本办法。\n第二条 本办法自2031年4月1日起施行。\n附件\n交流申请表（填报项目）\n1. 姓名\n2. 任教学科\n"
    doc = parse_text(text, "m")
    assert [u.section for u in doc.units][-2:] == ["附件 1.", "附件 2."]
    assert coverage(doc, read_lines(text)) == 1.0


def test_measures_articles_hold_their_lists():
    doc = parse_file(MEASURES)
    assert doc.kind is DocKind.LAW and [u.number for u in doc.numbered] == [1, 2, 3, 4, 5]
    art3 = doc.unit(3)
    assert art3.section == "第三条" and art3.part == "第二章 服务内容"
    assert art3.text.splitlines()[1:] == ["（一）作业辅导；", "（二）兴趣小组活动；", "（三）体育锻炼。"]
    assert doc.parts == ("第一章 总则", "第二章 服务内容", "第三章 附则")


WORK_POINTS = """东丽新区教育局文件
东新教发〔2032〕3号
东丽新区教育局关于印发2032年教育工作要点的通知
各学校：
现将2032年教育工作要点印发给你们，请认真贯彻落实。
一、加强党的建设
（一）强化理论学习。全年组织专题学习不少于12次。
（二）压实主体责任。
二、办好人民满意的教育
（一）扩大学位供给。新建小学2所，新增学位1800个。
东丽新区教育局
2032年2月20日
"""


def test_work_points_numbered_in_parens_with_signoff():
    doc = parse_text(WORK_POINTS, "work-points")
    assert doc.doc_number == "东新教发〔2032〕3号" and doc.date == "2032-02-20" and doc.issuer == "东丽新区教育局"
    assert doc.title == "2032年教育工作要点" and doc.year == 2032
    assert [u.section for u in doc.units if u.kind is UnitKind.ITEM] == ["一、（一）", "一、（二）", "二、（一）"]
    assert doc.by_section("二、（一）").text == "扩大学位供给。新建小学2所，新增学位1800个。"
    signoff = doc.units[-1]
    assert signoff.kind is UnitKind.SIGNOFF and signoff.text == "东丽新区教育局\n2032年2月20日"
    assert coverage(doc, read_lines(WORK_POINTS)) == 1.0


def read_lines(text: str):
    from assistant.parsing.readers.text import source_of

    return source_of(text).lines


def test_no_numbering_at_all_is_paragraphs():
    text = "家长告知书\n请于5月10日前完成报名。\n逾期不再受理。\n| 学校 | 电话 |\n| --- | --- |\n| 一小 | 5550001 |\n"
    doc = parse_text(text, "letter")
    assert [u.kind for u in doc.units] == [UnitKind.HEADER, UnitKind.PARAGRAPH, UnitKind.PARAGRAPH, UnitKind.TABLE_ROW]
    assert doc.title == "家长告知书" and doc.units[-1].text == "学校：一小，电话：5550001。"
    assert coverage(doc, read_lines(text)) == 1.0


@pytest.mark.parametrize(
    "text,iso", [("2031年4月2日", "2031-04-02"), ("二〇三一年四月二十日", "2031-04-20"), ("date: 2021-4-7", "2021-04-07"), ("无日期", "")]
)
def test_iso_dates(text: str, iso: str):
    assert iso_date(text) == iso


def test_notice_keys_paths_and_chunks_unchanged():
    doc = parse_file(NOTICE)
    point = doc.unit(20)
    assert unit_key(doc, point) == "dongli-2020-education-work-points#20" and point.section == "20、"
    assert str(doc.ref(doc.units[1])) == "dongli-2020-education-work-points#preamble"
    assert unit_path(doc, point) == "《天津市东丽区2020年教育工作要点》五、以提升保障能力为重点，努力夯实教育可持续发展的基础 › 20、深化教育综合改革"
    assert unit_path(doc, doc.units[0]).endswith("》通知")
    headings = list(doc.headings)
    assert [u.section for u in headings] == ["一、", "二、", "三、", "四、", "五、"] and all(u.kind is UnitKind.HEADING for u in headings)
    assert [u.kind for u in doc.units].count(UnitKind.POINT) == 30 and len(doc.units) == 32  # the citable units are as before
    keys = {c.unit_key for c in chunk_document(doc)}
    assert not any(str(doc.ref(u)) in keys for u in headings)  # headings are not retrieved
    assert len(keys) == 32  # header, preamble and the 30 points, as before


def test_unit_ref_round_trips():
    ref = UnitRef("doc-a", "三、（二）2.")
    assert UnitRef.parse(str(ref)) == ref and str(ref) == "doc-a#三、（二）2."
    with pytest.raises(ValueError, match="doc_id#key"):
        UnitRef.parse("no-hash")


_labels = st.sampled_from(["cn_dun", "cn_paren", "ar_dot", "ar_paren"])
_body = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF), min_size=1, max_size=10)
_FORMS = {
    "cn_dun": lambda n: f"{int_to_chinese(n)}、",
    "cn_paren": lambda n: f"（{int_to_chinese(n)}）",
    "ar_dot": lambda n: f"{n}.",
    "ar_paren": lambda n: f"（{n}）",
}
_ORDER = ["cn_dun", "cn_paren", "ar_dot", "ar_paren"]


@st.composite
def _outline(draw) -> list[tuple[int, str]]:
    """A random well-formed outline: (depth, body) pairs where depth grows by at most one."""
    items = [(0, draw(_body))]
    for _ in range(draw(st.integers(0, 14))):
        depth = draw(st.integers(0, min(items[-1][0] + 1, 3)))
        items.append((depth, draw(_body)))
    return items


@settings(max_examples=60, deadline=None)
@given(_outline())
def test_generated_outlines_get_their_sections(outline):
    counters = [0, 0, 0, 0]
    lines, expected = ["某区某方案", "为做好工作，制定本方案。"], []
    for depth, body in outline:
        counters[depth] += 1
        counters[depth + 1:] = [0] * (3 - depth)
        labels = [_FORMS[_ORDER[d]](counters[d]) for d in range(depth + 1)]
        lines.append(f"{labels[-1]}{body}。")
        expected.append(("".join(labels), body + "。"))
    doc = parse_text("\n".join(lines), "gen")
    assert coverage(doc, read_lines("\n".join(lines))) == 1.0 and overlaps(doc) == []
    got = [(u.section, u.text) for u in doc.units if u.kind in (UnitKind.ITEM, UnitKind.POINT)]
    # a top-level 一、 whose text ends in 。 always has content of its own, so every line is an ITEM or a POINT
    assert [s for s, _ in got] == [s if not doc.by_section(s).number else doc.by_section(s).label for s, _ in expected]
    assert [t for _, t in got] == [t for _, t in expected]


@settings(max_examples=60, deadline=None)
@given(_outline())
def test_generated_decimal_outlines_get_their_sections(outline):
    counters = [0, 0, 0]
    lines, expected = ["某区某方案", "为做好工作，制定本方案。"], []
    for depth, body in outline:
        depth = min(depth, 2)
        counters[depth] += 1
        counters[depth + 1:] = [0] * (2 - depth)
        if depth and not counters[depth - 1]:
            counters[depth - 1] = 1  # 1.1 with no 1 above it still says where it sits
        label = ".".join(str(n) for n in counters[: depth + 1])
        # A top title starting with a measure (2 个…) reads as a quantity, so the generated ones start with a topic word.
        lines.append(f"{label} 工作{body}" if depth == 0 else f"{label} {body}。")
        expected.append(label)
    doc = parse_text("\n".join(lines), "gen")
    assert coverage(doc, read_lines("\n".join(lines))) == 1.0 and overlaps(doc) == []
    got = [u.section for u in doc.tree if u.kind in (UnitKind.ITEM, UnitKind.HEADING)]
    assert got == expected


@settings(max_examples=40, deadline=None)
@given(_outline())
def test_documents_round_trip_through_json(outline):
    text = "青教发〔2031〕7号\n某区方案\n" + "\n".join(f"{_FORMS[_ORDER[d]](i + 1)}{b}。" for i, (d, b) in enumerate(outline)) + "\n某区教育局\n2031年4月2日"
    doc = parse_text(text, "rt", "rt.txt")
    again = Document.from_json(json.loads(json.dumps(doc.to_json(), ensure_ascii=False)))
    assert again == doc and again.meta == doc.meta and again.warnings == doc.warnings
    assert all(isinstance(u.span, tuple) and isinstance(u.sentences, tuple) for u in again.units)


def test_cite_labels_match_the_answering_module_for_the_notice_and_laws(laws_dir: Path):
    from assistant.answering import cite_label

    for path in (NOTICE, laws_dir / "teachers-law-2009.txt"):
        doc = parse_file(path)
        for unit in doc.units:
            if unit.kind is not UnitKind.HEADING:
                assert doc.cite_label(unit) == cite_label(doc, unit)
    plan = parse_file(PLAN)
    assert plan.cite_label(plan.by_section("三、（二）2.")).endswith("》三、（二）2.「报名人数超过招生计划的，实行电脑随机派位录取，派位过程全程录像并邀请家长代表监督」")
    assert plan.cite_label(plan.by_section("四、表1第2行")) == "《青禾区2031年义务教育招生入学工作实施方案》四、表1第2行"


@pytest.mark.parametrize(
    "head,title",
    [
        ("某区教育局关于印发\n《某区2031年工作要点》的通知\n各学校：", "某区2031年工作要点"),
        ("关于贯彻落实《义务教育法》的实施意见\n为了落实，制定本意见。", "关于贯彻落实《义务教育法》的实施意见"),
        ("某区教育局关于印发2031年工作要点的通知\n各学校：", "2031年工作要点"),
        ("《某区课后服务管理办法》\n为了规范，制定本办法。", "某区课后服务管理办法"),
        ("某区教育局关于做好2031年\n义务教育招生工作的通知\n各学校：", "某区教育局关于做好2031年义务教育招生工作的通知"),
        ("某区教师交流轮岗管理办法（试行）\n（2031年3月15日某区教育局发布）", "某区教师交流轮岗管理办法（试行）"),
        ("某区教育局\n某区2031年作业和睡眠管理政策问答\n发布日期：2031年9月1日。", "某区2031年作业和睡眠管理政策问答"),
        ("某区教育局\n某区财政局\n某区2031年资助工作方案\n各学校：", "某区2031年资助工作方案"),
        ("某区教育局\n为了规范作业管理，制定本问答。", "某区教育局"),  # a body's name with no title under it is the title
    ],
)
def test_titles_from_the_front_lines(head: str, title: str):
    assert parse_text(head + "\n一、总则\n内容。", "t").title == title


@pytest.mark.parametrize(
    "line,issuer,date",
    [
        ("（2031年3月15日某区教育局发布）", "某区教育局", "2031-03-15"),
        ("(2031年5月8日某区教育局第3次局务会议通过)", "某区教育局", "2031-05-08"),
        ("（2031年5月8日局务会议通过）", "", "2031-05-08"),  # a meeting is not the issuer
        ("（2031年6月10日某区教育局、某区市场监督管理局发布）", "某区教育局、某区市场监督管理局", "2031-06-10"),  # joint issuers
    ],
)
def test_a_release_line_under_the_title_gives_issuer_and_date(line: str, issuer: str, date: str):
    doc = parse_text(f"某区课后服务管理办法\n{line}\n第一条 为了规范，制定本办法。", "m")
    assert (doc.title, doc.issuer, doc.date) == ("某区课后服务管理办法", issuer, date)


_PIECES = st.one_of(
    st.sampled_from(["第一章 总则", "第二节 招生", "第三条 学校应当公示。", "附件2", "附件：1.报名表", "2.咨询电话", "某区教育局", "2031年4月2日",
                     "一、总体要求", "（二）报名", "3.网上报名。", "4、工作要点。", "（5）材料；", "⑥ 证明", "为做好工作，制定本方案。", "|",
                     "| 甲 | 乙 |", "| --- | --- |", "| 1 | 2 |", "", "  ", "# 标题", "青教发〔2031〕7号", "各学校："]),
    _body,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, max_size=40))
def test_any_lines_are_covered_exactly_once(pieces):
    text = "\n".join(pieces)
    doc = parse_text(text, "any")
    lines = read_lines(text)
    assert coverage(doc, lines) == 1.0 and overlaps(doc) == []
    keys = [u.key for u in doc.tree]
    assert len(keys) == len(set(keys))
    assert Document.from_json(json.loads(json.dumps(doc.to_json()))) == doc


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_PIECES, st.integers(0, 3)), max_size=30))
def test_lines_a_format_marks_as_headings_are_covered_exactly_once(pieces):
    # Any line may come flagged a heading (<h2>, Word's Heading 2), numbered or not, before or after the first sentence.
    from assistant.parsing.model import Line, Source

    lines = tuple(Line(text.strip(), heading=level) for text, level in pieces)
    doc = parse_source(Source(lines), "styled")
    assert coverage(doc, lines) == 1.0 and overlaps(doc) == []
    assert len({u.key for u in doc.tree}) == len(doc.tree)


# Digests of every unit's (kind, number, label, title, part, text, sentences, section) and of the chunk ids,
# taken from the parser before the numbering tree replaced it: the notice and the laws must not change.
_BEFORE = [
    ("dongli-2020-education-work-points", "e2b23d55cb64e5c1", "73f27c7fef22e3a5"),
    ("compulsory-education-law-2018", "5721137efe1e4558", "6a921275154d9b6d"),
    ("kindergarten-management-regulations-1989", "d9c8ca3c395876e2", "1c5bc886fe1bc335"),
    ("minors-protection-law-2020", "a8b8bb93d548929a", "a82cb0285ef07448"),
    ("private-education-law-implementing-regulations-2021", "627b56b38866ff45", "5eb9d3f86f29f5bb"),
    ("private-education-promotion-law-2018", "6f9d84a970279ba0", "84f523ef2d9f1aaa"),
    ("teachers-law-2009", "55344c972f29e199", "d6f7eb3c57c08e2c"),
]


@pytest.mark.parametrize("stem,units_digest,chunks_digest", _BEFORE)
def test_notice_and_laws_parse_exactly_as_before(laws_dir: Path, stem: str, units_digest: str, chunks_digest: str):
    import hashlib

    path = NOTICE if stem == NOTICE.stem else laws_dir / f"{stem}.txt"
    doc = parse_file(path)
    units = [[u.kind.value, u.number, u.label, u.title, u.part, u.text, list(u.sentences), u.section] for u in doc.units]
    assert hashlib.sha256(json.dumps(units, ensure_ascii=False).encode()).hexdigest()[:16] == units_digest
    # Since index format 6 a list item is also read under its lead-in: those chunks are new, every other one is as before.
    chunks = chunk_document(doc)
    ids = [c.chunk_id for c in chunks if not (c.level is Level.CONTEXT and c.sentence is not None)]
    assert hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16] == chunks_digest


@pytest.mark.parametrize(
    "lines",
    [
        ["第一章 总则", "一", "| 甲 | 乙 |", "2031年4月2日"],  # a short line above a table is no issuer of the date below it
        ["第一章 总则", "2031年4月2日", "| 甲 | 乙 |", "2031年4月2日"],  # a table between two dates ends the first 落款
    ],
)
def test_a_table_between_signoff_lines_keeps_them_apart(lines: list[str]):
    # Both found by hypothesis.
    doc = parse_text("\n".join(lines), "any")
    assert coverage(doc, read_lines("\n".join(lines))) == 1.0 and overlaps(doc) == []


def test_issuing_bodies_above_a_title_with_no_document_number_issue_it():
    """青岚区教育局 on its own line above 青岚区2022年…政策问答 is the issuer, not the title's first half."""
    doc = parse_text("某区教育局\n某区财政局\n某区2031年资助工作方案\n各学校：\n一、总则\n内容。", "t")
    assert (doc.title, doc.issuer) == ("某区2031年资助工作方案", "某区教育局、某区财政局")
    qa = parse_file(Path(__file__).parent / "data" / "fiction_extra" / "qinglan-2022-homework-sleep-training-qa.txt")
    assert (qa.title, qa.issuer, qa.year) == ("青岚区2022年中小学生作业、睡眠、手机和校外培训管理政策问答", "青岚区教育局", 2022)


def test_joint_issuers_sign_before_the_attachments():
    """Two bureaus sign on a line each, and the 附件 (a table, a list) come after the 落款: the issuer is both, the
    date the 落款's, not read from the attachments' last lines."""
    text = (
        "青禾区2032年公开招聘教师实施方案\n为做好招聘工作，制定本方案。\n一、招聘计划\n本次计划招聘教师20名。\n"
        "二、咨询方式\n咨询电话：022-12345678。\n青禾区教育局\n青禾区人力资源和社会保障局\n2032年3月10日\n"
        "附件1\n学段 | 人数\n小学 | 12\n初中 | 8\n附件2\n1. 基本信息：姓名、性别。\n2. 联系信息：电话、邮箱。\n"
    )
    doc = parse_text(text, "joint")
    assert (doc.issuer, doc.date) == ("青禾区教育局、青禾区人力资源和社会保障局", "2032-03-10")
    assert [u.section for u in doc.units if u.kind is UnitKind.SIGNOFF] == ["落款"]


def test_joint_issuers_on_one_line_read_as_on_two():
    """Two bureaus sign on one line, apart by full-width spaces: the issuer is read as when each signs on its own line,
    so a .txt and its .html (where the spaces collapse) give the same issuer."""
    body = "青禾区2032年近视防控工作实施方案\n为做好近视防控工作，制定本方案。\n一、工作目标\n近视率下降1个百分点。\n"
    one_line = parse_text(body + "青禾区教育局\u3000\u3000青禾区卫生健康委员会\n2032年3月18日\n", "one")
    two_lines = parse_text(body + "青禾区教育局\n青禾区卫生健康委员会\n2032年3月18日\n", "two")
    assert one_line.issuer == two_lines.issuer == "青禾区教育局、青禾区卫生健康委员会"
