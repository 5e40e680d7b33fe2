"""Chinese numerals and sentence splitting."""

from __future__ import annotations

import re

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUM = "零〇一二两三四五六七八九十百千"


def chinese_to_int(text: str) -> int:
    """Convert a Chinese numeral such as 一百零八 or 二十 (or plain digits) to an int."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in CN_NUM for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
    return total + (digit or 0)


def int_to_chinese(n: int) -> str:
    """Inverse of :func:`chinese_to_int` for 1..9999, in the form laws use (第一百零八条)."""
    if not 0 < n < 10000:
        raise ValueError(f"out of range for a Chinese numeral: {n}")
    digits = "零一二三四五六七八九"
    out, zero = [], False
    for value, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, n = divmod(n, value)
        if d:
            if zero:
                out.append("零")
            out.append(digits[d] + name)
            zero = False
        elif out:
            zero = True
    s = "".join(out)
    return s[1:] if s.startswith("一十") else s


def digits_year(text: str) -> str:
    """二〇二一 → 2021: a year written digit by digit in Chinese."""
    table = str.maketrans("〇零一二三四五六七八九", "00123456789")
    return text.translate(table)


_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")


def split_sentences(text: str) -> tuple[str, ...]:
    """Split on 。！？ and semicolons, and on paragraph breaks; keep the punctuation."""
    out: list[str] = []
    for para in text.split("\n"):
        for piece in _SENTENCE_END.split(para):
            piece = piece.strip()
            if piece:
                out.append(piece)
    return tuple(out)
