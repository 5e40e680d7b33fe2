"""Hybrid retrieval: dense (FAISS) and keyword (BM25) scores over chunks, fused per unit."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .chunking import Level
from .index import Index
from .lexicon import CLOSING, Settings, lexicon, rule
from .memory import NO_VOTE, Memory, Vote

if TYPE_CHECKING:
    from .reading import Reading

logger = logging.getLogger(__name__)


class Mode(str, Enum):
    """Which evidence ranks the units; FINAL is the shipped configuration."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"
    BM25_UNITS = "bm25-units"  # baseline: plain BM25 over whole points, no sentence level


class Fusion(str, Enum):
    RRF = "rrf"
    WEIGHTED = "weighted"


@dataclass(frozen=True)
class Hit:
    unit_key: str
    doc_id: str
    point: int | None
    score: float  # fused score used for ranking
    dense: float  # best cosine among the unit's chunks
    keyword: float  # best BM25 among the unit's chunks


@dataclass(frozen=True)
class Retrieval:
    """Ranked units plus the chunk-level evidence the answer step reuses."""

    query: str  # normalized query text
    tokens: tuple[str, ...]
    hits: tuple[Hit, ...]  # the top k
    ranking: tuple[Hit, ...]  # every allowed unit, best first (hits is its head)
    dense: np.ndarray  # cosine per chunk row
    keyword: np.ndarray  # BM25 per chunk row
    relative: tuple[int, ...] = ()  # offsets of the question's relative time words (今年 → 0)
    translated: frozenset[str] = frozenset()  # colloquial words no indexed text uses, which an expansion stands for
    vote: Vote = NO_VOTE  # what the nearest labelled questions of the question memory say

    def tokens_for(self, doc_year: int | None) -> tuple[str, ...]:
        """The tokens, with 今年 / 明年 as the years they mean for a document of ``doc_year``."""
        return self.tokens + tuple(str(doc_year + off) for off in self.relative) if doc_year else self.tokens


@lru_cache(maxsize=1)
def _t2s():  # OpenCC's converter is cheap to keep and slow-ish to create
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def normalize_query(text: str) -> str:
    """Full-width to half-width, traditional to simplified, drop leading filler such as 请问."""
    text = "".join(unicodedata.normalize("NFKC", ch) if "\uff01" <= ch <= "\uff5e" or ch == "\u3000" else ch for ch in text)
    text = re.sub(r"\s+", " ", to_simplified(text)).strip()
    stripped = rule("filler").sub("", text).strip()
    return stripped or text


_CJK = re.compile(r"[\u4e00-\u9fff]+")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")


def years_in(text: str) -> set[int]:
    """Years a question names: 2021年 → {2021} (a reading writes 19年 out as 2019年 first, see :func:`full_years`)."""
    return {int(y) for y in _YEAR.findall(text)}


def full_years(text: str) -> str:
    """The short form written out: 20年区里对近视率有啥要求 → 2020年区里…, so retrieval reads the year it means."""
    return rule("year.short").sub(lambda m: f"20{m.group(1)}年", text)


def asking_sentences(question: str) -> str:
    """The sentences that ask: 班里有几个大个子欺负他。区里有没有规定？ asks for no number."""
    sentences = [c for c in re.split(r"(?<=[。；;?？!！])", question) if c.strip()]
    asking = [c for c in sentences if c.rstrip().endswith(("?", "？"))]
    return "".join(asking) if asking else (sentences[-1] if sentences else question)


_SPACED = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


def _spaced_asks(sentence: str) -> list[str]:
    """校车使用许可管几年 到期咋续 asks two things, typed apart by a space; 普惠园 政府补贴 一人一年多少 asks one."""
    # The spoken 啥 / 咋 / 谁 count here only: in `interrogative` itself they moved other decisions.
    asks = [s for s in _SPACED.split(sentence.strip()) if rule("interrogative").search(s) or rule("interrogative.spoken").search(s)]
    return asks if len(asks) > 1 else [sentence]


