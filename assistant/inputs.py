"""The question reader: every question and history turn passes here before anything else sees it.

Total over bad input: any ``object`` either comes back as clean text or raises
:class:`InvalidQuestionError` with a Chinese / English message saying what is wrong and how
to fix it. Cleaning is limited to what is obviously right (invisible format characters such as
zero-width spaces and a byte-order mark are dropped, CR LF becomes LF); anything else that
cannot be text of a question (lone surrogates, NUL and other control characters, a question
of only emoji or punctuation) is refused rather than guessed at.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from . import config

EXAMPLE = "今年民办学校招生报名人数超过计划怎么办？"
#: Whitespace controls a pasted question may carry; every other control character is refused.
_KEPT_CONTROLS = frozenset("\t\n")


class InvalidQuestionError(ValueError):
    """The question cannot be asked as given; the message is bilingual and says why."""


def _codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def clean_text(text: str, what: tuple[str, str] = ("问题", "the question")) -> str:
    """``text`` without format characters (zero-width, BOM, bidi marks) and with LF line ends, trimmed.

    Raises :class:`InvalidQuestionError` for lone surrogates and control characters;
    ``what`` names the text in the message (Chinese, English).
    """
    zh, en = what
    out: list[str] = []
    for ch in text.replace("\r\n", "\n").replace("\r", "\n"):
        cat = unicodedata.category(ch)
        if cat == "Cs":
            raise InvalidQuestionError(
                f"{zh}含有无效字符（孤立的代理码位 {_codepoint(ch)}） / {en} contains an invalid character "
                f"(lone surrogate {_codepoint(ch)}): send the text as valid UTF-8"
            )
        if cat == "Cc" and ch not in _KEPT_CONTROLS:
            raise InvalidQuestionError(f"{zh}含有控制字符 {_codepoint(ch)} / {en} contains the control character {_codepoint(ch)}: remove it")
        if cat != "Cf":  # zero-width spaces and joiners, BOM, soft hyphen, bidi marks: invisible, dropped
            out.append(ch)
    return "".join(out).strip()


def _has_words(text: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def _checked_length(text: str, zh: str, en: str) -> None:
    limit = config.MAX_QUESTION_CHARS
    if len(text) > limit:
        raise InvalidQuestionError(f"{zh}过长（{len(text)} 字，上限 {limit} 字） / {en} is {len(text)} characters, the limit is {limit}: shorten it")


def _question(question: object) -> str:
    if not isinstance(question, str):
        raise InvalidQuestionError(f"问题必须是文本 / question must be a string, got {type(question).__name__}")
    if len(question) > config.MAX_QUESTION_CHARS * 4:  # refuse a huge body before looking at each character
        _checked_length(question.strip(), "问题", "question")
    q = clean_text(question)
    if not q:
        raise InvalidQuestionError(f"问题不能为空 / question is empty: type a question in Chinese, e.g. {EXAMPLE}")
    _checked_length(q, "问题", "question")
    if not _has_words(q):
        raise InvalidQuestionError(
            f"问题里没有文字或数字（只有表情或标点） / the question has no words or numbers, only emoji or punctuation: type a question, e.g. {EXAMPLE}"
        )
    return q


def _history(history: object) -> tuple[str, ...]:
    if history is None:
        return ()
    if not isinstance(history, (list, tuple)):
        raise InvalidQuestionError(f"history 必须是字符串列表 / history must be a list of strings (earlier questions), got {type(history).__name__}")
    if len(history) > config.MAX_HISTORY_TURNS:
        raise InvalidQuestionError(f"对话历史过长（{len(history)} 轮，上限 {config.MAX_HISTORY_TURNS}） / history has {len(history)} turns, the limit is {config.MAX_HISTORY_TURNS}")
    turns: list[str] = []
    for i, h in enumerate(history):
        if not isinstance(h, str):
            raise InvalidQuestionError(f"history 必须是字符串列表 / history must be a list of strings; history[{i}] is {type(h).__name__}")
        too_long = f"对话历史第 {i + 1} 条过长 / history entry {i} is over {config.MAX_QUESTION_CHARS} characters: shorten it"
        if len(h) > config.MAX_QUESTION_CHARS * 4:
            raise InvalidQuestionError(too_long)
        turn = clean_text(h, (f"对话历史第 {i + 1} 条", f"history entry {i}"))
        if len(turn) > config.MAX_QUESTION_CHARS:
            raise InvalidQuestionError(too_long)
        if _has_words(turn):  # an empty or emoji-only earlier turn says nothing to rewrite from
            turns.append(turn)
    return tuple(turns)


def validate_question(question: object, history: object = ()) -> tuple[str, tuple[str, ...]]:
    """The question and history as clean text, or :class:`InvalidQuestionError`; never any other exception."""
    return _question(question), _history(history)


# -- batch input: JSON Lines read as bytes, one bad line costs that line only -----------------------
#: Longest batch line accepted; a longer one becomes an error for that line (and is not held in memory).
MAX_LINE_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"
BatchId = str | int | float | bool | None


@dataclass(frozen=True)
class BatchLine:
    """One line of a batch file: the question to ask, or why it cannot be asked."""

    number: int
    id: BatchId  # the line's "id" if it is a string or number, else "line-<number>"
    question: object = None
    history: object = None
    error: str = ""


def read_lines(fh: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """Numbered raw lines of ``fh``; ``None`` for a line over ``limit`` bytes, which is skipped without being kept."""
    number = 0
    while raw := fh.readline(limit + 1):
        number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            while (rest := fh.readline(limit)) and not rest.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, raw


def parse_batch_line(number: int, raw: bytes | None) -> BatchLine | None:
    """The line as a question, or a BatchLine whose ``error`` says (in Chinese and English) what is wrong; None for a blank line."""
    here = (f"第 {number} 行", f"line {number}")
    if raw is None:
        return BatchLine(number, f"line-{number}", error=f"{here[0]}超过 {MAX_LINE_BYTES // (1 << 20)} MB / {here[1]} is over {MAX_LINE_BYTES} bytes")
    raw = raw.removeprefix(_BOM)  # a byte-order mark from an editor must not cost the first question
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        return BatchLine(number, f"line-{number}", error=f"{here[0]}不是 UTF-8 文本 / {here[1]} is not valid UTF-8 (byte 0x{bad} at offset {exc.start}): save the file as UTF-8")
    try:
        rec = json.loads(text)
    except RecursionError:
        return BatchLine(number, f"line-{number}", error=f"{here[0]}嵌套过深 / {here[1]} is nested too deeply to read")
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4,300 digits
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return BatchLine(number, f"line-{number}", error=f"{here[0]}不是合法 JSON / {here[1]} is not valid JSON: {msg}")
    if not isinstance(rec, dict):
        return BatchLine(number, f"line-{number}", error="每行必须是 JSON 对象 / each line must be a JSON object")
    rec_id = rec.get("id", f"line-{number}")
    if not isinstance(rec_id, (str, int, float, bool)) and rec_id is not None:
        rec_id = f"line-{number}"  # an id must be echoed back as it came: nested values are not
    if "question" not in rec:
        return BatchLine(number, rec_id, error="缺少 question 字段 / missing 'question' field")
    return BatchLine(number, rec_id, rec["question"], rec.get("history"))
