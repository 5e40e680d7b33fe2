"""`policyqa eval`: metrics, report files and the regression gate, over a small question file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from assistant.evaluation import add_arguments, load_questions, metrics, run, run_cli
from assistant.index import Index
from assistant.pipeline import PolicyQA

from .conftest import HASH_SETTINGS, NOTICE, HashEmbedder

DOC = "dongli-2020-education-work-points"
ROWS = [
    {"id": "t1", "question": "电脑摇号随机录取是怎么规定的？", "type": "factual", "points": [20], "keys": ["电脑摇号随机录取"], "answerable": True},
    {"id": "t2", "question": "社区教育展示周是第几届？", "type": "numeric", "points": [14], "keys": ["第十四届"], "answerable": True},
    {"id": "t3", "question": "中考总分是多少分？", "type": "unanswerable", "points": [], "keys": [], "answerable": False},
]


@pytest.fixture(scope="module")
def qa() -> PolicyQA:
    emb = HashEmbedder()
    return PolicyQA(Index.build([NOTICE], emb), emb, settings=HASH_SETTINGS)


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    return path


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_metrics_count_hits_keys_and_abstentions(qa: PolicyQA, questions: Path):
    outcomes = run(qa, load_questions(questions), progress=False)
    m = metrics(outcomes, DOC)
    assert m["n"] == 3 and m["answerable"] == 2
    assert m["hit@1"] == 1.0 and m["key_coverage"] == 1.0
    assert m["abstain_recall"] == 1.0 and m["false_abstain"] == 0.0
    # The baseline is scored on the same questions, from its own ranking.
    assert metrics(outcomes, DOC, "bm25-units")["hit@1"] == 1.0


def test_report_files_and_the_gate(qa: PolicyQA, questions: Path, tmp_path: Path, capsys):
    out = tmp_path / "report"
    assert run_cli(_args(str(questions), "--report-dir", str(out), "--min-hit1", "0.9"), qa) == 0
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "## Retrieval modes" in text and "## hit@1 per question type and retrieval mode" in text
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved["modes"]["final"]["hit@1"] == 1.0
    assert saved["type_modes"]["numeric"]["hybrid"] == 1.0 and "unanswerable" not in saved["type_modes"]
    assert {p.name for p in out.glob("*.png")} == {"modes.png", "types.png", "latency.png"}
    # A gate above the result fails with a message that names the metric.
    assert run_cli(_args(str(questions), "--modes", "final", "--max-false-abstain", "-0.1"), qa) == 1
    assert "false_abstain 0.000 > -0.1" in capsys.readouterr().err


def test_bad_question_file_is_an_error_not_a_crash(qa: PolicyQA, tmp_path: Path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    assert run_cli(_args(str(bad)), qa) == 2
    assert "bad.jsonl:1: not a valid eval question" in capsys.readouterr().err
    assert run_cli(_args(str(tmp_path / "missing.jsonl")), qa) == 2
    assert run_cli(_args(str(bad), "--modes", "bm99"), qa) == 2


def test_reports_by_style_and_category_with_the_settings(qa: PolicyQA, tmp_path: Path):
    rows = [
        {**ROWS[0], "style": "story"},
        {**ROWS[1], "style": "shorthand"},
        {**ROWS[2], "style": "plain", "category": "detail"},
        {"id": "t4", "question": "南开区也是电脑摇号吗？", "answerable": False, "style": "plain", "category": "other_district"},
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "report"
    assert run_cli(_args(str(path), "--modes", "final", "--report-dir", str(out)), qa) == 0
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(saved["styles"]) == {"story", "shorthand", "plain"} and set(saved["categories"]) == {"detail", "other_district"}
    assert saved["categories"]["other_district"]["abstain_recall"] == 1.0
    assert saved["settings"]["coverage"] == qa.settings.coverage
    assert "## Per question style" in (out / "report.md").read_text(encoding="utf-8")


def test_a_row_for_another_document_is_scored_by_section_labels(qa: PolicyQA, tmp_path: Path):
    rows = [
        {"id": "s1", "question": "电脑摇号随机录取是怎么规定的？", "doc": DOC, "sections": ["20、"], "keys": ["电脑摇号"]},
        {"id": "s2", "question": "电脑摇号随机录取是怎么规定的？", "doc": DOC, "sections": ["2"], "keys": []},  # a prefix of 20、
        {"id": "s3", "question": "电脑摇号随机录取是怎么规定的？", "doc": DOC, "sections": ["三、"], "keys": []},
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    questions = load_questions(path)
    assert questions[0].answerable and questions[0].doc_id == DOC and questions[0].sections == ("20、",)
    outcomes = run(qa, questions, ("final",), progress=False)
    hits = [metrics([o], DOC)["hit@1"] for o in outcomes]
    assert hits == [1.0, 1.0, 0.0]
