"""Extractive answers: quote the sentences that hold the asked fact, cite their unit, or abstain."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from .index import Index
from .parsing import Document, DocKind, Unit, UnitKind
from .retrieval import Hit, Retrieval


class AnswerType(str, Enum):
    """What kind of fact a question asks for; some kinds must be visible in the quote."""

    NUMBER = "number"
    DATE = "date"
    PHONE = "phone"
    MONEY = "money"
    PLACE = "place"
    OPEN = "open"


_TYPE_CUES: tuple[tuple[AnswerType, re.Pattern[str]], ...] = (
    (AnswerType.PHONE, re.compile(r"电话|热线|联系方式|手机号|号码|邮箱|网址")),
    (AnswerType.MONEY, re.compile(r"多少钱|费用|收费标准|学费|价格|补助.{0,4}(?:多少|标准是)|金额|几块|工资.{0,3}(?:多少|涨)|奖金")),
    (AnswerType.DATE, re.compile(r"什么时候|何时|哪天|哪一天|几月|几号|几点|日期|截止|哪个月|什么时间|多久|开学时间|公布时间")),
    (AnswerType.PLACE, re.compile(r"哪些小区|哪个小区|在哪|地址|哪里|位置|范围是|学区|划片|哪条路|哪个街")),
    (AnswerType.NUMBER, re.compile(r"几[所个届项名次年类种批期倍条座]|多少|百分之|百分比|多大比例|第几|几成")),
)

_EVIDENCE: dict[AnswerType, re.Pattern[str]] = {
    AnswerType.NUMBER: re.compile(r"\d|[一二三四五六七八九十百千两]+(?:所|个|届|周期|期|项|条|类|级|种|名|次|批|年|大)"),
    AnswerType.DATE: re.compile(r"\d{4}年|\d{1,2}月|\d{1,2}日|期间|每年|年底|年初|[春秋]季|学期"),
    AnswerType.PHONE: re.compile(r"\d{3,4}-?\d{7,8}|1\d{10}"),
    AnswerType.MONEY: re.compile(r"\d+(?:\.\d+)?\s*(?:元|万元|亿元)"),
    AnswerType.PLACE: re.compile(r"[\u4e00-\u9fff]{2,}(?:路|街道?|小区|村|镇|号院|社区)\b"),
}


def answer_type(question: str) -> AnswerType:
    for kind, cue in _TYPE_CUES:
        if cue.search(question):
            return kind
    return AnswerType.OPEN


def has_evidence(kind: AnswerType, text: str) -> bool:
    return kind is AnswerType.OPEN or bool(_EVIDENCE[kind].search(text))


@dataclass(frozen=True)
class Citation:
    doc_id: str
    doc_title: str
    point: int | None
    point_title: str
    path: str
    quote: str
    score: float


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
                {"doc_id": c.doc_id, "doc_title": c.doc_title, "point": c.point, "point_title": c.point_title, "path": c.path, "quote": c.quote, "score": round(c.score, 4)}
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
    """Per-question features the abstention decision uses (also logged by eval)."""

    top_score: float
    top_dense: float
    margin: float  # fused score gap between the first and second unit
    coverage: float  # IDF-weighted share of query terms found in the quoted sentences
    unit_coverage: float  # the same over the whole cited unit
    type_ok: bool  # the asked kind of fact (number, date, …) appears in the quote
    agree: bool  # dense and keyword rankings pick the same top unit


@dataclass(frozen=True)
class Selection:
    hit: Hit
    sentences: tuple[int, ...]  # indices into the unit's sentences, in text order
    quote: str


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

    def select(self, retrieval: Retrieval, hit: Hit, kind: AnswerType, max_sentences: int = 3) -> Selection:
        """Pick the 1–3 sentences of a unit that best hold the asked fact."""
        doc, unit = self.index.units[hit.unit_key]
        rows = [r for r in self.index.rows_by_unit[hit.unit_key] if self.index.chunks[r].sentence is not None]
        sents = unit.sentences
        if not rows:
            return Selection(hit, (), unit.text)
        candidates = [r for r in rows if not (unit.kind is UnitKind.POINT and self.index.chunks[r].sentence == 0 and len(rows) > 1)]
        dense = np.asarray([retrieval.dense[r] for r in candidates])
        kwd = np.asarray([retrieval.keyword[r] for r in candidates])
        cov = np.asarray([self._coverage(retrieval.tokens, self.index.chunks[r].text) for r in candidates])
        typed = np.asarray([0.25 if kind is not AnswerType.OPEN and has_evidence(kind, self.index.chunks[r].text) else 0.0 for r in candidates])
        kw_scaled = kwd / kwd.max() if kwd.max() > 0 else kwd
        score = 5.0 * (dense - dense.max()) + 0.6 * cov + 0.3 * kw_scaled + typed
        best = float(score.max())
        chosen = [candidates[i] for i in np.argsort(-score)[:max_sentences] if score[i] >= best - 0.12]
        idx = tuple(sorted(self.index.chunks[r].sentence for r in chosen))
        return Selection(hit, idx, _join(sents, idx))

    def evidence(self, retrieval: Retrieval, selections: list[Selection], kind: AnswerType) -> Evidence:
        hits = retrieval.hits
        top = selections[0]
        _, unit = self.index.units[top.hit.unit_key]
        by_dense = max(hits, key=lambda h: h.dense)
        by_kw = max(hits, key=lambda h: h.keyword)
        return Evidence(
            top_score=hits[0].score,
            top_dense=float(max(retrieval.dense[r] for r in self.index.rows_by_unit[top.hit.unit_key])),
            margin=hits[0].score - (hits[1].score if len(hits) > 1 else 0.0),
            coverage=self._coverage(retrieval.tokens, top.quote),
            unit_coverage=self._coverage(retrieval.tokens, unit.title + unit.text),
            type_ok=has_evidence(kind, top.quote),
            agree=by_dense.unit_key == by_kw.unit_key,
        )

    def citation(self, sel: Selection) -> Citation:
        doc, unit = self.index.units[sel.hit.unit_key]
        return Citation(doc.doc_id, doc.title, unit.number, unit.title, _path(self.index, sel.hit.unit_key), sel.quote, sel.hit.score)

    def render(self, selections: list[Selection]) -> str:
        parts = []
        for sel in selections:
            doc, unit = self.index.units[sel.hit.unit_key]
            parts.append(f"“{sel.quote}”（出自{cite_label(doc, unit)}）")
        return "\n".join(parts)

    def abstention(self, retrieval: Retrieval, note: str = "") -> tuple[str, tuple[Citation, ...]]:
        titles = "、".join(dict.fromkeys(f"《{d.title}》" for d in self.index.documents))
        related = tuple(
            Citation(h.doc_id, *_unit_names(self.index, h.unit_key), _path(self.index, h.unit_key), "", h.score) for h in retrieval.hits[:3]
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


def _join(sentences: tuple[str, ...], idx: tuple[int, ...]) -> str:
    """Adjacent sentences run together; a gap between them is marked with ……"""
    out = ""
    for n, i in enumerate(idx):
        if n and i != idx[n - 1] + 1:
            out += "……"
        out += sentences[i]
    return out
