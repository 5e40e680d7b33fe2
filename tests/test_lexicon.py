"""The rules as reviewed data: every row fires on its example and not on its counter-example; the audit."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from assistant.lexicon import LEXICON_DIR, Settings, add_arguments, audit, check_examples, lexicon, run_cli
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


def test_settings_are_one_frozen_record_with_json():
    s = Settings()
    out = s.to_json()
    assert out["coverage"] == s.coverage and json.loads(json.dumps(out)) == out
    with pytest.raises(AttributeError):
        s.coverage = 0.5  # type: ignore[misc]


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
