from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.chunking import Level, chunk_corpus, chunk_document
from assistant.index import Index, IndexMismatchError, IndexMissingError, corpus_hash, load_or_build
from assistant.keywords import Tokenizer, harvest_terms
from assistant.parsing import parse_file

from .conftest import NOTICE, HashEmbedder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    shutil.copy(NOTICE, d)
    return d


def test_chunks_carry_their_place():
    doc = parse_file(NOTICE)
    chunks = chunk_document(doc)
    units = [c for c in chunks if c.level is Level.UNIT]
    assert len(units) == 32  # header + preamble + 30 points
    c20 = next(c for c in units if c.point == 20)
    assert c20.doc_title == "天津市东丽区2020年教育工作要点"
    assert c20.point_title == "深化教育综合改革"
    assert c20.part.startswith("五、")
    assert c20.path == "《天津市东丽区2020年教育工作要点》五、以提升保障能力为重点，努力夯实教育可持续发展的基础 › 20、深化教育综合改革"
    sentences = [c for c in chunks if c.unit_key == c20.unit_key and c.level is Level.SENTENCE]
    assert [c.sentence for c in sentences] == list(range(len(doc.unit(20).sentences)))
    assert all(c.point == 20 for c in sentences)


def test_chunk_ids_are_stable_and_unique():
    a = chunk_corpus([parse_file(NOTICE)])
    b = chunk_corpus([parse_file(NOTICE)])
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert len({c.chunk_id for c in a}) == len(a)


def test_chunk_id_changes_only_where_text_changes(tmp_path: Path):
    text = NOTICE.read_text(encoding="utf-8")
    edited = tmp_path / NOTICE.name
    edited.write_text(text.replace("实行电脑摇号随机录取", "实行电脑随机录取"), encoding="utf-8")
    before = {(c.unit_key, c.sentence): c.chunk_id for c in chunk_document(parse_file(NOTICE))}
    after = {(c.unit_key, c.sentence): c.chunk_id for c in chunk_document(parse_file(edited))}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {(f"{NOTICE.stem}#20", None), (f"{NOTICE.stem}#20", 2)}


def test_harvested_terms_and_tokenizer():
    terms = harvest_terms(u.text for u in parse_file(NOTICE).units)
    for term in ("1+X", "5所小学", "2所中学", "第十四届", "95%", "学籍空挂", "鲁班工坊"):
        assert term in terms
    tok = Tokenizer(terms)
    tokens = tok("推行“1+X”证书制度，计划建设5所小学")
    assert "1+x" in tokens  # lower-cased, kept whole
    assert "5所小学" in tokens and "小学" in tokens
    assert "，" not in tokens and "的" not in tok("学校的")
    assert set(tok.expand("孩子被欺负了，补课班乱收费")) >= {"校园", "欺凌", "校外", "培训", "机构", "收费", "公示"}
    assert tok.expand("2020年计划建设几所小学") == []


def test_save_load_round_trip(corpus: Path, tmp_path: Path):
    emb = HashEmbedder()
    built = Index.build([corpus], emb)
    target = tmp_path / "index" / "current"
    built.save(target)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    for key in ("format_version", "model", "dimension", "corpus_hash", "chunk_count", "built_at", "build_seconds", "built_by"):
        assert key in manifest
    assert manifest["model"] == "hash-bigram-64" and manifest["dimension"] == 64
    loaded = Index.load(target, expect_model=emb.model_id, expect_corpus_hash=corpus_hash([corpus]))
    assert [c.chunk_id for c in loaded.chunks] == [c.chunk_id for c in built.chunks]
    assert np.allclose(loaded.vectors, built.vectors)
    assert loaded.documents == built.documents
    tokens = loaded.keywords.tokenizer("电脑摇号随机录取")
    assert np.allclose(loaded.keywords.scores(tokens), built.keywords.scores(tokens))
    assert not list(target.parent.glob(".current.*")), "temporary directories must not be left behind"


def test_load_rejects_mismatched_manifest(corpus: Path, tmp_path: Path):
    target = tmp_path / "idx"
    Index.build([corpus], HashEmbedder()).save(target)
    with pytest.raises(IndexMismatchError, match="built with model 'hash-bigram-64', not 'other-model'"):
        Index.load(target, expect_model="other-model")
    with pytest.raises(IndexMismatchError, match="corpus changed"):
        Index.load(target, expect_corpus_hash="0" * 64)
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    (target / "manifest.json").write_text(json.dumps(manifest | {"chunk_count": 3}), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="inconsistent"):
        Index.load(target)
    (target / "manifest.json").write_text(json.dumps(manifest | {"format_version": 999}), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="index format 999"):
        Index.load(target)
    with pytest.raises(IndexMissingError, match="policyqa index build"):
        Index.load(tmp_path / "nowhere")


def test_load_or_build_rebuilds_on_change(corpus: Path, tmp_path: Path):
    target = tmp_path / "idx"
    first = load_or_build([corpus], target, HashEmbedder())
    again = load_or_build([corpus], target, HashEmbedder())
    assert again.manifest.built_at == first.manifest.built_at  # loaded, not rebuilt
    other_model = load_or_build([corpus], target, HashEmbedder("hash-other"))
    assert other_model.manifest.model == "hash-other"
    (corpus / NOTICE.name).write_text(NOTICE.read_text(encoding="utf-8") + "\n31、新增一条。内容。\n", encoding="utf-8")
    changed = load_or_build([corpus], target, HashEmbedder("hash-other"))
    assert changed.manifest.corpus_hash != other_model.manifest.corpus_hash
    assert changed.manifest.chunk_count > other_model.manifest.chunk_count


def test_failed_save_keeps_the_old_index(corpus: Path, tmp_path: Path, monkeypatch):
    target = tmp_path / "idx"
    index = Index.build([corpus], HashEmbedder())
    index.save(target)
    before = (target / "manifest.json").read_text(encoding="utf-8")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index.keywords, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        index.save(target)
    assert (target / "manifest.json").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "idx"]


def test_multi_document_index(laws_dir: Path, corpus: Path):
    index = Index.build([corpus, laws_dir / "teachers-law-2009.txt"], HashEmbedder())
    assert {d.doc_id for d in index.documents} == {NOTICE.stem, "teachers-law-2009"}
    assert "teachers-law-2009#6" in index.units
    assert index.units["teachers-law-2009#6"][1].text == "每年九月十日为教师节。"
