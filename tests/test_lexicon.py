"""The rules as reviewed data: every row fires on its example and not on its counter-example; the audit."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

import pytest

from assistant.lexicon import (
    LEXICON_DIR,
    SETTINGS_FILE,
    Settings,
    SettingsFileError,
    add_arguments,
    audit,
    check_examples,
    lexicon,
    read_settings,
    reviewed_settings,
    run_cli,
)
from assistant.reading import relative_offsets

ENTRIES = list(lexicon().entries())


@pytest.mark.parametrize("entry", [e for _, _, _, e in ENTRIES], ids=[f"{f}:{n}" for f, n, _, _ in ENTRIES])
def test_every_rule_fires_on_its_example_and_not_on_its_counter_example(entry):
    assert entry.matches(entry.fires), f"does not fire on {entry.fires!r}"
    assert not entry.matches(entry.counter), f"fires on {entry.counter!r}"


@pytest.mark.parametrize("rel", lexicon().relative, ids=[r.word for r in lexicon().relative])
def test_relative_time_words_are_matched_as_words(rel):
    assert rel.word in {r.word for r, _ in relative_offsets(rel.fires)}
    assert rel.word not in {r.word for r, _ in relative_offsets(rel.counter)}


def test_the_files_load_once_and_name_their_rules():
    assert lexicon() is lexicon()
    assert {"filler", "type.number", "evidence.number", "scope.national"} <= set(lexicon().rules)
    assert "的" in lexicon().stopwords and "目标" in lexicon().attributes and "孩子" in lexicon().generic
    with pytest.raises(KeyError, match="rules.tsv"):
        lexicon().rule("no.such.rule")
    assert check_examples(ENTRIES) == []


def test_rules_written_for_single_questions_are_gone():
    text = (LEXICON_DIR / "colloquial.tsv").read_text(encoding="utf-8")
    for phrase in ("又旧又破", "表示表示", "头等大事", "带一带"):
        assert phrase not in text


def test_colloquial_expansions():
    assert lexicon().expansions("孩子被欺负了，补课班乱收费") == ("校外培训机构", "校园欺凌", "收费公示")
    assert lexicon().expansions("2020年计划建设几所小学") == ()
    # jieba cuts 建 alone, which no unit holds: 建几所 reaches the text's 建设 only through the row
    assert lexicon().expansions("东丽今年建几所学校") == ("建设", "配套设施")
    assert lexicon().expansions("东丽今年招多少老师") == ("招聘", "教师")  # 招…多少…老师 is no 招老师 in a row


def test_colloquial_phrases_are_the_matched_words():
    assert lexicon().colloquial_phrases("高年级的堵在厕所要钱，还有补课班") == ("补课", "要钱")
    assert lexicon().colloquial_phrases("有没有不要钱的兴趣班") == ("兴趣班", "不要钱")  # 不要钱 is free, not extortion
    assert lexicon().colloquial_phrases("2020年计划建设几所小学") == ()


def test_settings_are_one_frozen_record_with_json():
    s = Settings()
    out = s.to_json()
    assert out["coverage"] == s.coverage and json.loads(json.dumps(out)) == out
    with pytest.raises(AttributeError):
        s.coverage = 0.5  # type: ignore[misc]


def _settings_file_rows() -> list[list[str]]:
    lines = SETTINGS_FILE.read_text(encoding="utf-8").splitlines()
    rows = [ln.split("\t") for ln in lines if ln.strip() and not ln.startswith("#")]
    assert rows[0] == ["name", "value", "what it does"]
    return rows[1:]


def test_every_setting_has_exactly_one_row():
    names = [row[0] for row in _settings_file_rows()]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(Settings))
    assert len(names) == len(set(names))
    assert all(len(row) == 3 and row[2].strip() for row in _settings_file_rows()), "every knob says what it does"


def test_settings_file_round_trips():
    types = Settings.types()
    assert set(types.values()) == {int, float}
    reviewed = Settings()
    assert reviewed == Settings.from_file(SETTINGS_FILE) and reviewed.to_json() == dict(reviewed_settings())
    for name, value, _ in _settings_file_rows():
        assert type(getattr(reviewed, name)) is types[name], name
        assert str(getattr(reviewed, name)) == value, f"{name}: write {getattr(reviewed, name)} in settings.tsv"
    assert reviewed_settings() is reviewed_settings()  # read once


def test_settings_keyword_overrides_keep_the_reviewed_rest():
    tuned = Settings(dense=0.0, fact_ratio=9.0)
    assert (tuned.dense, tuned.fact_ratio, tuned.coverage) == (0.0, 9.0, Settings().coverage)
    assert dataclasses.replace(Settings(), max_extra=5).max_extra == 5 and Settings().max_extra == reviewed_settings()["max_extra"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("dense_weight\t", "dense_wieght\t"), r"line \d+: unknown setting 'dense_wieght'.*fix the name"),
        (lambda t: t.replace("max_extra\t3\t", "max_extra\t3.5\t"), r"line \d+ \(max_extra\): '3.5' is not an int; write the value as one"),
        (lambda t: t.replace("coverage\t0.15\t", "coverage\tlow\t"), r"line \d+ \(coverage\): 'low' is not a float"),
        (lambda t: t.replace("dense\t0.88\t", "dense\tnan\t"), r"line \d+ \(dense\): 'nan' is not a finite number"),
        (lambda t: "\n".join(ln for ln in t.splitlines() if not ln.startswith("rrf_k\t")), r"no row for rrf_k; add one row per setting"),
        (lambda t: t + "rrf_k\t30\tagain\n", r"line \d+: 'rrf_k' is set a second time; keep one row"),
        (lambda t: t.replace("\tshare of the dense score in the fused one", ""), r"line \d+: .* needs three non-empty columns"),
        (lambda t: t.replace("name\tvalue\twhat it does", "name\tvalue"), r"line 3: the header must be"),
    ],
    ids=["unknown", "int", "float", "nan", "missing", "twice", "columns", "header"],
)
def test_a_bad_settings_file_names_the_file_the_row_and_the_fix(tmp_path: Path, edit, message):
    bad = tmp_path / "settings.tsv"
    bad.write_text(edit(SETTINGS_FILE.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(SettingsFileError, match=re.escape(str(bad)) + ".*" + message):
        Settings.from_file(bad)


def test_the_wrong_line_is_named(tmp_path: Path):
    bad = tmp_path / "settings.tsv"
    bad.write_text("# knobs\nname\tvalue\twhat it does\n\nspecific_units\tthree\ta term …\n", encoding="utf-8")
    with pytest.raises(SettingsFileError, match=r"settings.tsv line 4 \(specific_units\): 'three' is not an int"):
        read_settings(bad)
    with pytest.raises(SettingsFileError, match="cannot be read"):
        read_settings(tmp_path / "absent.tsv")


def _audit_args(eval_dir: Path, *extra: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(["audit", "--eval-dir", str(eval_dir), *extra])


def _write(path: Path, questions: list[str]) -> None:
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": q}, ensure_ascii=False) + "\n" for i, q in enumerate(questions)), encoding="utf-8")


def test_audit_fails_on_rules_that_fire_on_one_question_or_only_on_report_sets(tmp_path: Path, capsys):
    _write(tmp_path / "dev.jsonl", ["孩子在学校被欺负了怎么办？", "班里有人欺负同学，学校管吗？", "报名电话是多少？"])
    _write(tmp_path / "test.jsonl", ["私立学校怎么招生？", "私立幼儿园收费吗？"])
    rows = {(r.file, r.name): r for r in audit(tmp_path)}
    assert rows[("colloquial.tsv", "bullying")].status == "ok" and len(rows[("colloquial.tsv", "bullying")].tuning) == 2
    assert rows[("colloquial.tsv", "private")].status == "FAIL" and rows[("colloquial.tsv", "private")].report == 2  # report-only sets only
    assert rows[("rules.tsv", "type.phone")].status == "FAIL"  # one question only
    assert rows[("rules.tsv", "evidence.phone")].status == "FAIL"  # used by the questions asking for a phone: one
    assert rows[("colloquial.tsv", "meals")].status == "unused"
    assert run_cli(_audit_args(tmp_path)) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "fire on 2 or more evaluation questions" in out
    assert run_cli(_audit_args(tmp_path, "--all")) == 1 and "(vocabulary)" in capsys.readouterr().out
    assert run_cli(_audit_args(tmp_path / "missing")) == 2
