"""The assistant's rules as reviewed data: cue words, evidence patterns, units, colloquial and English terms.

Every rule lives in a file under ``assistant/lexicon/`` with an example it must fire on and
one it must not (tests/test_lexicon.py checks both); the files are read once. The tuning
knobs are one frozen :class:`Settings` whose values are the rows of ``settings.tsv``, written
into every index manifest and every evaluation report.
``policyqa lexicon audit`` lists, for each rule, the evaluation questions it fires on.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import re
import sys
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

LEXICON_DIR = Path(__file__).resolve().parent / "lexicon"
CN_NUM = "零〇一二两三四五六七八九十百千万"


SETTINGS_FILE = LEXICON_DIR / "settings.tsv"
SETTINGS_COLUMNS = ("name", "value", "what it does")


class SettingsFileError(ValueError):
    """A settings file that does not match :class:`Settings`; the message names the file, the row and the fix."""


def _knob(name: str) -> Any:
    """A :class:`Settings` field whose default is its reviewed value in settings.tsv (read on first use)."""
    return dataclasses.field(default_factory=lambda: reviewed_settings()[name])


@dataclass(frozen=True)
class Settings:
    """Every tuning knob, in one place (fitted on the tuning sets eval/dev*.jsonl and eval/real_tune.jsonl).

    The reviewed values, and what each knob does, are the rows of ``lexicon/settings.tsv``, read
    once and checked against these fields: ``Settings()`` is those values, ``Settings(dense=0.0)``
    or ``dataclasses.replace(settings, dense=0.0)`` overrides one, ``Settings.from_file(path)``
    reads another file. Retrieval fuses min-max scaled dense and BM25 scores per unit; an answer
    stands when its quote covers enough of the question's terms (IDF-weighted) or embeds close to it.
    """

    # -- retrieval
    dense_weight: float = _knob("dense_weight")
    dense_lead: float = _knob("dense_lead")
    expanded_dense_weight: float = _knob("expanded_dense_weight")
    rrf_k: int = _knob("rrf_k")
    year_boost: float = _knob("year_boost")
    short_form_terms: int = _knob("short_form_terms")
    asked_weight: float = _knob("asked_weight")
    asked_keyword_weight: float = _knob("asked_keyword_weight")
    header_weight: float = _knob("header_weight")
    closing_boost: float = _knob("closing_boost")
    scope_boost: float = _knob("scope_boost")
    negated_weight: float = _knob("negated_weight")
    tie_ratio: float = _knob("tie_ratio")
    tie_dense: float = _knob("tie_dense")
    tie_window: int = _knob("tie_window")
    title_weight: float = _knob("title_weight")
    list_chars: int = _knob("list_chars")
    whole_chars: int = _knob("whole_chars")
    # -- abstention
    coverage: float = _knob("coverage")
    dense: float = _knob("dense")
    typed_coverage: float = _knob("typed_coverage")
    typed_dense: float = _knob("typed_dense")
    partial_coverage: float = _knob("partial_coverage")
    # -- further points
    extra_ratio: float = _knob("extra_ratio")
    list_ratio: float = _knob("list_ratio")
    max_extra: int = _knob("max_extra")
    cover_ratio: float = _knob("cover_ratio")
    fact_ratio: float = _knob("fact_ratio")
    fact_ratio_other: float = _knob("fact_ratio_other")
    near_window: int = _knob("near_window")
    anchor_units: int = _knob("anchor_units")
    heading_chars: int = _knob("heading_chars")
    # -- sentence choice inside a unit
    w_dense: float = _knob("w_dense")
    w_coverage: float = _knob("w_coverage")
    w_keyword: float = _knob("w_keyword")
    sentence_slack: float = _knob("sentence_slack")
    # -- follow-ups
    specific_units: int = _knob("specific_units")
    # -- question memory (labelled questions as a nearest-neighbour vote)
    memory_k: int = _knob("memory_k")
    memory_floor: float = _knob("memory_floor")
    memory_temperature: float = _knob("memory_temperature")
    memory_weight: float = _knob("memory_weight")
    memory_answer: float = _knob("memory_answer")
    memory_decline: float = _knob("memory_decline")
    memory_decline_near: float = _knob("memory_decline_near")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_file(cls, path: Path) -> Settings:
        """The knobs of another settings file (same columns, every field once)."""
        knobs: dict[str, Any] = read_settings(path)  # each value already of its field's type
        return cls(**knobs)

    @staticmethod
    def types() -> dict[str, type]:
        """Each field's name and type (int or float), in field order."""
        hints = typing.get_type_hints(Settings)
        return {f.name: hints[f.name] for f in dataclasses.fields(Settings)}


