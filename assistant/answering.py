"""Extractive answers: quote the sentences that hold the asked fact, cite their unit, or abstain."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import numpy as np

from .chunking import Level, lists
from .index import Index
from .lexicon import CN_NUM, Settings, lexicon, rule
from .parsing import Document, Unit, UnitKind, chinese_to_int
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
    PERSON = "person"  # who is in charge (谁分管招生): a person must be named
    PENALTY = "penalty"  # what happens to an offender (怎么处罚): the quote must set a sanction
    FREQUENCY = "frequency"  # how often (多久检查一次): the quote must give a period (每学期, 每3年)
    FEE = "fee"  # whether it costs anything (要交钱吗, 可以收补课费吗): the quote must speak of a charge (免费, 收费, 100元)
    CONDITION = "condition"  # who qualifies (申报条件是什么, 需要满足哪些条件): the quote must set a condition (符合, 具有, 年满)


class Coverage(str, Enum):
    """How much of the question the answer covers: all of it, its topic but not the asked detail, or nothing."""

    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"


# The asking rules in the order they are tried (rules.tsv type.*).
_TYPE_RULES: tuple[tuple[AnswerType, str], ...] = (
    (AnswerType.PHONE, "type.phone"),
    (AnswerType.MONEY, "type.money"),
    (AnswerType.DATE, "type.date"),
    (AnswerType.FREQUENCY, "type.frequency"),
    (AnswerType.PLACE, "type.place"),
    (AnswerType.ITEMS, "type.items"),
    (AnswerType.NAME, "type.name"),
    (AnswerType.PERSON, "type.person"),
    (AnswerType.PROCEDURE, "type.procedure"),
    (AnswerType.PENALTY, "type.penalty"),
    (AnswerType.FEE, "type.fee"),
    (AnswerType.CONDITION, "type.condition"),
    (AnswerType.NUMBER, "type.number"),
)

#: What the policy text does not specify, in the words of a partial answer (文件…没有规定具体的{detail}).
DETAIL = {
    AnswerType.NUMBER: "数量", AnswerType.DATE: "时间", AnswerType.PHONE: "联系电话", AnswerType.MONEY: "金额",
    AnswerType.PLACE: "地点", AnswerType.PROCEDURE: "办理流程", AnswerType.NAME: "名称", AnswerType.ITEMS: "具体内容",
    AnswerType.PERSON: "负责人", AnswerType.PENALTY: "处罚措施", AnswerType.FREQUENCY: "频次",
    AnswerType.FEE: "收费规定", AnswerType.CONDITION: "条件",
}
DETAIL_EN = {
    AnswerType.NUMBER: "figure", AnswerType.DATE: "date", AnswerType.PHONE: "phone number", AnswerType.MONEY: "amount",
    AnswerType.PLACE: "place", AnswerType.PROCEDURE: "procedure", AnswerType.NAME: "names", AnswerType.ITEMS: "items",
    AnswerType.PERSON: "person in charge", AnswerType.PENALTY: "penalty", AnswerType.FREQUENCY: "frequency",
    AnswerType.FEE: "charges", AnswerType.CONDITION: "conditions",
}


@dataclass(frozen=True)
class Judgement:
    """A judgement asked beside the facts (学位够不够): the texts give the figure, not whether it suffices."""

    subject: str  # the word judged (学位), "" when none stands next to it
    phrase: str  # 学位够不够, said back as left open


@dataclass(frozen=True)
class Asked:
    """The kind of fact asked for and, for numbers, the unit named (几所 → 所, 第几届 → 第…届)."""

    kind: AnswerType
    unit: str = ""
    ordinal: bool = False
    day_level: bool = False  # DATE: a day or time is asked for, a year does not answer it
    day_of_month: bool = False  # DATE: 哪天 / 几号, which a month does not answer
    duration: bool = False  # DATE: how long is asked too (截止以后多长时间内评议): 5个工作日内 answers it
    count: int = 0  # ITEMS: how many the question says there are (哪五个 → 5)
    current: bool = False  # NUMBER: the present value (现在…是多少); a target (使…达到95%) does not answer it
    counted: str = ""  # NUMBER: what is counted (多少名新教师 → 教师); MONEY: what is paid (伙食费); another does not answer it

    def satisfied_by(self, text: str) -> bool:
        text = unicodedata.normalize("NFKC", text)  # laws write 10％ and １５日 in full width
        if self.kind is AnswerType.ITEMS:
            return _items_listed(text) >= max(3, self.count)
        if self.kind is AnswerType.NAME:
            text = _TITLE.sub("", text)  # 《天津市提升中小学生…》 is a document, not a school's name
        if self.current:
            text = "，".join(c for c in re.split(r"[，,；;。]", text) if not rule("target").search(c))
        if self.kind is AnswerType.NUMBER and self.unit == "%":
            return bool(rule("evidence.percent").search(text))  # 15%, 百分之十, a 4:6 split
        if self.kind is AnswerType.NUMBER and self.unit:
            units = lexicon().aliases(self.unit)
            if self.ordinal:  # 第二期, and as often without 第: 二期, 十一届
                return bool(re.search(rf"(?:\d+|[{CN_NUM}]+)(?:{units})", text))
            # 6个班, or a table cell whose label carries the unit: 招生班数：6
            # A number after a month is a date's day (九月十日 is no count of 十日; 每月2次 still counts); a match starts at its
            # number's start (1.2万个, 3千名).
            counts = re.compile(
                rf"(?<![\d{CN_NUM}])(?<![\d{CN_NUM}]月)(?:\d+(?:\.\d+)?[{CN_NUM}]*|[{CN_NUM}]+)\s*个?(?:{units})|(?:{units})[^，。；：:]{{0,2}}[：:]\s*\d"
            )
            if self.unit != "百分点":
                text = _PERCENT.sub("%", text)  # 1个百分点 counts no 分: a share is no count of anything
            return any(counts.search(c) and self.counted in c for c in re.split(r"[，,；;。\n]", text))
        if self.kind is AnswerType.MONEY and self.counted and not any(map(self._pays_asked, re.split(r"[。；;\n]", text))):
            return False  # 伙食费多少: an amount of 住宿费 is no answer
        if self.kind is AnswerType.MONEY and self.unit:  # 每课时60元 is no fee per month
            per = re.compile(rf"(?:每|/)[^，,；;。\n]{{0,6}}?(?:{lexicon().aliases(self.unit)})")
            return any(rule("evidence.money").search(c) and per.search(c) for c in re.split(r"[，,；;。\n]", text))
        if self.duration and rule("evidence.duration").search(text):
            return True  # 多久 / 多长时间内: a length answers (5个工作日内, 不少于1学年, 有效期为3年)
        if self.day_level:  # 哪天 / 几号 asks a day of the month: 11月 does not say it
            return bool(rule("evidence.day_of_month" if self.day_of_month else "evidence.day").search(text))
        if self.kind is AnswerType.NUMBER and self.current:  # a year (2020年, 2019—2020) or a title's number counts nothing
            text = _YEARS.sub("", _TITLE.sub("", text))
        return bool(rule(f"evidence.{self.kind.value}").search(text))

    def _pays_asked(self, sentence: str) -> bool:
        """A sentence giving an amount of what is paid (保育教育费 for 保教费), or of nothing it names (a table's row)."""
        if not rule("evidence.money").search(sentence):
            return False
        return set(self.counted) <= set(sentence) or not rule("evidence.paid").search(sentence)


_TITLE = re.compile(r"《[^》]*》")
_PERCENT = re.compile(r"百分(?:点|之|比)")
_YEARS = re.compile(r"\d{4}\s*(?:[—–-]\s*\d{4}\s*)?年?")  # 2020年, 2019—2020年
_PERIODS = {"节课": "课时", "学年": "年"}  # how a question names the period of a fee → the measure word of units.tsv
_LEAD_IN = re.compile(r"^[^，。；：]{0,30}[：:]")  # 2020年全区教育工作总体要求是： names a heading, not a fact
_QUOTED = re.compile(r"“[^”]*”")


def item_units(documents: Iterable[Document]) -> dict[str, tuple[str, ...]]:
    """Unit key of a lead-in (可通过以下途径核实：) → the keys of the units right under it, in the text's order."""
    out: dict[str, tuple[str, ...]] = {}
    for doc in documents:
        for i, unit in enumerate(doc.units):
            if not unit.text.rstrip().endswith(("：", ":")):
                continue
            kids = []
            for below in doc.units[i + 1 :]:
                if below.depth <= unit.depth or not below.section.startswith(unit.section):
                    break
                if below.depth == unit.depth + 1:
                    kids.append(str(doc.ref(below)))
            if kids:
                out[str(doc.ref(unit))] = tuple(kids)
    return out


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
    if kind is AnswerType.NUMBER and rule("current").search(question):
        asked = _refine_number(question)  # 现在是第几期 asks for the plan's own number: no present value involved
        return asked if asked.ordinal else replace(asked, current=True)
    if kind is AnswerType.DATE:
        return Asked(
            kind,
            day_level=bool(rule("type.day_level").search(question)),
            day_of_month=bool(rule("type.day_of_month").search(question)),
            duration=bool(rule("type.duration").search(question)),
        )
    if kind is AnswerType.MONEY:
        paid = rule("money.paid").findall(question)  # 伙食费…多少钱: what is paid is named, like what is counted
        counted = paid[-1] if paid else ""
        if m := rule("money.period").search(question):  # 一个月收多少钱: a sum per month
            return Asked(kind, _PERIODS.get(m.group(1), m.group(1)), counted=counted)
        return Asked(kind, counted=counted)
    if kind is not AnswerType.NUMBER:
        return Asked(kind)
    return _refine_number(question)


def _to_int(numeral: str) -> int:
    return int(numeral) if numeral.isdigit() else chinese_to_int(numeral.replace("两", "二"))


def _refine_number(question: str) -> Asked:
    kind = AnswerType.NUMBER
    if rule("type.percent").search(question):
        return Asked(kind, "%")
    units = lexicon().unit_pattern
    if m := re.search(rf"第几个?({units})", question):  # 第几个周期 asks for a 周期
        return Asked(kind, m.group(1), ordinal=True)
    if m := re.search(rf"(?:几|多少)(个?)({units})([\u4e00-\u9fff]*)", question):  # 几个班 counts 班, 几个学生 个
        unit, rest = m.group(2), m.group(3)
        if rule("measure_noun").match(question, m.start(2)):  # 多少个位置: 位置 is what is counted, 个 the measure word
            unit, rest = ("个" if m.group(1) else ""), unit + rest
        noun = re.split(r"[和与及、呢吗啊了的是在能要会可还都]", rest)[0]
        return Asked(kind, unit, counted=noun[-2:] if len(noun) >= 2 else "")
    return Asked(kind)


def asked_facts(question: str) -> tuple[Asked, ...]:
    """Every kind of fact the question asks for (什么时间、什么地点 asks two); () for an open question."""
    question = asking_sentences(question)
    spans = _asking_spans(question)
    asked = [kind for kind, name in _TYPE_RULES if any(_overlaps(m.span(), spans) for m in rule(name).finditer(question))]
    return tuple(dict.fromkeys(_refine(kind, question) for kind in asked))


def _asking_spans(sentences: str) -> list[tuple[int, int]]:
    """Where the clauses that ask are: in 孩子被学校处分了不服气，有没有地方能说理 the 处分 is what happened, not a penalty
    asked about. A clause asks when it holds a question word or ends with a question mark; with none, all of it asks."""
    spans, start = [], 0
    for clause in re.split(r"(?<=[，,；;])", sentences):
        end = start + len(clause)
        if rule("interrogative").search(clause) or clause.rstrip().endswith(("?", "？")):
            spans.append((start, end))
        start = end
    return spans or [(0, len(sentences))]


def _overlaps(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in spans)


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
    coverage: Coverage = Coverage.FULL
    summary: str = ""  # one plain line before the quote; every number and name in it is in the quote
    used_history: bool = False  # the question was read together with the last turn

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
            "coverage": self.coverage.value,
            "summary": self.summary,
            "used_history": self.used_history,
        }


