"""Question text helpers: follow-ups made standalone, several questions in one split apart, the years asked about.

The cue words come from assistant/lexicon/ (rules.tsv: ``follow.*``, ``interrogative``;
attributes.txt, generic.txt); :mod:`assistant.reading` puts them together into a Reading.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, Protocol

import numpy as np

from .keywords import new_jieba
from .lexicon import lexicon, rule
from .parsing.front_matter import GENRES
from .retrieval import asking_part, normalize_query, to_simplified, years_in

_TOPIC_POS = frozenset("njls")  # nouns, set phrases and place words (高中) name topics; verbs (参加) and adverbs (根本) do not
_TITLE_POS = frozenset({"n", "nz", "vn", "l", "j"})
_TITLE_GENRE = re.compile(rf"{GENRES}|管理|工作")  # 实施方案, 管理办法, 工作要点: what kind of text, not what about
_CHAIN = 2  # how many turns before the last one it is read with
_VERBAL_NOUN = "vn"  # 监控, 督导: a verb used as a noun names a topic too (only a specific one counts, as for nouns)
_CONTENT_POS = frozenset("nvalji")  # jieba POS initials of content words; numbers, pronouns, particles split phrases


class Embedder(Protocol):
    def encode_queries(self, texts: list[str]) -> np.ndarray: ...


def _is_content(word: str, flag: str) -> bool:
    """A word that belongs to a phrase: single-character verbs (有, 是, 要) split phrases, nouns never do."""
    return flag[:1] in _CONTENT_POS and (len(word) > 1 or flag.startswith("n"))


def is_question(text: str) -> bool:
    """Whether ``text`` asks something (谢谢 / 👍 / 好的 do not)."""
    return bool(rule("interrogative").search(text) or rule("interrogative.spoken").search(text)) or any(c in text for c in "?？呢吗")


def plain_message(text: str) -> str:
    """A chat message as the chat.* rules read it: simplified, lower case, single spaces (你好 is no filler to strip)."""
    return re.sub(r"\s+", " ", to_simplified(text)).strip().lower()


def is_pleasantry(text: str) -> bool:
    """谢谢, 好的, 你好: a message that asks nothing and says nothing of a topic (普惠性的那种 says which kind)."""
    plain = plain_message(text)
    return bool(rule("chat.thanks").match(plain) or rule("chat.hello").match(plain) or not re.search(r"\w", plain))


def _asks_nothing(text: str) -> bool:
    """谢谢, 好的, an emoji: no question, and too short to hold one."""
    return not is_question(text) and len(re.findall(r"\w", text)) <= 6


def _pos_tokenizer(base: Any) -> Any:
    """jieba's part-of-speech tagger over ``base`` (which knows the corpus's terms).

    Built around the word tags jieba.posseg loaded on import, instead of reading them a second time (~0.6 s)."""
    import jieba.posseg

    pos = jieba.posseg.POSTokenizer.__new__(jieba.posseg.POSTokenizer)
    pos.tokenizer, pos.word_tag_tab = base, jieba.posseg.dt.word_tag_tab
    return pos


class Rewriter:
    """Turns a follow-up such as 那幼儿园呢？ into a standalone question using the last turn.

    A follow-up borrows from the last turn only when it cannot stand alone: it opens with a
    pronoun (它, 这), is an elliptical 那X呢 or 还有呢, or names no topic of its own
    (什么时候办？). An elliptical 那X呢 swaps X for the noun phrase of the last question it
    is most similar to (by embedding): 体质健康呢 after 近视防控今年有什么目标 keeps 目标.
    """

    def __init__(
        self,
        tokenizer,
        embedder: Embedder,
        unit_texts: Sequence[str] = (),
        specific_units: int = 3,
        answer_units: Callable[[str], Sequence[str]] | None = None,
        documents: Sequence[tuple[str, Sequence[str]]] = (),
    ):
        """``answer_units`` gives the texts of the units that answer a question (to tell a continuation from a new topic);
        ``documents`` each document's title and unit texts: a title's own words name topics (校车 of a 校车安全管理办法,
        in its every article, so in far more units than a topic word of one notice)."""
        self._pos = _pos_tokenizer(tokenizer._jieba)
        self._tokenizer = tokenizer
        self._embedder = embedder
        self._unit_texts = tuple(unit_texts)
        self._specific_units = specific_units
        self._terms = frozenset(tokenizer.terms)
        self._answer_units = answer_units
        self._title_terms = self._own_title_words(documents)
        self._pos.lcut("预热")  # load the POS dictionary now, not on the first follow-up

    def pos_cut(self, text: str) -> list[tuple[str, str]]:
        return [(w.word, w.flag) for w in self._pos.cut(text)]

    def topic(self, prev: str) -> str:
        """What the last question was about: 劳动教育有什么比赛 → 劳动教育比赛 (the asked noun stays, 什么 goes)."""
        m = rule("follow.asking").search(prev)
        if m is None:
            return prev.rstrip("？?。，, ")
        tail = self.noun_phrases(m.group(0)[len(m.group(1)) :])
        kept = "".join(p for p in tail if p not in lexicon().attributes)
        return (prev[: m.start()] + kept).rstrip("？?。，, ") or prev

    def noun_phrases(self, text: str) -> list[str]:
        phrases, current, has_noun = [], "", False
        for w in [*self._pos.cut(text), None]:
            if w is not None and _is_content(w.word, w.flag):
                current += w.word
                has_noun = has_noun or w.flag.startswith("n") or w.flag in ("vn", "j", "l")  # 近视防控 is v + vn
                continue
            if len(current) > 1 and has_noun:
                phrases.append(current)
            current, has_noun = "", False
        return phrases

    def rewrite(self, question: str, history: Sequence[str]) -> tuple[str, bool]:
        """The standalone question and whether it borrowed from ``history``."""
        text, used = self._rewrite(question, history)
        return normalize_query(text), used

    def _rewrite(self, question: str, history: Sequence[str]) -> tuple[str, bool]:
        q = normalize_query(question)
        if not history or _asks_nothing(q):
            return q, False  # 谢谢 or an emoji never glues onto the last turn
        prev = self._previous(history)
        if not prev:
            return q, False
        if (m := rule("follow.pronoun").match(q)) is not None:  # 它是第几届 / 还有别的吗
            return self.topic(prev) + q[m.end() :], True
        # 那幼儿园呢 / 小学呢 swap the topic; 学校食堂安全怎么样 asks afresh.
        if (m := rule("follow.ellipsis").match(q)) is not None and (rule("follow.marker").match(q) or q.rstrip("？?。!！").endswith("呢")):
            return self._swap(prev, m.group(1)), True
        rest = q[m.end() :] if (m := rule("follow.marker").match(q)) is not None else q
        first = re.split(r"[？?，,。!！]", rest)[0]
        if rule("follow.no_subject").match(rest) and not self.topic_terms(first):
            return self.topic(prev) + rest, True  # 第几届了？跟…一起办吗: the first clause has no subject
        # 那没法到学校上课的孩子怎么办 and 什么时候办 name no topic of their own; 今年教师培训有什么安排 does, and
        # starts afresh unless its topic is part of what answered the last turn (管理网络 after 特殊教育).
        terms = self.topic_terms(rest) or self._held_together(rest)
        if not terms or self._continues(terms, prev, rest):
            return f"{self.topic(prev)}，{rest}", True
        return q, False

    def _previous(self, history: Sequence[str]) -> str:
        """The last turn that asked something, as it was understood: 要带哪些材料 after 一年级怎么报名 is 一年级…要带哪些材料,
        so that 民办的呢 then keeps 一年级. A 谢谢 in between is passed over. It is read with the two turns before it at
        most, so a long chat costs a few readings per question, not one per turn."""
        for i in range(len(history) - 1, -1, -1):
            if not is_pleasantry(history[i]):
                return self._rewrite(history[i], history[max(0, i - _CHAIN) : i])[0].rstrip("？?。 ")
        return ""

    def _continues(self, terms: Sequence[str], prev: str, rest: str) -> bool:
        """管理网络是几级的 after 特殊教育: its terms are all in the unit that answered the last turn,
        yet asked alone it lands elsewhere; a question that lands there by itself needs no history."""
        if self._answer_units is None:
            return False
        units = self._answer_units(prev)
        words = [w for w in self._tokenizer(rest) if len(w) > 1 and w not in lexicon().generic and self._units_with(w)]
        if not units or not all(t in units[0] for t in [*terms, *words]):
            return False  # 高中招生录取 after 高中课程改革: 招生 is new, so it is a new question
        return self._answer_units(rest)[:1] != units[:1]

    def _swap(self, prev: str, new: str) -> str:
        """那幼儿园呢 after 今年计划建几所小学: 小学 → 幼儿园; 那新来的老师呢 restricts who, so it is added."""
        generic = lexicon().generic
        if any(w in generic for w, _ in self.pos_cut(new)):
            return f"{self.topic(prev)}，{new}呢？"
        phrases = [p for p in self.noun_phrases(prev) if p not in new and new not in p and p not in lexicon().attributes]
        if not phrases:
            return f"{self.topic(prev)}，{new}？"
        vecs = self._embedder.encode_queries([new, *phrases])
        target = phrases[int((vecs[1:] @ vecs[0]).argmax())]
        i = prev.rfind(target)
        return prev[:i] + new + prev[i + len(target) :] + "？"

    def names_topic(self, text: str) -> bool:
        return bool(self.topic_terms(text))

    def topic_terms(self, text: str) -> list[str]:
        """The terms by which ``text`` names a topic of its own: a term few units use (招生, 党员) or a phrase the text holds (教师培训)."""
        generic = lexicon().generic
        cut = self.pos_cut(text)
        nouns = " ".join(self._topic_words(cut))
        # A colloquial word counts by its policy term (补课 → 校外培训机构), unless it only says what is asked (名额).
        colloquial = [t for e in lexicon().colloquial if (m := e.pattern.search(text)) and m.group(0) not in generic for t in e.terms]
        tokens = [*self._tokenizer(nouns), *self._tokenizer(" ".join(colloquial))]
        phrases = [p for p in [*self.noun_phrases(text), *_timed(cut)] if p not in generic and len(self._tokenizer(p)) > 1]
        found = [t for t in tokens if len(t) > 1 and t not in generic and (0 < self._units_with(t) <= self._specific_units or t in self._title_terms)]
        found += self._unknown_topics(text, cut, colloquial)
        return list(dict.fromkeys(found + [p for p in phrases if 0 < self._units_with(p) <= self._specific_units]))

    def _held_together(self, text: str) -> list[str]:
        """Nouns that name a topic together though none does alone: in a library of documents 普惠园, 认定 and 有效期 are
        each in many units, so 普惠园认定有效期几年 has no specific term, yet one unit holds them all: it asks afresh."""
        generic = lexicon().generic
        nouns = list(dict.fromkeys(w for w in self._topic_words(self.pos_cut(text)) if len(w) > 1 and w not in generic and self._units_with(w)))
        if len(nouns) >= 2 and any(all(n in u for n in nouns) for u in self._unit_texts):
            return nouns
        return []

    def _topic_words(self, cut: Sequence[tuple[str, str]]) -> list[str]:
        """The words of ``cut`` that may name a topic: nouns, verbal nouns, and terms harvested from the text (“鲁班工坊”),
        whatever jieba's tag for them."""
        terms = self._terms
        return [w for w, f in cut if f[:1] in _TOPIC_POS or f == _VERBAL_NOUN or w in terms]

    def _unknown_topics(self, text: str, cut: Sequence[tuple[str, str]], colloquial: Sequence[str]) -> list[str]:
        """Nouns no text holds still name a topic: 今年给老师涨工资了吗 after a question on 补习班 asks about 涨工资, and
        glued to the last turn it would be answered from it. Not a noun that only says what is asked of the last turn's
        topic (获奖的有多少奖金, 分别叫什么名字, 学费是多少: next to the question word), nor one holding a generic word (时间表)."""
        generic, out, at = lexicon().generic, [], 0
        for word, flag in cut:
            start, at = at, at + len(word)
            if flag[:1] != "n" or len(word) < 2 or self._units_with(word) or any(word in c for c in colloquial):
                continue
            if any(g in word for g in generic) or rule("interrogative").search(word):
                continue
            if rule("follow.asked_before").search(text[:start]) or rule("follow.asked_after").match(text[at:]):
                continue
            out.append(word)
        return out

    def _units_with(self, term: str) -> int:
        return sum(term in u for u in self._unit_texts)

    def _own_title_words(self, documents: Sequence[tuple[str, Sequence[str]]]) -> frozenset[str]:
        """Words that set one document apart (校车, 资助, 轮岗): nouns of its title that most units holding them are its
        own. A single document's title sets nothing apart, and 教育局 is in every document."""
        if len(documents) < 2:
            return frozenset()
        # Nouns as jieba cuts a title plainly (the corpus's terms would keep a whole title as one word); a title's place,
        # year, 做好 / 实施 and genre (实施方案, 管理办法) are no topic.
        plain = _pos_tokenizer(new_jieba())
        own: set[str] = set()
        for title, texts in documents:
            for w in {p.word for p in plain.cut(title) if p.flag in _TITLE_POS and len(p.word) > 1 and not _TITLE_GENRE.search(p.word)}:
                mine = sum(w in t for t in texts)
                if w not in lexicon().generic and mine and mine >= 0.5 * self._units_with(w):
                    own.add(w)
        return frozenset(own)


