"""Keyword side of retrieval: jieba tokens with a harvested policy dictionary, scored by BM25.

Stop words and colloquial terms are data: assistant/lexicon/stopwords.txt and colloquial.tsv.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import jieba
import numpy as np

from .lexicon import lexicon

logger = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

_TERM_PATTERNS = (
    re.compile(r"“([^”]{2,12})”"),
    re.compile(r"《([^》]{2,40})》"),
    re.compile(r"(\d+[+＋][A-Za-z]+)"),
    re.compile(r"(\d+所[\u4e00-\u9fff]{1,2}[学园校])"),
    re.compile(r"(第[一二三四五六七八九十百]+(?:届|周期|期))"),
    re.compile(r"(\d+(?:\.\d+)?%)"),
    re.compile(r"(\d+个百分点)"),
)


def harvest_terms(texts: Iterable[str]) -> list[str]:
    """Policy terms worth keeping whole: quoted “…” terms, 《…》 titles, 2所中学, 1+X, 第十四届…"""
    terms: set[str] = set()
    for text in texts:
        for pattern in _TERM_PATTERNS:
            for m in pattern.finditer(text):
                term = m.group(1).strip()
                if term and not re.search(r"\s", term):
                    terms.add(term)
    return sorted(terms)


@lru_cache(maxsize=1)
def _dictionary() -> tuple[dict[str, int], int]:
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok.FREQ, tok.total


def new_jieba() -> jieba.Tokenizer:
    """A jieba tokenizer of its own (words added to it stay in it) over the dictionary loaded once per process:
    loading it costs about 0.7 s, which every `policyqa ask` would otherwise pay once per tokenizer."""
    freq, total = _dictionary()
    tok = jieba.Tokenizer()
    tok.FREQ, tok.total, tok.initialized = dict(freq), total, True
    return tok


class Tokenizer:
    """jieba in search mode plus a user dictionary; drops punctuation and stopwords."""

    def __init__(self, terms: Sequence[str] = ()):
        self.terms = tuple(terms)
        self._jieba = new_jieba()
        for term in self.terms:
            self._jieba.add_word(term.lower(), freq=max(1000, self._jieba.suggest_freq(term.lower())))

    def __call__(self, text: str) -> list[str]:
        return [t for t in self._jieba.lcut_for_search(text.lower()) if t.strip() and re.search(r"\w", t) and t not in lexicon().stopwords]

    def coined(self, word: str) -> bool:
        """A word jieba's HMM made up of characters its dictionary does not join (师德 + 有 → 师德有, 最多 + 能 → 最多能)."""
        return self._jieba.FREQ.get(word.lower(), 0) == 0

    def expand(self, text: str) -> list[str]:
        """Tokens of the policy terms that colloquial phrases in ``text`` stand for."""
        terms = " ".join(lexicon().expansions(text))
        return self(terms) if terms else []


class KeywordIndex:
    """BM25 (bm25s) over jieba tokens, one row per chunk, plus IDF for term weighting."""

    def __init__(self, bm25: bm25s.BM25, tokenizer: Tokenizer, doc_freq: dict[str, int], n_docs: int):
        self.bm25 = bm25
        self.tokenizer = tokenizer
        self.doc_freq = doc_freq
        self.n_docs = n_docs

    @classmethod
    def build(cls, texts: Sequence[str], terms: Sequence[str]) -> KeywordIndex:
        tokenizer = Tokenizer(terms)
        tokens = [tokenizer(t) or ["<empty>"] for t in texts]
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        df = Counter(tok for row in tokens for tok in set(row))
        return cls(bm25, tokenizer, dict(df), len(texts))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        known = [t for t in query_tokens if t in self.doc_freq]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def idf(self, token: str) -> float:
        """Smoothed IDF; unseen tokens get the maximum, so they count as specific."""
        df = self.doc_freq.get(token, 0)
        return math.log((self.n_docs + 1) / (df + 0.5))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(directory / "bm25"), show_progress=False)
        (directory / "terms.txt").write_text("\n".join(self.tokenizer.terms) + "\n", encoding="utf-8")
        lines = [f"{self.n_docs}"] + [f"{tok}\t{n}" for tok, n in sorted(self.doc_freq.items())]
        (directory / "doc_freq.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> KeywordIndex:
        bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
        terms = [t for t in (directory / "terms.txt").read_text(encoding="utf-8").splitlines() if t]
        first, *rows = (directory / "doc_freq.tsv").read_text(encoding="utf-8").splitlines()
        df = {tok: int(n) for tok, n in (r.rsplit("\t", 1) for r in rows if r)}
        return cls(bm25, Tokenizer(terms), df, int(first))