def cite_label(doc: Document, unit: Unit) -> str:
    """《title》第20条「深化教育综合改革」, 《title》第六条, 《title》三、（二）2.「…」, 《title》总体要求."""
    if unit.kind is UnitKind.POINT:
        return f"《{doc.title}》第{unit.number}条「{unit.title}」"
    label = unit.section or unit.label
    if label:
        return f"《{doc.title}》{label}" + (f"「{unit.title}」" if unit.title and unit.title not in label else "")
    return f"《{doc.title}》{'总体要求' if unit.kind is UnitKind.PREAMBLE else unit.title or '标题'}"


@dataclass(frozen=True)
class Evidence:
    """What the abstention decision looks at (see lexicon.Settings)."""

    top_dense: float  # best cosine of any chunk of the top unit
    quote_dense: float  # best cosine of the quoted sentences (or their clauses)
    coverage: float  # IDF-weighted share of query terms found in the quoted sentences
    type_ok: bool  # every asked kind of fact (number with its unit, date, …) appears in the quote
    keyword: float = 0.0  # the top unit's BM25 over the best BM25 of any unit (1: the words agree with the ranking)
    margin: float = 0.0  # fused score of the best-ranked unit minus the second's


@dataclass(frozen=True)
class Selection:
    hit: Hit
    sentences: tuple[int, ...]  # indices into the unit's sentences, in text order
    quote: str


