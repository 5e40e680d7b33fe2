from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.chunking import Level, chunk_corpus, chunk_document
from assistant.index import Index, IndexDamagedError, IndexMismatchError, IndexMissingError, corpus_hash, load_or_build
from assistant.keywords import Tokenizer, harvest_terms
from assistant.lexicon import Settings
from assistant.parsing import parse_file

from .conftest import HASH_SETTINGS, NOTICE, ROOT, HashEmbedder


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
    assert target.is_symlink() and target.resolve().parent == target.parent / "builds"
    assert not [p for p in (*target.parent.iterdir(), *(target.parent / "builds").iterdir()) if p.name.startswith(".")], "temporary folders must not be left behind"


def test_manifest_records_the_settings_without_forcing_rebuilds(corpus: Path, tmp_path: Path):
    target = tmp_path / "idx"
    load_or_build([corpus], target, HashEmbedder())
    path = target / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest["settings"] == Settings().to_json() and manifest["settings"]["dense"] == Settings().dense
    version = Index.current_version(target)
    # Built under other knobs: informational only, the index is still loaded as it is.
    path.write_text(json.dumps(manifest | {"settings": Settings(dense=0.5).to_json()}), encoding="utf-8")
    emb = CountingEmbedder()
    loaded = load_or_build([corpus], target, emb)
    assert emb.embedded == 0 and Index.current_version(target) == version and loaded.manifest.settings["dense"] == 0.5


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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["builds", "corpus", "idx"]
    assert [p.name for p in (tmp_path / "builds").iterdir()] == [target.resolve().name]  # the failed build left nothing


def test_multi_document_index(laws_dir: Path, corpus: Path):
    index = Index.build([corpus, laws_dir / "teachers-law-2009.txt"], HashEmbedder())
    assert {d.doc_id for d in index.documents} == {NOTICE.stem, "teachers-law-2009"}
    assert "teachers-law-2009#6" in index.units
    assert index.units["teachers-law-2009#6"][1].text == "每年九月十日为教师节。"


# -- integrity: a damaged index is detected, named and rebuilt -----------------------------------
EXAMPLE = "今年民办学校招生报名人数超过计划怎么办？"


def _truncate(folder: Path) -> str:
    f = folder / "vectors.faiss"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    return "vectors.faiss"


def _garble_line(folder: Path) -> str:
    f = folder / "chunks.jsonl"
    lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3][:20] + "\n"
    f.write_text("".join(lines), encoding="utf-8")
    return "chunks.jsonl"


def _delete_keywords(folder: Path) -> str:
    for p in (folder / "keywords").rglob("*.npy"):
        p.unlink()
    return "keywords/bm25/"


def _flip_byte(folder: Path) -> str:
    f = folder / "documents.json"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    return "documents.json"


def _answer_point(index: Index) -> int | None:
    from assistant.pipeline import PolicyQA

    answer = PolicyQA(index, HashEmbedder(), settings=HASH_SETTINGS).ask(EXAMPLE)
    return answer.citations[0].point if answer.citations else None


@pytest.mark.parametrize("damage", [_truncate, _garble_line, _delete_keywords, _flip_byte])
def test_damaged_index_is_named_and_rebuilt(damage, corpus: Path, tmp_path: Path):
    target = tmp_path / "idx"
    good = load_or_build([corpus], target, HashEmbedder())
    expected = _answer_point(good)
    assert expected == 20
    name = damage(target.resolve())
    with pytest.raises(IndexDamagedError, match=re.escape(name)) as info:
        Index.load(target)
    assert "policyqa index build" in str(info.value)
    with pytest.raises(IndexDamagedError, match=re.escape(name)):
        load_or_build([corpus], target, HashEmbedder(), allow_build=False)  # --no-rebuild refuses with the same message
    messages: list[str] = []
    healed = load_or_build([corpus], target, HashEmbedder(), progress=messages.append)
    assert any(name in m and "building it now" in m for m in messages)
    assert _answer_point(healed) == expected
    Index.load(target)  # the saved index verifies again


def test_unverified_old_index_still_names_an_unreadable_line(corpus: Path, tmp_path: Path):
    legacy = _legacy_folder(corpus, tmp_path / "idx")
    _garble_line(legacy)
    with pytest.raises(IndexDamagedError, match=r"chunks\.jsonl line 4 is unreadable"):
        Index.load(legacy)


def test_no_rebuild_refuses_a_missing_or_stale_index(corpus: Path, tmp_path: Path, monkeypatch):
    target = tmp_path / "idx"
    monkeypatch.setenv("POLICYQA_NO_REBUILD", "1")
    with pytest.raises(IndexMissingError, match="policyqa index build"):
        load_or_build([corpus], target, HashEmbedder())
    assert not target.exists()
    load_or_build([corpus], target, HashEmbedder(), allow_build=True)
    with pytest.raises(IndexMismatchError, match="not 'hash-other'"):
        load_or_build([corpus], target, HashEmbedder("hash-other"))


