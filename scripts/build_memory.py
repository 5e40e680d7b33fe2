"""Write the question memory (memory/*.jsonl) from labelled tuning questions.

Each eval row's gold (``points`` or ``sections`` of ``doc_id``) is resolved against the parsed corpus
into the units that answer it; unanswerable rows keep no unit. Follow-ups (rows with a history) are
left out: they mean nothing alone, and so is any question a report-only set also asks. Report-only sets
must never be given here; tests/test_memory.py checks that no memory question is a report set's.

    python scripts/build_memory.py --out memory/notice.jsonl --corpus corpus eval/dev.jsonl …
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.evaluation import Question, Ref, is_gold, load_questions
from assistant.lexicon import REPORT_ONLY
from assistant.parsing import Document, parse_corpus

EVAL = Path(__file__).resolve().parents[1] / "eval"


def reported() -> set[str]:
    """Every question of a report-only set: a tuning set may repeat one word for word, and must not vote on it.
    (real_all is the union of real_tune and real_report, so it stands for real_report here.)"""
    names = [n for n in REPORT_ONLY if n != "real_all"]
    return {q.question.strip() for name in names if (EVAL / f"{name}.jsonl").is_file() for q in load_questions(EVAL / f"{name}.jsonl")}


def resolve(q: Question, docs: list[Document]) -> list[str] | None:
    """The unit references of ``q``'s gold; None when its gold names nothing in these documents."""
    if not q.answerable:
        return []
    refs = [
        str(d.ref(u))
        for d in docs
        for u in d.units
        if is_gold(q, Ref(d.doc_id, u.number, u.section), docs[0].doc_id)
    ]
    return refs or None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("questions", type=Path, nargs="+")
    p.add_argument("--corpus", type=Path, action="append", required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    docs = parse_corpus(args.corpus)
    corpus = sorted(d.doc_id for d in docs)
    rows, unresolved, repeated = [], 0, 0
    held_out = reported()
    for path in args.questions:
        for q in load_questions(path):
            if q.history:
                continue
            if q.question.strip() in held_out:
                repeated += 1
                continue
            units = resolve(q, docs)
            if units is None:
                unresolved += 1
                continue
            rows.append({"question": q.question, "units": units, "source": path.as_posix(), "corpus": corpus})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{args.out}: {len(rows)} labelled questions; left out: {unresolved} whose gold names no unit of this corpus, {repeated} asked word for word in a report-only set")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
