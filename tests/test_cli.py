"""The CLI and its JSON contract; evaluation scripts depend on both staying stable."""

from __future__ import annotations

import io
import json
import sys
import types
from pathlib import Path

import pytest

from assistant import cli, config, lexicon
from assistant.index import Index, load_or_build
from assistant.inputs import MAX_LINE_BYTES
from assistant.pipeline import PolicyQA

from .conftest import HASH_SETTINGS, NOTICE, ROOT, HashEmbedder

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
    assert list(obj) == ["id", "question", "rewritten_question", "answer", "abstained", "citations", "latency_ms", "coverage", "summary", "used_history"]
    assert obj["coverage"] == "full" and obj["used_history"] is False and isinstance(obj["summary"], str)
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
    assert cli.main(["ask", "--json", "今天天气怎么样？"]) == cli.EXIT_OK
    obj = json.loads(capsys.readouterr().out)
    assert obj["abstained"] is True and obj["coverage"] == "none"
    assert obj["answer"].startswith("抱歉")
    assert obj["citations"] and all(c["quote"] == "" for c in obj["citations"])


@pytest.mark.model
def test_ask_says_what_the_text_covers_when_the_detail_is_missing(env, capsys):
    # the notice speaks of the 中考 reform but sets no total score: a partial answer says so before quoting
    assert cli.main(["ask", "--json", "中考总分是多少分？"]) == cli.EXIT_OK
    obj = json.loads(capsys.readouterr().out)
    assert obj["coverage"] == "partial" and obj["abstained"] is False
    assert obj["summary"].startswith("文件提到") and "没有规定具体的" in obj["summary"] and obj["answer"].startswith(obj["summary"])
    assert obj["citations"][0]["point"] == 20


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


# -- without the real model: HashEmbedder stands in ---------------------------------------------
@pytest.fixture(scope="module")
def hash_qa() -> PolicyQA:
    emb = HashEmbedder()
    return PolicyQA(Index.build([NOTICE], emb), emb, settings=HASH_SETTINGS)


@pytest.fixture
def fake_load(monkeypatch, hash_qa: PolicyQA) -> PolicyQA:
    monkeypatch.setattr(cli, "_load", lambda args, rebuild=False: hash_qa)
    return hash_qa