# -- the atomic swap ---------------------------------------------------------------------------------
def _legacy_folder(corpus: Path, folder: Path) -> Path:
    """An index in the layout of the previous version: a plain folder, a manifest without checksums."""
    index = Index.build([corpus], HashEmbedder())
    folder.mkdir(parents=True)
    index._write(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"], manifest["reused_vectors"], manifest["settings"]
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_old_plain_folder_is_read_then_migrated(corpus: Path, tmp_path: Path):
    target = _legacy_folder(corpus, tmp_path / "idx")
    old = Index.load(target)
    assert not old.manifest.files and _answer_point(old) == 20
    version = Index.current_version(target)
    migrated = load_or_build([corpus], target, HashEmbedder())
    assert migrated.manifest.built_at == old.manifest.built_at  # loaded, not rebuilt
    assert target.is_symlink() and Index.load(target).manifest.files
    assert Index.current_version(target) != version
    assert sorted(p.name for p in tmp_path.iterdir()) == ["builds", "corpus", "idx"]


def test_swap_keeps_two_builds_and_clears_leftovers(corpus: Path, tmp_path: Path):
    target = tmp_path / "idx"
    builds = tmp_path / "builds"
    sibling = load_or_build([corpus], tmp_path / "other", HashEmbedder())  # another index beside it is left alone
    versions = []
    for n in range(3):
        (corpus / NOTICE.name).write_text(NOTICE.read_text(encoding="utf-8") + f"\n31、新增第{n}条。内容{n}。\n", encoding="utf-8")
        load_or_build([corpus], target, HashEmbedder())
        versions.append(Index.current_version(target))
        assert Index.load(target).manifest.content_hash.startswith(versions[-1])
    assert len(set(versions)) == 3
    # A writer killed mid-build leaves its temporary folder; the next save removes it (its pid is gone).
    dead = builds / ".idx-tmp-999999999-0a0b0c0d"
    dead.mkdir()
    (dead / "chunks.jsonl").write_text("half", encoding="utf-8")
    (corpus / NOTICE.name).write_text(NOTICE.read_text(encoding="utf-8"), encoding="utf-8")
    load_or_build([corpus], target, HashEmbedder())
    mine = sorted(p.name for p in builds.iterdir() if p.name.startswith(("idx", ".idx")))
    assert mine == sorted([target.resolve().name, f"idx-{versions[-1]}"])
    assert (tmp_path / "other").resolve().is_dir() and Index.load(tmp_path / "other").manifest == sibling.manifest


def test_lost_link_falls_back_to_the_newest_complete_build(corpus: Path, tmp_path: Path):
    target = tmp_path / "idx"
    built = load_or_build([corpus], target, HashEmbedder())
    version = Index.current_version(target)
    target.unlink()
    assert Index.load(target).manifest.content_hash == built.manifest.content_hash
    assert target.is_symlink() and Index.current_version(target) == version


def test_vectors_are_memory_mapped_read_only(corpus: Path, tmp_path: Path):
    target = tmp_path / "idx"
    load_or_build([corpus], target, HashEmbedder())
    index = Index.load(target)
    mapped = [line for line in Path("/proc/self/maps").read_text().splitlines() if str(target.resolve() / "vectors.faiss") in line]
    assert mapped, "vectors.faiss should be memory-mapped"
    assert not index.vectors.flags.writeable
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)


# -- incremental builds -------------------------------------------------------------------------------
class CountingEmbedder(HashEmbedder):
    def __init__(self, model_id: str = "hash-bigram-64"):
        super().__init__(model_id)
        self.embedded = 0

    def encode_passages(self, texts, *, batch_size: int = 32, show_progress: bool = False):
        self.embedded += len(texts)
        return super().encode_passages(texts)


def test_incremental_build_equals_a_build_from_scratch(corpus: Path, laws_dir: Path, tmp_path: Path):
    target = tmp_path / "idx"
    load_or_build([corpus], target, HashEmbedder())
    shutil.copy(laws_dir / "teachers-law-2009.txt", corpus)
    (corpus / NOTICE.name).write_text(NOTICE.read_text(encoding="utf-8").replace("实行电脑摇号随机录取", "实行电脑随机录取"), encoding="utf-8")
    emb = CountingEmbedder()
    incremental = load_or_build([corpus], target, emb)
    scratch = Index.build([corpus], HashEmbedder())
    assert [c.chunk_id for c in incremental.chunks] == [c.chunk_id for c in scratch.chunks]
    assert np.array_equal(incremental.vectors, scratch.vectors)
    assert 0 < incremental.manifest.reused_vectors < len(scratch.chunks)
    assert emb.embedded == len(scratch.chunks) - incremental.manifest.reused_vectors
    assert _answer_point(incremental) == _answer_point(scratch) == 20
    reloaded = Index.load(target)
    assert np.array_equal(reloaded.vectors, scratch.vectors)
    docs = {d["doc_id"]: d for d in reloaded.manifest.documents}
    assert docs["teachers-law-2009"]["chunks"] == sum(c.doc_id == "teachers-law-2009" for c in scratch.chunks)
    assert all(len(d["sha256"]) == 64 for d in docs.values())


