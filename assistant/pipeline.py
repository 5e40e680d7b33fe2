"""The assistant end to end: validate → read the question → retrieve → quote and cite, partly answer, or abstain."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from pathlib import Path

from . import config
from .abstention import Signals, signals
from .answering import Answer, AnswerBuilder, Asked, Citation, Coverage, Evidence, Selection, asked_facts, facts_in, item_units, summarize
from .index import Index, load_or_build
from .inputs import InvalidQuestionError, validate_question
from .lexicon import Settings, lexicon, rule
from .memory import Memory, Vote, load_memory
from .parsing import Document
from .parsing.references import citing_units
from .questions import conjunct_questions, is_pleasantry, plain_message
from .reading import Language, QuestionReader, Reading, stages
from .retrieval import Hit, Mode, Retrieval, Retriever, asking_sentences, questions_asked

logger = logging.getLogger(__name__)


_RANGE = re.compile(r"(?:19|20)\d{2}\s*(?:年)?\s*[—–\-~至到]\s*(?:19|20)\d{2}")


class PolicyQA:
    """Load once, then :meth:`ask` as often as needed (thread-safe: read-only after load)."""

    def __init__(self, index: Index, embedder, *, settings: Settings | None = None, memory: Memory | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings = settings or Settings()
        self.retriever = Retriever(index, embedder, settings, memory=memory)
        self.builder = AnswerBuilder(index, settings)
        titles = {d.doc_id: d.title for d in index.documents}
        units = [u.text for _, u in index.units.values()]
        by_doc: dict[str, list[str]] = {d.doc_id: [] for d in index.documents}
        for doc, unit in index.units.values():
            by_doc[doc.doc_id].append(unit.text)
        documents = [(d.title, by_doc[d.doc_id]) for d in index.documents]
        self.reader = QuestionReader(
            index.keywords.tokenizer, embedder, units, titles, settings.specific_units, self._answer_units, index.keywords.doc_freq, documents
        )
        self.rewriter = self.reader.rewriter
        self._citing = citing_units(index.documents)
        self._items = item_units(index.documents)

    @classmethod
    def load(
        cls,
        *,
        corpus: Sequence[Path] | None = None,
        index_dir: Path | None = None,
        model: str | None = None,
        rebuild: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> PolicyQA:
        from .embedding import load_embedder

        embedder = load_embedder(model)
        folder = index_dir or config.index_dir()
        index = load_or_build(list(corpus or config.corpus_paths()), folder, embedder, progress=progress, rebuild=rebuild)
        memory = load_memory(config.memory_paths(), embedder, folder.parent / "memory-cache", progress)
        return cls(index, embedder, memory=memory)

    @property
    def memory(self) -> Memory:
        """The labelled questions voting over this index."""
        return self.retriever.memory

    @property
    def labelled(self) -> Memory:
        """Every labelled question loaded, also those a newer document silences (a reload re-scopes them)."""
        return self.retriever.labelled

    def forget(self, sources: Sequence[str]) -> None:
        self.retriever.forget(sources)

    def _answer_units(self, question: str) -> list[str]:
        """The text of the unit that best answers ``question`` asked alone (is a follow-up's topic part of it?)."""
        hits = self.retriever.search(self.reader.read(question), k=1).hits
        return [self.index.units[h.unit_key][1].text for h in hits]

    def read(self, question: str, history: Sequence[str] = ()) -> Reading:
        return self.reader.read(question, history)

    def rewrite(self, question: str, history: Sequence[str] = ()) -> str:
        """The standalone question (relative years kept as words: each document reads them against its own year)."""
        return self.read(question, history).standalone

    def ask(self, question: object, history: object = (), *, mode: Mode = Mode.HYBRID, k: int = 5) -> Answer:
        start = time.perf_counter()
        q, hist = validate_question(question, history)
        if reply := self._pleasantry(q):
            return Answer(q, q, reply, True, (), (time.perf_counter() - start) * 1000, Coverage.NONE, "", False)
        reading = self.read(q, hist)
        retrieval = self.retriever.search(reading, k=k, mode=mode)
        if not retrieval.hits:
            return self._abstain(reading, retrieval, "", start)
        selections = self._select(reading, retrieval)
        more = bool(hist and rule("more").search(q))
        if more:
            # 具体还有哪些措施？: quote what the last answer did not.
            shown = self._shown(hist, selections[0].hit.unit_key)
            selections[0] = self.builder.select(retrieval, selections[0].hit, reading.facts, shown=shown)
        ev = self.builder.evidence(retrieval, selections, reading.facts)
        doc = self.index.units[selections[0].hit.unit_key][0]
        coverage, missing, note = self._decide(reading, ev, selections, doc, retrieval.vote)
        if coverage is Coverage.NONE:
            return self._abstain(reading, retrieval, note, start)
        english = reading.language is Language.ENGLISH
        summary = summarize(selections[0].quote, reading.facts, retrieval.tokens, coverage, missing, english, reading.judged)
        citations = tuple(self.builder.citation(s) for s in selections)  # the sentences that answer, highlighted in the source
        # The decision, the plain line and the citation read the best sentences; the answer shows a short leading unit whole.
        text = self.builder.render(selections if more else [self.builder.whole(selections[0]), *selections[1:]])
        if coverage is Coverage.PARTIAL or reading.judged:
            text = f"{summary}\n{text}"  # what the text does not say is said before the quote
        return Answer(
            q, reading.resolved(doc.year), text, False, citations, (time.perf_counter() - start) * 1000, coverage, summary, reading.used_history
        )

    def _pleasantry(self, q: str) -> str:
        """The reply to a message that asks nothing (谢谢, 好的, 你好; an emoji alone is refused as no question): no
        quote, and no list of 'closest' points, which would read as an answer to a question nobody asked."""
        if not is_pleasantry(q):
            return ""
        text = plain_message(q)
        english = text.isascii()  # Hi! / Thanks: too short for is_english, and nothing else answers in English
        if rule("chat.hello").match(text):
            n = len(self.index.documents)
            if english:
                return f"Hello! Ask me about the {n} policy document(s) indexed here; every answer quotes the Chinese text and cites its source."
            return f"您好！请直接提问收录的{n}份政策文件里的内容，例如报名时间、收费标准或补助政策；每个回答都逐字引用原文并注明出处。"
        return "You're welcome. Ask another question about the policy texts any time." if english else "不客气。还有关于政策文件的问题，可以继续提问。"

    def _abstain(self, reading: Reading, retrieval: Retrieval, note: str, start: float) -> Answer:
        text, related = self.builder.abstention(retrieval, note)
        year = self.index.units[retrieval.hits[0].unit_key][0].year if retrieval.hits else None
        ms = (time.perf_counter() - start) * 1000
        return Answer(reading.question, reading.resolved(year), text, True, related, ms, Coverage.NONE, "", reading.used_history)

    def _decide(
        self, reading: Reading, ev: Evidence, selections: list[Selection], doc: Document, vote: Vote
    ) -> tuple[Coverage, Asked | None, str]:
        """Full, partial or no answer, and for a partial one the fact the quote lacks; a note says why there is none."""
        if note := self._scope_note(reading, selections, doc):
            return Coverage.NONE, None, note
        if not self._shares_words(reading):
            return Coverage.NONE, None, ""  # 明天会下雨吗: not one of its words is in any indexed text
        missing = next((f for f in reading.facts if not f.satisfied_by(selections[0].quote)), None)
        decision = self._by_rules(reading, ev, missing, selections[0].quote)
        # The memory knows which unit a question is about, not whether the quote holds the date or figure asked.
        asks_absent = bool(reading.facts) and (missing is not None or not ev.type_ok)
        return self._by_memory(*decision, vote, selections[0].hit.unit_key, asks_absent)

    def _by_memory(
        self, coverage: Coverage, missing: Asked | None, note: str, vote: Vote, top: str, asks_absent: bool
    ) -> tuple[Coverage, Asked | None, str]:
        """Labelled questions close to this one overrule the rules: an answer their units gave stands on thin
        evidence, unless a fact asked is not in the quote; a near paraphrase of questions the texts do not answer is
        declined (only a near one: answerable questions often sit close to unanswerable ones)."""
        t = self.settings
        if coverage is not Coverage.FULL and not asks_absent and vote.for_unit(top) >= t.memory_answer:
            return Coverage.FULL, None, ""
        if coverage is Coverage.FULL and vote.abstain >= t.memory_decline and vote.nearest >= t.memory_decline_near:
            return Coverage.NONE, None, ""
        return coverage, missing, note

    def signals(self, reading: Reading, ev: Evidence) -> Signals:
        """The evidence signals of this decision, as scripts/fit_abstention.py records them to fit a learned one."""
        return signals(reading, ev, self.retriever.words, self.index.keywords.doc_freq)

    def _by_rules(self, reading: Reading, ev: Evidence, missing: Asked | None, quote: str) -> tuple[Coverage, Asked | None, str]:
        """The hand-set thresholds of settings.tsv: enough coverage or a close enough embedding."""
        t = self.settings
        if not reading.facts:
            topical = ev.coverage >= t.coverage or ev.top_dense >= t.dense
            return (Coverage.FULL if topical else Coverage.NONE), None, ""
        if ev.type_ok and (ev.coverage >= t.typed_coverage or ev.quote_dense >= t.typed_dense):
            return Coverage.FULL, None, ""
        return self._declined(reading, ev, missing, quote)

    def _declined(self, reading: Reading, ev: Evidence, missing: Asked | None, quote: str) -> tuple[Coverage, Asked | None, str]:
        """How an answer that does not stand is declined: partly, when the quote names the topic but lacks the asked fact,
        or answers one of the questions asked (会提前告诉家长吗？大概什么时候说？ answered with the date alone)."""
        if missing is not None and (ev.coverage >= self.settings.partial_coverage or self._answers_a_part(reading, quote)):
            return Coverage.PARTIAL, missing, ""
        return Coverage.NONE, None, ""

    def _answers_a_part(self, reading: Reading, quote: str) -> bool:
        """Of a question asking two things or more, one is answered in full: the quote holds every fact that part asks."""
        parts = questions_asked(reading.standalone)
        return len(parts) > 1 and any((facts := self.read(part).facts) and all(f.satisfied_by(quote) for f in facts) for part in parts)

    def _shares_words(self, reading: Reading) -> bool:
        known = self.index.keywords.doc_freq
        # A place name (东丽区) says where, not what about: 明天东丽区会下雨吗 shares no word with the notice.
        places = "".join(reading.scope.places) + "".join(w for w, f in self.rewriter.pos_cut(reading.standalone) if f.startswith("ns"))
        words = [t for t in self.retriever.words(reading.standalone) if len(t) > 1 and t not in places]
        return bool(reading.expansions) or any(t in known for t in words)

    def _select(self, reading: Reading, retrieval: Retrieval) -> list[Selection]:
        facts = reading.facts
        # 建几所幼儿园、新增多少学位: each sub-question quotes from its own best point.
        if picks := [s for part in reading.sub_questions for s in self._pick(part)]:
            if (whole := self._answers_all(reading, retrieval, facts)) is not None:
                picks.insert(0, whole)  # one unit answering every part beats quotes pieced together from several
            merged = self.builder.merge(picks)
            # 这样违规吗？会受到什么处理？: a unit citing the first quote's (违反本办法第十一条规定的) and holding what the
            # question asks leads; the duty it enforces follows as context.
            citing = self._citing.get(merged[0].hit.unit_key, frozenset())
            if facts and not facts_in(facts, merged[0].quote):
                merged.sort(key=lambda s: not (s.hit.unit_key in citing and facts_in(facts, s.quote)))
            merged[0] = self._each_asked(reading, merged[0])
            return merged
        hits = retrieval.hits
        selections = self._leading(retrieval, facts)
        if (staged := self._of_stage(reading, retrieval, selections[0], facts)) is not None:
            selections.insert(0, staged)
        selections[0] = self._each_asked(reading, selections[0])
        if items := conjunct_questions(asking_sentences(reading.standalone), self.rewriter.pos_cut, self._in_text):
            # 体育、美育、劳动教育分别怎么抓: each item's best point leads; the whole question's follows.
            picks = [s for item in items for s in self._pick(item)]
            selections = self.builder.merge(picks + selections)
        # Further points join when they score nearly as well (the question spans them);
        # a question asking for a list (哪些方面, 都有哪些举措) lets them in more easily.
        listing = bool(rule("list").search(reading.standalone))
        t = self.settings
        ratio = t.list_ratio if listing else t.extra_ratio
        for h in hits[1 : 1 + t.max_extra]:
            if len(selections) > t.max_extra or any(s.hit.unit_key == h.unit_key for s in selections):
                continue
            if h.score > 0 and h.score >= ratio * hits[0].score and not h.unit_key.endswith(("#header", "#preamble")):
                sel = self.builder.select(retrieval, h, facts, max_sentences=2)
                item = self._item_of_lead_in(retrieval, sel, facts)  # a bare heading (免考与缓考。) is cited by its item
                if item is None or not any(s.hit.unit_key == item.hit.unit_key for s in selections):
                    selections.append(item or sel)
        if listing:
            selections[0] = self.builder.whole_list(selections[0])
            listed = self.builder.item_list(retrieval, selections[0], self._items)
            selections = self.builder.merge(listed + selections) if len(listed) > 1 else selections
            selections += self._anchored(retrieval, selections, facts)
        if listing or rule("conjoined").search(reading.standalone):
            selections += self._completed(retrieval, selections, facts)
        return selections

    def _item_of_lead_in(self, retrieval: Retrieval, top: Selection, facts: tuple[Asked, ...]) -> Selection | None:
        """When the best quote only introduces a list (it ends with a colon) or is a bare heading (体育与健康考试。),
        its best-ranked item: the heading names the topic, an item under it says what the question asks."""
        head = self.index.units[top.hit.unit_key][1]
        t = self.settings
        if not (top.quote.rstrip().endswith(("：", ":")) or len(head.text.strip()) <= t.heading_chars):
            return None
        floor, first = t.cover_ratio * top.hit.score, None
        for h in retrieval.ranking[1:]:
            if h.score < floor:
                break
            unit = self.index.units[h.unit_key][1]
            if h.doc_id == top.hit.doc_id and unit.depth > head.depth and unit.section.startswith(head.section):
                sel = self.builder.select(retrieval, h, facts)
                if all(f.satisfied_by(sel.quote) for f in facts):
                    return sel  # the item holding the date or place asked beats a better-ranked one without it
                first = first or sel
        return first

    def _holding(self, retrieval: Retrieval, top: Selection, facts: tuple[Asked, ...]) -> Selection | None:
        """For 第二时段托管一个月收多少钱 when the best match only names the time slots: a near unit of the same
        document whose quote holds every asked kind of fact the top quote lacks (the fee row of a table)."""
        missing = [f for f in facts if not f.satisfied_by(top.quote)]
        if not missing:
            return None
        # 违反本办法第十一条规定的，由区公安分局依法处罚: a unit citing the top one is read first, being about it.
        citing = self._citing.get(top.hit.unit_key, frozenset())
        other = self.settings.fact_ratio_other * top.hit.score  # another document's fact must match nearly as well
        near = (h for h in self._near(retrieval, top) if h.doc_id == top.hit.doc_id or h.score >= other)
        for h in chain((h for h in retrieval.ranking if h.unit_key in citing), near):
            sel = self.builder.select(retrieval, h, facts)
            if all(f.satisfied_by(sel.quote) for f in missing):
                return sel
        return None

    def _near(self, retrieval: Retrieval, top: Selection) -> Iterator[Hit]:
        """The next few units of the ranking scoring ``fact_ratio`` of the top quote's, headers and preambles left out:
        those that may lead instead of it when they hold what it lacks."""
        floor = self.settings.fact_ratio * top.hit.score
        for h in retrieval.ranking[1 : 1 + self.settings.near_window]:
            if h.score < floor:
                return
            if not h.unit_key.endswith(("#header", "#preamble")):
                yield h

    def _completed(self, retrieval: Retrieval, selections: list[Selection], facts: tuple[Asked, ...]) -> list[Selection]:
        """For 体育、美育、劳动教育分别怎么抓: a point for each asked term no quote holds yet.

        Terms are taken most specific first (by IDF); each brings in the best-ranked point
        that names it, if that point scores at least ``cover_ratio`` of the top one.
        """
        top = selections[0].hit
        quotes = "".join(s.quote for s in selections)
        chosen = {s.hit.unit_key for s in selections}
        room = 1 + self.settings.max_extra - len(selections)
        extra: list[Selection] = []
        generic = lexicon().generic
        # Years are the year logic's to handle: 2020 would pull in the preamble, which names it.
        terms = [t for t in dict.fromkeys(retrieval.tokens) if len(t) > 1 and t not in generic and not t.isdigit()]
        for term in sorted(terms, key=self.index.keywords.idf, reverse=True):
            if room <= 0 or term in quotes:
                continue
            for h in retrieval.ranking:
                if h.score < self.settings.cover_ratio * top.score:
                    break
                if h.doc_id == top.doc_id and h.unit_key not in chosen and not h.unit_key.endswith("#header") and term in self.index.units[h.unit_key][1].text:
                    sel = self.builder.select(retrieval, h, facts, max_sentences=1, anchor=term)
                    extra.append(sel)
                    chosen.add(h.unit_key)
                    quotes += sel.quote
                    room -= 1
                    break
        return extra

    def _anchored(self, retrieval: Retrieval, selections: list[Selection], facts: tuple[Asked, ...]) -> list[Selection]:
        """For 涉及京津冀的工作有哪些: the other points that name the question's specific term.

        A term of the question that the top quote contains and only a few points of that
        document name (京津冀: points 5, 19, 29) marks the topic; every point naming it is
        part of the answer, even when its wording embeds far from the question's.
        """
        top = selections[0].hit
        units = [h for h in retrieval.ranking if h.doc_id == top.doc_id and not h.unit_key.endswith("#header")]
        texts = {h.unit_key: self.index.units[h.unit_key][1].text for h in units}
        chosen = {s.hit.unit_key for s in selections}
        room = 1 + self.settings.max_extra - len(selections)
        extra: list[Selection] = []
        year = self.index.units[top.unit_key][0].year
        for term in sorted(dict.fromkeys(retrieval.tokens_for(year)), key=self.index.keywords.idf, reverse=True):
            naming = [h for h in units if term in texts[h.unit_key]]
            if len(term) < 2 or term not in selections[0].quote or not 2 <= len(naming) <= self.settings.anchor_units:
                continue
            for h in naming:
                if room > 0 and h.unit_key not in chosen:
                    extra.append(self.builder.select(retrieval, h, facts, max_sentences=1, anchor=term))
                    chosen.add(h.unit_key)
                    room -= 1
        return extra

    def _shown(self, history: Sequence[str], unit_key: str) -> frozenset[int]:
        """The sentences of ``unit_key`` that the answer to the last turn quoted."""
        last = self.read(history[-1], history[:-1])
        retrieval = self.retriever.search(last)
        if not retrieval.hits:
            return frozenset()
        return frozenset(i for s in self._select(last, retrieval) if s.hit.unit_key == unit_key for i in s.sentences)

    def _each_asked(self, reading: Reading, top: Selection) -> Selection:
        """For 会重新改卷吗？要在哪几天申请？: the top quote also holds the sentence of its unit that best answers
        each question asked, read on its own (the whole question's best sentences may all answer one of them)."""
        parts = questions_asked(reading.standalone)
        if len(parts) < 2:
            return top
        extra = []
        for part in parts:
            alone = self.read(part)
            # Read alone, 多长时间能办好？ forgets what is to be done: a sentence already quoted holds the topic.
            sel = self.builder.select(self.retriever.search(alone, k=1), top.hit, alone.facts, max_sentences=1, shown=frozenset(top.sentences))
            if all(f.satisfied_by(sel.quote) for f in alone.facts):
                extra.append(sel)
        return self.builder.merge([top, *extra])[0]

    def _answers_all(self, reading: Reading, retrieval: Retrieval, facts: tuple[Asked, ...]) -> Selection | None:
        """For 成绩最迟什么时候报？报送前要公示几天？: the whole question's best unit, when its quote holds every fact
        asked. The document's own year says nothing of when (办好…暨2020年…活动周 does not date the 展示周).
        With one fact asked, only after a yes/no part (还能再转吗？一个学年最多能转几次？): that part, read alone,
        finds some other quote, while the unit giving the fact (只能办理1次) answers both."""
        if not facts or not retrieval.hits:
            return None
        if len(facts) == 1 and asked_facts(reading.sub_questions[0]):
            return None  # asked_facts, not a second read of the part _pick has read: only whether it asks a fact matters
        top = self.builder.select(retrieval, retrieval.hits[0], facts)
        # 面试几号 在哪考: the part's prose (面试评分…) leads, the row of its schedule (面试，4月23日，实验小学) holds both.
        near = (h for h in self._near(retrieval, top) if h.doc_id == top.hit.doc_id)
        for whole in chain([top], (self.builder.select(retrieval, h, facts) for h in near)):
            year = self.index.units[whole.hit.unit_key][0].year
            quote = whole.quote.replace(f"{year}年", "") if year else whole.quote
            if all(f.satisfied_by(quote) for f in facts):
                return whole
        return None

    def _pick(self, question: str) -> list[Selection]:
        reading = self.read(question)
        sub = self.retriever.search(reading, k=1)
        return self._leading(sub, reading.facts, max_sentences=2) if sub.hits else []

    def _of_stage(self, reading: Reading, retrieval: Retrieval, top: Selection, facts: tuple[Asked, ...]) -> Selection | None:
        """For 普惠园可以给小朋友布置书面作业吗 when the best quote speaks of 小学 and 初中 only: a near unit whose quote
        speaks of the school stage asked (幼儿园不得布置书面家庭作业) leads; the other follows as context."""
        if not _other_stages(reading, top.quote):
            return None
        for h in self._near(retrieval, top):
            if h.unit_key == top.hit.unit_key:
                continue
            sel = self.builder.select(retrieval, h, facts)
            if set(reading.scope.stages) & set(stages(sel.quote)):
                return sel
        return None

    def _leading(self, retrieval: Retrieval, facts: tuple[Asked, ...], max_sentences: int = 3) -> list[Selection]:
        """The best hit's quote, preceded by the unit that answers better when there is one."""
        selections = [self.builder.select(retrieval, retrieval.hits[0], facts, max_sentences=max_sentences)]
        if (item := self._item_of_lead_in(retrieval, selections[0], facts)) is not None:
            selections.insert(0, item)  # 电脑摇号规则： heads a list; the item answers, the heading gives context
        if facts and (holding := self._holding(retrieval, selections[0], facts)) is not None:
            selections.insert(0, holding)  # the fact asked for leads; the best-matching text follows as context
        return selections

    def _in_text(self, phrase: str) -> bool:
        return any(phrase in u.text for _, u in self.index.units.values())

    # -- what the question pins down, against the document that answers -------------------
    def _scope_note(self, reading: Reading, selections: list[Selection], doc: Document) -> str:
        """Why the quote cannot answer: another year, another district, or a national rule asked of a local text."""
        return (
            self._task_note(reading)
            or self._opinion_note(reading)
            or self._edition_note(reading, doc)
            or self._year_note(reading, selections, doc)
            or self._place_note(reading, selections, doc)
            or self._school_note(reading, doc)
            or self._official_note(reading, doc)
            or self._stage_note(reading, selections)
            or self._national_note(reading, doc)
        )

    def _task_note(self, reading: Reading) -> str:
        if not reading.scope.task:
            return ""
        return "抱歉，我只能回答收录的政策文件里写了什么，不能代写材料、推荐机构或完成其他任务。"

    def _opinion_note(self, reading: Reading) -> str:
        if not reading.scope.opinion:
            return ""
        return "抱歉，政策文件只写了安排和要求，不评价学校或做法的好坏，也不预测结果；下面是文件里相关的内容。"

    def _edition_note(self, reading: Reading, doc: Document) -> str:
        """2021年的教育工作要点 asks for another year's edition of the document, whatever years its text names."""
        kind = re.sub(r"^.*?(?:19|20)\d{2}年度?", "", doc.title)[-4:]  # 教育工作要点 → 工作要点
        if not doc.year or len(kind) < 4:
            return ""
        other = [y for y in sorted(reading.scope.years - {doc.year}) if re.search(rf"{y}年?度?的?[\u4e00-\u9fff]{{0,4}}{kind}", reading.asking)]
        if not other:
            return ""
        return f"抱歉，收录的是{doc.year}年的《{doc.title}》，没有{other[0]}年的{kind}，不能用{doc.year}年的安排回答。"

    def _year_note(self, reading: Reading, selections: list[Selection], doc: Document) -> str:
        asked = reading.scope.years_for(doc.year)
        quoted = _quoted(selections, doc)
        if reading.facts:
            # A figure or date must be the year's own: 2019 in 《…行动方案（2019—2020年）》 or a 2018-2035 span is no
            # 2019 figure (an open question about the plan itself may still cite its title), and it must be in the
            # quote that gives the figure: 到2021年 in a further point does not date 5所小学.
            quoted = _RANGE.sub("", re.sub(r"《[^》]*》", "", selections[0].quote))
        missing = [f"{y}年" for y in sorted(asked) if y != doc.year and str(y) not in quoted]
        missing += [
            f"“{name}”期间（{a}—{b}年）"
            for name, a, b in reading.scope.periods
            if name not in quoted and not (doc.year and a <= doc.year <= b)
        ]
        if not missing:
            return ""
        own = f"{doc.year}年" if doc.year else "其他年份"
        return f"抱歉，《{doc.title}》是{own}的文件，没有关于{'、'.join(missing)}的安排，不能把{own}的计划当作{missing[0]}的事实回答。"

    def _place_note(self, reading: Reading, selections: list[Selection], doc: Document) -> str:
        # A place the document is not about must be in the answer itself: the notice names 北京 (京津冀 cooperation),
        # which does not make it an answer to 北京市今年幼升小政策有什么变化.
        text = f"{doc.title} {doc.issuer} {_quoted(selections, doc)}"
        other = [p for p in reading.scope.places if p not in text and p[:-1] not in text]
        if not other:
            return ""
        return f"抱歉，《{doc.title}》是{doc.issuer or '本地'}的文件，没有关于{'、'.join(other)}的规定，不能把它当作{other[0]}的做法回答。"

    def _school_note(self, reading: Reading, doc: Document) -> str:
        text = self.retriever.document_text(doc.doc_id)
        other = [s for s in reading.scope.schools if s not in text]
        if not other:
            return ""
        return f"抱歉，《{doc.title}》没有提到{'、'.join(other)}，不能把全区的一般规定当作这所学校的具体安排回答。"

    def _official_note(self, reading: Reading, doc: Document) -> str:
        """刘建华科长对校服征订提了什么要求: a policy text names no one's remarks; an official it does not name is not in it."""
        text = self.retriever.document_text(doc.doc_id)
        other = [name + title for name, title in reading.scope.officials if name not in text]
        if not other:
            return ""
        return f"抱歉，《{doc.title}》没有提到{'、'.join(other)}，不能把文件的一般规定当作其本人的讲话或要求回答。"

    def _stage_note(self, reading: Reading, selections: list[Selection]) -> str:
        """A figure or date asked for one school stage (高中晚自习收费) is not answered by another's (初中课后服务150元)."""
        quoted = _other_stages(reading, selections[0].quote)
        if not reading.facts or not quoted:
            return ""
        return f"抱歉，文件这里说的是{'、'.join(sorted(quoted))}的规定，没有关于{'、'.join(reading.scope.stages)}的具体规定，不能用它来回答。"

    def _national_note(self, reading: Reading, doc: Document) -> str:
        if not reading.scope.national or rule("national_issuer").search(f"{doc.issuer} {doc.title}"):
            return ""
        return f"抱歉，问题问的是国家层面的规定，而《{doc.title}》是{doc.issuer or '地方'}的文件，收录的文件中没有相应的国家规定。"


def _other_stages(reading: Reading, quote: str) -> tuple[str, ...]:
    """The school stages ``quote`` names when it names none of those the question asks about (初中 for a 高中 question)."""
    quoted = stages(quote)
    return quoted if reading.scope.stages and not set(quoted) & set(reading.scope.stages) else ()


def _quoted(selections: list[Selection], doc: Document) -> str:
    """What the answer quotes from ``doc``: only its own quotes show what it speaks of (another document's 落款 dated
    2022年, or its mention of a place, says nothing of this one)."""
    return "".join(s.quote for s in selections if s.hit.doc_id == doc.doc_id)


__all__ = ["Answer", "Citation", "InvalidQuestionError", "PolicyQA", "Settings", "validate_question"]