_SERIES = frozenset(["、", "和", "与", "及", "以及"])


def _timed(cut: Sequence[tuple[str, str]]) -> list[str]:
    """A noun a time word qualifies (课后 + 服务, 暑期 + 托管班): jieba tags 课后 a time, which splits the phrase; joined, it
    names a topic when the texts hold it whole (今年 + 教师培训 they do not, and 教师培训 alone still counts)."""
    return [w + nxt for (w, f), (nxt, g) in pairwise(cut) if f == "t" and len(w) > 1 and (g[:1] == "n" or g == _VERBAL_NOUN)]


def conjunct_questions(
    question: str, pos_cut: Callable[[str], Sequence[tuple[str, str]]], in_text: Callable[[str], bool] = lambda _: False
) -> list[str]:
    """体育、美育、劳动教育分别怎么抓 → one question per item; [] when nothing is listed.

    ``pos_cut`` gives (word, jieba POS flag) pairs. Items are runs of content words
    between 、/和/与/及; a list joined by 和 alone (网络和新媒体管理) is one topic unless
    the question says 分别, and a list the text itself names (会考、中考、高考: ``in_text``) stays whole.
    """
    if "分别" not in question and "、" not in question:
        return []
    groups, first_word = _content_groups(pos_cut(question))
    start, end = _longest_series(groups)
    seps = {groups[k][0] for k in range(start + 1, end, 2)}
    if end == start or ("、" not in seps and "分别" not in question) or in_text("".join(g for g, _ in groups[start:end]) + first_word[end]):
        return []
    prefix = "".join(g for g, _ in groups[:start])
    suffix = "".join(g for g, _ in groups[end + 1 :]).replace("分别", "")
    return [prefix + groups[k][0] + suffix for k in range(start, end + 1, 2)]