def test_other_model_reuses_nothing(corpus: Path, tmp_path: Path):
    target = tmp_path / "idx"
    load_or_build([corpus], target, HashEmbedder())
    emb = CountingEmbedder("hash-other")
    index = load_or_build([corpus], target, emb)
    assert index.manifest.reused_vectors == 0 and emb.embedded == index.manifest.chunk_count


def test_list_items_and_table_rows_are_also_read_under_their_heading():
    from assistant.parsing import parse_corpus

    fiction = ROOT / "tests" / "data" / "fiction" / "qinglan-after-school-service-notice.txt"
    chunks = chunk_corpus(parse_corpus([NOTICE, fiction]))
    context = {c.unit_key: c.text for c in chunks if c.level is Level.CONTEXT}
    assert context["qinglan-after-school-service-notice#6、①"].startswith("6、安全管理：学校要建立学生考勤")
    # A table row is read under its table's own numbered caption, which names what the rows hold.
    assert context["qinglan-after-school-service-notice#5、表1第2行"].startswith("表1 青岚区义务教育学校课后服务收费标准：服务项目：小学第二时段")
    assert not any(key.startswith("dongli-") for key in context)  # work points stand alone


def test_a_list_item_inside_an_article_is_also_read_under_its_lead_in():
    doc = parse_file(ROOT / "tests" / "data" / "fiction_extra" / "qinglan-teacher-exchange-rotation-measures.txt")
    chunks = [c for c in chunk_document(doc) if c.unit_key.endswith("#19")]
    sentences = {c.sentence: c.text for c in chunks if c.level is Level.SENTENCE}
    read = {c.sentence: c.text for c in chunks if c.level is Level.CONTEXT}
    lead = "区教育局统筹调配交流教师去向时，按照以下顺序综合考虑："
    # Every item, and only the items, under the lead-in; the sentence after the list is read alone.
    assert sorted(read) == [i for i, t in sentences.items() if t.startswith("（")] and len(read) == 4
    assert all(read[i] == f"{lead}{sentences[i]}" for i in read)
    assert read[3].endswith("原则上单程不超过40公里；")
    assert not any("优先在集团学区内安排" in t for t in read.values())


def test_each_unit_is_also_embedded_under_its_documents_title_and_never_keyword_indexed(tmp_path: Path):
    from assistant.parsing import parse_corpus
    from assistant.retrieval import Retriever

    fiction = ROOT / "tests" / "data" / "fiction" / "qinglan-school-bus-management-measures.txt"
    docs = parse_corpus([NOTICE, fiction])
    chunks = chunk_corpus(docs)
    titled = [c for c in chunks if c.level is Level.TITLED]
    assert len(titled) == len({c.unit_key for c in chunks if c.level is Level.UNIT})  # one per unit
    assert all(c.level is Level.TITLED for c in chunks[len(chunks) - len(titled) :])  # after every plain chunk
    bus = next(c for c in titled if c.unit_key == f"{docs[1].doc_id}#15")
    assert bus.text.startswith(f"{docs[1].title}：") and bus.sentence is None
    index = Index.build([NOTICE, fiction], HashEmbedder())
    assert index.keywords.n_docs == len(chunks) - len(titled)  # BM25 never sees a title's words on every unit
    retriever = Retriever(index, HashEmbedder())
    dense = np.zeros(len(chunks), dtype=np.float32)
    dense[[i for i, c in enumerate(chunks) if c.level is Level.TITLED and c.doc_id == docs[1].doc_id]] = 1.0
    blended = retriever._titled(np.zeros(len(retriever.unit_keys), dtype=np.float32), dense)
    on_bus = np.asarray([k.startswith(docs[1].doc_id) for k in retriever.unit_keys])
    w = retriever.settings.title_weight
    assert w > 0 and np.allclose(blended[on_bus], w / (1 + w)) and np.allclose(blended[~on_bus], 0.0)
    alone = Retriever(Index.build([fiction], HashEmbedder()), HashEmbedder())  # one document: its title tells nothing apart
    unit_dense = np.linspace(0.5, 0.9, len(alone.unit_keys)).astype(np.float32)
    assert np.array_equal(alone._titled(unit_dense, np.ones(len(alone.index.chunks), dtype=np.float32)), unit_dense)


