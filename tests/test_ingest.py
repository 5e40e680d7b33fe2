"""Ingest: upload checks, parse previews, atomic copies into the corpus, the ingest/documents/remove commands."""

from __future__ import annotations

import argparse
import io
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.ingest import (
    MAX_RATIO,
    Refused,
    Status,
    UploadError,
    add_commands,
    check_upload,
    documents,
    ingest,
    preview,
    previews,
    remove,
    safe_name,
)

from . import render
from .conftest import NOTICE, HashEmbedder, unavailable

LAYOUTS = Path(__file__).parent / "data" / "layouts"
PLAN = LAYOUTS / "qinghe-admission-plan.txt"
MEASURES = LAYOUTS / "qinghe-management-measures.txt"


def test_preview_says_what_was_found():
    p = preview(PLAN)
    assert (p.doc_id, p.title, p.issuer, p.date, p.doc_number) == (
        "qinghe-admission-plan", "青禾区2031年义务教育招生入学工作实施方案", "青禾区教育局", "2031-04-02", "青教发〔2031〕7号")
    assert p.coverage == 1.0 and p.lines_total == p.lines_covered == 40
    assert dict(p.units_by_kind)["table_row"] == 3 and dict(p.units_by_level)[3] == 2
    assert p.first_items[:2] == ("一、 指导思想", "二、 招生对象与范围")
    assert "40/40 (100%)" in p.summary()


def test_preview_of_a_broken_file_is_an_error_not_an_exception(tmp_path: Path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 nothing else")
    p = preview(bad)
    assert p.error and "bad.pdf" in p.error and "FAILED" in p.summary()


@pytest.mark.parametrize(
    "name,safe",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\x\\招生 方案(2031).DOCX", "招生-方案(2031).docx"),
        (".hidden.md", "hidden.md"),
        ("a<b>|c?.pdf", "a-b-c.pdf"),
        ("\x00\x1f.html", "document.html"),
    ],
)
def test_safe_names(name: str, safe: str):
    assert safe_name(name) == safe


@given(st.text(max_size=300))
def test_safe_name_never_escapes_the_folder(name: str):
    out = safe_name(name)
    assert out and "/" not in out and "\\" not in out and not out.startswith(".")
    assert all(ch.isprintable() for ch in out) and len(out) <= 100 + 1 + len(out.rpartition(".")[2])


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_uploads_are_checked_by_size_content_and_zip_ratio(tmp_path: Path):
    with pytest.raises(UploadError, match="over the 10-byte limit") as refused:
        check_upload(PLAN, max_bytes=10)
    assert refused.value.reason is Refused.SIZE
    fake = tmp_path / "report.docx"
    fake.write_bytes(b"%PDF-1.7\n...")
    with pytest.raises(UploadError, match="content is not a .docx") as refused:
        check_upload(fake)
    assert refused.value.reason is Refused.CONTENT
    bomb = _zip(tmp_path / "bomb.docx", {"word/document.xml": b"<w/>", "word/media/x.bin": b"\0" * (4 << 20)})
    with pytest.raises(UploadError, match=f"zip bomb.*ratio {MAX_RATIO}") as refused:
        check_upload(bomb)
    assert refused.value.reason is Refused.ZIP_BOMB
    not_word = _zip(tmp_path / "other.docx", {"content.xml": b"<x/>" * 10})
    with pytest.raises(UploadError, match="without word/document.xml"):
        check_upload(not_word)
    binary = tmp_path / "notes.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    with pytest.raises(UploadError, match="not a .txt"):
        check_upload(binary)
    wide = tmp_path / "notepad.txt"  # UTF-16 with its BOM: NUL bytes, yet text
    wide.write_bytes("第一条 内容。".encode("utf-16"))
    assert check_upload(wide).name == "notepad.txt"
    nul = tmp_path / "nul.txt"
    nul.write_bytes("第一条".encode("utf-16-le"))  # no BOM: nothing says it is text
    with pytest.raises(UploadError, match="not a .txt"):
        check_upload(nul)
    with pytest.raises(UploadError, match="unsupported file type '.exe'"):
        check_upload(PLAN, name="setup.exe")
    page = tmp_path / "page.htm"
    page.write_text("<!DOCTYPE html><html><body><p>一、总则</p></body></html>", encoding="utf-8")
    upload = check_upload(page, name="../政策 页面.htm")
    assert upload.name == "政策-页面.htm" and len(upload.sha256) == 64


