"""One reading of a question: what it asks, about what, where and when, and whether it leans on the last turn.

:func:`QuestionReader.read` is the only place question text is interpreted; retrieval and
answering take the :class:`Reading` it returns. Relative time words (今年, 明年) are kept as
offsets and resolved against the year of each document that might answer, never against one
global year, and they are matched as words: 教师基本年薪 holds no 本年.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache
from itertools import accumulate

from .answering import Asked, Judgement, asked_facts
from .english import Translator
from .lexicon import Relative, lexicon, rule
from .questions import Embedder, Rewriter, sub_questions
from .retrieval import asking_part, full_years, normalize_query, years_in


class Language(str, Enum):
    CHINESE = "zh"
    ENGLISH = "en"


@dataclass(frozen=True)
class Scope:
    """What the question pins down beyond its topic; the quote must cover each of these to answer in full."""

    places: tuple[str, ...] = ()  # districts or cities named (南开区)
    documents: tuple[str, ...] = ()  # doc_ids of the documents the question names
    years: frozenset[int] = frozenset()  # years named in the asking part (2018年)
    relative: tuple[int, ...] = ()  # offsets of relative time words in the asking part (今年 → 0, 明年 → 1)
    periods: tuple[tuple[str, int, int], ...] = ()  # five-year plan periods named (“十四五”, 2021, 2025)
    schools: tuple[str, ...] = ()  # schools named by their road or number (望潮路小学, 第一中学)
    officials: tuple[tuple[str, str], ...] = ()  # officials named in the asking part: (name, title), (刘建华, 科长)
    stages: tuple[str, ...] = ()  # school stages named in the asking part (高中), from the stage.* rules
    person: bool = False  # a named person is asked for (谁分管招生)
    national: bool = False  # a national rule is asked for (国家规定…)
    task: bool = False  # a task rather than a question about the text (帮我写一份总结, recommend a tutor)
    opinion: bool = False  # a judgement or a forecast (哪所小学最好, 值不值得) that a policy text does not give

    def years_for(self, doc_year: int | None) -> frozenset[int]:
        """The years asked about, with 今年 read as the year of the document at hand."""
        rel = {doc_year + off for off in self.relative} if doc_year else set()
        return self.years | rel


@dataclass(frozen=True)
class Reading:
    question: str  # as asked
    standalone: str  # normalized, with the last turn's topic where the question leans on it
    asking: str  # the clauses that ask (a story before them is context)
    facts: tuple[Asked, ...]  # kinds of fact asked for (number, date, …); () for an open question
    years: frozenset[int]  # every year named (for ranking units that name it)
    sub_questions: tuple[str, ...]  # 建几所幼儿园、新增多少学位 → two; () when it asks one thing
    scope: Scope
    expansions: tuple[str, ...]  # policy terms for its colloquial words (补课 → 校外培训机构)
    used_history: bool
    language: Language = Language.CHINESE
    dense_text: str = ""  # what the embedding reads (an English question adds its Chinese terms)
    relative_words: tuple[str, ...] = field(default=())
    relative: tuple[int, ...] = field(default=())  # offsets of every relative time word (the scope's are the asking part's)
    judged: Judgement | None = None  # 学位够不够: the texts state figures, never whether they suffice

    def resolved(self, year: int | None) -> str:
        """The standalone question with 今年 / 明年 written as years of ``year``'s document (for display)."""
        if not year:
            return self.standalone
        text = self.standalone
        for rel, start in sorted(relative_offsets(text), key=lambda p: -p[1]):
            text = text[:start] + f"{year + rel.offset}年" + text[start + len(rel.word) :]
        return text

    def describe(self) -> str:
        """One line for evaluation reports."""
        parts = [f"“{self.standalone}”", f"asks {'/'.join(f.kind.value for f in self.facts) or 'open'}"]
        s = self.scope
        extras = [
            f"places {','.join(s.places)}" if s.places else "",
            f"documents {','.join(s.documents)}" if s.documents else "",
            f"years {sorted(s.years)}" if s.years else "",
            f"relative {list(s.relative)}" if s.relative else "",
            f"schools {','.join(s.schools)}" if s.schools else "",
            f"officials {','.join(n + t for n, t in s.officials)}" if s.officials else "",
            "person" if s.person else "",
            "national" if s.national else "",
            "task" if s.task else "",
            "opinion" if s.opinion else "",
            f"judges {self.judged.phrase}" if self.judged else "",
            f"expands {' '.join(self.expansions)}" if self.expansions else "",
            "follow-up" if self.used_history else "",
            self.language.value if self.language is not Language.CHINESE else "",
        ]
        return " · ".join(parts + [e for e in extras if e])


@lru_cache(maxsize=1)
def _jieba():
    from .keywords import new_jieba

    return new_jieba()