# -- the vector index kind, chosen by size and recorded in the manifest -------------------------------
def test_served_index_is_flat_for_the_notice_and_chosen_by_size(corpus: Path, tmp_path: Path, monkeypatch):
    import faiss

    from assistant import vectors

    notice = load_or_build([corpus], tmp_path / "small", HashEmbedder())
    assert notice.manifest.index_kind == "flat" and notice.manifest.search_params == {}
    assert type(notice.faiss) is faiss.IndexFlatIP
    monkeypatch.setattr(vectors, "FLAT_MAX", 100)  # the notice's ~300 chunks now count as a large corpus
    large = load_or_build([corpus], tmp_path / "large", HashEmbedder())
    assert large.manifest.index_kind == "hnsw"
    assert large.manifest.search_params == {"M": vectors.HNSW_M, "efSearch": vectors.HNSW_EF_SEARCH}
    on_disk = json.loads((tmp_path / "large" / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["index_kind"] == "hnsw" and on_disk["search_params"]["efSearch"] == vectors.HNSW_EF_SEARCH
    assert isinstance(Index.load(tmp_path / "large").faiss, faiss.IndexHNSWFlat)


def _top10(index: Index, emb: HashEmbedder) -> np.ndarray:
    q = emb.encode_queries(["电脑摇号随机录取", "民办学校招生", "课后服务", "教师培训"]).astype(np.float32)
    return index.faiss.search(q, 10)[1]


@pytest.mark.parametrize(("kind", "setting", "value"), [("hnsw", "efSearch", 48), ("ivfsq8", "nprobe", 3)])
def test_approximate_kinds_round_trip_with_their_search_settings(kind: str, setting: str, value: int, corpus: Path, tmp_path: Path):
    from assistant.vectors import search_params

    emb, target = HashEmbedder(), tmp_path / "idx"
    built = Index.build([corpus], emb, kind=kind)
    built.save(target)
    loaded = Index.load(target, expect_model=emb.model_id, expect_corpus_hash=corpus_hash([corpus]))
    assert loaded.manifest.index_kind == kind and search_params(loaded.faiss) == built.manifest.search_params != {}
    assert np.array_equal(_top10(loaded, emb), _top10(built, emb))
    # The manifest, not only the FAISS file, holds the setting: changed there, it is what the loaded index uses.
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    manifest["search_params"][setting] = value
    (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert search_params(Index.load(target).faiss)[setting] == value
    assert loaded.vectors.shape == (loaded.manifest.chunk_count, loaded.manifest.dimension)


def test_an_index_of_another_kind_than_its_size_picks_still_loads(corpus: Path, tmp_path: Path, caplog):
    import faiss

    target = tmp_path / "idx"
    Index.build([corpus], HashEmbedder(), kind="hnsw").save(target)
    built_at = Index.load(target).manifest.built_at
    served = load_or_build([corpus], target, HashEmbedder())  # choose_kind says Flat for ~300 chunks: served as HNSW, not rebuilt
    assert isinstance(served.faiss, faiss.IndexHNSWFlat) and served.manifest.built_at == built_at
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    (target / "manifest.json").write_text(json.dumps(manifest | {"index_kind": "ivfsq8"}), encoding="utf-8")
    with caplog.at_level("WARNING", logger="assistant.index"):
        assert isinstance(Index.load(target).faiss, faiss.IndexHNSWFlat)
    assert "the manifest says a ivfsq8 vector index, the file holds hnsw" in caplog.text
    older = {k: v for k, v in manifest.items() if k not in ("index_kind", "search_params")}  # written before the choice by size
    (target / "manifest.json").write_text(json.dumps(older), encoding="utf-8")
    old = Index.load(target)
    assert old.manifest.index_kind == "flat" and old.manifest.search_params == {} and isinstance(old.faiss, faiss.IndexHNSWFlat)


def test_lossy_vectors_are_not_reused(corpus: Path, tmp_path: Path):
    target = tmp_path / "idx"
    Index.build([corpus], HashEmbedder(), kind="ivfsq8").save(target)
    emb = CountingEmbedder()
    rebuilt = load_or_build([corpus], target, emb, rebuild=True)
    assert rebuilt.manifest.reused_vectors == 0 and emb.embedded == rebuilt.manifest.chunk_count
    Index.build([corpus], HashEmbedder(), kind="hnsw").save(target)
    exact = load_or_build([corpus], target, CountingEmbedder(), rebuild=True)
    assert exact.manifest.reused_vectors == exact.manifest.chunk_count