def questions_asked(question: str) -> list[str]:
    """Each sentence that asks, on its own: 会重新改卷吗？要在哪几天申请？ → two, and so does a shorthand 管几年 到期咋续."""
    return [part for c in re.split(r"(?<=[?？])", asking_sentences(question)) if c.strip() for part in _spaced_asks(c)]


def asking_part(question: str) -> str:
    """The clauses that ask: those ending in ?, else the last one (孩子明年升小学，幼儿园会不会衔接？)."""
    clauses = [c for c in re.split(r"(?<=[，,。；;?？!！])", question) if c.strip()]
    if not clauses:
        return question
    asking = [i for i, c in enumerate(clauses) if c.rstrip().endswith(("?", "？"))] or [len(clauses) - 1]
    # 学籍号一共是多少位，是怎么编出来的？: a clause asking with a question word, right before a question, asks too.
    asking += [i - 1 for i in asking if i > 0 and clauses[i - 1].rstrip().endswith(("，", ",")) and rule("interrogative").search(clauses[i - 1])]
    # 听说明年（2022年）比例要提高，是真的吗？: a bare confirmation asks about the claim before it.
    claims = {i - 1 for i in asking if i > 0 and rule("confirmation").search(clauses[i].strip())}
    # 按照国家规定，… / 到2023年，… / 南汀区的方案里，…: a clause that only frames the question pins down what it asks.
    frames = {i for i in range(min(asking)) if rule("frame").search(clauses[i])}
    return "".join(clauses[i] for i in sorted(set(asking) | claims | frames))


def _minmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return np.zeros_like(x) if hi - lo < 1e-9 else (x - lo) / (hi - lo)


def _substring_credits(tokens: Iterable[str], texts: list[str], known: Collection[str]) -> dict[str, np.ndarray]:
    """Per question word of 2+ Chinese characters that no indexed token is, its credit in every text holding it
    (a BM25-style IDF over the texts that hold it)."""
    out: dict[str, np.ndarray] = {}
    for t in dict.fromkeys(tokens):
        if len(t) < 2 or t in known or not _CJK.fullmatch(t):
            continue
        holds = np.fromiter((t in text for text in texts), dtype=bool, count=len(texts))
        if n := int(holds.sum()):
            out[t] = holds * np.float32(np.log(1 + (len(holds) - n + 0.5) / (n + 0.5)))
    return out


def _total(arrays: Iterable[np.ndarray], n: int) -> np.ndarray:
    return sum(arrays, np.zeros(n, dtype=np.float32))


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty_like(order)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