class AnswerBuilder:
    def __init__(self, index: Index, settings: Settings | None = None):
        self.index = index
        self.settings = settings or Settings()

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
            if (i := chunks[r].sentence) is not None and not (chunks[r].level is Level.CLAUSE and chunks[r].text.endswith(("：", ":"))):
                best_part[i] = max(best_part.get(i, -1.0), float(retrieval.dense[r]))
        text = {r: chunks[r].text for r in candidates}
        if unit.kind is UnitKind.HEADER:
            # Who issued it / to whom: quote the line that holds the parsed issuer or recipients.
            query = retrieval.query
            wanted = doc.recipients if rule("asks_recipients").search(query) else doc.issuer if rule("asks_issuer").search(query) else ""
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
        dense = np.asarray([best_part[chunks[r].sentence or 0] for r in candidates])  # sentence rows all have an index
        kwd = np.asarray([retrieval.keyword[r] for r in candidates])
        cov = np.asarray([self._coverage(retrieval.tokens_for(doc.year), _LEAD_IN.sub("", chunks[r].text)) for r in candidates])
        kw_scaled = kwd / kwd.max() if kwd.max() > 0 else kwd
        st = self.settings
        score = st.w_dense * (dense - dense.max()) + st.w_coverage * cov + st.w_keyword * kw_scaled
        best = float(score.max())
        ranked = np.argsort(-score)
        order = [candidates[i] for i in ranked]
        chosen = [candidates[i] for i in ranked[:max_sentences] if score[i] >= best - st.sentence_slack]
        # 有效期几年？提前多久重新申请？: when no one sentence holds every asked fact, each fact gets the best one that holds it.
        for f in facts:
            if len(chosen) < max_sentences and not f.satisfied_by(" ".join(text[r] for r in chosen)):
                chosen += [r for r in order if r not in chosen and f.satisfied_by(text[r])][:1]
        idx = tuple(sorted(chunks[r].sentence for r in chosen))
        return Selection(hit, idx, _join(sents, idx))

    def whole_list(self, sel: Selection) -> Selection:
        """For 照管人员负责哪些事: the quote of one item of a list grows to the list, its lead-in (履行下列职责：)
        and every item under it, when they fit in ``list_chars``."""
        sents = self.index.units[sel.hit.unit_key][1].sentences
        for span in lists(sents):
            if len(span) > 2 and any(i in span for i in sel.sentences):
                idx = tuple(sorted(set(sel.sentences) | set(span)))
                quote = _join(sents, idx)
                return Selection(sel.hit, idx, quote) if len(quote) <= self.settings.list_chars else sel
        return sel

    def item_list(self, retrieval: Retrieval, sel: Selection, items: dict[str, tuple[str, ...]]) -> list[Selection]:
        """For 有哪些办法可以查 when a list's items are units of their own (①…③ under 家长可通过以下途径核实：): the lead-in
        and every item, in the text's order, when they fit in ``list_chars``; else just ``sel``."""
        key = sel.hit.unit_key
        lead = key if key in items else next((k for k, kids in items.items() if key in kids), None)
        if lead is None:
            return [sel]
        keys = (lead, *items[lead])
        units = [self.index.units[k][1] for k in keys]
        if sum(len(u.text) for u in units) > self.settings.list_chars:
            return [sel]
        hits = {h.unit_key: h for h in retrieval.ranking}
        whole = [tuple(range(len(u.sentences))) for u in units]
        return [Selection(hits[k], idx, _join(u.sentences, idx)) for k, u, idx in zip(keys, units, whole, strict=True)]

    def whole(self, sel: Selection) -> Selection:
        """The whole unit, when it is at most ``whole_chars`` long: 遇到下大雨的时候校车最高能开多快 is decided on the
        sentences that match best (the 80 and 60 km/h items), and shown with the 20 km/h item for rain beside them."""
        unit = self.index.units[sel.hit.unit_key][1]
        sents = unit.sentences
        first = 1 if unit.kind is UnitKind.POINT and len(sents) > 1 else 0  # a point's title is in its citation already
        every = tuple(range(first, len(sents)))
        if not every or set(every) <= set(sel.sentences) or len(_join(sents, every)) > self.settings.whole_chars:
            return sel
        return Selection(sel.hit, every, _join(sents, every))

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
        ranking = retrieval.ranking
        best_keyword = max(h.keyword for h in ranking)
        return Evidence(
            top_dense=float(max(retrieval.dense[r] for r in rows if self.index.chunks[r].level is not Level.TITLED)),
            quote_dense=max((float(retrieval.dense[r]) for r in rows if self.index.chunks[r].sentence in top.sentences), default=0.0),
            coverage=self._coverage(tuple(t for t in retrieval.tokens_for(self.index.units[top.hit.unit_key][0].year) if t not in retrieval.translated), top.quote),
            type_ok=facts_in(facts, top.quote),
            keyword=top.hit.keyword / best_keyword if best_keyword > 0 else 0.0,
            margin=ranking[0].score - ranking[1].score if len(ranking) > 1 else ranking[0].score,
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
    """Adjacent sentences run together; a gap between them is marked with ……; a line with no closing punctuation (an
    item's heading, 校车安全) keeps its line break, or it would run into the next sentence as one word."""
    out = ""
    for n, i in enumerate(idx):
        if n and i != idx[n - 1] + 1:
            out += "……"
        elif n and not out.endswith(_CLOSED):
            out += "\n"
        out += sentences[i]
    return out


_CLOSED = tuple("。！？!?；;：:，,、…”’\"'）)》】")


_FIGURE = re.compile(rf"\d|[{CN_NUM}]+[个所名元%]")


def lead_clause(quote: str, facts: tuple[Asked, ...], tokens: tuple[str, ...], focus: str = "") -> str:
    """The part of the quote that answers: from the clause holding the asked fact (or the word judged, or most of
    the question's words) to the end of its sentence, at most three clauses (对报名人数超过招生计划的，实行电脑摇号随机录取)."""
    # Each clause keeps the mark that follows it, so that the line repeats the quote's own text (a time such as 17:30
    # is no clause break).
    sentences = [_clauses(s) for s in re.split(r"[。；;！!？?\n]|……", quote)]
    spans = [(i, j) for i, clauses in enumerate(sentences) for j in range(len(clauses))]
    if not spans:
        return ""

    def score(span: tuple[int, int]) -> tuple[bool, bool, int, int]:
        clause = sentences[span[0]][span[1]]
        words = sum(len(t) for t in tokens if len(t) > 1 and t in clause)
        # A judgement (学位够不够) is of a figure: its word leads only where the clause gives one (规范发展民办幼儿园 gives none).
        judged = bool(focus) and focus in clause and bool(_FIGURE.search(clause))
        return (bool(facts) and facts_in(facts, clause), judged, words, -spans.index(span))

    i, j = max(spans, key=score)
    return "".join(sentences[i][j : j + 3]).strip().rstrip("，,：:")


def _clauses(sentence: str) -> list[str]:
    """The clauses of a sentence, each with the comma or colon after it: 17:30 stays whole."""
    parts = re.split(r"([，,：]|(?<!\d):(?!\d))", sentence)
    pieces = [parts[k] + (parts[k + 1] if k + 1 < len(parts) else "") for k in range(0, len(parts), 2)]
    return [c for c in pieces if c.strip(" ，,：:")]


def summarize(
    quote: str,
    facts: tuple[Asked, ...],
    tokens: tuple[str, ...],
    coverage: Coverage,
    missing: Asked | None,
    english: bool,
    judged: Judgement | None = None,
) -> str:
    """One plain line before the quote, by template: only the quote's own words, numbers and names go into it.
    A judgement asked beside the facts (学位够不够) is said to be left open: the text states the figure only."""
    if coverage is Coverage.NONE or not quote:
        return ""
    clause = lead_clause(quote, () if coverage is Coverage.PARTIAL else facts, tokens, judged.subject if judged else "")
    if english:
        figures = list(dict.fromkeys(re.findall(r"\d+(?:\.\d+)?%?", clause)))
        if coverage is Coverage.PARTIAL:
            return f"The policy text covers this topic but does not give the {DETAIL_EN[missing.kind] if missing else 'detail asked'} (quoted in Chinese below)."
        return "The policy text answers this (quoted in Chinese below)" + (f"; key figures: {', '.join(figures)}." if figures else ".")
    if coverage is Coverage.PARTIAL:
        return f"文件提到「{clause}」，但没有规定具体的{DETAIL[missing.kind] if missing else '细节'}" + (f"，也没有说明{judged.phrase}。" if judged else "。")
    return f"文件写明：{clause}" + (f"；文件没有说明{judged.phrase}。" if judged else "。")