@pytest.fixture
def hash_model(monkeypatch, tmp_path: Path) -> Path:
    """The real loading path (PolicyQA.load → load_or_build) with HashEmbedder as the model; returns the index dir."""
    monkeypatch.setattr("assistant.embedding.load_embedder", lambda model=None: HashEmbedder())
    monkeypatch.setenv("POLICYQA_CORPUS", str(NOTICE))
    monkeypatch.setenv("POLICYQA_INDEX_DIR", str(tmp_path / "index" / "current"))
    monkeypatch.delenv("POLICYQA_NO_REBUILD", raising=False)
    return tmp_path / "index" / "current"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_batch_reads_bytes_defensively(fake_load, tmp_path: Path, capsys):
    good = json.dumps({"id": "a", "question": EXAMPLE}, ensure_ascii=False).encode()
    lines = [
        b"\xef\xbb\xbf" + good,  # a byte-order mark does not cost the first question
        json.dumps({"id": "bad-byte", "question": "今年招生"}, ensure_ascii=False).encode()[:-5] + b"\xff\xfe\"}",
        b"[" * 5000 + b"]" * 5000,
        b'{"id": "big", "question": "' + "问".encode() * (MAX_LINE_BYTES // 3 + 10) + b'"}',
        b'{"id": "sur", "question": "\\ud800"}',
        b'{"id": "\\udc80", "question": "\\u200b\\ufeff"}',
        b'{"id": {"nested": 1}, "question": "\xf0\x9f\x98\x80"}',
        b'{"id": "num", "question": ' + b"9" * 5000 + b"}",
        b"\x00\x01garbage",
        b"   ",
        json.dumps({"id": "z", "question": "那幼儿园呢？", "history": ["2020年计划新建几所小学？"]}, ensure_ascii=False).encode(),
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    assert cli.main(["batch", str(src), str(out)]) == cli.EXIT_BATCH_ERRORS
    rows = _rows(out)
    assert [r["id"] for r in rows] == ["a", "line-2", "line-3", "line-4", "sur", "\udc80", "line-7", "line-8", "line-9", "z"]
    assert rows[0]["question"] == EXAMPLE and rows[0]["citations"]
    assert rows[-1]["citations"] and "error" not in rows[-1]
    errors = {r["id"]: r["error"] for r in rows if "error" in r}
    assert "line 2 is not valid UTF-8 (byte 0xff" in errors["line-2"]
    assert "nested too deeply" in errors["line-3"]
    assert f"over {MAX_LINE_BYTES} bytes" in errors["line-4"]
    assert "lone surrogate U+D800" in errors["sur"]
    assert "question is empty" in errors["\udc80"]
    assert "no words or numbers" in errors["line-7"]
    assert "not valid JSON" in errors["line-8"] and "not valid JSON" in errors["line-9"]
    assert all(set(r) == {"id", "error"} and " / " in r["error"] for r in rows if "error" in r)
    assert "10 line(s), 8 error(s)" in capsys.readouterr().err


def test_batch_keeps_finished_lines_when_interrupted(fake_load, tmp_path: Path, monkeypatch):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": n, "question": q}, ensure_ascii=False) + "\n" for n, q in enumerate([EXAMPLE, "骨干教师怎么培养？", "STOP", EXAMPLE])), encoding="utf-8")
    real_ask = fake_load.ask

    def ask(question, history=()):
        if question == "STOP":
            raise KeyboardInterrupt
        return real_ask(question, history)

    monkeypatch.setattr(fake_load, "ask", ask)
    out = tmp_path / "out.jsonl"
    assert cli.main(["batch", str(src), str(out)]) == 130
    assert [r["id"] for r in _rows(out)] == [0, 1]


def test_batch_line_that_breaks_the_pipeline_costs_that_line_only(fake_load, tmp_path: Path, monkeypatch, capsys):
    real_ask = fake_load.ask

    def ask(question, history=()):
        if question == "BUG":
            raise TypeError("simulated bug")
        return real_ask(question, history)

    monkeypatch.setattr(fake_load, "ask", ask)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"id": 1, "question": "BUG"}\n{"id": 2, "question": "\xe9\xaa\xa8\xe5\xb9\xb2\xe6\x95\x99\xe5\xb8\x88"}\n')))
    assert cli.main(["batch", "-", "-"]) == cli.EXIT_BATCH_ERRORS
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == {"id": 1, "error": "第 1 行处理失败（内部错误） / line 1 failed with an internal error: TypeError: simulated bug"}
    assert rows[1]["id"] == 2 and rows[1]["question"] == "骨干教师"


def test_batch_unwritable_output_is_bad_input(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("POLICYQA_MODEL", "/nonexistent/model")  # fails before the model is touched
    src = tmp_path / "in.jsonl"
    src.write_text("{}\n", encoding="utf-8")
    assert cli.main(["batch", str(src), str(tmp_path / "no-such-dir" / "out.jsonl")]) == cli.EXIT_INPUT
    assert cli.main(["batch", str(tmp_path), "-"]) == cli.EXIT_INPUT  # a folder, not a file
    assert capsys.readouterr().err.count("cannot open") == 2


# -- exit codes ------------------------------------------------------------------------------------
def test_exit_0_and_2_for_ask(fake_load, capsys):
    assert cli.main(["ask", "--json", EXAMPLE]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["question"] == EXAMPLE
    assert cli.main(["ask", "\udcff问题"]) == cli.EXIT_INPUT  # an invalid UTF-8 byte in argv arrives as a surrogate
    assert "lone surrogate" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["ask"])  # bad arguments
    assert info.value.code == cli.EXIT_INPUT


def test_exit_1_when_eval_is_below_the_gate(fake_load, tmp_path: Path):
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"id": "t1", "question": "中考总分是多少分？", "type": "factual", "points": [20], "keys": ["x"], "answerable": True}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert cli.main(["eval", str(q), "--modes", "final", "--min-hit1", "1.0"]) == cli.EXIT_GATE


def test_no_rebuild_refuses_a_damaged_index_with_exit_3(hash_model: Path, capsys, tmp_path: Path):
    load_or_build([NOTICE], hash_model, HashEmbedder())
    f = hash_model.resolve() / "vectors.faiss"
    f.write_bytes(f.read_bytes()[:-100])
    for argv in (["ask", "--no-rebuild", EXAMPLE], ["serve", "--no-rebuild"]):
        assert cli.main(argv) == cli.EXIT_SETUP
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "vectors.faiss is truncated" in err and "Traceback" not in err
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"question": EXAMPLE}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert cli.main(["batch", "--no-rebuild", str(src), "-"]) == cli.EXIT_SETUP
    assert "POLICYQA_NO_REBUILD" not in __import__("os").environ  # the option lasts for its command only
    # Without --no-rebuild the damage is healed and the question answered.
    assert cli.main(["ask", "--json", EXAMPLE]) == cli.EXIT_OK
    assert "vectors.faiss is truncated" in capsys.readouterr().err
    Index.load(hash_model)


