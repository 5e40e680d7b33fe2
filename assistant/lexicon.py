"""The assistant's rules as reviewed data: cue words, evidence patterns, units, colloquial and English terms.

Every rule lives in a file under ``assistant/lexicon/`` with an example it must fire on and
one it must not (tests/test_lexicon.py checks both); the files are read once. The tuning
knobs live in one frozen :class:`Settings`, written into every evaluation report.
``policyqa lexicon audit`` lists, for each rule, the evaluation questions it fires on.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

LEXICON_DIR = Path(__file__).resolve().parent / "lexicon"
CN_NUM = "零〇一二两三四五六七八九十百千万"


@dataclass(frozen=True)
class Settings:
    """Every tuning knob, in one place (fitted on the tuning sets eval/dev*.jsonl and eval/real_tune.jsonl).

    Retrieval fuses min-max scaled dense and BM25 scores per unit; an answer stands when its
    quote covers enough of the question's terms (IDF-weighted) or embeds close to it.
    """

    # -- retrieval
    dense_weight: float = 0.7  # share of the dense score in the fused one
    expanded_dense_weight: float = 0.5  # … when colloquial words were translated into policy terms (BM25 then knows more)
    rrf_k: int = 20  # only for the reciprocal-rank fusion ablation
    year_boost: float = 1.2  # a unit naming a year the question names (到2021年)
    asked_weight: float = 0.3  # a story-then-question ranks by both the whole text and its asking sentence
    header_weight: float = 0.5  # a header shares the title's words with every question; it wins only when asked about
    scope_boost: float = 1.25  # a document the question names (its title, district or year)
    # -- abstention
    coverage: float = 0.15  # IDF-weighted share of the question's terms the quote must hold …
    dense: float = 0.88  # … or the cosine the top unit must reach
    typed_coverage: float = 0.3  # a typed fact (number, date) answers only if its sentence is about the question …
    typed_dense: float = 0.88  # … by its words or by a strong dense match
    partial_coverage: float = 0.3  # a topic this well covered, but not the asked detail, gets a partial answer
    # -- further points
    extra_ratio: float = 0.85  # a further point is cited when its score is this close to the top one …
    list_ratio: float = 0.75  # … or this close when the question asks for a list
    max_extra: int = 3  # how many further hits are considered
    cover_ratio: float = 0.5  # a list question's uncovered term brings in a point scoring this close
    fact_ratio: float = 0.7  # a unit scoring this close that holds the asked fact the top quote lacks leads the answer
    fact_ratio_other: float = 0.9  # … this close when it is in another document than the top quote
    anchor_units: int = 4  # a list question's term named by at most this many points cites them all
    # -- sentence choice inside a unit
    w_dense: float = 5.0
    w_coverage: float = 0.6
    w_keyword: float = 0.3
    sentence_slack: float = 0.12
    # -- follow-ups
    specific_units: int = 3  # a term in at most this many units names a topic of its own

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -- the data files -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A named regular expression over the question or over quoted policy text."""

    name: str
    on: str  # "question" or "quote"
    pattern: re.Pattern[str]
    fires: str
    counter: str  # an example it must not fire on

    def matches(self, text: str) -> bool:
        return self.pattern.search(text) is not None


@dataclass(frozen=True)
class Expansion:
    """Colloquial phrases (补课, 辅导班) and the policy terms they stand for (校外培训机构)."""

    name: str
    pattern: re.Pattern[str]
    terms: tuple[str, ...]
    fires: str
    counter: str

    def matches(self, text: str) -> bool:
        return self.pattern.search(text) is not None


@dataclass(frozen=True)
class Relative:
    """A relative time word and its offset from the answering document's own year."""

    word: str
    offset: int
    fires: str
    counter: str


@dataclass(frozen=True)
class Period:
    name: str
    start: int
    end: int
    fires: str
    counter: str

    def matches(self, text: str) -> bool:
        return self.name in text


@dataclass(frozen=True)
class MeasureUnit:
    unit: str
    aliases: str  # regex alternation of the units that answer it
    fires: str
    counter: str

    def matches(self, text: str) -> bool:
        return re.search(rf"(?:\d+(?:\.\d+)?|[{CN_NUM}]+)\s*(?:{re.escape(self.unit)})", text) is not None


@dataclass(frozen=True)
class Gloss:
    """An English expression and the Chinese words a question in Chinese would use."""

    name: str
    pattern: re.Pattern[str]
    chinese: str
    fires: str
    counter: str

    def matches(self, text: str) -> bool:
        return self.pattern.search(text) is not None


