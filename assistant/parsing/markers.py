"""The numbering marks of Chinese official documents, as data: one row per mark.

Headings (第X编/部分/章/节) have a fixed rank; a 第X条 article holds every line
below it; 附件 starts a new top level; list marks (一、 （一） 1、 1. （1） ①, their
variants 一. 1） ⑴ ㈠, the decimal 1 / 1.1 / 1.1.1 and a web notice's 【报名时间】)
nest in the order a document first uses them, so 一、/（一）/1./（1） and
第一章/第一条/（一） both come out as trees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from .numerals import CN_NUM, chinese_to_int

_CN_SMALL = "一二三四五六七八九十"
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
PAREN_DIGITS = "⑴⑵⑶⑷⑸⑹⑺⑻⑼⑽⑾⑿⒀⒁⒂⒃⒄⒅⒆⒇"
_PAREN_CN = "㈠㈡㈢㈣㈤㈥㈦㈧㈨㈩"


class Role(str, Enum):
    HEADING = "heading"  # 第X编/部分/章/节: titles only, fixed rank
    ARTICLE = "article"  # 第X条: a leaf that holds all lines below it
    ATTACHMENT = "attachment"  # 附件1 / 附表: a new top level
    LIST = "list"  # 一、 （一） 1、 1. （1） ①: nests by first use


@dataclass(frozen=True)
class MarkRule:
    name: str
    role: Role
    pattern: re.Pattern[str]  # group "num" is the number, group "rest" the text after the mark
    rank: int = 0  # headings only: 编/部分 0, 章 1, 节 2
    example: str = ""  # a line the rule must match (tested)


def _rule(name: str, role: Role, pattern: str, example: str, rank: int = 0) -> MarkRule:
    return MarkRule(name, role, re.compile(pattern), rank, example)


_SP = r"[\s\u3000]*"
_DEC_END = r"(?:[\s\u3000]+|(?=[\u4e00-\u9fff])(?![万亿千百元倍个名所人次年月日天小%％]))"

#: Order matters: the first rule that matches a line wins.
RULES: tuple[MarkRule, ...] = (
    _rule("bian", Role.HEADING, rf"^第(?P<num>[{CN_NUM}\d]+)(?:编|部分){_SP}(?P<rest>.*)$", "第一编 总则", 0),
    _rule("zhang", Role.HEADING, rf"^第(?P<num>[{CN_NUM}\d]+)章{_SP}(?P<rest>.*)$", "第二章　招生", 1),
    _rule("jie", Role.HEADING, rf"^第(?P<num>[{CN_NUM}\d]+)节{_SP}(?P<rest>.*)$", "第一节 一般规定", 2),
    _rule("tiao", Role.ARTICLE, rf"^第(?P<num>[{CN_NUM}\d]+)条(?:之[{CN_NUM}]+)?{_SP}(?P<rest>.*)$", "第十二条 学校应当……"),
    _rule("fujian", Role.ATTACHMENT, rf"^附[件表]{_SP}(?P<num>[\d{_CN_SMALL}]{{0,3}}){_SP}[:：]?{_SP}(?P<rest>.*)$", "附件1：报名材料清单"),
    _rule("cn_dun", Role.LIST, rf"^(?P<num>[{_CN_SMALL}]{{1,3}})、{_SP}(?P<rest>.*)$", "一、招生原则"),
    _rule("cn_paren", Role.LIST, rf"^[（(](?P<num>[{_CN_SMALL}]{{1,3}})[）)]{_SP}(?P<rest>.*)$", "（二）报名时间"),
    _rule("ar_paren", Role.LIST, rf"^[（(](?P<num>\d{{1,2}})[）)]{_SP}(?P<rest>.*)$", "（1）户口簿"),
    _rule("ar_dun", Role.LIST, rf"^(?P<num>\d{{1,3}})、{_SP}(?P<rest>.*)$", "20、深化教育综合改革。"),
    # Decimal outlines (1 总体目标 / 2.1 / 2.1.1), as plans and standards number them: each depth is its own mark, so
    # they nest like any list. A decimal number followed by a measure (1.5倍, 2.5万元) is a quantity, not a mark.
    _rule("dec3", Role.LIST, rf"^(?P<num>\d{{1,2}}\.\d{{1,2}}\.\d{{1,2}})(?![.．\d]){_DEC_END}(?P<rest>.*)$", "2.1.1 食堂“明厨亮灶”覆盖率达到100%。"),
    _rule("dec2", Role.LIST, rf"^(?P<num>\d{{1,2}}\.\d{{1,2}})(?![.．\d]){_DEC_END}(?P<rest>.*)$", "2.1 校园食品安全"),
    # The top of a decimal outline is a bare number, a space and a short title: a sentence never starts so.
    _rule("dec1", Role.LIST, r"^(?P<num>\d{1,2})[\s\u3000]+(?P<rest>(?![年月日时点号个名所人次万元岁周天])[\u4e00-\u9fff][^。；;，,！？!?：:]{0,19})$", "1 总体目标"),
    _rule("ar_dot", Role.LIST, rf"^(?P<num>\d{{1,3}})[.．](?!\d){_SP}(?P<rest>.*)$", "2. 网上报名"),
    _rule("circled", Role.LIST, rf"^(?P<num>[{CIRCLED}]){_SP}(?P<rest>.*)$", "②居住证"),
    # A web or WeChat notice's unnumbered headings: a line that is only 【招生对象】. Its label is the heading itself.
    _rule("bracket", Role.LIST, r"^(?P<num>)【[^】\s]{2,12}】(?P<rest>)$", "【报名时间】"),
    # Variants Word, WPS and typists produce for the same levels: 一. for 一、, 1） for （1）, ⑴ and ㈠ as one character.
    _rule("cn_dot", Role.LIST, rf"^(?P<num>[{_CN_SMALL}]{{1,3}})[.．](?!\d){_SP}(?P<rest>.*)$", "一.指导思想"),
    _rule("ar_half", Role.LIST, rf"^(?P<num>\d{{1,2}})[）)]{_SP}(?P<rest>.*)$", "1）填写儿童基本信息；"),
    _rule("paren_digit", Role.LIST, rf"^(?P<num>[{PAREN_DIGITS}]){_SP}(?P<rest>.*)$", "⑵户口簿；"),
    _rule("paren_cn", Role.LIST, rf"^(?P<num>[{_PAREN_CN}]){_SP}(?P<rest>.*)$", "㈡报名时间"),
)

#: Headings the format marks but the text does not number (<h3>报名条件</h3>, Word's Heading 2): one mark per level,
#: labelled by the heading itself, so they nest like any list.
STYLED = {level: MarkRule(f"styled{level}", Role.LIST, re.compile(r"^(?P<num>)(?P<rest>)$")) for level in range(1, 7)}


def styled_mark(text: str, level: int) -> Mark:
    """The mark of an unnumbered heading line: its label is its text (a citation reads 报名条件)."""
    return Mark(STYLED[min(max(level, 1), 6)], 0, text, "")


#: Decimal outline marks: 2.1.1 already says it sits in 2.1 and 2, so a citation shows it alone.
DECIMAL_MARKS = frozenset({"dec1", "dec2", "dec3"})

#: List marks whose numbers can be a document-wide work point number (the notice's 1、…30、).
POINT_MARKS = frozenset({"ar_dun", "ar_dot"})


@dataclass(frozen=True)
class Mark:
    rule: MarkRule
    number: int
    label: str  # the mark exactly as written: "（二）", "2.", "第六条", "附件1"
    rest: str  # the line's text after the mark


def _number(raw: str) -> int:
    if not raw:
        return 0
    for numbered in (CIRCLED, PAREN_DIGITS, _PAREN_CN):
        if raw in numbered:
            return numbered.index(raw) + 1
    if "." in raw:  # 2.1.1 is the first item of 2.1
        return int(raw.rsplit(".", 1)[1])
    return chinese_to_int(raw)


def match_mark(line: str) -> Mark | None:
    """The numbering mark a line starts with, or None."""
    for rule in RULES:
        m = rule.pattern.match(line)
        if m is None:
            continue
        rest = m.group("rest").strip()
        if rule.role is Role.ATTACHMENT and (len(rest) > 40 or re.search(r"[。；;！？]", rest)):
            continue  # "附件1所列材料须……。" is a sentence, not an attachment heading
        label = (line[: m.start("rest")] if rest else line).rstrip(" \t\u3000")
        if rule.role is Role.ATTACHMENT:
            label = label.rstrip(":：").rstrip(" \t\u3000")  # 附件1：报名表 is labelled 附件1
        try:
            number = _number(m.group("num"))
        except ValueError:
            continue
        if m.group("num") and number == 0:
            continue  # no list counts from 0: 0） is a cut figure (8:30—17:3 / 0）), not an item
        return Mark(rule, number, label, rest)
    return None


def opens_item(text: str, previous: str) -> bool:
    """Does a line open a numbered item? Not right after a line cut at an enumeration comma (按正文三、 / （五）执行)."""
    return match_mark(text) is not None and not previous.endswith("、")
