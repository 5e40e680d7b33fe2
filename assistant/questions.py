"""Reading a question: follow-ups made standalone, several questions in one split apart, the years it asks about."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .keywords import COLLOQUIAL
from .retrieval import asking_part, normalize_query, years_in

_PRONOUN = re.compile(r"^(?:那么?|还有|另外)?(它们|它|其|这个|那个|这项|这些|那些|该项|该|这(?=是|个|次|届|项)|那(?=是))")
_FOLLOW_MARKER = re.compile(r"^(?:那么|那|还有|另外)(?![个些样])")
_NO_SUBJECT = re.compile(r"^(?:是|有|要|能|会|在|还|都|一共|具体|主要|第几|几|多少)")
_ELLIPSIS = re.compile(r"^(?:那么?|还有|另外|那如果是)?(.{1,12}?)(?:呢|怎么样|如何)[？?。!！]*$")
_ASKING = re.compile(r"(是?第几|什么时候|何时|怎么办|怎么样|怎么|如何|是什么|有什么|有哪些|哪些|是否|是不是|有没有|多少|几[所个届项]?|吗|呢)[^，,]*$")
# What a question asks about a topic; 那X呢 swaps the topic and keeps these.
_ASKED_ATTRIBUTES = frozenset("目标 要求 措施 安排 政策 规定 内容 任务 工作 方面 举措 标准 时间 变化 计划 规划 办法 意见 情况 作用 目的".split())
# Words that say what is asked (依据, 材料), not what about: they leave the topic to the last turn.
GENERIC = _ASKED_ATTRIBUTES | frozenset("依据 根据 按照 材料 证明 手续 名额 交钱 收钱 时间 地点 文件 通知 规定 具体 什么样 孩子 学生 老师 家长 学校".split())
_TOPIC_POS = frozenset("njls")  # nouns, set phrases and place words (高中) name topics; verbs (参加) and adverbs (根本) do not
SPECIFIC_UNITS = 3  # a term in at most this many units names a topic (tuned on the dev follow-ups: 3 and 2 tie, 5 is worse)
_CONTENT_POS = frozenset("nvalji")  # jieba POS initials of content words; numbers, pronouns, particles split phrases


def _is_content(word: str, flag: str) -> bool:
    """A word that belongs to a phrase: single-character verbs (有, 是, 要) split phrases, nouns never do."""
    return flag[:1] in _CONTENT_POS and (len(word) > 1 or flag.startswith("n"))


class Rewriter:
    """Turns a follow-up such as 那幼儿园呢？ into a standalone question using the last turn.

    Pronouns (它, 这) take the last question's topic; an elliptical 那X呢 swaps X
    for the noun phrase of the last question it is most similar to (by embedding),
    so 体质健康呢 after 近视防控今年有什么目标 replaces 近视防控 and keeps 目标.
    """

    def __init__(self, tokenizer, embedder, unit_texts: Sequence[str] = ()):
        import jieba.posseg

        self._pos = jieba.posseg.POSTokenizer(tokenizer._jieba)
        self._tokenizer = tokenizer
        self._embedder = embedder
        self._unit_texts = tuple(unit_texts)
        self._pos.lcut("预热")  # load the POS dictionary now, not on the first follow-up

    def pos_cut(self, text: str) -> list[tuple[str, str]]:
        return [(w.word, w.flag) for w in self._pos.cut(text)]

    def _topic(self, prev: str) -> str:
        """What the last question was about: 劳动教育有什么比赛 → 劳动教育比赛 (the asked noun stays, 什么 goes)."""
        m = _ASKING.search(prev)
        if m is None:
            return prev.rstrip("？?。，, ")
        tail = self._noun_phrases(m.group(0)[len(m.group(1)):])
        kept = "".join(p for p in tail if p not in _ASKED_ATTRIBUTES)
        return (prev[: m.start()] + kept).rstrip("？?。，, ") or prev

    def _noun_phrases(self, text: str) -> list[str]:
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

    def rewrite(self, question: str, history: Sequence[str]) -> str:
        if not history:
            return question
        prev = normalize_query(history[-1]).rstrip("？?。 ")
        q = normalize_query(question)
        if (m := _PRONOUN.match(q)) is not None:
            return self._topic(prev) + q[m.end():]
        if _NO_SUBJECT.match(q):
            return self._topic(prev) + q
        if (m := _ELLIPSIS.match(q)) is not None:
            new = m.group(1)
            phrases = [p for p in self._noun_phrases(prev) if p not in new and new not in p and p not in _ASKED_ATTRIBUTES]
            if phrases:
                vecs = self._embedder.encode_queries([new, *phrases])
                target = phrases[int((vecs[1:] @ vecs[0]).argmax())]
                i = prev.rfind(target)
                return prev[:i] + new + prev[i + len(target):] + "？"
            return f"{self._topic(prev)}，{new}？"
        # 那没法到学校上课的孩子怎么办 and 什么时候办 name no topic of their own; 那高中招生录取怎么搞 does.
        rest = q[m.end():] if (m := _FOLLOW_MARKER.match(q)) is not None else q
        if not self._names_topic(rest):
            return f"{self._topic(prev)}，{rest}"
        return question

    def _names_topic(self, text: str) -> bool:
        """Whether ``text`` names a term only a few units use (招生, 党员, 校外培训机构 for 补课)."""
        # A colloquial word counts by its policy term (补课 → 校外培训机构), unless it only says what is asked (名额).
        nouns = " ".join(w.word for w in self._pos.cut(text) if w.flag[:1] in _TOPIC_POS)
        tokens = [*self._tokenizer(nouns), *self._tokenizer.expand(" ".join(k for k in COLLOQUIAL if k in text and k not in GENERIC))]
        return any(
            len(t) > 1 and t not in GENERIC and 0 < sum(t in u for u in self._unit_texts) <= SPECIFIC_UNITS for t in tokens
        )


_INTERROGATIVE = re.compile(r"(?<!好)几(?!乎)|多少|哪|什么|吗|怎么|如何|是否|有没有")
_SERIES = frozenset("、 和 与 及 以及".split())


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
    words = list(pos_cut(question))
    # Group content words into phrases; anything else (的, 对, 分别, numbers) stands alone.
    groups: list[tuple[str, bool]] = []
    first_word: list[str] = []
    for word, flag in words:
        content = _is_content(word, flag)
        if content and groups and groups[-1][1]:
            groups[-1] = (groups[-1][0] + word, True)
        else:
            groups.append((word, content))
            first_word.append(word)
    best: tuple[int, int] = (0, 0)
    i = 0
    while i < len(groups):
        j = i
        while j + 2 < len(groups) and groups[j][1] and groups[j + 1][0] in _SERIES and groups[j + 2][1]:
            j += 2
        if j > i and j - i > best[1] - best[0]:
            best = (i, j)
        i = max(j, i + 1)
    start, end = best
    seps = {groups[k][0] for k in range(start + 1, end, 2)}
    if end == start or ("、" not in seps and "分别" not in question) or in_text("".join(g for g, _ in groups[start:end]) + first_word[end]):
        return []
    prefix = "".join(g for g, _ in groups[:start])
    suffix = "".join(g for g, _ in groups[end + 1 :]).replace("分别", "")
    return [prefix + groups[k][0] + suffix for k in range(start, end + 1, 2)]


def sub_questions(question: str) -> list[str]:
    """Split 要建几所幼儿园、新增多少学位 into its questions; [] when it asks one thing."""
    parts = [p.strip() for p in re.split(r"[、，,；;?？!！]", question.rstrip("?？。!！")) if p.strip()]
    asking = [p for p in parts if _INTERROGATIVE.search(p)]
    if len(asking) < 2:
        return []
    # 听说要搞师德负面清单，是怎么回事？踩了线会怎么样？: the parts that ask nothing say what about.
    context = "，".join(p for p in parts if p not in asking)
    return [f"{context}，{p}" if context else p for p in asking]


def asked_years(question: str) -> set[int]:
    """Years the question asks about (see retrieval.asking_part)."""
    return years_in(asking_part(question))