def read_settings(path: Path) -> dict[str, int | float]:
    """The knobs in ``path``: every field of :class:`Settings` exactly once, each value of its field's type."""
    types = Settings.types()
    values: dict[str, int | float] = {}
    for line, name, value in _settings_rows(path):
        where = f"{path} line {line}"
        if name not in types:
            raise SettingsFileError(f"{where}: unknown setting {name!r}; Settings has no such field: fix the name or add the field to assistant/lexicon.py")
        if name in values:
            raise SettingsFileError(f"{where}: {name!r} is set a second time; keep one row per setting")
        values[name] = _parse_knob(value, types[name], f"{where} ({name})")
    missing = [n for n in types if n not in values]
    if missing:
        raise SettingsFileError(f"{path}: no row for {', '.join(missing)}; add one row per setting: name<TAB>value<TAB>what it does")
    return values


def _settings_rows(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line number, name, value) of every row after the header; comment and blank lines skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsFileError(f"{path}: cannot be read ({exc}); restore it with `git checkout -- {path}`") from exc
    header = True
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        cells = tuple(raw.split("\t"))
        if header:
            if cells != SETTINGS_COLUMNS:
                raise SettingsFileError(f"{path} line {line}: the header must be {chr(9).join(SETTINGS_COLUMNS)!r} (tab-separated), not {raw!r}")
            header = False
        elif len(cells) != len(SETTINGS_COLUMNS) or not all(c.strip() for c in cells):
            raise SettingsFileError(f"{path} line {line}: {raw!r} needs three non-empty columns separated by tabs: name, value, what it does")
        else:
            yield line, cells[0].strip(), cells[1].strip()


def _parse_knob(value: str, kind: type, where: str) -> int | float:
    """``value`` as ``kind`` (int or float), finite."""
    if kind not in (int, float):
        raise SettingsFileError(f"{where}: its field is a {kind.__name__}; settings.tsv holds ints and floats, so make the field one of them")
    try:
        parsed = int(value) if kind is int else float(value)
    except ValueError:
        raise SettingsFileError(f"{where}: {value!r} is not {'an int' if kind is int else 'a float'}; write the value as one (e.g. 3 or 0.5)") from None
    if not math.isfinite(parsed):
        raise SettingsFileError(f"{where}: {value!r} is not a finite number; write a finite value")
    return parsed


@lru_cache(maxsize=1)
def reviewed_settings() -> Mapping[str, int | float]:
    """The reviewed knobs in assistant/lexicon/settings.tsv, read and checked once: the defaults of :class:`Settings`."""
    return MappingProxyType(read_settings(SETTINGS_FILE))


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

    def colloquial_phrases(self, text: str) -> tuple[str, ...]:
        """The colloquial phrases of ``text`` that an expansion translates (堵在厕所要钱 → 要钱)."""
        return tuple(m.group(0) for e in self.colloquial for m in e.pattern.finditer(text))

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
REPORT_ONLY = ("test", "holdout", "holdout2", "holdout3", "laws", "real_report", "real_all", "fiction_heldout", "real2_check", "real6_check")


#: Closed classes of words (units, relative years, plan periods, the English glossary) are one rule each:
#: "a number is counted in its unit", "今年 is the document's year"; their rows are vocabulary, listed with --all.
VOCABULARIES = ("units.tsv", "relative_time.tsv", "periods.tsv", "glossary.tsv")
#: A document's own closing clauses, each favoured when the question asks for it: (question rule, quote rule).
CLOSING = (("asks_effect", "evidence.effect"), ("asks_interpretation", "evidence.interpretation"))
#: A rule over the quoted text is used by the questions that ask for what it finds (evidence.phone ↔ type.phone).
PAIRS = {
    "evidence.day": "type.day_level",
    "evidence.duration": "type.duration",
    "national_issuer": "scope.national",
    "target": "current",
    "evidence.paid": "money.paid",
    **{clause: ask for ask, clause in CLOSING},
}


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