@dataclass(frozen=True)
class Lexicon:
    rules: Mapping[str, Rule]
    colloquial: tuple[Expansion, ...]
    relative: tuple[Relative, ...]
    periods: tuple[Period, ...]
    units: tuple[MeasureUnit, ...]
    glossary: tuple[Gloss, ...]
    stopwords: frozenset[str]
    english_stopwords: frozenset[str]  # English words naming no topic, skipped before CC-CEDICT
    attributes: frozenset[str]  # what a question asks about a topic (目标, 措施)
    generic: frozenset[str]  # words naming no topic (孩子, 材料)

    def rule(self, name: str) -> re.Pattern[str]:
        try:
            return self.rules[name].pattern
        except KeyError:
            raise KeyError(f"no rule named {name!r} in {LEXICON_DIR / 'rules.tsv'}; add a row for it") from None

    @property
    def unit_pattern(self) -> str:
        """Measure words, longest first, as one alternation (周期 before 期)."""
        return "|".join(sorted((u.unit for u in self.units), key=len, reverse=True))

    def aliases(self, unit: str) -> str:
        return next((u.aliases for u in self.units if u.unit == unit), re.escape(unit))

    def expansions(self, text: str) -> tuple[str, ...]:
        """The policy terms the colloquial phrases in ``text`` stand for, once each."""
        return tuple(dict.fromkeys(t for e in self.colloquial if e.matches(text) for t in e.terms))

    def entries(self) -> Iterable[tuple[str, str, str, Any]]:
        """(file, name, on, entry) for every rule that fires on text, for tests and the audit."""
        for r in self.rules.values():
            yield "rules.tsv", r.name, r.on, r
        for e in self.colloquial:
            yield "colloquial.tsv", e.name, "question", e
        for p in self.periods:
            yield "periods.tsv", p.name, "question", p
        for u in self.units:
            yield "units.tsv", u.unit, "quote", u
        for g in self.glossary:
            yield "glossary.tsv", g.name, "question", g


def _rows(name: str) -> list[dict[str, str]]:
    path = LEXICON_DIR / name
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    for n, row in enumerate(rows, start=2):
        if None in row or any(v is None or v == "" for v in row.values()):
            raise ValueError(f"{path}: row {n} ({row}) has a missing or extra column; every column is required, separated by one tab")
    return rows


def _words(name: str) -> frozenset[str]:
    text = (LEXICON_DIR / name).read_text(encoding="utf-8")
    return frozenset(w for ln in text.splitlines() if not ln.startswith("#") for w in ln.split())


def _compile(pattern: str, where: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"{where}: bad regular expression {pattern!r} ({exc}); fix the row") from exc


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """Read every file under assistant/lexicon/ once."""
    units = tuple(MeasureUnit(r["unit"], r["aliases"], r["fires"], r["not"]) for r in _rows("units.tsv"))
    alternation = "|".join(sorted((u.unit for u in units), key=len, reverse=True))
    rules = {}
    for r in _rows("rules.tsv"):
        pattern = r["pattern"].replace("{UNITS}", alternation).replace("{CN_NUM}", CN_NUM)
        rules[r["name"]] = Rule(r["name"], r["on"], _compile(pattern, f"rules.tsv {r['name']}"), r["fires"], r["not"])
    return Lexicon(
        rules=rules,
        colloquial=tuple(
            Expansion(r["name"], _compile(r["phrases"], f"colloquial.tsv {r['name']}"), tuple(r["terms"].split()), r["fires"], r["not"])
            for r in _rows("colloquial.tsv")
        ),
        relative=tuple(Relative(r["word"], int(r["offset"]), r["fires"], r["not"]) for r in _rows("relative_time.tsv")),
        periods=tuple(Period(r["name"], int(r["start"]), int(r["end"]), r["fires"], r["not"]) for r in _rows("periods.tsv")),
        units=units,
        glossary=tuple(
            Gloss(r["name"], _compile(rf"\b(?:{r['english']})\b", f"glossary.tsv {r['name']}", re.IGNORECASE), r["chinese"], r["fires"], r["not"])
            for r in _rows("glossary.tsv")
        ),
        stopwords=_words("stopwords.txt"),
        english_stopwords=_words("english_stopwords.txt"),
        attributes=_words("attributes.txt"),
        generic=_words("generic.txt") | _words("attributes.txt"),
    )


def rule(name: str) -> re.Pattern[str]:
    return lexicon().rule(name)


# -- the audit ------------------------------------------------------------------------------

#: Sets only ever scored, never tuned on: a rule that fires only on them was fitted to nothing it may see.
REPORT_ONLY = ("test", "holdout", "holdout2", "holdout3", "laws", "real_report", "real_all", "fiction_heldout", "real2_check")


#: Closed classes of words (units, relative years, plan periods, the English glossary) are one rule each:
#: "a number is counted in its unit", "今年 is the document's year"; their rows are vocabulary, listed with --all.
VOCABULARIES = ("units.tsv", "relative_time.tsv", "periods.tsv", "glossary.tsv")
#: A rule over the quoted text is used by the questions that ask for what it finds (evidence.phone ↔ type.phone).
PAIRS = {"evidence.day": "type.day_level", "national_issuer": "scope.national", "target": "current"}


