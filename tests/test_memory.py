"""The question memory: labelled questions vote for the units that answered them."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.index import Index
from assistant.lexicon import REPORT_ONLY, Settings
from assistant.memory import Example, Memory, MemoryFileError, load_memory, read_examples
from assistant.parsing.model import UnitRef
from assistant.pipeline import PolicyQA

from .conftest import NOTICE, ROOT, HashEmbedder

NOTICE_ID = "dongli-2020-education-work-points"


def _unit(n: int | str) -> UnitRef:
    return UnitRef(NOTICE_ID, str(n))


def _memory(*rows: tuple[list[float], tuple[UnitRef, ...]]) -> Memory:
    vectors = np.asarray([v for v, _ in rows], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Memory([Example(f"q{i}", units, "a.jsonl") for i, (_, units) in enumerate(rows)], vectors)


def test_rows_are_read_and_a_bad_row_names_its_line(tmp_path: Path) -> None:
    good = tmp_path / "m.jsonl"
    good.write_text(
        json.dumps({"question": "学位够吗", "units": [f"{NOTICE_ID}#11"], "source": "eval/dev.jsonl", "corpus": [NOTICE_ID]}, ensure_ascii=False)
        + "\n\n"
        + json.dumps({"question": "南开区呢", "units": []}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    first, second = read_examples(good)
    assert first == Example("学位够吗", (_unit(11),), "eval/dev.jsonl", frozenset({NOTICE_ID}))
    assert first.answerable and not second.answerable
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "units": ["no-hash"]}\n', encoding="utf-8")
    with pytest.raises(MemoryFileError, match=r"bad\.jsonl:1: .*doc_id#key"):
        read_examples(bad)


def test_only_close_questions_vote_weighted_by_closeness() -> None:
    memory = _memory(([1, 0, 0], (_unit(20),)), ([0.99, 0.14, 0], (_unit(11), _unit(12))), ([0.95, 0, 0.31], ()), ([0, 1, 0], (_unit(3),)))
    vote = memory.vote(np.asarray([1, 0, 0], np.float32), k=5, floor=0.9, temperature=0.01)
    assert vote.nearest == pytest.approx(1.0)
    assert set(vote.units) == {f"{NOTICE_ID}#20", f"{NOTICE_ID}#11", f"{NOTICE_ID}#12"}  # unit 3 is far: no vote
    assert vote.for_unit(f"{NOTICE_ID}#20") > 2 * vote.for_unit(f"{NOTICE_ID}#11")  # the nearest weighs most
    assert vote.for_unit(f"{NOTICE_ID}#11") == pytest.approx(vote.for_unit(f"{NOTICE_ID}#12"))  # a two-unit label splits
    assert sum(vote.units.values()) + vote.abstain == pytest.approx(1.0)
    assert vote.abstain > 0  # the unanswerable row is close enough to vote
    far = memory.vote(np.asarray([0, 0, 1], np.float32), k=5, floor=0.9, temperature=0.01)
    assert far.units == {} and far.abstain == 0.0 and far.nearest < 0.9


def test_a_row_votes_only_over_an_index_it_was_labelled_for() -> None:
    law = UnitRef("teachers-law-2009", "7")
    rows = [
        Example("a", (_unit(20),), "x.jsonl", frozenset({NOTICE_ID})),
        Example("b", (law,), "y.jsonl", frozenset({NOTICE_ID, "teachers-law-2009"})),
        Example("c", (_unit(19),), "y.jsonl", frozenset({NOTICE_ID, "teachers-law-2009"})),
    ]
    memory = Memory(rows, np.eye(3, dtype=np.float32))
    notice_only = memory.scoped([f"{NOTICE_ID}#20", f"{NOTICE_ID}#19"], [NOTICE_ID])
    assert [e.question for e in notice_only.examples] == ["a", "c"]  # b's unit is not indexed
    both = memory.scoped([f"{NOTICE_ID}#20", f"{NOTICE_ID}#19", str(law)], [NOTICE_ID, "teachers-law-2009"])
    assert [e.question for e in both.examples] == ["b", "c"]  # a was labelled before the law was indexed
    assert [e.question for e in memory.without(["y.jsonl"]).examples] == ["a"]


def test_a_bad_row_or_a_missing_path_costs_only_itself(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = tmp_path / "m.jsonl"
    good = json.dumps({"question": "学位够吗", "units": [f"{NOTICE_ID}#11"]}, ensure_ascii=False)
    rows.write_text(f'{good}\n{{"question": "x", "units": ["no-hash"]}}\nnot json\n', encoding="utf-8")
    with caplog.at_level("WARNING", logger="assistant.memory"):
        memory = load_memory([rows, tmp_path / "typo"], HashEmbedder(), tmp_path / "cache")
    assert [e.question for e in memory.examples] == ["学位够吗"]
    logged = caplog.text
    assert "m.jsonl:2" in logged and "m.jsonl:3" in logged and "typo does not exist" in logged


def test_vectors_are_cached_checked_and_embedded_again_when_damaged(tmp_path: Path) -> None:
    class Counting(HashEmbedder):
        calls = 0

        def encode_queries(self, texts):
            Counting.calls += 1
            return super().encode_queries(texts)

    rows = tmp_path / "memory" / "m.jsonl"
    rows.parent.mkdir()
    rows.write_text(json.dumps({"question": "学位够吗", "units": [f"{NOTICE_ID}#11"]}, ensure_ascii=False) + "\n", encoding="utf-8")
    cache = tmp_path / "cache"
    first = load_memory([rows.parent], Counting(), cache)
    second = load_memory([rows.parent], Counting(), cache)
    assert Counting.calls == 1 and np.array_equal(first.vectors, second.vectors)
    (cached,) = cache.glob("*.npy")
    cached.write_bytes(cached.read_bytes()[:-4] + b"\0\0\0\1")
    third = load_memory([rows.parent], Counting(), cache)
    assert Counting.calls == 2 and np.array_equal(first.vectors, third.vectors)
    assert len(load_memory([tmp_path / "absent"], Counting(), cache)) == 0


def test_an_unwritable_cache_only_costs_embedding_again(tmp_path: Path) -> None:
    rows = tmp_path / "m.jsonl"
    rows.write_text(json.dumps({"question": "学位够吗", "units": []}, ensure_ascii=False) + "\n", encoding="utf-8")
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # a cache folder inside a file cannot be made, even by root
    assert len(load_memory([rows], HashEmbedder(), blocked / "cache")) == 1


@pytest.fixture(scope="module")
def notice_index() -> Index:
    return Index.build([NOTICE], HashEmbedder())


QUESTION = "学校操场周末开放吗"


def test_a_labelled_question_leads_retrieval_to_its_unit(notice_index: Index) -> None:
    emb = HashEmbedder()
    memory = Memory([Example(QUESTION, (_unit(3),), "tune.jsonl")], emb.encode_queries([QUESTION]))
    loud = Settings(dense=0.0, memory_weight=5.0, memory_floor=0.99)
    plain = PolicyQA(notice_index, emb, settings=loud)
    assert plain.ask(QUESTION).citations[0].point != 3
    remembering = PolicyQA(notice_index, emb, settings=loud, memory=memory)
    assert len(remembering.memory) == 1
    assert remembering.ask(QUESTION).citations[0].point == 3
    remembering.forget(["tune.jsonl"])  # an evaluation of tune.jsonl does not hear its own labels
    assert remembering.ask(QUESTION).citations[0].point != 3


def test_the_vote_lets_thin_evidence_answer_but_never_supplies_an_absent_fact(notice_index: Index) -> None:
    emb = HashEmbedder()
    question, asks_date = "外地孩子上学那事咋整", "外地孩子上学几月几号报名"
    memory = Memory([Example(q, (_unit(12),), "t.jsonl") for q in (question, asks_date)], emb.encode_queries([question, asks_date]))
    strict = Settings(dense=0.99, coverage=0.99, memory_weight=5.0, memory_floor=0.99)
    assert PolicyQA(notice_index, emb, settings=strict).ask(question).abstained
    answered = PolicyQA(notice_index, emb, settings=strict, memory=memory).ask(question)
    assert not answered.abstained and answered.citations[0].point == 12
    off = dataclasses.replace(strict, memory_answer=1.01)
    assert PolicyQA(notice_index, emb, settings=off, memory=memory).ask(question).abstained
    # Point 12 gives no date: the memory knows the topic, not the fact.
    assert PolicyQA(notice_index, emb, settings=strict, memory=memory).ask(asks_date).coverage.value != "full"


def _shipped() -> list[Example]:
    return [e for f in sorted((ROOT / "memory").glob("*.jsonl")) for e in read_examples(f)]


def test_no_report_only_question_is_in_the_shipped_memory() -> None:
    shipped = _shipped()
    assert len(shipped) > 1000
    assert not {Path(e.source).stem for e in shipped} & set(REPORT_ONLY)
    reported = {
        json.loads(line)["question"].strip()
        for name in set(REPORT_ONLY) - {"real_all"}  # real_tune + real_report
        if (ROOT / "eval" / f"{name}.jsonl").is_file()
        for line in (ROOT / "eval" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    leaked = [e.question for e in shipped if e.question in reported]
    assert not leaked, f"report-only questions in memory/: {leaked[:3]}"


def test_the_shipped_memory_is_what_the_script_writes_from_the_tuning_sets(tmp_path: Path, laws_dir: Path) -> None:
    """memory/*.jsonl is generated, never edited by hand: rebuilding it from eval/ gives the same rows."""
    env = {**os.environ, "PYTHON": sys.executable, "MEMORY_OUT": str(tmp_path), "POLICYQA_SHARED": str(laws_dir.parents[1])}
    subprocess.run(["sh", str(ROOT / "scripts" / "build_memory.sh")], check=True, env=env, capture_output=True)
    for shipped in sorted((ROOT / "memory").glob("*.jsonl")):
        assert (tmp_path / shipped.name).read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8"), shipped.name


def test_a_near_paraphrase_of_unanswered_questions_is_declined(notice_index: Index) -> None:
    emb = HashEmbedder()
    question = "学校操场对外开放吗"
    lenient = Settings(dense=0.0, coverage=0.0)
    assert not PolicyQA(notice_index, emb, settings=lenient).ask(question).abstained
    unanswered = Memory([Example(question, (), "t.jsonl")], emb.encode_queries([question]))
    assert PolicyQA(notice_index, emb, settings=lenient, memory=unanswered).ask(question).abstained
    never = dataclasses.replace(lenient, memory_decline=1.01)
    assert not PolicyQA(notice_index, emb, settings=never, memory=unanswered).ask(question).abstained


def test_a_vote_narrowed_to_the_documents_a_question_names() -> None:
    law = UnitRef("teachers-law-2009", "25")
    memory = Memory([Example("a", (law,), "x.jsonl"), Example("b", (_unit(18),), "x.jsonl")], np.asarray([[1, 0], [0.995, 0.0999]], np.float32))
    vote = memory.vote(np.asarray([1, 0], np.float32), k=5, floor=0.9, temperature=0.01)
    assert set(vote.units) == {str(law), str(_unit(18))}
    narrowed = vote.within(frozenset({NOTICE_ID}))
    assert set(narrowed.units) == {str(_unit(18))} and narrowed.for_unit(str(_unit(18))) == vote.for_unit(str(_unit(18)))


def test_a_question_led_by_an_unlabelled_document_is_not_pulled_to_another(tmp_path: Path) -> None:
    rules = tmp_path / "bus-rules.txt"
    rules.write_text("某区校车管理办法\n第一条 校车驾驶人应当每日出车前检查车辆制动和轮胎。\n第二条 本办法自公布之日起施行。\n", encoding="utf-8")
    emb = HashEmbedder()
    index = Index.build([NOTICE, rules], emb)
    question = "校车驾驶人出车前要检查什么"
    pull = Example(question, (_unit(3),), "t.jsonl")
    loud = Settings(dense=0.0, memory_weight=5.0, memory_floor=0.99)
    assert PolicyQA(index, emb, settings=loud).ask(question).citations[0].doc_id == "bus-rules"
    # Nobody has labelled a question about the bus rules: the memory cannot tell them from the notice.
    unknown = Memory([pull], emb.encode_queries([question]))
    assert PolicyQA(index, emb, settings=loud, memory=unknown).ask(question).citations[0].doc_id == "bus-rules"
    known = Memory([pull, Example("本办法什么时候施行", (UnitRef("bus-rules", "2"),), "t.jsonl")], emb.encode_queries([question, "本办法什么时候施行"]))
    assert PolicyQA(index, emb, settings=loud, memory=known).ask(question).citations[0].point == 3


def test_a_question_whose_near_tie_holds_an_unlabelled_document_is_not_pulled_to_another(tmp_path: Path) -> None:
    """Led by the notice, but with a unit of a document nobody has labelled questions about within tie_ratio of it:
    the memory cannot tell the two apart either, so it stays silent (区招生中心在哪 is no 资助中心 question)."""
    rules = tmp_path / "bus-rules.txt"
    rules.write_text("某区校车管理办法\n第一条 校车驾驶人应当每日出车前检查车辆制动和轮胎。\n第二条 本办法自公布之日起施行。\n", encoding="utf-8")
    emb = HashEmbedder()
    index = Index.build([NOTICE, rules], emb)
    question = "校车驾驶人出车前要检查什么"
    memory = Memory([Example(question, (_unit(3),), "t.jsonl")], emb.encode_queries([question]))
    retriever = PolicyQA(index, emb, settings=Settings(memory_floor=0.5), memory=memory).retriever
    notice, bus = retriever.unit_keys.index(str(_unit(3))), retriever.unit_keys.index("bus-rules#1")
    fused = np.zeros(len(retriever.unit_keys), dtype=np.float32)
    fused[notice], fused[bus] = 1.0, retriever.settings.tie_ratio + 0.01
    vector = emb.encode_queries([question])[0]
    assert retriever._vote(vector, fused, frozenset()).units == {}
    fused[bus] = retriever.settings.tie_ratio - 0.1  # no longer a near tie: the labels speak
    assert retriever._vote(vector, fused, frozenset()).units == {str(_unit(3)): 1.0}
