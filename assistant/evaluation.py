"""``policyqa eval``: score the pipeline and its ablations on a question file.

Question file (JSONL), one object per line::

    {"id": "t001", "question": "…", "history": ["…"], "type": "numeric",
     "points": [10], "keys": ["5所小学"], "answerable": true, "doc_id": "…",
     "style": "story", "category": "other_year"}

``points`` are gold work point (or article) numbers, 0 for the header/preamble;
``doc_id`` is optional and defaults to the first document indexed. A row for any other
document may instead give ``doc`` and ``sections`` (gold section labels such as "三、（二）2."):
it is a hit when the first citation is of that document and its section equals a gold label
or one is a prefix of the other. ``style`` and ``category`` are optional and reported on.
A partial answer (the text covers the topic, not the asked detail) counts as declining.
See eval/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .retrieval import Mode

logger = logging.getLogger(__name__)

#: Ablation rows, in report order; "final" is the shipped pipeline with answer extraction and abstention.
MODES: tuple[str, ...] = ("bm25-units", "bm25", "dense", "hybrid", "final")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    history: tuple[str, ...]
    type: str
    points: tuple[int, ...]
    keys: tuple[str, ...]
    answerable: bool
    doc_id: str | None = None
    style: str = ""
    category: str = ""
    sections: tuple[str, ...] = ()


class Ref(NamedTuple):
    """A cited or retrieved unit, as the gold labels name it."""

    doc_id: str
    point: int | None
    section: str = ""


@dataclass
class Outcome:
    q: Question
    ranked: dict[str, list[Ref]] = field(default_factory=dict)  # mode → units, best first
    answer: str = ""
    abstained: bool = False  # declined: no answer, or only a partial one
    latency_ms: float = 0.0
    rewritten: str = ""
    coverage: str = ""
    reading: str = ""  # Reading.describe(), for the misses


def load_questions(path: Path) -> list[Question]:
    out: list[Question] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            out.append(
                Question(
                    id=str(raw["id"]),
                    question=raw["question"],
                    history=tuple(raw.get("history") or ()),
                    type=raw.get("type", "factual"),
                    points=tuple(int(p) for p in raw.get("points", [])),
                    keys=tuple(raw.get("keys", [])),
                    answerable=bool(raw.get("answerable", bool(raw.get("points") or raw.get("sections")))),
                    doc_id=raw.get("doc_id") or raw.get("doc"),
                    style=str(raw.get("style", "")),
                    category=str(raw.get("category", "")),
                    sections=tuple(str(x) for x in raw.get("sections", [])),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{n}: not a valid eval question ({exc}); see eval/README.md for the schema") from exc
    return out


def is_gold(q: Question, ref: Ref, default_doc: str) -> bool:
    if ref.doc_id != (q.doc_id or default_doc):
        return False
    if q.sections:
        return bool(ref.section) and any(ref.section.startswith(g) or g.startswith(ref.section) for g in q.sections)
    return (0 if ref.point is None else ref.point) in q.points


def _first_hit(q: Question, ranked: Sequence[Ref], default_doc: str) -> int | None:
    return next((i for i, r in enumerate(ranked) if is_gold(q, r, default_doc)), None)


def default_doc_id(qa) -> str:
    """Rows without a doc_id are about the first document indexed (the notice, in the shipped corpus)."""
    return qa.index.documents[0].doc_id


def run(qa, questions: Sequence[Question], modes: Sequence[str] = MODES, progress: bool = True) -> list[Outcome]:
    outcomes = []
    for i, q in enumerate(questions, start=1):
        o = Outcome(q)
        reading = qa.read(q.question, q.history)
        o.reading = reading.describe()
        for mode in modes:
            if mode == "final":
                a = qa.ask(q.question, q.history)
                o.answer, o.latency_ms, o.rewritten, o.coverage = a.answer, a.latency_ms, a.rewritten_question, a.coverage.value
                o.abstained = a.abstained or a.coverage.value == "partial"
                o.ranked[mode] = [] if o.abstained else [Ref(c.doc_id, c.point, c.section) for c in a.citations]
            else:
                r = qa.retriever.search(reading, k=10, mode=Mode(mode))
                o.ranked[mode] = [Ref(h.doc_id, h.point, qa.index.units[h.unit_key][1].section) for h in r.hits]
        outcomes.append(o)
        if progress and (i % 20 == 0 or i == len(questions)):
            print(f"  eval: {i}/{len(questions)} questions", file=sys.stderr, flush=True)
    return outcomes


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def metrics(outcomes: Sequence[Outcome], default_doc: str, mode: str = "final") -> dict[str, float]:
    answerable = [o for o in outcomes if o.q.answerable]
    m: dict[str, float] = {"n": len(outcomes), "answerable": len(answerable)}
    hit1 = hit3 = rr = 0.0
    for o in answerable:
        first = _first_hit(o.q, o.ranked.get(mode, []), default_doc)
        hit1 += first == 0
        hit3 += first is not None and first < 3
        rr += 1 / (first + 1) if first is not None else 0.0
    m["hit@1"], m["hit@3"], m["mrr"] = _ratio(hit1, len(answerable)), _ratio(hit3, len(answerable)), _ratio(rr, len(answerable))
    if mode != "final":
        return m
    m["citation_acc"] = m["hit@1"]
    keyed = [o for o in answerable if o.q.keys]
    m["key_coverage"] = _ratio(sum(sum(k in o.answer for k in o.q.keys) / len(o.q.keys) for o in keyed), len(keyed))
    tp = sum(o.abstained and not o.q.answerable for o in outcomes)
    fp = sum(o.abstained and o.q.answerable for o in outcomes)
    fn = sum(not o.abstained and not o.q.answerable for o in outcomes)
    p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    m["abstain_precision"], m["abstain_recall"] = p, r
    m["abstain_f1"] = _ratio(2 * p * r, p + r) if tp else (float("nan") if tp + fn == 0 else 0.0)
    m["false_abstain"] = _ratio(fp, len(answerable))
    m["partial"] = _ratio(sum(o.coverage == "partial" for o in outcomes), len(outcomes))
    lat = sorted(o.latency_ms for o in outcomes)
    m["latency_p50_ms"] = statistics.median(lat) if lat else float("nan")
    m["latency_p95_ms"] = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))] if lat else float("nan")
    return m


GROUPINGS: dict[str, Callable[[Question], str]] = {"type": lambda q: q.type, "style": lambda q: q.style, "category": lambda q: q.category}


def by_type(outcomes: Sequence[Outcome], default_doc: str, grouping: str = "type") -> dict[str, dict[str, float]]:
    """Final-pipeline metrics per question type, style or category; rows without one are left out."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    key = GROUPINGS[grouping]
    for o in outcomes:
        if value := key(o.q):
            groups[value].append(o)
    return {t: metrics(g, default_doc) for t, g in sorted(groups.items())}


