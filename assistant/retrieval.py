"""Hybrid retrieval: dense (FAISS) and keyword (BM25) scores over chunks, fused per unit."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import numpy as np

from .chunking import Level
from .index import Index
from .parsing import DocKind


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
class RetrievalConfig:
    fusion: Fusion = Fusion.WEIGHTED
    dense_weight: float = 0.7  # WEIGHTED: share of the (min-max scaled) dense score
    rrf_k: int = 20
    # When colloquial words were translated into policy terms, the keyword side knows more than
    # the embedding (which never saw 补课班 ≈ 校外培训机构): trust it more (dev: hit@1 0.960 → 0.976).
    expanded_dense_weight: float = 0.5
    year_boost: float = 1.2
    # 孩子上高二，压力大，说过不想活了。学校有什么办法吗？: the story and the question both rank
    # (dev_abstain hit@1 0.86 → 0.90 at 0.3, the other tuning sets unchanged); evidence takes the closer of the two.
    asked_weight: float = 0.3
    header_weight: float = 0.5  # a header shares the title's words with every question; it wins only when asked about


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


# Questions about the document itself (who issued it, to whom) are the header's to answer.
_ABOUT_DOCUMENT = re.compile(r"印发|发文|下发|谁发|哪个单位|哪个部门|发给|发送|通知|文件名|标题|落款|附件|主送")

_FILLER = re.compile(
    r"^(?:(?:请问一下|请问|请教一下|请教|麻烦问一下|麻烦问下|麻烦|想问一下|想问下|想问|我想问一下|我想问|我想咨询一下|我想咨询|咨询一下|咨询|问一下|"
    r"你好|您好|老师好|老师|在吗|打扰了|打扰一下|那个(?=[，,、!！。\s]|我|请问|就是)|嗯|哦)[，,、!！。\s]*)+"
)


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
    stripped = _FILLER.sub("", text).strip()
    return stripped or text


_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")


def years_in(text: str) -> set[int]:
    """Years a question names: 2021年 → {2021}."""
    return {int(y) for y in _YEAR.findall(text)}


def asking_sentences(question: str) -> str:
    """The sentences that ask: 班里有几个大个子欺负他。区里有没有规定？ asks for no number."""
    sentences = [c for c in re.split(r"(?<=[。；;?？!！])", question) if c.strip()]
    asking = [c for c in sentences if c.rstrip().endswith(("?", "？"))]
    return "".join(asking) if asking else (sentences[-1] if sentences else question)


def asking_part(question: str) -> str:
    """The clauses that ask: those ending in ?, else the last one (孩子明年升小学，幼儿园会不会衔接？)."""
    clauses = [c for c in re.split(r"(?<=[，,。；;?？!！])", question) if c.strip()]
    asking = [c for c in clauses if c.rstrip().endswith(("?", "？"))]
    return "".join(asking) if asking else (clauses[-1] if clauses else question)


def _minmax(x: np.ndarray) -> np.ndarray:
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    return np.zeros_like(x) if hi - lo < 1e-9 else (x - lo) / (hi - lo)


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty_like(order)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


class Retriever:
    def __init__(self, index: Index, embedder, config: RetrievalConfig = RetrievalConfig()):
        self.index = index
        self.embedder = embedder
        self.config = config
        self.unit_keys = list(index.rows_by_unit)
        self._unit_rows = [np.asarray(index.rows_by_unit[k]) for k in self.unit_keys]
        self._unit_level_row = np.asarray([next(r for r in rows if index.chunks[r].level is Level.UNIT) for rows in self._unit_rows])
        first = [index.chunks[rows[0]] for rows in self._unit_rows]
        self._doc_ids = [c.doc_id for c in first]
        self._points = [c.point for c in first]
        self._is_header = np.asarray([k.endswith("#header") for k in self.unit_keys])
        self._unit_texts = [index.chunks[r].text for r in self._unit_level_row]
        self._doc_years = {d.year for d in index.documents if d.year}
        # Words every title shares (东丽区 when the notice is alone) are implicit in every unit
        # but written in only some: they would pull those units and make off-topic questions look covered.
        tok = index.keywords.tokenizer
        shared = set.intersection(*(set(tok(d.title)) for d in index.documents)) if index.documents else set()
        self._title_tokens = {t for t in shared if not t.isdigit() and t != "年"}
        # A year plan's own year (今年 → 2020年) is implicit in every point, yet written in only
        # a few, the preamble among them: it must not rank them. Quotes may still show it.
        self._implicit_years = {str(d.year) for d in index.documents if d.year and d.kind is DocKind.NOTICE}

    def search(self, question: str, *, k: int = 5, mode: Mode = Mode.HYBRID, doc_ids: frozenset[str] | None = None) -> Retrieval:
        query = normalize_query(question)
        tokenizer = self.index.keywords.tokenizer
        expansion = tokenizer.expand(query)
        words = tokenizer(query)
        # 研学 or 素拓 alone is no indexed token, only part of the text's whole terms (研学实践教育活动).
        known = self.index.keywords.doc_freq
        partial = [term for w in words if len(w) > 1 and w not in known for term in tokenizer.terms if w in term]
        tokens = tuple(t for t in dict.fromkeys([*words, *expansion, *tokenizer(" ".join(partial))]) if t not in self._title_tokens)
        n = len(self.index.chunks)
        if mode in (Mode.BM25, Mode.BM25_UNITS):
            dense = rank_dense = np.zeros(n, dtype=np.float32)
        else:
            asked = asking_sentences(query)
            texts = [query, asked] if asked != query and self.config.asked_weight > 0 else [query]
            qv = self.embedder.encode_queries(texts).astype(np.float32)
            sims, rows = self.index.faiss.search(qv, n)
            per = np.empty((len(texts), n), dtype=np.float32)
            for i in range(len(texts)):
                per[i, rows[i]] = sims[i]
            dense = per.max(axis=0)
            rank_dense = per[0] if len(texts) == 1 else (1 - self.config.asked_weight) * per[0] + self.config.asked_weight * per[1]
        ranking_tokens = [t for t in tokens if t not in self._implicit_years]
        keyword = self.index.keywords.scores(ranking_tokens) if mode is not Mode.DENSE else np.zeros(n, dtype=np.float32)

        if mode is Mode.BM25_UNITS:
            unit_dense = np.zeros(len(self.unit_keys), dtype=np.float32)
            unit_kw = keyword[self._unit_level_row]
        else:
            unit_dense = np.asarray([rank_dense[r].max() for r in self._unit_rows], dtype=np.float32)
            unit_kw = np.asarray([keyword[r].max() for r in self._unit_rows], dtype=np.float32)

        if mode is Mode.DENSE:
            fused = unit_dense
        elif mode in (Mode.BM25, Mode.BM25_UNITS):
            fused = unit_kw
        elif self.config.fusion is Fusion.RRF:
            kk = self.config.rrf_k
            fused = 1.0 / (kk + _ranks(unit_dense)) + 1.0 / (kk + _ranks(unit_kw))
        else:
            w = self.config.expanded_dense_weight if expansion else self.config.dense_weight
            fused = w * _minmax(unit_dense) + (1 - w) * _minmax(unit_kw)

        # A year other than the documents' own (到2021年) is a hard clue: favour the points that name it.
        named = [str(y) for y in years_in(query) - self._doc_years]
        if named:
            fused = np.where([any(y in t for y in named) for t in self._unit_texts], fused * self.config.year_boost, fused)
        # The header is where "who issued it / to whom" is answered, and rarely anything else.
        weight = 1 / self.config.header_weight if _ABOUT_DOCUMENT.search(query) else self.config.header_weight
        fused = np.where(self._is_header, fused * weight, fused)
        allowed = np.ones(len(self.unit_keys), dtype=bool)
        if doc_ids is not None:
            allowed = np.asarray([d in doc_ids for d in self._doc_ids])
        order = [i for i in np.argsort(-fused, kind="stable") if allowed[i]]
        ranking = tuple(
            Hit(self.unit_keys[i], self._doc_ids[i], self._points[i], float(fused[i]), float(unit_dense[i]), float(unit_kw[i]))
            for i in order
        )
        return Retrieval(query, tokens, ranking[:k], ranking, dense, keyword)