def relative_offsets(text: str) -> list[tuple[Relative, int]]:
    """Relative time words in ``text`` as (word, start), matched as words.

    An occurrence whose first character ends a word that began earlier is part of that word:
    过去|年年 holds no 去年, 教师基本|年薪 no 本年, 如今|年轻 no 今年. Longer words win (本年度 over 本年).
    """
    inside: set[int] = set()  # character positions that continue a token begun before them
    pos = 0
    for token in _jieba().lcut(text):
        inside.update(range(pos + 1, pos + len(token)))
        pos += len(token)
    taken: set[int] = set()
    found: list[tuple[Relative, int]] = []
    for rel in sorted(lexicon().relative, key=lambda r: -len(r.word)):
        for m in re.finditer(re.escape(rel.word), text):
            span = set(range(m.start(), m.end()))
            if m.start() not in inside and not span & taken:
                found.append((rel, m.start()))
                taken |= span
    return sorted(found, key=lambda p: p[1])


def is_english(text: str) -> bool:
    letters = len(re.findall(r"[A-Za-z]", text))
    return letters >= 6 and letters >= 3 * len(re.findall(r"[\u4e00-\u9fff]", text))


def _places(pos: Sequence[tuple[str, str]], asking: str) -> tuple[str, ...]:
    """Districts and cities the question asks about: 南开区, 滨海新区, 宁河+区 (jieba place, organisation or name tags).

    A place counts when the asking part names it, in full or by its stem (我们滨海那边 after 我们家住滨海新区), or when
    it owns the question's subject (南湖区的老师…, 那河东区呢).
    Names jieba does not know (临澜区 is cut 临/澜区) are found by the ``scope.place`` rule: two characters before 区/县
    that are not a common noun such as 学区 or 小区…"""
    # …unless the two characters are a verb or adverb jieba knows: 我想知道区里 asks about 区里, not a 知道区.
    text = "".join(w for w, _ in pos)
    verbs = {w for w, f in pos if f[:1] in "vdpc"}
    out = [m.group(0) for m in rule("scope.place").finditer(text) if _stem(m.group(0)) not in verbs]
    for i, (word, flag) in enumerate(pos):
        if flag[:2] not in ("ns", "nt", "nr"):
            continue
        if len(word) >= 3 and word[-1] in "区县市":
            out.append(word)
        elif i + 1 < len(pos) and pos[i + 1][0] in ("区", "县"):
            out.append(word + pos[i + 1][0])
    # 我们家住滨海新区，那边今年也建吗: the asking part points back to the place the story names.
    back = bool(rule("place.that").search(asking))
    # 南湖区的老师去交流，每月补贴多少: a place owning the question's subject is asked about, though not in the asking clause.
    owners = {m.group(1) for m in rule("place.owner").finditer(text)}
    return tuple(p for p in dict.fromkeys(out) if back or p in asking or _stem(p) in asking or p in owners)


def _officials(asking: str, pos_cut: Callable[[str], list[tuple[str, str]]]) -> tuple[tuple[str, str], ...]:
    """Officials named by surname and title (刘建华科长, 陈副局长), the name cut as a person's (高中校长 is no one)."""
    if not rule("scope.official").search(asking):
        return ()  # most questions name no title: no second POS cut on the query path
    pos, out = pos_cut(asking), []
    spans = list(zip(accumulate((len(w) for w, _ in pos), initial=0), pos))
    for m in rule("scope.official").finditer(asking):
        words = [(start, flag) for start, (w, flag) in spans if start < m.end("name") and start + len(w) > m.start()]
        if words and words[0][0] == m.start() and all(flag == "nr" for _, flag in words):
            out.append((m.group("name"), m.group("title")))
    return tuple(dict.fromkeys(out))


def _stem(place: str) -> str:
    """滨海新区 → 滨海, 南开区 → 南开."""
    return re.sub("(?:新区|区|县|市)$", "", place)


def _asked_years(standalone: str, asking: str) -> set[int]:
    """Years the asking part names, or points back to: 2019年上的幼儿园……那一年新增了多少学位 asks about 2019."""
    years = years_in(asking)
    if not years and rule("year.that").search(asking):
        years = years_in(standalone)
    return years


