"""The evidence signals recorded at abstention time."""

from __future__ import annotations

import pytest

from assistant.abstention import FEATURES, Signals
from assistant.index import Index
from assistant.pipeline import PolicyQA, Settings

from .conftest import NOTICE, HashEmbedder


@pytest.fixture(scope="module")
def qa() -> PolicyQA:
    emb = HashEmbedder()
    return PolicyQA(Index.build([NOTICE], emb), emb, settings=Settings(dense=0.0))


def _signals(qa: PolicyQA, question: str) -> Signals:
    """The signals PolicyQA.ask would decide on (scripts/fit_abstention.py records them the same way)."""
    reading = qa.read(question)
    retrieval = qa.retriever.search(reading)
    selections = qa._select(reading, retrieval)
    return qa.signals(reading, qa.builder.evidence(retrieval, selections, reading.facts))


def test_a_question_the_notice_answers_in_its_own_words(qa: PolicyQA):
    s = _signals(qa, "2020年计划新建几所小学？")
    assert (s.asks_fact, s.type_ok, s.english, s.expanded) == (1.0, 1.0, 0.0, 0.0)
    assert s.unknown == 0.2 and s.coverage > 0.4 and s.keyword == 1.0  # only 几所 is not the text's; BM25 agrees with the ranking
    assert s.margin >= 0.0 and 0.0 < s.terms < 1.0
    assert list(s.values()) == list(FEATURES) and all(isinstance(v, float) for v in s.values().values())


def test_an_english_and_a_colloquial_question_are_flagged(qa: PolicyQA):
    assert _signals(qa, "How many new primary schools will be built in 2020?").english == 1.0
    colloquial = _signals(qa, "补课班乱收费有人管吗？")
    assert colloquial.expanded == 1.0 and colloquial.english == 0.0


def test_a_question_about_nothing_indexed_has_unknown_terms(qa: PolicyQA):
    s = _signals(qa, "明天天津会下暴雨吗？")
    assert s.unknown > 0.5 and s.coverage < 0.2
