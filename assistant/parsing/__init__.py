"""Parse policy documents of any layout and format into numbered, citable units.

``readers/`` turn .txt/.md/.docx/.pdf/.html files into clean lines; :mod:`.structure`
builds one numbering tree from them (第X编/章/节, 第X条, 一、 （一） 1. （1） ① and
``N、``, 附件); :mod:`.front_matter` reads title, issuer, 发文字号 and date.
"""

from __future__ import annotations

from .corpus import OnError, corpus_files, parse_corpus, parse_file, parse_text
from .model import STRUCTURAL, DocKind, Document, Line, ParseError, Source, Unit, UnitKind, UnitRef, section_covers
from .numerals import chinese_to_int, int_to_chinese, split_sentences
from .readers import SUPPORTED_SUFFIXES, unsupported
from .structure import coverage, covered_lines, overlaps, parse_source

__all__ = [
    "STRUCTURAL",
    "SUPPORTED_SUFFIXES",
    "DocKind",
    "Document",
    "Line",
    "OnError",
    "ParseError",
    "Source",
    "Unit",
    "UnitKind",
    "UnitRef",
    "chinese_to_int",
    "corpus_files",
    "coverage",
    "covered_lines",
    "int_to_chinese",
    "overlaps",
    "parse_corpus",
    "parse_file",
    "parse_source",
    "parse_text",
    "section_covers",
    "split_sentences",
    "unsupported",
]