def test_index_build_prints_a_summary_per_document(hash_model: Path, capsys, laws_dir: Path, monkeypatch):
    monkeypatch.setenv("POLICYQA_CORPUS", f"{NOTICE}:{laws_dir / 'teachers-law-2009.txt'}")
    assert cli.main(["index", "build"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert f"{NOTICE.name}: 32 units," in out and "teachers-law-2009.txt:" in out
    assert "index: 2 document(s)" in out
    assert cli.main(["index", "info"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["chunk_count"] > 0


def test_index_build_that_cannot_write_is_a_setup_error(hash_model: Path, tmp_path: Path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the index folder should be", encoding="utf-8")
    assert cli.main(["index", "build", "--index-dir", str(blocker / "current")]) == cli.EXIT_SETUP
    assert "error: " in capsys.readouterr().err


def test_a_broken_settings_file_is_a_setup_error(hash_model: Path, tmp_path: Path, monkeypatch, capsys):
    bad = tmp_path / "settings.tsv"
    bad.write_text(lexicon.SETTINGS_FILE.read_text(encoding="utf-8").replace("max_extra\t3\t", "max_extra\tthree\t"), encoding="utf-8")
    monkeypatch.setattr(lexicon, "SETTINGS_FILE", bad)
    lexicon.reviewed_settings.cache_clear()
    try:
        assert cli.main(["index", "build"]) == cli.EXIT_SETUP
    finally:
        lexicon.reviewed_settings.cache_clear()  # the real file is read again once SETTINGS_FILE is restored
    assert f"error: {bad} line " in capsys.readouterr().err
    assert not hash_model.exists()


def test_serve_passes_workers(monkeypatch):
    calls: list[dict] = []
    monkeypatch.setitem(sys.modules, "assistant.web", types.SimpleNamespace(serve=lambda **kw: calls.append(kw | {"by": "web"})))
    monkeypatch.setattr("assistant.supervisor.serve_workers", lambda **kw: calls.append(kw | {"by": "supervisor"}))
    assert cli.main(["serve", "--workers", "3", "--port", "8123"]) == cli.EXIT_OK
    assert calls[0]["workers"] == 3 and calls[0]["port"] == 8123 and calls[0]["host"] == "127.0.0.1"
    assert calls[0]["by"] == "supervisor"  # N workers: the light supervisor, which never imports the web app
    assert cli.main(["serve"]) == cli.EXIT_OK and calls[1]["by"] == "web" and calls[1]["workers"] == 1
    with pytest.raises(SystemExit):
        cli.main(["serve", "--workers", "0"])


def test_index_build_fails_only_when_nothing_could_be_indexed(hash_model: Path, monkeypatch, capsys):
    monkeypatch.setattr("assistant.index.parse_corpus", lambda paths: [])  # every file skipped as unreadable
    assert cli.main(["index", "build"]) == cli.EXIT_SETUP
    assert "nothing to index" in capsys.readouterr().err
    assert not hash_model.exists()


def test_lexicon_audit_passes_on_the_evaluation_sets(capsys):
    # a rule that fires on one question only, or only on report-only questions, fails the audit (exit 1)
    assert cli.main(["lexicon", "audit", "--eval-dir", str(ROOT / "eval")]) == cli.EXIT_OK
    assert "0 fail" in capsys.readouterr().out
