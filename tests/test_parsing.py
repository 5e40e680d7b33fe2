from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.parsing import (
    DocKind,
    ParseError,
    UnitKind,
    chinese_to_int,
    int_to_chinese,
    parse_corpus,
    parse_file,
    parse_text,
    split_sentences,
)

from .conftest import NOTICE


@pytest.fixture(scope="module")
def notice():
    return parse_file(NOTICE)


def test_notice_header(notice):
    assert notice.kind is DocKind.NOTICE
    assert notice.title == "天津市东丽区2020年教育工作要点"
    assert notice.issuer == "天津市东丽区教育局"
    assert notice.recipients == "各中小学、幼儿园、职业教育中心、各科室及其他事业单位"
    assert notice.year == 2020


def test_notice_structure(notice):
    points = [u for u in notice.units if u.kind is UnitKind.POINT]
    assert [u.number for u in points] == list(range(1, 31))
    assert len(notice.parts) == 5
    assert [p.split("、")[0] for p in notice.parts] == ["一", "二", "三", "四", "五"]
    assert notice.unit(20).title == "深化教育综合改革"
    assert notice.unit(20).part.startswith("五、以提升保障能力为重点")
    assert notice.unit(1).part.startswith("一、以党建质量提升为主线")
    assert notice.unit(25).title == "推进“放管服”改革"


def test_notice_preamble_and_header_units(notice):
    kinds = [u.kind for u in notice.units[:2]]
    assert kinds == [UnitKind.HEADER, UnitKind.PREAMBLE]
    preamble = notice.units[1]
    assert preamble.text.startswith("2020年全区教育工作总体要求是")
    assert "把打赢疫情防控阻击战作为首要任务" in preamble.text
    assert "天津市东丽区教育局关于印发" in notice.units[0].text


def test_stray_indentation_point_3(notice):
    # Line " 3、强化意识形态管理。" starts with a space in the source.
    assert " 3、" in NOTICE.read_text(encoding="utf-8")
    assert notice.unit(3).title == "强化意识形态管理"
    assert notice.unit(3).text.startswith("强化意识形态管理。落实意识形态责任制")


def test_sentences_are_verbatim(notice):
    source = NOTICE.read_text(encoding="utf-8")
    for unit in notice.units:
        for s in unit.sentences:
            assert s in source
    assert "对报名人数超过招生计划的，实行电脑摇号随机录取。" in notice.unit(20).sentences[2]


@pytest.mark.parametrize(
    "stem,articles,title",
    [
        ("compulsory-education-law-2018", 63, "中华人民共和国义务教育法（2018年修正）"),
        ("kindergarten-management-regulations-1989", 32, "幼儿园管理条例"),
        ("minors-protection-law-2020", 132, "中华人民共和国未成年人保护法（2020年修订）"),
        ("private-education-law-implementing-regulations-2021", 68, "中华人民共和国民办教育促进法实施条例（2021年修订）"),
        ("private-education-promotion-law-2018", 67, "中华人民共和国民办教育促进法（2018年修正）"),
        ("teachers-law-2009", 43, "中华人民共和国教师法（2009年修正）"),
    ],
)
def test_law_article_counts(laws_dir: Path, stem, articles, title):
    doc = parse_file(laws_dir / f"{stem}.txt")
    assert doc.kind is DocKind.LAW
    assert doc.title == title
    assert [u.number for u in doc.numbered] == list(range(1, articles + 1))
    assert doc.year is not None and doc.meta["source"]


def test_law_multi_paragraph_article(laws_dir: Path):
    doc = parse_file(laws_dir / "teachers-law-2009.txt")
    art4 = doc.unit(4)
    assert art4.label == "第四条"
    assert art4.text.endswith("全社会都应当尊重教师。")
    assert art4.part == "第一章 总则"
    art7 = doc.unit(7)
    assert art7.text.count("\n") >= 5 and "（六）" in art7.text
    assert doc.unit(6).text == "每年九月十日为教师节。"


def test_front_matter_is_optional_and_lenient():
    text = "---\ntitle: 测试条例\nissuer: 某部门\ndate: 2021-04-07\nsource: repo @ abc : 行政法/x.md\n---\n测试条例\n第一条 为了测试，制定本条例。\n第二条 本条例自公布之日起施行。\n"
    doc = parse_text(text, "t")
    assert (doc.title, doc.issuer, doc.year) == ("测试条例", "某部门", 2021)
    assert doc.meta["source"] == "repo @ abc : 行政法/x.md"
    assert len(doc.numbered) == 2
    bare = parse_text("第一条 为了测试，制定本条例。", "bare")
    assert bare.title == "bare" and len(bare.numbered) == 1