@dataclass(frozen=True)
class AuditRow:
    file: str
    name: str
    tuning: tuple[str, ...]  # ids of tuning questions it fires on
    report: int  # how many report-only questions it fires on

    @property
    def status(self) -> str:
        """ok; unused (no evaluation question exercises it); FAIL (a single question, or report-only sets only)."""
        total = len(self.tuning) + self.report
        if total == 0:
            return "unused"
        return "FAIL" if total == 1 or not self.tuning else "ok"


def _eval_texts(eval_dir: Path) -> list[tuple[str, bool, str, str]]:
    """(id, report_only, question, keys) for every question of every eval/*.jsonl (real_all repeats the real halves)."""
    from .retrieval import to_simplified

    out = []
    for path in sorted(eval_dir.glob("*.jsonl")):
        if path.stem == "real_all":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append((f"{path.stem}:{row['id']}", path.stem in REPORT_ONLY, to_simplified(row["question"]), " ".join(row.get("keys", []))))
    return out


def _fires(entry: Any, on: str, name: str, question: str, keys: str) -> bool:
    if isinstance(entry, Relative):
        from .reading import relative_offsets

        return entry.word in question and any(r.word == entry.word for r, _ in relative_offsets(question))
    if isinstance(entry, MeasureUnit):  # asked in (几所) or answered with (5所)
        return entry.matches(keys) or re.search(rf"(?:几|多少)(?:{re.escape(entry.unit)})", question) is not None
    if on == "quote":
        paired = PAIRS.get(name, name.replace("evidence.", "type."))
        return entry.matches(keys) or (paired in lexicon().rules and lexicon().rules[paired].matches(question))
    return bool(entry.matches(question))


def audit(eval_dir: Path) -> list[AuditRow]:
    """Per rule (per vocabulary file), the evaluation questions it fires on."""
    texts = _eval_texts(eval_dir)
    lex = lexicon()
    entries = [*lex.entries(), *(("relative_time.tsv", r.word, "question", r) for r in lex.relative)]
    rows: list[AuditRow] = []
    per_file: dict[str, set[tuple[str, bool]]] = {}
    for file, name, on, entry in entries:
        hits = [(qid, rep) for qid, rep, q, keys in texts if _fires(entry, on, name, q, keys)]
        rows.append(AuditRow(file, name, tuple(q for q, rep in hits if not rep), sum(rep for _, rep in hits)))
        per_file.setdefault(file, set()).update(hits)
    for file in VOCABULARIES:
        hits_set = per_file.get(file, set())
        rows.append(AuditRow(file, "(vocabulary)", tuple(sorted(q for q, rep in hits_set if not rep)), sum(rep for _, rep in hits_set)))
    return rows


def audited(rows: Sequence[AuditRow]) -> list[AuditRow]:
    """The rows that are rules: rules.tsv and colloquial.tsv rows, and one row per vocabulary file."""
    return [r for r in rows if r.file not in VOCABULARIES or r.name == "(vocabulary)"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="lexicon_command", required=True)
    a = sub.add_parser("audit", help="list the evaluation questions each rule fires on; exit 1 if a rule fires on one question only")
    a.add_argument("--eval-dir", type=Path, default=Path("eval"), help="folder of question files (default: eval)")
    a.add_argument("--all", action="store_true", help="list every rule, not only the failing ones")


def run_cli(args: argparse.Namespace) -> int:
    if not args.eval_dir.is_dir():
        print(f"error: no evaluation folder at {args.eval_dir}; pass --eval-dir", file=sys.stderr)
        return 2
    every = audit(args.eval_dir)
    rules = audited(every)
    for r in every if args.all else [r for r in rules if r.status != "ok"]:
        sample = ", ".join(r.tuning[:4]) + (" …" if len(r.tuning) > 4 else "")
        print(f"{r.status:6s} {r.file:18s} {r.name:22s} tuning {len(r.tuning):3d}  report-only {r.report:3d}  {sample}")
    bad = [r for r in rules if r.status == "FAIL"]
    wide = sum(len(r.tuning) + r.report >= 2 for r in rules)
    unused = sum(r.status == "unused" for r in rules)
    print(f"{len(rules)} rules; {wide} fire on 2 or more evaluation questions; {unused} unused; {len(bad)} fail (a single question, or report-only sets only)")
    return 1 if bad else 0


def check_examples(entries: Sequence[tuple[str, str, str, Any]]) -> list[str]:
    """Rows whose own examples disagree with them (used by the tests and by the audit's callers)."""
    problems = []
    for file, name, _, entry in entries:
        if not entry.matches(entry.fires):
            problems.append(f"{file} {name}: does not fire on its example {entry.fires!r}")
        if entry.matches(entry.counter):
            problems.append(f"{file} {name}: fires on its counter-example {entry.counter!r}")
    return problems
