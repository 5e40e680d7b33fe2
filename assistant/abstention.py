"""The evidence signals at abstention time, one number each, for fitting a learned decision against the rules.

The hand-set thresholds of settings.tsv (coverage, dense, typed_*) look at two or three numbers
at a time. ``scripts/fit_abstention.py`` records these signals for every tuning question and
compares a logistic regression over them with the rules out of fold (leave one set out). The
decision itself is still the rules' (PolicyQA._by_rules, then the question memory): no learned
one has beaten them out of fold in a way that holds for a document nobody labelled questions for,
see the script's docstring for the figures.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, fields

from .answering import Evidence
from .memory import Vote
from .reading import Language, Reading


@dataclass(frozen=True)
class Signals:
    """What the learned decision weighs, each a number near [0, 1] so that one weight scale fits all."""

    coverage: float  # IDF-weighted share of the question's terms in the quote
    top_dense: float  # best cosine of the top unit
    quote_dense: float  # best cosine of the quoted sentences
    type_ok: float  # 1 when every asked kind of fact is in the quote (always for an open question)
    asks_fact: float  # 1 when the question asks for a number, date, …
    keyword: float  # the top unit's BM25 over the best unit's: 1 when the words and the meaning agree
    margin: float  # fused score of the best unit minus the second's: a clear winner or a toss-up
    terms: float  # content terms of the question, /10: a long story covers less of itself by nature
    unknown: float  # share of the question's terms no indexed text holds (a synonym, a foreign topic)
    english: float  # 1 for an English question (translated terms cover less)
    expanded: float  # 1 when colloquial words were translated into policy terms

    def values(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


FEATURES: tuple[str, ...] = tuple(f.name for f in fields(Signals))


def signals(reading: Reading, ev: Evidence, tokenizer: Callable[[str], list[str]], vocabulary: Collection[str]) -> Signals:
    """The signals of one decision, from the reading and the evidence of its top quote."""
    words = [t for t in dict.fromkeys(tokenizer(reading.standalone)) if len(t) > 1]
    unknown = sum(t not in vocabulary for t in words) / len(words) if words else 1.0
    return Signals(
        coverage=ev.coverage,
        top_dense=ev.top_dense,
        quote_dense=ev.quote_dense,
        type_ok=float(ev.type_ok),
        asks_fact=float(bool(reading.facts)),
        keyword=ev.keyword,
        margin=ev.margin,
        terms=min(len(words), 30) / 10,
        unknown=unknown,
        english=float(reading.language is Language.ENGLISH),
        expanded=float(bool(reading.expansions)),
    )


#: The question memory's vote at decision time, weighed beside the evidence signals.
VOTE: tuple[str, ...] = ("vote_abstain", "vote_nearest", "vote_top")


def vote_values(vote: Vote, top: str) -> dict[str, float]:
    """The vote's signals for the top unit (all 0 where no labelled question is near: a document nobody labelled)."""
    return {"vote_abstain": vote.abstain, "vote_nearest": vote.nearest, "vote_top": vote.for_unit(top)}
