"""The CLI and its JSON contract; evaluation scripts depend on both staying stable."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from assistant import cli, config

from .conftest import NOTICE

EXAMPLE = "今年民办学校招生报名人数超过计划怎么办？"


@pytest.fixture
def env(monkeypatch, real_index_dir: Path):
    monkeypatch.setenv("POLICYQA_CORPUS", str(NOTICE))
    monkeypatch.setenv("POLICYQA_INDEX_DIR", str(real_index_dir))


@pytest.mark.parametrize("question", ["", "   ", "问" * (config.MAX_QUESTION_CHARS + 1)])
def test_ask_rejects_bad_questions_before_loading(question, capsys, monkeypatch):
    monkeypatch.setenv("POLICYQA_MODEL", "/nonexistent/model")  # proves the model is never touched
    assert cli.main(["ask", question]) == cli.EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and ("问题" in err)


def test_ask_reports_an_unloadable_model(capsys, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("POLICYQA_INDEX_DIR", str(tmp_path / "idx"))
    assert cli.main(["ask", "--model", str(tmp_path / "no-such-model"), EXAMPLE]) == cli.EXIT_SETUP
    assert "no-such-model" in capsys.readouterr().err


@pytest.mark.model
def test_ask_json_contract_field_by_field(env, capsys):
    assert cli.main(["ask", "--json", EXAMPLE]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert out.count("\n") == 1, "exactly one JSON object on one line"
    obj = json.loads(out)
    assert set(obj) == {"id", "question", "rewritten_question", "answer", "abstained", "citations", "latency_ms"}
    assert obj["id"] is None
    assert obj["question"] == EXAMPLE
    assert isinstance(obj["rewritten_question"], str) and "2020年" in obj["rewritten_question"]
    assert obj["abstained"] is False
    assert "电脑摇号" in obj["answer"]
    assert "（出自《天津市东丽区2020年教育工作要点》第20条「深化教育综合改革」）" in obj["answer"]
    assert isinstance(obj["latency_ms"], float) and obj["latency_ms"] >= 0
    top = obj["citations"][0]
    assert set(top) == {"doc_id", "doc_title", "point", "point_title", "section", "path", "quote", "score"}
    assert top["doc_id"] == "dongli-2020-education-work-points"
    assert top["doc_title"] == "天津市东丽区2020年教育工作要点"
    assert top["point"] == 20 and isinstance(top["point"], int)
    assert top["point_title"] == "深化教育综合改革"
    assert top["section"] == "20、"
    assert top["path"].endswith("› 20、深化教育综合改革")
    assert "电脑摇号随机录取" in top["quote"] and top["quote"] in NOTICE.read_text(encoding="utf-8")
    assert isinstance(top["score"], float)


@pytest.mark.model
def test_ask_human_readable(env, capsys):
    assert cli.main(["ask", EXAMPLE]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "电脑摇号" in out and "出处：" in out and "20、深化教育综合改革" in out


@pytest.mark.model
def test_ask_abstains_with_fixed_message(env, capsys):
    assert cli.main(["ask", "--json", "中考总分是多少分？"]) == cli.EXIT_OK
    obj = json.loads(capsys.readouterr().out)
    assert obj["abstained"] is True
    assert obj["answer"].startswith("抱歉")
    assert obj["citations"] and all(c["quote"] == "" for c in obj["citations"])


@pytest.mark.model
def test_batch_streams_and_survives_bad_lines(env, tmp_path: Path, capsys, monkeypatch):
    lines = [
        json.dumps({"id": "a", "question": EXAMPLE}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "c"}),
        json.dumps({"id": "d", "question": "   "}),
        "",
        json.dumps({"id": "e", "question": "那幼儿园呢？", "history": ["2020年计划新建几所小学？"]}, ensure_ascii=False),
        json.dumps(["not", "an", "object"]),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert cli.main(["batch", str(src), str(out)]) == cli.EXIT_BATCH_ERRORS
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "line-2", "c", "d", "e", "line-7"]
    assert rows[0]["citations"][0]["point"] == 20
    assert set(rows[1]) == {"id", "error"} and "not valid JSON" in rows[1]["error"]
    assert "missing 'question'" in rows[2]["error"]
    assert "question is empty" in rows[3]["error"]
    assert rows[4]["citations"][0]["point"] == 10 and "5所幼儿园" in rows[4]["answer"]
    assert "幼儿园" in rows[4]["rewritten_question"]
    assert "JSON object" in rows[5]["error"]
    assert "6 line(s), 4 error(s)" in capsys.readouterr().err

    # stdin → stdout
    monkeypatch.setattr("sys.stdin", io.StringIO(lines[0] + "\n"))
    assert cli.main(["batch", "-", "-"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["id"] == "a"


def test_batch_missing_input_file(capsys, tmp_path: Path):
    assert cli.main(["batch", str(tmp_path / "nope.jsonl"), "-"]) == cli.EXIT_INPUT
    assert "does not exist" in capsys.readouterr().err