def test_unnumbered_text_is_paragraphs_not_an_error():
    doc = parse_text("只是一段话。\n又一段话。", "x")
    assert [u.kind for u in doc.units] == [UnitKind.PARAGRAPH, UnitKind.PARAGRAPH]
    assert [u.section for u in doc.units] == ["第1段", "第2段"]
    assert any("no numbered lines" in w for w in doc.warnings)


def test_errors_name_the_problem(tmp_path: Path):
    with pytest.raises(ParseError, match="never closed"):
        parse_text("---\ntitle: x\n第一条 内容。", "x")
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("第一条 内容。".encode("gbk"))
    doc = parse_file(gbk)  # read, with a warning saying how it was read
    assert doc.unit(1).text == "内容。" and any("GB18030" in w for w in doc.warnings)
    for codec in ("utf-16", "utf-16-be"):  # Windows Notepad's "Unicode", with its BOM: read as it is, no warning
        wide = tmp_path / f"{codec}.txt"
        wide.write_bytes(("\ufeff" if codec.endswith("be") else "").encode(codec) + "第一条 内容。".encode(codec))
        doc = parse_file(wide)
        assert doc.unit(1).text == "内容。" and not doc.warnings
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(ParseError, match="not UTF-8"):
        parse_file(binary)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "same.txt").write_text("1、甲。", encoding="utf-8")
    (tmp_path / "b" / "same.txt").write_text("1、乙。", encoding="utf-8")
    failed: list[tuple[Path, Exception]] = []
    docs = parse_corpus([tmp_path / "a", tmp_path / "b"], on_error=lambda p, e: failed.append((p, e)))
    assert len(docs) == 1 and len(failed) == 1
    assert failed[0][0].name == "same.txt" and "same name" in str(failed[0][1])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        parse_corpus([tmp_path / "missing"])


@given(st.integers(min_value=1, max_value=9999))
def test_chinese_numerals_round_trip(n: int):
    assert chinese_to_int(int_to_chinese(n)) == n


@pytest.mark.parametrize("text,n", [("十", 10), ("十二", 12), ("二十", 20), ("一百零八", 108), ("一百三十二", 132), ("两千零一", 2001), ("42", 42)])
def test_chinese_numerals_known(text: str, n: int):
    assert chinese_to_int(text) == n


_cjk = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF), min_size=1, max_size=12)


@given(st.lists(st.tuples(_cjk, st.lists(_cjk, min_size=0, max_size=3)), min_size=1, max_size=12), st.sampled_from(["", " ", "\u3000", "  "]))
def test_generated_notice_round_trips(points, indent: str):
    lines = ["某某局关于印发", "《某区2021年工作要点》的通知", "某区2021年工作要点", "总体要求是：做好工作。", "一、第一部分"]
    for i, (title, sents) in enumerate(points, start=1):
        lines.append(f"{indent}{i}、{title}。" + "".join(s + "。" for s in sents))
    doc = parse_text("\n".join(lines), "gen")
    assert doc.title == "某区2021年工作要点" and doc.year == 2021
    got = doc.numbered
    assert [u.number for u in got] == list(range(1, len(points) + 1))
    for unit, (title, sents) in zip(got, points):
        assert unit.title == title
        assert unit.sentences == (f"{title}。", *(s + "。" for s in sents))


@given(st.lists(st.tuples(st.integers(1, 200), _cjk), min_size=1, max_size=8, unique_by=lambda t: t[0]))
def test_generated_law_round_trips(articles):
    articles = sorted(articles)
    text = "\n\n".join(f"第{int_to_chinese(n)}条 {body}。" for n, body in articles)
    doc = parse_text(text, "law")
    assert [(u.number, u.text) for u in doc.numbered] == [(n, body + "。") for n, body in articles]


@given(st.text(max_size=200))
def test_split_sentences_keeps_every_character(text: str):
    sentences = split_sentences(text)
    assert all(s and s == s.strip() and s in text for s in sentences)
    assert all("。" not in s[:-1] for s in sentences)
    assert "".join("".join(sentences).split()) == "".join(text.split())