class QuestionReader:
    """Reads questions against one index: its documents' titles and unit texts say what names a topic or a document."""

    def __init__(
        self,
        tokenizer,
        embedder: Embedder,
        unit_texts: Sequence[str],
        titles: dict[str, str],
        specific_units: int = 3,
        answer_units: Callable[[str], Sequence[str]] | None = None,
        vocabulary: Collection[str] = (),
        documents: Sequence[tuple[str, Sequence[str]]] = (),
    ):
        self.rewriter = Rewriter(tokenizer, embedder, unit_texts, specific_units, answer_units, documents)
        self.translator = Translator(vocabulary, texts=unit_texts)  # English words become the index's own Chinese words
        self._vocabulary = vocabulary
        # A document is named by its title without the country prefix and the edition note: 义务教育法.
        self._short_titles = {doc_id: _short_title(t) for doc_id, t in titles.items()}

    def _known(self, fact: Asked) -> Asked:
        """A counted noun is looked for next to the number only if the documents use it and it names a kind:
        名额 is never written, and 几所学校 is answered by 2所中学."""
        known = fact.counted in self._vocabulary and fact.counted not in lexicon().generic
        if not fact.counted or (known and [f[:1] for _, f in self.rewriter.pos_cut(fact.counted)] == ["n"]):
            return fact
        return replace(fact, counted="")

    def read(self, question: str, history: Sequence[str] = ()) -> Reading:
        english = is_english(question)
        text = self.translator.translate(question) if english else question
        hist = [self.translator.translate(h) if is_english(h) else h for h in history]
        standalone, used = self.rewriter.rewrite(text, hist)
        standalone = full_years(standalone)
        asking = asking_part(standalone)
        scope = Scope(
            places=_places(self.rewriter.pos_cut(standalone), asking) + (self.translator.places(question) if english else ()),
            documents=_named_documents(self._short_titles, standalone),
            years=frozenset(_asked_years(standalone, asking)),
            relative=tuple(rel.offset for rel, _ in relative_offsets(asking)),
            periods=tuple((p.name, p.start, p.end) for p in lexicon().periods if p.matches(standalone)),
            schools=tuple(dict.fromkeys(m.group(0) for m in rule("scope.school").finditer(asking))),
            stages=stages(asking),
            officials=_officials(asking, self.rewriter.pos_cut),
            person=bool(rule("type.person").search(asking)),
            national=bool(rule("scope.national").search(asking)),
            task=bool(rule("scope.task").search(f"{question} {asking}")),
            opinion=bool(rule("scope.opinion").search(f"{question if english else ''} {asking}")),
        )
        return Reading(
            question=question,
            standalone=standalone,
            asking=asking,
            facts=tuple(self._known(f) for f in asked_facts(standalone)),
            years=frozenset(years_in(standalone)),
            sub_questions=tuple(sub_questions(standalone)),
            scope=scope,
            expansions=lexicon().expansions(standalone),
            used_history=used,
            language=Language.ENGLISH if english else Language.CHINESE,
            dense_text=f"{normalize_query(question)} {standalone}" if english else standalone,
            relative_words=tuple(rel.word for rel, _ in relative_offsets(standalone)),
            relative=tuple(rel.offset for rel, _ in relative_offsets(standalone)),
            judged=None if english or scope.opinion else self._judged(normalize_query(text)),  # its own words, not the last turn's
        )

    def _judged(self, text: str) -> Judgement | None:
        """The judgement a question asks and the word it judges: 学位够不够, 中签率高吗 → 中签率高不高."""
        m = rule("judged").search(text)
        if m is None:
            return None
        word = m.group("word") or m.group("head") + (m.group("tail") or "")
        before = [w for w, flag in self.rewriter.pos_cut(text[: m.start()]) if flag[:1] in ("n", "v") and len(w) > 1][-1:]
        subject = before[0] if before and text[: m.start()].endswith(before[0]) else ""
        return Judgement(subject, f"{subject}{word[0]}不{word}")


def stages(text: str) -> tuple[str, ...]:
    """The school stages a text names (高中晚自习 → 高中; 中小学 → 小学, 初中, 高中), by the stage.* rules."""
    return tuple(name.removeprefix("stage.") for name, r in lexicon().rules.items() if name.startswith("stage.") and r.matches(text))


def _short_title(title: str) -> str:
    return re.sub(r"[（(][^）)]*[）)]$", "", title).removeprefix("中华人民共和国")


def _named_documents(short_titles: dict[str, str], question: str) -> tuple[str, ...]:
    """The documents a question names: by a short title of four characters or more anywhere in it, or by any
    short title it puts in 《》 (《教师法》: three characters, but named as a title)."""
    quoted = set(re.findall(r"《([^》]+)》", question))
    named = tuple(d for d, short in short_titles.items() if short and (short in quoted or (len(short) >= 4 and short in question)))
    return named or _abbreviated(short_titles, question)


def _abbreviated(short_titles: dict[str, str], question: str) -> tuple[str, ...]:
    """这个招聘方案 for 《青岚区2022年公开招聘中小学及幼儿园教师实施方案》: a kind of document (方案, 办法) after a word of
    two to four characters that titles of that kind hold; the longest such word names them."""
    for m in rule("document.genre").finditer(question):
        genre = m.group(0).removeprefix("实施")
        kind = {d: short for d, short in short_titles.items() if genre in short}
        for n in (4, 3, 2):
            stem = question[max(0, m.start() - n) : m.start()]
            if len(stem) == n and stem.isalpha() and (named := tuple(d for d, short in kind.items() if stem in short)):
                return named
    return ()
