"""The question reader is total: any input is clean text or InvalidQuestionError, never another exception."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import config
from assistant.index import Index
from assistant.inputs import InvalidQuestionError, clean_text, parse_batch_line, read_lines, validate_question
from assistant.pipeline import PolicyQA

from .conftest import HASH_SETTINGS, NOTICE, HashEmbedder

EXAMPLE = "今年民办学校招生报名人数超过计划怎么办？"


@pytest.fixture(scope="module")
def qa() -> PolicyQA:
    emb = HashEmbedder()
    return PolicyQA(Index.build([NOTICE], emb), emb, settings=HASH_SETTINGS)


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("\ufeff" + EXAMPLE, EXAMPLE),  # a byte-order mark pasted from a file
        ("今年\u200b民办\u200d学校\u2060招生？", "今年民办学校招生？"),  # zero-width space, joiner, word joiner
        ("\u202e今年招生？\u202c", "今年招生？"),  # bidi override
        ("第一行\r\n第二行？", "第一行\n第二行？"),
        ("  孩子近视怎么办\t", "孩子近视怎么办"),
    ],
)
def test_invisible_characters_are_cleaned(raw: str, clean: str):
    assert validate_question(raw) == (clean, ())


@pytest.mark.parametrize(
    "bad,match",
    [
        ("\ud800", r"lone surrogate U\+D800"),
        ("今年招生\udfff？", r"lone surrogate U\+DFFF"),
        ("今年\x00招生", r"control character U\+0000"),
        ("今年\x1b[31m招生", r"control character U\+001B"),
        ("今年\x85招生", r"control character U\+0085"),
        ("😀😀😀", "no words or numbers"),
        ("？！……", "no words or numbers"),
        ("\u200b\ufeff", "question is empty"),
        ("", "问题不能为空"),
        ("问" * (config.MAX_QUESTION_CHARS + 1), "limit is 500"),
        ("问" * 10_000_000, "limit is 500"),
        (None, "must be a string, got NoneType"),
        (b"\xe4\xbb\x8a", "must be a string, got bytes"),
        (["问题"], "must be a string, got list"),
    ],
)
def test_bad_questions_are_refused_in_both_languages(bad: object, match: str):
    with pytest.raises(InvalidQuestionError, match=match) as info:
        validate_question(bad)
    assert " / " in str(info.value) and any("\u4e00" <= ch <= "\u9fff" for ch in str(info.value))


@pytest.mark.parametrize(
    "history,match",
    [
        ("不是列表", "history must be a list of strings"),
        ({"a": 1}, "history must be a list of strings"),
        (["问题"] * 10_000, "history has 10000 turns, the limit is 20"),
        (["好", 3], r"history\[1\] is int"),
        (["好", None], r"history\[1\] is NoneType"),
        (["\ud800"], "history entry 0 contains an invalid character"),
        (["好", "好\x00"], "history entry 1 contains the control character"),
        (["长" * (config.MAX_QUESTION_CHARS + 1)], "history entry 0 is over 500"),
    ],
)
def test_bad_histories_are_refused(history: object, match: str):
    with pytest.raises(InvalidQuestionError, match=match):
        validate_question(EXAMPLE, history)


def test_history_is_cleaned_and_wordless_turns_dropped():
    assert validate_question(EXAMPLE, None) == (EXAMPLE, ())
    assert validate_question(EXAMPLE, ("\ufeff前一个问题\u200b", "  ", "👍")) == (EXAMPLE, ("前一个问题",))


def test_clean_text_names_what_it_cleans():
    with pytest.raises(InvalidQuestionError, match=r"原因含有控制字符 U\+0007 / the reason contains"):
        clean_text("好\a", ("原因", "the reason"))


# Surrogates, controls, format characters, emoji and CJK, in any mix: the inputs that broke entry points.
_ALPHABET = st.characters(codec=None, categories=None)
_NASTY = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\u200b", "\ufeff", "\u202e", "😀", "？", "\r", "\n", "年", "2020"])
QUESTIONS = st.lists(st.one_of(st.text(_ALPHABET, max_size=8), _NASTY), max_size=12).map("".join)
# Text that passes the reader, so the fuzz also reaches rewriting, opencc, jieba, retrieval and answering.
_WORDS = st.sampled_from(["今年", "民办学校", "招生", "怎么办", "幼儿园", "2020年", "几所", "校园欺凌", "那", "呢", "？", "😀", "\u200b", "\ufeff", "ｅ", "Ⅻ", "𠀀"])
READABLE = st.one_of(
    st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=40),
    st.lists(st.one_of(_WORDS, st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=3)), min_size=1, max_size=10).map("".join),
)
HISTORIES = st.one_of(st.none(), st.lists(st.one_of(QUESTIONS, st.integers(), st.none()), max_size=4), st.text(max_size=3), st.integers())


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=st.one_of(QUESTIONS, st.integers(), st.none(), st.binary(max_size=8)), history=HISTORIES)
def test_fuzzed_questions_raise_only_the_input_error(question: object, history: object):
    try:
        q, hist = validate_question(question, history)
    except InvalidQuestionError as exc:
        # The web layer splits the message at " / " into its Chinese and English halves.
        zh, sep, en = str(exc).partition(" / ")
        assert sep and re.search(r"[\u4e00-\u9fff]", zh) and re.search(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{2,})+", en), str(exc)
        return
    assert q and q == q.strip() and len(q) <= config.MAX_QUESTION_CHARS
    q.encode("utf-8")  # strict: no surrogate survives
    for h in hist:
        h.encode("utf-8")


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(question=st.one_of(QUESTIONS, READABLE, READABLE), history=st.one_of(st.none(), st.lists(st.one_of(QUESTIONS, READABLE), max_size=2)))
def test_fuzzed_questions_through_the_pipeline(qa: PolicyQA, question: str, history: list[str] | None):
    try:
        answer = qa.ask(question, history)
    except InvalidQuestionError:
        return
    assert answer.answer and answer.to_json()["question"].encode("utf-8")


# -- batch lines: arbitrary bytes never raise ------------------------------------------------------
_JSONISH = st.sampled_from([b"{", b"}", b"[", b"]", b'"', b"\\", b"\\ud800", b'"question"', b'"id"', b":", b",", b"\xff", b"\xef\xbb\xbf", b"\n", b"1" * 50])


@settings(max_examples=2000, deadline=None)
@given(raw=st.one_of(st.binary(max_size=64), st.lists(st.one_of(_JSONISH, st.binary(max_size=4)), max_size=20).map(b"".join)))
def test_fuzzed_batch_lines_parse_or_name_their_error(raw: bytes):
    line = parse_batch_line(7, raw)
    if line is None:
        assert not raw.removeprefix(b"\xef\xbb\xbf").strip()
        return
    assert line.number == 7 and (line.error or line.question is not None or "question" in raw.decode("utf-8", "replace"))
    if line.error:
        assert " / " in line.error
    assert line.id is None or isinstance(line.id, (str, int, float, bool))


def test_read_lines_skips_an_over_long_line_without_keeping_it():
    import io

    data = b"a\n" + b"x" * 50 + b"\n" + b"b" + b"y" * 9 + b"\nlast"
    assert list(read_lines(io.BytesIO(data), limit=10)) == [(1, b"a\n"), (2, None), (3, b"byyyyyyyyy\n"), (4, b"last")]
    assert parse_batch_line(2, None).error.endswith("is over 1048576 bytes")