def test_ingest_applies_the_callers_size_limit(tmp_path: Path):
    [result] = ingest([PLAN], tmp_path / "corpus", max_bytes=10)
    assert result.status is Status.FAILED and "10-byte limit" in result.message and not (tmp_path / "corpus" / PLAN.name).exists()


def test_ingest_copies_skips_identical_and_renames_clashes(tmp_path: Path):
    corpus = tmp_path / "corpus"
    first = ingest([PLAN, MEASURES], corpus)
    assert [r.status for r in first] == [Status.ADDED, Status.ADDED]
    assert sorted(p.name for p in corpus.iterdir()) == ["qinghe-admission-plan.txt", "qinghe-management-measures.txt"]
    assert first[0].preview is not None and first[0].preview.coverage == 1.0
    again = ingest([PLAN], corpus)
    assert again[0].status is Status.SKIPPED and "identical to qinghe-admission-plan.txt" in again[0].message
    changed = tmp_path / "qinghe-admission-plan.md"
    changed.write_text(PLAN.read_text(encoding="utf-8") + "\n六、其他\n本方案由区教育局负责解释。\n", encoding="utf-8")
    clash = ingest([changed], corpus)
    assert clash[0].status is Status.ADDED and clash[0].doc_id == "qinghe-admission-plan-2" and "renamed" in clash[0].message
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04garbage")
    failed = ingest([broken], corpus)
    assert failed[0].status is Status.FAILED and "broken.docx" in failed[0].message
    assert not (corpus / "broken.docx").exists() and not list(corpus.glob(".*tmp*"))


def test_one_document_in_another_format_is_not_added_twice(tmp_path: Path):
    # A bureau posts a notice as .docx and as .pdf; both in the corpus, every answer would cite each quote twice.
    corpus = tmp_path / "corpus"
    text = MEASURES.read_text(encoding="utf-8")
    docx = render.to_docx(text, tmp_path / "measures.docx")
    page = render.to_html(text, tmp_path / "measures.html")
    results = ingest([docx, page, PLAN], corpus)
    assert [r.status for r in results] == [Status.ADDED, Status.SKIPPED, Status.ADDED]
    assert "the same text as measures.docx" in results[1].message and "remove measures first" in results[1].message
    revised = tmp_path / "measures-revised.txt"  # a revision, even of one article, is a document of its own
    revised.write_text(text.replace("2031年9月1日", "2032年1月1日"), encoding="utf-8")
    assert "2031年9月1日" in text and ingest([revised], corpus)[0].status is Status.ADDED
    by_hand = tmp_path / "by-hand"  # copied into the folder, not ingested: named in the build's per-file summary
    by_hand.mkdir()
    for path in (docx, page):
        (by_hand / path.name).write_bytes(path.read_bytes())
    first, second = previews([by_hand])
    assert not any("same text" in w for w in first.warnings) and "the same text as measures.docx" in second.summary()


def test_documents_and_remove(tmp_path: Path):
    corpus = tmp_path / "corpus"
    ingest([PLAN, MEASURES], corpus)
    listed = documents(corpus)
    assert [p.doc_id for p in listed] == ["qinghe-admission-plan", "qinghe-management-measures"]
    assert all(p.coverage == 1.0 and not p.error for p in listed)
    assert remove("qinghe-management-measures", corpus).name == "qinghe-management-measures.txt"
    with pytest.raises(KeyError, match="known: qinghe-admission-plan"):
        remove("qinghe-management-measures", corpus)


