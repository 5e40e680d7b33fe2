"""Extractive answers: quote the sentences that hold the asked fact, cite their unit, or abstain."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from enum import Enum
from collections.abc import Callable
from typing import Any

import numpy as np

from .chunking import Level
from .index import Index
from .parsing import Document, DocKind, Unit, UnitKind, chinese_to_int
from .retrieval import Hit, Retrieval, asking_sentences, years_in


class AnswerType(str, Enum):
    """A kind of fact a question can ask for; the quote must show it (open questions ask for none)."""

    NUMBER = "number"
    DATE = "date"
    PHONE = "phone"
    MONEY = "money"
    PLACE = "place"
    PROCEDURE = "procedure"
    NAME = "name"  # which schools, which country: a proper name must be quoted
    ITEMS = "items"  # what a named set holds (“五个一”是哪五个, 16条措施具体哪16条): the quote must list them


_CN_NUM = "零〇一二两三四五六七八九十百千万"
_UNITS = "周期|学时|课时|小时|平方米|百分点|个人|个月|周岁|所|个|届|项|名|次|年|类|种|批|期|倍|条|座|天|日|分|元|人|门|岁|轮|家|位|班|月|篇"
# A unit the question names may be answered with a close one (多少名教师 → 100人).
_UNIT_ALIASES = {
    "名": "名|人|个|位", "人": "人|名|个|位", "个人": "人|名|个|位", "位": "位|名|人", "个": "个|所|项|名|家", "条": "条|项",
    "岁": "岁|周岁", "周岁": "周岁|岁", "天": "天|日", "日": "日|天", "月": "个月|月", "个月": "个月|月",
}

_VERSION_CUE = re.compile(r"几点零|几点几|几\.0")  # a version number such as 2.0

_TYPE_CUES: tuple[tuple[AnswerType, re.Pattern[str]], ...] = (
    (AnswerType.PHONE, re.compile(r"电话|热线|联系方式|手机号|号码|邮箱")),
    (AnswerType.MONEY, re.compile(r"多少钱|多少元|几块|多少(?:补助|补贴|经费|奖金|费用|学费)|(?:学费|费用|收费|补助|补贴|工资|奖金|价格|保育费)\S{0,4}(?:多少|涨多少|标准是)|金额是|收费标准")),
    (AnswerType.NUMBER, _VERSION_CUE),
    (AnswerType.DATE, re.compile(r"什么时候|何时|哪年|哪一年|哪天|哪一天|几月|几号|几点|日期|截止|哪个月|什么时间|多久|开学时间|公布时间|开幕")),
    (AnswerType.PLACE, re.compile(r"在哪里|在哪儿|在哪个(?:街道|小区|地方|位置|网站)|哪个街道|哪些小区|哪个小区|地址|什么地点|哪个地点|具体位置|学区范围|划片|哪条路|哪个网站|网址")),
    (AnswerType.ITEMS, re.compile(
        r"(?:”|》|\d+条|[一二三四五六七八九十]+(?:个|大|项|条)|清单)[^？?。]{0,10}?"
        r"(?:(?:具体|到底)都?(?:包括|包含|有|是|指|列了?)?哪(?:些|几)|都?(?:包括|包含)哪(?:些|几)|哪(?:\d+|[一二两三四五六七八九十]+)|指的?是什么|是什么意思|啥意思|什么意思)"
    )),
    (AnswerType.NAME, re.compile(r"是?哪(?:几|两|三|些|一)?所(?:学校|小学|中学|幼儿园)?|哪(?:些|个)(?:学校|小学|中学|初中|高中|幼儿园)|哪个国家|哪些国家|哪家|名单|叫什么名字|校名")),
    (AnswerType.PROCEDURE, re.compile(r"(?:怎么|如何|怎样)(?:报名|申请|办理|登记|选|评|认定|参加|注册|预约)|(?:报名|申请|办理|入学|招生)(?:流程|程序|手续|步骤|方式)|(?:哪些|什么)(?:材料|证明|手续|证件|流程|程序)|找谁|去哪办|去哪儿办")),
    (AnswerType.NUMBER, re.compile(rf"(?<![哪好])几(?:{_UNITS})|多少|百分之几|百分比|多大比例|第几|几成")),
)

# 哪天 / 几号 / 几点 ask for a day or a time; 什么时候 / 哪年 may be answered with a year.
_DAY_LEVEL = re.compile(r"哪天|哪一天|几月|几号|几点|日期|截止|哪个月|开幕|公布时间")

_EVIDENCE: dict[AnswerType, re.Pattern[str]] = {
    AnswerType.NUMBER: re.compile(rf"\d|[{_CN_NUM}]+(?:{_UNITS}|级)"),
    AnswerType.DATE: re.compile(r"\d{4}年|\d{1,2}月|\d{1,2}日|期间|每年|年底|年初|[春秋]季|学期"),
    AnswerType.PHONE: re.compile(r"\d{3,4}-?\d{7,8}|1\d{10}"),
    AnswerType.MONEY: re.compile(r"\d+(?:\.\d+)?\s*(?:元|万元|亿元)"),
    # 在哪儿办 may be answered by the institution that hosts it (依托…东丽分校).
    AnswerType.PLACE: re.compile(r"[\u4e00-\u9fff]{2,}(?:路|街道?|小区|村|镇|号院)|网站|网址|www\.|https?://|(?:依托|在)[\u4e00-\u9fff]{2,20}(?:分校|学院|中心|学校)"),
    AnswerType.NAME: re.compile(r"(?:省|市|区|县|镇)[\u4e00-\u9fff]{1,10}(?:小学|中学|学校|幼儿园|分校|学院)|大学[\u4e00-\u9fff]{0,6}分校|[\u4e00-\u9fff]{2,6}(?:大学|学院)"),
    AnswerType.PROCEDURE: re.compile(r"程序|流程|步骤|材料|证明|手续|登录|提交|携带|填写|选举|推选|报名方式|申请表|网上报名|现场报名"),
}
_DAY_EVIDENCE = re.compile(r"\d{1,2}月|\d{1,2}日|\d{1,2}号|\d{1,2}[:：]\d{2}|[上下]午|[一二三四五六七八九十]+月|[一二三四五六七八九十]+日")


@dataclass(frozen=True)
class Asked:
    """The kind of fact asked for and, for numbers, the unit named (几所 → 所, 第几届 → 第…届)."""

    kind: AnswerType
    unit: str = ""
    ordinal: bool = False
    day_level: bool = False  # DATE: a day or time is asked for, a year does not answer it
    count: int = 0  # ITEMS: how many the question says there are (哪五个 → 5)
    current: bool = False  # NUMBER: the present value (现在…是多少); a target (使…达到95%) does not answer it

    def satisfied_by(self, text: str) -> bool:
        text = unicodedata.normalize("NFKC", text)  # laws write 10％ and １５日 in full width
        if self.kind is AnswerType.ITEMS:
            return _items_listed(text) >= max(3, self.count)
        if self.kind is AnswerType.NAME:
            text = _TITLE.sub("", text)  # 《天津市提升中小学生…》 is a document, not a school's name
        if self.current:
            text = "，".join(c for c in re.split(r"[，,；;。]", text) if not _TARGET.search(c))
        if self.kind is AnswerType.NUMBER and self.unit == "%":
            return bool(re.search(r"\d+(?:\.\d+)?%|百分之|百分点", text))
        if self.kind is AnswerType.NUMBER and self.unit:
            units = _UNIT_ALIASES.get(self.unit, self.unit)
            if self.ordinal:  # 第二期, and as often without 第: 二期, 十一届
                return bool(re.search(rf"(?:\d+|[{_CN_NUM}]+)(?:{units})", text))
            return bool(re.search(rf"(?:\d+(?:\.\d+)?|[{_CN_NUM}]+)\s*(?:{units})", text))
        if self.day_level:
            return bool(_DAY_EVIDENCE.search(text))
        return bool(_EVIDENCE[self.kind].search(text))


_TITLE = re.compile(r"《[^》]*》")
_QUOTED = re.compile(r"“[^”]*”")
# A clause that sets a target or plan rather than stating a present value.
_TARGET = re.compile(r"使|达到|降低|提高|力争|确保|至少|以上|新增|增加|计划|争取|目标")
_CURRENT = re.compile(r"现在|目前|当前|现有|实际|如今")


def _items_listed(text: str) -> int:
    """How many items the text enumerates: 查处一案、警示一批、教育一片 → 3; “甲岗”“乙岗”“丙岗” → 3."""
    quoted = len(_QUOTED.findall(text))
    plain = _QUOTED.sub("X", _TITLE.sub("X", text))
    listed = max((len(c.split("、")) for c in re.split(r"[，,；;。：:]", plain)), default=0)
    return max(quoted, listed)


def _refine(kind: AnswerType, question: str) -> Asked:
    if kind is AnswerType.ITEMS:
        m = re.search(r"哪(\d+|[一二两三四五六七八九十]+)[条项个种类大]", question)
        return Asked(kind, count=_to_int(m.group(1)) if m else 0)
    if kind is AnswerType.NUMBER and _CURRENT.search(question):
        asked = _refine_number(question)  # 现在是第几期 asks for the plan's own number: no present value involved
        return asked if asked.ordinal else replace(asked, current=True)
    if kind is AnswerType.DATE:
        return Asked(kind, day_level=bool(_DAY_LEVEL.search(question)))
    if kind is not AnswerType.NUMBER:
        return Asked(kind)
    return _refine_number(question)


def _to_int(numeral: str) -> int:
    return int(numeral) if numeral.isdigit() else chinese_to_int(numeral.replace("两", "二"))


def _refine_number(question: str) -> Asked:
    kind = AnswerType.NUMBER
    if re.search(r"百分之几|百分比|多大比例|几成|比例是多少|多少比例|率是多少|率有多少|率多少", question):
        return Asked(kind, "%")
    if m := re.search(rf"第几个?({_UNITS})", question):  # 第几个周期 asks for a 周期
        return Asked(kind, m.group(1), ordinal=True)
    if m := re.search(rf"(?:几|多少)({_UNITS})", question):
        return Asked(kind, m.group(1))
    return Asked(kind)


# 就怕哪天跑路了 / 万一哪天出事: 哪天 as "some day", not a question.
_INDEFINITE = re.compile(r"(?<=[怕万如要总说])(?:一|果|是|有|不定)?哪(?:天|一天|里|儿)")


def asked_facts(question: str) -> tuple[Asked, ...]:
    """Every kind of fact the question asks for (什么时间、什么地点 asks two); () for an open question."""
    question = _INDEFINITE.sub("", asking_sentences(question))
    facts: list[Asked] = []
    for kind, cue in _TYPE_CUES:
        if cue.search(question):
            facts.append(_refine(kind, question))
            if cue is _VERSION_CUE:  # 几点零 is a version number, not a time of day
                question = cue.sub("", question)
    return tuple(dict.fromkeys(facts))


def facts_in(facts: tuple[Asked, ...], text: str) -> bool:
    return all(f.satisfied_by(text) for f in facts)


@dataclass(frozen=True)
class Citation:
    doc_id: str
    doc_title: str
    point: int | None
    point_title: str
    path: str
    quote: str
    score: float
    section: str = ""  # the unit's human label: "20、", "第十二条", "三、（二）2."


@dataclass(frozen=True)
class Answer:
    question: str
    rewritten_question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...]
    latency_ms: float

    def to_json(self, id: str | None = None) -> dict[str, Any]:
        """The stable JSON contract shared by the CLI and the HTTP API; every key always present."""
        return {
            "id": id,
            "question": self.question,
            "rewritten_question": self.rewritten_question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [
                {"doc_id": c.doc_id, "doc_title": c.doc_title, "point": c.point, "point_title": c.point_title, "section": c.section, "path": c.path, "quote": c.quote, "score": round(c.score, 4)}
                for c in self.citations
            ],
            "latency_ms": round(self.latency_ms, 1),
        }


def cite_label(doc: Document, unit: Unit) -> str:
    """《title》第20条「深化教育综合改革」, 《title》第六条, 《title》总体要求."""
    if unit.kind is UnitKind.POINT:
        return f"《{doc.title}》第{unit.number}条「{unit.title}」"
    if unit.kind is UnitKind.ARTICLE:
        return f"《{doc.title}》{unit.label}"
    return f"《{doc.title}》{'总体要求' if unit.kind is UnitKind.PREAMBLE else ('印发通知' if doc.kind is DocKind.NOTICE else '标题')}"


@dataclass(frozen=True)
class Evidence:
    """What the abstention decision looks at (see pipeline.Thresholds)."""

    top_dense: float  # best cosine of any chunk of the top unit
    quote_dense: float  # best cosine of the quoted sentences (or their clauses)
    coverage: float  # IDF-weighted share of query terms found in the quoted sentences
    type_ok: bool  # every asked kind of fact (number with its unit, date, …) appears in the quote


@dataclass(frozen=True)
class Selection:
    hit: Hit
    sentences: tuple[int, ...]  # indices into the unit's sentences, in text order
    quote: str


_LEAD_IN = re.compile(r"^[^，。；：]{0,30}[：:]")  # 2020年全区教育工作总体要求是：
_ASKS_ISSUER = re.compile(r"谁|哪个单位|哪个部门|哪个机关|发文|发布|印发|制定")
_ASKS_RECIPIENTS = re.compile(r"发给|下发给|哪些单位|对象|主送|给谁")

# Sentence choice inside a unit (tuned on eval/dev key coverage).
W_DENSE, W_COVERAGE, W_KEYWORD, SENTENCE_SLACK = 5.0, 0.6, 0.3, 0.12


class AnswerBuilder:
    def __init__(self, index: Index):
        self.index = index

    def _coverage(self, tokens: tuple[str, ...], text: str) -> float:
        kw = self.index.keywords
        content = {t for t in tokens if len(t) > 1 or t.isdigit()}
        if not content:
            return 0.0
        total = sum(kw.idf(t) for t in content)
        return sum(kw.idf(t) for t in content if t in text) / total if total else 0.0

    def select(
        self, retrieval: Retrieval, hit: Hit, facts: tuple[Asked, ...], max_sentences: int = 3, anchor: str = "", shown: frozenset[int] = frozenset()
    ) -> Selection:
        """Pick the 1–3 sentences of a unit that best hold the asked fact (and ``anchor``, when given).

        ``shown`` are sentences the user has already been quoted (还有哪些措施？ asks for others).
        """
        doc, unit = self.index.units[hit.unit_key]
        chunks = self.index.chunks
        rows = [r for r in self.index.rows_by_unit[hit.unit_key] if chunks[r].level is Level.SENTENCE]
        sents = unit.sentences
        if not rows:
            return Selection(hit, (), unit.text)
        candidates = [r for r in rows if not (unit.kind is UnitKind.POINT and chunks[r].sentence == 0 and len(rows) > 1)]
        # A sentence is as close as its closest clause.
        best_part: dict[int, float] = {}
        for r in self.index.rows_by_unit[hit.unit_key]:
            # A lead-in (总体要求是：) matches questions that name the heading, not the fact they ask for.
            if chunks[r].sentence is not None and not (chunks[r].level is Level.CLAUSE and chunks[r].text.endswith(("：", ":"))):
                best_part[chunks[r].sentence] = max(best_part.get(chunks[r].sentence, -1.0), float(retrieval.dense[r]))
        text = {r: chunks[r].text for r in candidates}
        if unit.kind is UnitKind.HEADER:
            # Who issued it / to whom: quote the line that holds the parsed issuer or recipients.
            wanted = doc.recipients if _ASKS_RECIPIENTS.search(retrieval.query) else doc.issuer if _ASKS_ISSUER.search(retrieval.query) else ""
            candidates = _prefer(candidates, lambda r: bool(wanted) and wanted in text[r])
        candidates = _prefer(candidates, lambda r: bool(anchor) and anchor in text[r])
        candidates = _prefer(candidates, lambda r: chunks[r].sentence not in shown)
        # Numeric, date, … questions quote a sentence that holds such facts (all of them if one can).
        candidates = _prefer(candidates, lambda r: any(f.satisfied_by(text[r]) for f in facts))
        candidates = _prefer(candidates, lambda r: facts_in(facts, text[r]))
        # 到2021年…: a year the question names should be in the quote, when the unit says it
        # (not the document's own year, which 今年 turns into and most sentences leave implicit).
        years = [str(y) for y in years_in(retrieval.query) - {doc.year}]
        candidates = _prefer(candidates, lambda r: any(y in text[r] for y in years))
        dense = np.asarray([best_part[chunks[r].sentence] for r in candidates])
        kwd = np.asarray([retrieval.keyword[r] for r in candidates])
        cov = np.asarray([self._coverage(retrieval.tokens, _LEAD_IN.sub("", chunks[r].text)) for r in candidates])
        kw_scaled = kwd / kwd.max() if kwd.max() > 0 else kwd
        score = W_DENSE * (dense - dense.max()) + W_COVERAGE * cov + W_KEYWORD * kw_scaled
        best = float(score.max())
        chosen = [candidates[i] for i in np.argsort(-score)[:max_sentences] if score[i] >= best - SENTENCE_SLACK]
        idx = tuple(sorted(chunks[r].sentence for r in chosen))
        return Selection(hit, idx, _join(sents, idx))

    def merge(self, selections: list[Selection]) -> list[Selection]:
        """One selection per unit, in first-seen order; sentences of the same unit are united."""
        by_unit: dict[str, Selection] = {}
        for sel in selections:
            if (prev := by_unit.get(sel.hit.unit_key)) is None:
                by_unit[sel.hit.unit_key] = sel
            else:
                idx = tuple(sorted(set(prev.sentences) | set(sel.sentences)))
                by_unit[sel.hit.unit_key] = Selection(prev.hit, idx, _join(self.index.units[sel.hit.unit_key][1].sentences, idx))
        return list(by_unit.values())

    def evidence(self, retrieval: Retrieval, selections: list[Selection], facts: tuple[Asked, ...]) -> Evidence:
        top = selections[0]
        rows = self.index.rows_by_unit[top.hit.unit_key]
        return Evidence(
            top_dense=float(max(retrieval.dense[r] for r in rows)),
            quote_dense=max((float(retrieval.dense[r]) for r in rows if self.index.chunks[r].sentence in top.sentences), default=0.0),
            coverage=self._coverage(retrieval.tokens, top.quote),
            type_ok=facts_in(facts, top.quote),
        )

    def citation(self, sel: Selection) -> Citation:
        doc, unit = self.index.units[sel.hit.unit_key]
        return Citation(doc.doc_id, doc.title, unit.number, unit.title, _path(self.index, sel.hit.unit_key), sel.quote, sel.hit.score, unit.section)

    def render(self, selections: list[Selection]) -> str:
        parts = []
        for sel in selections:
            doc, unit = self.index.units[sel.hit.unit_key]
            parts.append(f"“{sel.quote}”（出自{cite_label(doc, unit)}）")
        return "\n".join(parts)

    def abstention(self, retrieval: Retrieval, note: str = "") -> tuple[str, tuple[Citation, ...]]:
        docs = self.index.documents
        titles = f"《{docs[0].title}》" if len(docs) == 1 else f"所收录的{len(docs)}份政策文件"
        related = tuple(
            Citation(h.doc_id, *_unit_names(self.index, h.unit_key), _path(self.index, h.unit_key), "", h.score, self.index.units[h.unit_key][1].section)
            for h in retrieval.hits[:3]
        )
        lines = [note or f"抱歉，{titles}中没有找到能回答这个问题的内容，建议向主管部门或学校咨询具体安排。"]
        if related:
            lines.append("以下条目与问题最相关，供参考：")
            lines += [f"· {c.path}" for c in related]
        return "\n".join(lines), related


def _unit_names(index: Index, key: str) -> tuple[str, int | None, str]:
    doc, unit = index.units[key]
    return doc.title, unit.number, unit.title


def _path(index: Index, key: str) -> str:
    rows = index.rows_by_unit[key]
    return index.chunks[rows[0]].path


def _prefer(rows: list[int], keep: Callable[[int], bool]) -> list[int]:
    """The rows that pass ``keep``, or all of them when none does."""
    return [r for r in rows if keep(r)] or rows


def _join(sentences: tuple[str, ...], idx: tuple[int, ...]) -> str:
    """Adjacent sentences run together; a gap between them is marked with ……"""
    out = ""
    for n, i in enumerate(idx):
        if n and i != idx[n - 1] + 1:
            out += "……"
        out += sentences[i]
    return out