def by_type_and_mode(outcomes: Sequence[Outcome], default_doc: str) -> dict[str, dict[str, float]]:
    """hit@1 per question type for every retrieval mode run: did the (rewritten) question find its point at all?"""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.q.type].append(o)
    modes = [m for m in MODES if m in outcomes[0].ranked] if outcomes else []
    return {t: {m: metrics(g, default_doc, m)["hit@1"] for m in modes} for t, g in sorted(groups.items()) if any(o.q.answerable for o in g)}


def _fmt(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    return "–" if math.isnan(v) else (f"{v:.0f}" if v > 10 else f"{v:.3f}")


def table(rows: dict[str, dict[str, float]], cols: Sequence[str]) -> str:
    head = "| | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols) + "\n"
    return head + "".join(f"| {name} | " + " | ".join(_fmt(r.get(c, float("nan"))) for c in cols) + " |\n" for name, r in rows.items())


FINAL_COLS = ("n", "hit@1", "hit@3", "mrr", "key_coverage", "abstain_precision", "abstain_recall", "abstain_f1", "false_abstain", "latency_p50_ms", "latency_p95_ms")


def _misses(outcomes: Sequence[Outcome], default_doc: str) -> list[str]:
    lines = []
    for o in outcomes:
        final = o.ranked["final"]
        wrong = (o.q.answerable and (o.abstained or not final or not is_gold(o.q, final[0], default_doc))) or (not o.q.answerable and not o.abstained)
        if wrong:
            got = f"declined ({o.coverage})" if o.abstained else f"{final[0].doc_id} {final[0].section or final[0].point}"
            gold = list(o.q.sections or o.q.points) or "abstain"
            lines.append(f"- `{o.q.id}` ({o.q.type}) {o.q.question} · gold {gold} · got {got}\n  - read as: {o.reading}\n")
    return lines


def report(
    outcomes: Sequence[Outcome], default_doc: str, out_dir: Path | None, title: str, settings: dict[str, object] | None = None
) -> tuple[dict[str, dict[str, float]], str]:
    modes = {mode: metrics(outcomes, default_doc, mode) for mode in MODES if mode in outcomes[0].ranked}
    groups = {g: by_type(outcomes, default_doc, g) for g in GROUPINGS}
    cols = ("n", "hit@1", "hit@3", "key_coverage", "abstain_recall", "false_abstain", "partial")
    md = [f"# {title}\n", "## Retrieval modes\n", table(modes, ("n", "hit@1", "hit@3", "mrr")), "\n## Final pipeline\n", table({"final": modes["final"]}, FINAL_COLS)]
    for g, rows in groups.items():
        if rows:
            md += [f"\n## Per question {g} (final pipeline)\n", table(rows, cols)]
    type_modes = by_type_and_mode(outcomes, default_doc)
    md += ["\n## hit@1 per question type and retrieval mode\n", table(type_modes, [m for m in MODES if m in modes])]
    if misses := _misses(outcomes, default_doc):
        md += ["\n## Misses\n", *misses]
    text = "".join(md)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "report.md").write_text(text, encoding="utf-8")
        saved = {"modes": modes, "types": groups["type"], "styles": groups["style"], "categories": groups["category"], "type_modes": type_modes, "settings": settings or {}}
        (out_dir / "metrics.json").write_text(json.dumps(saved, ensure_ascii=False, indent=2), encoding="utf-8")
        _charts(modes, groups["type"], [o.latency_ms for o in outcomes], out_dir)
    return modes, text