class Retriever:
    def __init__(
        self, index: Index, embedder, settings: Settings | None = None, fusion: Fusion = Fusion.WEIGHTED, memory: Memory | None = None
    ):
        self.index = index
        self.labelled = memory or Memory.empty()  # every labelled question; only those fitting this index vote
        self.memory = self.labelled.scoped(index.units, [d.doc_id for d in index.documents])
        if len(self.memory) < len(self.labelled):
            # Rows labelled before a document was added stay silent until relabelled (scripts/build_memory.sh).
            logger.info("question memory: %d of %d labelled questions apply to this index", len(self.memory), len(self.labelled))
        self.embedder = embedder
        self.settings = settings or Settings()
        self.fusion = fusion
        self.unit_keys = list(index.rows_by_unit)
        self._unit_index = {k: i for i, k in enumerate(self.unit_keys)}
        titled = np.asarray([c.level is Level.TITLED for c in index.chunks], dtype=bool)
        self._unit_rows = [np.asarray([r for r in index.rows_by_unit[k] if not titled[r]]) for k in self.unit_keys]
        # A unit's row under its document's title, blended into its cosine when there are documents to tell apart.
        rows = {index.chunks[r].unit_key: r for r in np.flatnonzero(titled)}
        self._titled_row = np.asarray([rows.get(k, -1) for k in self.unit_keys])
        self._has_title = self._titled_row >= 0
        # With one document its title tells nothing apart; an index built before titled chunks has none.
        self._blend_titles = len(index.documents) > 1 and bool(self._has_title.any())
        self._plain = int(len(titled) - titled.sum())  # the keyword index holds the first rows, the plain chunks
        if titled[: self._plain].any():
            raise ValueError("titled chunks must follow every plain chunk (chunking.chunk_corpus): rebuild the index")
        self._unit_level_row = np.asarray([next(r for r in rows if index.chunks[r].level is Level.UNIT) for rows in self._unit_rows])
        first = [index.chunks[rows[0]] for rows in self._unit_rows]
        self._doc_ids = [c.doc_id for c in first]
        self._points = [c.point for c in first]
        self._is_header = np.asarray([k.endswith("#header") for k in self.unit_keys])
        self._unit_texts = [index.chunks[r].text for r in self._unit_level_row]
        self._closing = {ask: np.asarray([bool(rule(clause).search(t)) for t in self._unit_texts]) for ask, clause in CLOSING}
        self._doc_years = {d.year for d in index.documents if d.year}
        # Words every title shares (东丽区 when the notice is alone) are implicit in every unit
        # but written in only some: they would pull those units and make off-topic questions look covered.
        tok = index.keywords.tokenizer
        shared = set.intersection(*(set(tok(d.title)) for d in index.documents)) if index.documents else set()
        self._title_tokens = {t for t in shared if not t.isdigit() and t != "年"}
        # A document's own year (今年 → 2020年) is implicit in all its units, yet written in only
        # a few, the preamble among them: it must not rank them. Quotes may still show it.
        self._implicit_years = {str(y) for y in self._doc_years}
        self._doc_text = {d.doc_id: f"{d.title} {d.issuer} " + " ".join(u.text for u in d.units) for d in index.documents}
        self._doc_year = {d.doc_id: d.year for d in index.documents}
        self._chunk_doc_year = np.asarray([self._doc_year.get(c.doc_id) or 0 for c in index.chunks])
        self._chunk_texts = [c.text for c in index.chunks[: self._plain]]
        self._all_text = "\n".join(self._chunk_texts)
        # Words the texts write negated (非普惠, 非营利性): read once, so a question costs no scan of the texts.
        self._negatable = {m.group(1)[:n] for m in re.finditer(r"(?<=非)([\u4e00-\u9fff]{2,4})", self._all_text) for n in (2, 3, 4)}

    def tokens(self, reading: Reading) -> tuple[str, ...]:
        """Keyword tokens: the question's, its colloquial words' policy terms, and the text's whole terms for short forms."""
        tokenizer = self.index.keywords.tokenizer
        words = self.words(reading.standalone)
        # 研学 or 素拓 alone is no indexed token, only part of the text's whole terms (研学实践教育活动).
        known = self.index.keywords.doc_freq
        partial = [term for w in words if len(w) > 1 and w not in known for term in self._whole_terms(w)]
        expansion = tokenizer(" ".join(reading.expansions)) if reading.expansions else []
        return tuple(t for t in dict.fromkeys([*words, *expansion, *tokenizer(" ".join(partial))]) if t not in self._title_tokens)

    def _whole_terms(self, word: str) -> list[str]:
        """The text's whole terms a short form stands for; none when the word is part of too many to name one (jieba
        cuts 2022年青岚区 into 年青 and 岚区, and 岚区 is part of every title naming 青岚区)."""
        terms = [term for term in self.index.keywords.tokenizer.terms if word in term]
        return terms if len(terms) <= self.settings.short_form_terms else []

    def words(self, text: str) -> list[str]:
        """The keyword tokens of ``text``, where a word jieba coined by gluing a word to the next character (师德有,
        最多能), which no text holds, is cut back to its longest part a text does hold (师德) and the rest, if 2+ characters."""
        return [part for word in self.index.keywords.tokenizer(text) for part in self._recut(word)]

    def _recut(self, word: str) -> list[str]:
        # The dictionary look-up first: the scan of every text is for the rare coined word only.
        if len(word) < 3 or not _CJK.fullmatch(word) or not self.index.keywords.tokenizer.coined(word) or word in self._all_text:
            return [word]
        for n in range(len(word) - 1, 1, -1):
            for part, rest in ((word[:n], word[n:]), (word[-n:], word[:-n])):
                if part in self._all_text:
                    return [part, rest] if len(rest) > 1 else [part]
        return [word]

    def translated(self, reading: Reading) -> frozenset[str]:
        """Tokens of the question's colloquial phrases that no indexed text uses (要钱, 回扣): no quote can hold
        them, and the policy terms they stand for are among the tokens instead, so they do not count against a
        quote's coverage."""
        phrases = lexicon().colloquial_phrases(reading.standalone)
        known = self.index.keywords.doc_freq
        return frozenset(t for t in self.index.keywords.tokenizer(" ".join(phrases)) if t not in known)

    def document_text(self, doc_id: str) -> str:
        """Title, issuer and every unit's text: what a district or a name must appear in to be covered."""
        return self._doc_text[doc_id]

    def preferred(self, reading: Reading) -> frozenset[str]:
        """Documents the question names by title, by district, by their own year, or as national; empty when it names none."""
        s = reading.scope
        national = {d.doc_id for d in self.index.documents if rule("national_issuer").search(f"{d.issuer} {d.title}")} if s.national else set()
        clues = (
            set(s.documents),
            national,
            {d for d, text in self._doc_text.items() if s.places and all(p in text or p[:-1] in text for p in s.places)},
            {d for d, y in self._doc_year.items() if y and y in s.years},
        )
        # A clue every document shares (青岚区 in each of a district's files) narrows nothing; the others still do.
        return frozenset().union(*(c for c in clues if len(c) < len(self._doc_text)))

    def _dense(self, reading: Reading, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cosine per chunk: the best of whole text and asking sentence, and the blend that ranks.

        今年 is each document's own year: a question with relative time words is embedded once per
        document year (今年 → 2020年 for the notice), and each chunk is scored by its document's version.
        The third array is the question's own vector (the first document year's), for the question memory.
        """
        if not reading.relative_words:
            return self._encode(reading.dense_text or reading.standalone, n)
        best = np.zeros(n, dtype=np.float32)
        blend = np.zeros(n, dtype=np.float32)
        prefix = reading.dense_text.removesuffix(reading.standalone)  # an English question keeps its own words first
        vectors = []
        for year in np.unique(self._chunk_doc_year):
            b, m, v = self._encode(prefix + reading.resolved(int(year) or None), n)
            rows = self._chunk_doc_year == year
            best[rows], blend[rows] = b[rows], m[rows]
            vectors.append(v)
        return best, blend, vectors[0]

    def _encode(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        asked = asking_sentences(query)
        texts = [query, asked] if asked != query and self.settings.asked_weight > 0 else [query]
        qv = self.embedder.encode_queries(texts).astype(np.float32)
        sims, rows = self.index.faiss.search(qv, n)
        # HNSW and IVF return -1 for the rows they did not visit: those rank as the least similar.
        per = np.full((len(texts), n), -1.0, dtype=np.float32)
        for i in range(len(texts)):
            seen = rows[i] >= 0
            per[i, rows[i][seen]] = sims[i][seen]
        w = self.settings.asked_weight
        return per.max(axis=0), per[0] if len(texts) == 1 else (1 - w) * per[0] + w * per[1], qv[0]

    def _dense_lead(self, fused: np.ndarray, unit_dense: np.ndarray) -> np.ndarray:
        """A unit the embedding prefers by a clear margin leads the fused ranking: on a document nobody has labelled,
        one shared keyword elsewhere (残疾 in an admission plan's article) would otherwise outvote it."""
        if len(unit_dense) < 2:
            return fused
        second, first = np.partition(unit_dense, -2)[-2:]
        if first - second < self.settings.dense_lead:
            return fused
        out = fused.copy()
        out[int(np.argmax(unit_dense))] = fused.max() + 1e-6
        return out

    def _tiebreak(self, fused: np.ndarray, unit_dense: np.ndarray) -> np.ndarray:
        """Units nearly tied on the fused score: of those just below the first, the one the embedding prefers most, by
        a margin over the first, leads (a keyword the others lack weighs less than what the whole question means). Before
        the boosts: a closing clause asked for, a document named, the memory's vote still decide over it."""
        if len(fused) < 2:
            return fused
        t = self.settings
        order = np.argsort(-fused, kind="stable")[: 1 + t.tie_window]  # an exact tie ranks as the final order will: lower index first
        first = order[0]
        near = [i for i in order[1:] if fused[i] >= t.tie_ratio * fused[first] and unit_dense[i] - unit_dense[first] >= t.tie_dense]
        if not near:
            return fused
        out = fused.copy()
        out[max(near, key=lambda i: unit_dense[i])] = fused[first] + 1e-6
        return out

    def _keyword(self, reading: Reading, tokens: list[str]) -> np.ndarray:
        """BM25 per chunk; a question with a story before it (我家孩子上中班，…，想问一下中班最多几个人？) ranks by both the
        whole text and the words of its asking clauses (the dense side blends the asking sentence the same way)."""
        credit = _substring_credits(tokens, self._chunk_texts, self.index.keywords.doc_freq)  # one text scan per word
        scores = self.index.keywords.scores(tokens) + _total(credit.values(), len(self._chunk_texts))
        w = self.settings.asked_keyword_weight
        if w <= 0 or reading.asking == reading.standalone:
            return self._padded(scores)
        tokenizer = self.index.keywords.tokenizer
        asked = set(self.words(reading.asking)) | set(tokenizer(" ".join(reading.expansions)))
        part = [t for t in tokens if t in asked]
        if not part:
            return self._padded(scores)
        own = self.index.keywords.scores(part) + _total((credit[t] for t in dict.fromkeys(part) if t in credit), len(self._chunk_texts))
        return self._padded((1 - w) * scores + w * own)

    def _padded(self, scores: np.ndarray) -> np.ndarray:
        """Keyword scores for every chunk row: the titled rows, which BM25 never sees, score 0."""
        return np.concatenate([scores, np.zeros(len(self.index.chunks) - len(scores), dtype=scores.dtype)])

    def _titled(self, unit_dense: np.ndarray, rank_dense: np.ndarray) -> np.ndarray:
        """Each unit's cosine blended with its cosine under its document's title (title_weight)."""
        w = self.settings.title_weight
        if w <= 0 or not self._blend_titles:
            return unit_dense
        seen = rank_dense[self._titled_row]  # -1 where an approximate index did not visit the row: no evidence either way
        titled = np.where(self._has_title & (seen > -1), seen, unit_dense)
        return ((unit_dense + w * titled) / (1 + w)).astype(np.float32)

    def search(self, reading: Reading, *, k: int = 5, mode: Mode = Mode.HYBRID, doc_ids: frozenset[str] | None = None) -> Retrieval:
        tokens = self.tokens(reading)
        n = len(self.index.chunks)
        zeros = np.zeros(n, dtype=np.float32)
        dense, rank_dense, vector = (zeros, zeros, zeros[:0]) if mode in (Mode.BM25, Mode.BM25_UNITS) else self._dense(reading, n)
        keyword = self._keyword(reading, [t for t in tokens if t not in self._implicit_years]) if mode is not Mode.DENSE else zeros
        if mode is Mode.BM25_UNITS:
            unit_dense, unit_kw = np.zeros(len(self.unit_keys), dtype=np.float32), keyword[self._unit_level_row]
        else:
            unit_dense = self._titled(np.asarray([rank_dense[r].max() for r in self._unit_rows], dtype=np.float32), rank_dense)
            unit_kw = np.asarray([keyword[r].max() for r in self._unit_rows], dtype=np.float32)
        fused = self._fuse(mode, unit_dense, unit_kw, bool(reading.expansions))
        if mode is Mode.HYBRID:
            fused = self._tiebreak(self._dense_lead(fused, unit_dense), unit_dense)
        # A year other than the documents' own (到2021年) is a hard clue: favour the points that name it.
        named = [str(y) for y in reading.years - self._doc_years]
        if named:
            fused = np.where([any(y in t for y in named) for t in self._unit_texts], fused * self.settings.year_boost, fused)
        negated = self._negated(reading.standalone, tokens)
        fused = np.where(negated, fused * self.settings.negated_weight, fused)
        if preferred := self.preferred(reading):
            fused = np.where([d in preferred for d in self._doc_ids], fused * self.settings.scope_boost, fused)
        # 这个办法什么时候施行 / 由哪个部门解释: the document's own clause answers, not an article on a licence's 有效期.
        closing = [is_clause for ask, is_clause in self._closing.items() if rule(ask).search(reading.standalone)]
        for is_clause in closing:
            fused = np.where(is_clause, fused * self.settings.closing_boost, fused)
        # The header is where "who issued it / to whom" is answered, and rarely anything else.
        about = rule("about_document").search(reading.standalone) and not closing
        fused = np.where(self._is_header, fused * (1 / self.settings.header_weight if about else self.settings.header_weight), fused)
        allowed = np.ones(len(self.unit_keys), dtype=bool) if doc_ids is None else np.asarray([d in doc_ids for d in self._doc_ids])
        # The memory's vote orders the units; their scores stay the texts' own evidence, which the answer step compares.
        vote = self._vote(vector, fused, preferred) if mode is Mode.HYBRID else NO_VOTE
        voted = fused.copy()
        for key, share in vote.units.items():
            voted[self._unit_index[key]] += self.settings.memory_weight * share
        order = [i for i in np.argsort(-voted, kind="stable") if allowed[i]]
        ranking = tuple(
            Hit(self.unit_keys[i], self._doc_ids[i], self._points[i], float(fused[i]), float(unit_dense[i]), float(unit_kw[i])) for i in order
        )
        return Retrieval(reading.standalone, tokens, ranking[:k], ranking, dense, keyword, reading.relative, self.translated(reading), vote)

    def _negated(self, question: str, tokens: Sequence[str]) -> np.ndarray:
        """Per unit: does it hold a qualifier of the question only negated (非普惠 for 普惠私立园, 非营利性 for 营利性)?
        Such a unit is about the other kind."""
        words = [t for t in tokens if t in self._negatable and f"非{t}" not in question]
        if not words:
            return np.zeros(len(self._unit_texts), dtype=bool)
        return np.asarray([any(f"非{w}" in text and w not in text.replace(f"非{w}", "") for w in words) for text in self._unit_texts], dtype=bool)

    def forget(self, sources: Iterable[str]) -> None:
        """Leave the labelled questions of ``sources`` (file names) out: an evaluation set is never scored with its own
        labels (not for serving: it replaces the memory in place)."""
        self.labelled = self.labelled.without(sources)
        self.memory = self.memory.without(sources)

    def _vote(self, vector: np.ndarray, fused: np.ndarray, preferred: frozenset[str]) -> Vote:
        """The memory's vote on the question ``vector``. A question naming its documents hears only labels within them
        (《义务教育法》对教师工资… is no Teachers Law question, however close one embeds); one the texts place in a
        document nobody has labelled questions about is not pulled to another: the memory cannot tell them apart."""
        t = self.settings
        if not vector.size or not len(self.memory):
            return NO_VOTE
        vote = self.memory.vote(vector, k=t.memory_k, floor=t.memory_floor, temperature=t.memory_temperature)
        # Labels silenced by a newer document (scoped out) still say their document is known.
        near = {self._doc_ids[i] for i in np.flatnonzero(fused >= t.tie_ratio * fused.max())}
        unlabelled = frozenset(near - self.labelled.documents)
        scope = preferred or unlabelled
        return vote.within(scope) if scope else vote

    def _fuse(self, mode: Mode, unit_dense: np.ndarray, unit_kw: np.ndarray, expanded: bool) -> np.ndarray:
        if mode is Mode.DENSE:
            return unit_dense
        if mode in (Mode.BM25, Mode.BM25_UNITS):
            return unit_kw
        if self.fusion is Fusion.RRF:
            kk = self.settings.rrf_k
            return 1.0 / (kk + _ranks(unit_dense)) + 1.0 / (kk + _ranks(unit_kw))
        w = self.settings.expanded_dense_weight if expanded else self.settings.dense_weight
        return w * _minmax(unit_dense) + (1 - w) * _minmax(unit_kw)