def _cli(tmp_path: Path) -> argparse.ArgumentParser:
    """The policyqa parser's shape: the shared options as a parent, the ingest commands added to it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, action="append")
    common.add_argument("--index-dir", type=Path)
    common.add_argument("--model")
    parser = argparse.ArgumentParser(prog="policyqa")
    add_commands(parser.add_subparsers(dest="command", required=True), parents=[common], load_embedder=lambda model: HashEmbedder())
    return parser


def _run(parser: argparse.ArgumentParser, argv: list[str], capsys) -> tuple[int, str]:
    args = parser.parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


def test_commands_ingest_list_remove_and_keep_the_index_current(tmp_path: Path, capsys):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / NOTICE.name).write_bytes(NOTICE.read_bytes())
    if not render.NOTO.is_file():
        unavailable(f"{render.NOTO} missing: apt-get install fonts-noto-cjk")
    font = render.cjk_font("".join(sorted(set(MEASURES.read_text(encoding="utf-8")))), tmp_path / "font.ttf")
    pdf = render.to_pdf(MEASURES.read_text(encoding="utf-8"), tmp_path / "measures.pdf", font)
    parser = _cli(tmp_path)
    where = ["--corpus", str(corpus), "--index-dir", str(index_dir)]

    code, out = _run(parser, ["ingest", str(PLAN), str(pdf), *where], capsys)
    assert code == 0 and "added: added as qinghe-admission-plan.txt" in out and "lines covered 40/40 (100%)" in out
    assert "index: " in out and "from 3 document(s)" in out
    manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(d["doc_id"] for d in manifest["documents"]) == ["dongli-2020-education-work-points", "measures", "qinghe-admission-plan"]

    code, out = _run(parser, ["ingest", str(PLAN), *where], capsys)
    assert code == 0 and out.startswith("skipped: ")

    code, out = _run(parser, ["documents", *where], capsys)
    assert code == 0 and "3 document(s)" in out and "《青禾区中小学课后服务管理办法》" in out

    code, out = _run(parser, ["remove", "measures", *where], capsys)
    assert code == 0 and "removed measures.pdf" in out and "from 2 document(s)" in out
    code, _ = _run(parser, ["remove", "measures", *where], capsys)
    assert code == 2


def test_an_incremental_ingest_equals_a_fresh_build(tmp_path: Path, capsys):
    from assistant.index import Index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / NOTICE.name).write_bytes(NOTICE.read_bytes())
    parser = _cli(tmp_path)
    _run(parser, ["ingest", str(NOTICE), "--corpus", str(corpus), "--index-dir", str(tmp_path / "a")], capsys)  # skipped
    _run(parser, ["ingest", str(PLAN), "--corpus", str(corpus), "--index-dir", str(tmp_path / "a")], capsys)
    fresh = Index.build([corpus], HashEmbedder())
    stepwise = Index.load(tmp_path / "a")
    assert [c.chunk_id for c in stepwise.chunks] == [c.chunk_id for c in fresh.chunks]
    assert [d.to_json() for d in stepwise.documents] == [d.to_json() for d in fresh.documents]


def test_dry_run_copies_nothing(tmp_path: Path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    code, out = _run(_cli(tmp_path), ["ingest", "--dry-run", str(PLAN), "--corpus", str(corpus)], capsys)
    assert code == 0 and "qinghe-admission-plan" in out and not list(corpus.iterdir())
    assert io.StringIO(out).readline().startswith("qinghe-admission-plan.txt → ")

    # A file no reader reads says how to convert it, and a dry run that could read nothing exits 2 for a script.
    old = tmp_path / "plan.doc"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    code, out = _run(_cli(tmp_path), ["ingest", "--dry-run", str(old), "--corpus", str(corpus)], capsys)
    assert code == 2 and "unsupported file type '.doc'" in out and "save it as .docx" in out
    code, _ = _run(_cli(tmp_path), ["ingest", "--dry-run", str(old), str(PLAN), "--corpus", str(corpus)], capsys)
    assert code == 0 and not list(corpus.iterdir())


def test_previews_summarise_a_build(tmp_path: Path):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4")
    found = previews([PLAN, tmp_path])
    assert [p.source for p in found] == ["broken.pdf", "qinghe-admission-plan.txt"]
    assert found[0].error and found[1].coverage == 1.0
    assert previews([tmp_path / "missing"]) == []
