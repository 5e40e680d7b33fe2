"""Units that cite other units of their own document (assistant/parsing/references.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.parsing import int_to_chinese, parse_file, parse_text
from assistant.parsing.references import cited, citing_units

DATA = Path(__file__).parent / "data"
BUS = DATA / "fiction" / "qinglan-school-bus-management-measures.txt"
FEES = DATA / "fiction_extra" / "qinglan-private-kindergarten-fee-measures.txt"
SUPPORT = DATA / "fiction_extra" / "qinglan-2021-inclusive-kindergarten-support-rules.txt"


@pytest.mark.parametrize(
    ("path", "citing", "cites"),
    [
        (BUS, "第二十一条", ["第十一条"]),  # 校车驾驶人违反本办法第十一条规定的，由区公安分局依法处罚
        (FEES, "第二十五条", ["第七条"]),  # 收取本办法第七条规定不得收取的费用的
        (FEES, "第二十六条", ["第二十五条"]),  # 幼儿园有前条所列行为
        (SUPPORT, "六、（二）", ["六、（一）5."]),  # 因第（一）项第5目情形被取消资格的: the item beside its own
        (BUS, "第十一条", []),  # a duty cites nothing
    ],
)
def test_a_unit_cites_the_units_it_names(path: Path, citing: str, cites: list[str]):
    doc = parse_file(path)
    assert [u.section for u in cited(doc, doc.by_section(citing))] == cites


def test_a_law_cites_several_articles_and_only_articles_that_exist():
    doc = parse_text(
        "某某法\n第一条　学校应当建立安全制度。\n第二条　学校不得收费。\n"
        "第三条　违反本法第一条、第二条规定的，责令改正。\n第四条　违反本法第九十条规定的，依法处理。\n",
        "law",
    )
    assert [u.section for u in cited(doc, doc.by_section("第三条"))] == ["第一条", "第二条"]
    assert cited(doc, doc.by_section("第四条")) == ()  # 第九十条 is not in this text


def test_citing_units_maps_each_cited_unit_to_the_units_citing_it():
    doc = parse_file(FEES)
    by_key = citing_units([doc])
    assert by_key[str(doc.ref(doc.by_section("第二十五条")))] == frozenset({str(doc.ref(doc.by_section("第二十六条")))})
    assert str(doc.ref(doc.by_section("第一条"))) not in by_key


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=2, max_value=120), st.data())
def test_generated_laws_cite_exactly_the_articles_they_name(n: int, data: st.DataObject):
    """Any article of any law of up to 120 articles, citing any others by their Chinese numerals, cites exactly those."""
    citing = data.draw(st.integers(min_value=1, max_value=n))
    named = data.draw(st.lists(st.integers(min_value=1, max_value=n).filter(lambda k: k != citing), min_size=1, max_size=3, unique=True))
    lines = ["某某法"]
    for k in range(1, n + 1):
        body = "违反本法" + "、".join(f"第{int_to_chinese(j)}条" for j in named) + "规定的，责令改正。" if k == citing else "学校应当建立安全制度。"
        lines.append(f"第{int_to_chinese(k)}条　{body}")
    doc = parse_text("\n".join(lines) + "\n", "law")
    assert [u.number for u in cited(doc, doc.unit(citing))] == named