def _content_groups(words: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, bool]], list[str]]:
    """Content words grouped into phrases; anything else (的, 对, 分别, numbers) stands alone."""
    groups: list[tuple[str, bool]] = []
    first_word: list[str] = []
    for word, flag in words:
        content = _is_content(word, flag)
        if content and groups and groups[-1][1]:
            groups[-1] = (groups[-1][0] + word, True)
        else:
            groups.append((word, content))
            first_word.append(word)
    return groups, first_word


def _longest_series(groups: list[tuple[str, bool]]) -> tuple[int, int]:
    best: tuple[int, int] = (0, 0)
    i = 0
    while i < len(groups):
        j = i
        while j + 2 < len(groups) and groups[j][1] and groups[j + 1][0] in _SERIES and groups[j + 2][1]:
            j += 2
        if j > i and j - i > best[1] - best[0]:
            best = (i, j)
        i = max(j, i + 1)
    return best


def _attach_bare(parts: list[str]) -> list[str]:
    """还能补考吗？哪天？: a part that is nothing but its question words (哪天, 是哪一天) asks about the part before it."""
    asks = rule("interrogative")
    out: list[str] = []
    for p in parts:
        bare = re.sub(r"[是的了吗呢啊呀要能会在]", "", asks.sub("", p))
        if out and asks.search(out[-1]) and asks.search(p) and len(bare) <= 1:
            out[-1] = f"{out[-1]}，{p}"
        else:
            out.append(p)
    return out


def sub_questions(question: str) -> list[str]:
    """Split 要建几所幼儿园、新增多少学位 into its questions; [] when it asks one thing."""
    parts = _attach_bare([p.strip() for p in re.split(r"[、，,；;?？!！]", question.rstrip("?？。!！")) if p.strip()])
    asking = [p for p in parts if rule("interrogative").search(p)]
    if len(asking) < 2:
        return []
    # 听说要搞师德负面清单，是怎么回事？踩了线会怎么样？: the parts that ask nothing say what about.
    context = "，".join(p for p in parts if p not in asking)
    return [f"{context}，{p}" if context else p for p in asking]


def asked_years(question: str) -> set[int]:
    """Years the question asks about (see retrieval.asking_part)."""
    return years_in(asking_part(question))
