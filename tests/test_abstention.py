"""The evidence signals recorded at abstention time, and how scripts/fit_abstention.py scores a decision from them."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from assistant.abstention import FEATURES, Signals
from assistant.index import Index
from assistant.pipeline import PolicyQA

from .conftest import HASH_SETTINGS, NOTICE, ROOT, HashEmbedder


@pytest.fixture(scope="module")
def qa() -> PolicyQA:
    emb = HashEmbedder()
    return PolicyQA(Index.build([NOTICE], emb), emb, settings=HASH_SETTINGS)


@pytest.fixture(scope="module")
def fit():
    spec = importlib.util.spec_from_file_location("fit_abstention", ROOT / "scripts" / "fit_abstention.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fit_abstention"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


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


def _row(fit, answerable: bool, rules: str, gold: bool = True, declined: str = "none", hard: bool = False, keys: float = 1.0):
    return fit.Row("dev", "x", "notice", answerable, hard, rules, declined, gold, keys, 0.0, answerable, {f: 0.5 for f in FEATURES})


def test_the_script_scores_a_decision_as_evaluation_does(fit):
    rows = [
        _row(fit, True, "full"),  # answered, gold
        _row(fit, True, "partial", declined="partial"),  # declined, but the partial answer quotes the keys
        _row(fit, False, "none"),  # rightly declined
        _row(fit, False, "full", gold=False, keys=0.0),  # wrongly answered
    ]
    m = fit.score(rows, fit.by_rules(rows))
    assert (m["hit@1"], m["key_coverage"], m["false_abstain"], m["abstain_recall"]) == (0.5, 1.0, 0.5, 0.5)


def test_a_rescue_keeps_the_rules_answers_and_the_scope_checks(fit):
    import numpy as np

    rows = [_row(fit, True, "full"), _row(fit, True, "none"), _row(fit, False, "none", hard=True)]
    probs = np.asarray([0.1, 0.9, 0.99])
    assert fit.decide(rows, probs, 0.5, "rescue") == [True, True, False]  # a scope decline stands whatever the model says
    assert fit.decide(rows, probs, 0.5, "replace") == [False, True, False]
    assert fit.decide(rows, probs, 0.5, "veto") == [False, False, False]  # a veto only declines what the rules answer
    assert fit.decide(rows, probs, 0.05, "veto") == [True, False, False]
    unanswered = [_row(fit, False, "full", gold=False), _row(fit, True, "full")]
    assert fit.veto_net(unanswered, [False, False]) == 1 - fit.VETO_COST  # one unanswerable caught, one answerable lost
    assert fit.right(rows[0]) and not fit.right(rows[2])
