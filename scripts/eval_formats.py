"""Score the fiction questions with every fiction document ingested as .txt, .docx, .pdf and .html.

    python scripts/eval_formats.py eval/fiction_tune.jsonl           # tuning questions (documents 1-4)
    python scripts/eval_formats.py eval/fiction_heldout.jsonl        # report-only: the held-out document
    python scripts/eval_formats.py eval/fiction_tune9.jsonl --documents tests/data/fiction_extra/qinglan-2022-student-status-transfer-measures.txt \
        tests/data/fiction/qinglan-2021-admission-plan.txt tests/data/fiction/qinglan-2021-work-points.txt \
        tests/data/fiction/qinglan-after-school-service-notice.txt tests/data/fiction/qinglan-school-bus-management-measures.txt

For each format, the five documents of tests/data/fiction (or those given with --documents) are rendered with tests/render.py (the renderer the
tests use), added with `policyqa ingest`'s own function, indexed with the real model, and the questions are
answered. "doc+keys" is the issue's answerable accuracy: the first citation is in the right document and the
answer holds every key phrase. Writes artifacts/eval-formats/<set>.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import evaluation  # noqa: E402 - after the path insert
from assistant.ingest import Status, ingest  # noqa: E402
from tests import render  # noqa: E402

FORMATS = ("txt", "docx", "pdf", "html")
DOCS = sorted((ROOT / "tests" / "data" / "fiction").glob("*.txt"))


def doc_and_keys(outcomes: list[evaluation.Outcome]) -> float:
    """Answerable questions whose first citation is in the gold document and whose answer holds every key."""
    answerable = [o for o in outcomes if o.q.answerable]
    ok = sum(
        bool(o.ranked.get("final")) and o.ranked["final"][0].doc_id == o.q.doc_id and all(k in o.answer for k in o.q.keys)
        for o in answerable
    )
    return ok / len(answerable) if answerable else float("nan")


def score_format(fmt: str, questions: list[evaluation.Question], docs: list[Path], work: Path, font: Path, embedder) -> dict[str, float]:
    from assistant.index import load_or_build
    from assistant.pipeline import PolicyQA

    corpus, rendered = work / f"corpus-{fmt}", work / f"rendered-{fmt}"
    rendered.mkdir()
    start = time.perf_counter()
    results = ingest([render.render_as(d, fmt, rendered, font) for d in docs], corpus)
    ingest_s = time.perf_counter() - start
    failed = [r.message for r in results if r.status is Status.FAILED]
    if failed:
        raise SystemExit(f"{fmt}: ingest failed: {failed}")
    coverage = min(r.preview.coverage for r in results if r.preview is not None)
    index = load_or_build([corpus], work / f"index-{fmt}", embedder)
    outcomes = evaluation.run(PolicyQA(index, embedder), questions, modes=("final",), progress=False)
    m = evaluation.metrics(outcomes, default_doc="")
    return {"ingest_s": round(ingest_s, 3), "min_line_coverage": coverage, "doc+keys": doc_and_keys(outcomes), **m}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--documents", type=Path, nargs="+", default=DOCS, help="the .txt documents to render (default: tests/data/fiction)")
    args = parser.parse_args()
    docs = list(args.documents)
    from assistant.embedding import load_embedder

    questions, embedder = evaluation.load_questions(args.questions), load_embedder()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        chars = "".join(sorted({ch for d in docs for ch in d.read_text(encoding="utf-8")} | set("青禾区教育局")))
        font = render.cjk_font(chars, work / "font.ttf")
        for fmt in args.formats.split(","):
            rows[fmt] = score_format(fmt, questions, docs, work, font, embedder)
            print(f"{fmt}: done", file=sys.stderr, flush=True)
    cols = ("n", "doc+keys", "hit@1", "key_coverage", "abstain_recall", "false_abstain", "ingest_s", "min_line_coverage")
    table = evaluation.table(rows, cols)
    out = ROOT / "artifacts" / "eval-formats"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.questions.stem}.md").write_text(f"# {args.questions}\n\n{table}\n", encoding="utf-8")
    (out / f"{args.questions.stem}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