def _charts(modes: dict[str, dict[str, float]], types: dict[str, dict[str, float]], latencies: list[float], out_dir: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is missing, so no charts: pip install 'policy-qa[eval]'")
        return
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(modes)
    for j, metric in enumerate(("hit@1", "hit@3", "mrr")):
        ax.bar([i + 0.27 * j for i in range(len(names))], [modes[n][metric] for n in names], width=0.27, label=metric)
    ax.set_xticks([i + 0.27 for i in range(len(names))], names)
    ax.set_ylim(0, 1.05)
    ax.set_title("Retrieval mode ablation")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out_dir / "modes.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 3.5))
    tnames = list(types)
    for j, metric in enumerate(("hit@1", "key_coverage", "abstain_recall")):
        vals = [types[t].get(metric, float("nan")) for t in tnames]
        ax.bar([i + 0.27 * j for i in range(len(tnames))], [0 if math.isnan(v) else v for v in vals], width=0.27, label=metric)
    ax.set_xticks([i + 0.27 for i in range(len(tnames))], tnames, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("Final pipeline per question type")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "types.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(latencies, bins=30)
    ax.set_xlabel("latency per question (ms)")
    ax.set_title("Answer latency")
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=120)
    plt.close(fig)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("questions", type=Path, nargs="+", help="question JSONL file(s), e.g. eval/test.jsonl")
    p.add_argument("--report-dir", type=Path, help="write report.md, metrics.json and PNG charts here")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}")
    for name, helptext in (
        ("min-hit1", "exit 1 if the final hit@1 is below this"),
        ("min-keys", "exit 1 if key-phrase coverage is below this"),
        ("min-abstain-f1", "exit 1 if abstention F1 is below this"),
        ("min-abstain-recall", "exit 1 if abstention recall is below this"),
        ("max-false-abstain", "exit 1 if the false-abstain rate is above this"),
    ):
        p.add_argument(f"--{name}", type=float, help=helptext)


def run_cli(args: argparse.Namespace, qa) -> int:
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    unknown = set(modes) - set(MODES)
    if unknown:
        print(f"error: unknown mode(s) {sorted(unknown)}; choose from {', '.join(MODES)}", file=sys.stderr)
        return 2
    if "final" not in modes:
        modes += ("final",)
    questions: list[Question] = []
    for path in args.questions:
        if not path.is_file():
            print(f"error: question file {path} does not exist", file=sys.stderr)
            return 2
        try:
            questions += load_questions(path)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    default_doc = default_doc_id(qa)
    # Cross-fitted: a set's own labelled questions never vote on it.
    qa.forget([p.name for p in args.questions])
    outcomes = run(qa, questions, modes)
    title = f"policy-qa evaluation: {', '.join(str(p) for p in args.questions)}"
    settings = {**qa.settings.to_json(), "memory_questions": len(qa.memory)}
    modes_m, _ = report(outcomes, default_doc, args.report_dir, title, settings)
    print(f"question memory: {len(qa.memory)} labelled questions voting (those of the sets scored left out)")
    print(table(modes_m, ("n", "hit@1", "hit@3", "mrr")))
    print(table({"final": modes_m["final"]}, FINAL_COLS))
    if args.report_dir:
        print(f"report: {args.report_dir / 'report.md'}")
    final = modes_m["final"]
    gates = (
        ("hit@1", args.min_hit1, 1),
        ("key_coverage", args.min_keys, 1),
        ("abstain_f1", args.min_abstain_f1, 1),
        ("abstain_recall", args.min_abstain_recall, 1),
        ("false_abstain", args.max_false_abstain, -1),
    )
    failed = [f"{name} {final[name]:.3f} {'<' if sign > 0 else '>'} {limit}" for name, limit, sign in gates if limit is not None and not (sign * (final[name] - limit) >= 0)]
    if failed:
        print("below threshold: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0
