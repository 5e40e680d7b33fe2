"""Ingest every test document in every format into a temporary corpus; print time, units and line coverage.

    python scripts/ingest_timing.py                       # tests/data/fiction/*.txt (else tests/data/layouts)
    python scripts/ingest_timing.py --index               # also update an index with the real model after each ingest
    python scripts/ingest_timing.py docs/a.txt docs/b.txt

Each document is rendered to .docx, .pdf and .html with tests/render.py (the same renderer the tests use),
then `assistant.ingest.ingest` checks, parses and copies it; the time is the wall time of that call
(and, with --index, of `load_or_build` on the corpus that now holds it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.ingest import Status, ingest  # noqa: E402 - after the path insert
from tests import render  # noqa: E402 - after the path insert

FORMATS = ("txt", "docx", "pdf", "html")


def _documents(args: list[str]) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    fiction = sorted((ROOT / "tests" / "data" / "fiction").glob("*.txt"))
    return fiction or sorted((ROOT / "tests" / "data" / "layouts").glob("*.txt"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("documents", nargs="*")
    parser.add_argument("--index", action="store_true", help="update an index with the real embedding model after each ingest")
    args = parser.parse_args()
    docs = _documents(args.documents)
    embedder = None
    if args.index:
        from assistant.embedding import load_embedder

        embedder = load_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        chars = "".join(sorted({ch for d in docs for ch in d.read_text(encoding="utf-8")} | set("青禾区教育局")))
        font = render.cjk_font(chars, work / "font.ttf")
        print(f"{'document':42} {'format':6} {'ingest s':>9} {'index s':>8} {'units':>6} {'coverage':>9}  warnings")
        per_format: dict[str, list[float]] = {f: [] for f in FORMATS}
        for doc in docs:
            for fmt in FORMATS:
                folder = work / f"{doc.stem}-{fmt}"
                folder.mkdir()
                source = render.render_as(doc, fmt, folder, font)
                corpus = work / f"corpus-{doc.stem}-{fmt}"
                start = time.perf_counter()
                result = ingest([source], corpus)[0]
                took = time.perf_counter() - start
                index_s = ""
                if embedder is not None and result.status is Status.ADDED:
                    from assistant.index import load_or_build

                    t0 = time.perf_counter()
                    load_or_build([corpus], work / f"index-{doc.stem}-{fmt}", embedder)
                    index_s = f"{time.perf_counter() - t0:8.2f}"
                per_format[fmt].append(took)
                p = result.preview
                if p is None:
                    print(f"{doc.stem:42} {fmt:6} {took:9.3f} {index_s:>8}  FAILED: {result.message}")
                    continue
                print(f"{doc.stem:42} {fmt:6} {took:9.3f} {index_s:>8} {p.units:6d} {p.coverage:9.1%}  {len(p.warnings)}")
        print()
        for fmt, times in per_format.items():
            if times:
                print(f"{fmt:6} mean ingest {statistics.mean(times):.3f} s, max {max(times):.3f} s over {len(times)} document(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
