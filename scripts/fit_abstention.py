"""Compare a learned abstention decision with the hand-set rules, out of fold, on the tuning sets only.

For every question of the tuning sets it records the evidence signals at decision time
(assistant.abstention.Signals), what the rules decided, and what answering in full would have
scored (is the first citation gold, which keys the answer holds). A logistic regression predicts
"answering is right" (answerable, and the first citation is gold or the answer holds every key),
either replacing the rules ("replace"), only turning their declines into answers ("rescue"), or only
declining what they answer ("veto"). Besides the evidence signals the question memory's vote is
recorded (abstention.VOTE), and each set is run without its own labels, as ``policyqa eval`` does.
Its L2 strength and threshold are chosen by leave-one-set-out cross-validation on the training
sets (the fewest false abstentions that keep the rules' abstain recall); every figure printed is
out of fold and nested: a held-out set's weights, strength and threshold come from the other sets.
For a fair baseline the rules' own four thresholds are also re-chosen the same way, per fold.

    python scripts/fit_abstention.py --dump /tmp/abst-dump.jsonl        # run the pipeline (about 40 s), compare (a few minutes)
    python scripts/fit_abstention.py --from-dump /tmp/abst-dump.jsonl   # compare again from the saved rows

Result (session 7, 17 tuning sets, 1252 questions, 923 answerable, 329 not): neither learned decision
beats the current rules on both counts. Rescue: false abstain 0.026 → 0.020, hit@1 0.904 → 0.908,
keys 0.910 → 0.916, but abstain recall 0.921 → 0.918 (one more unanswerable question answered,
dev_abstain a049); replace: 0.024, 0.905, 0.915, recall 0.918. The current rules were tuned on these
very sets; re-tuned out of fold the same way they score recall 0.909, false abstain 0.023. So the
rules still decide (PolicyQA._by_rules). Report-only sets (lexicon.REPORT_ONLY) are never run.

Session 27 (23 tuning sets, 1768 questions; the rules here are the final decision, memory included): with the
memory's vote among the signals, the veto raises abstain recall out of fold 0.942 → 0.948 at the same false
abstentions (0.010) and hit@1 (0.950). But it leans on the vote (vote_nearest weighs +7.8): fitted on every set and
run on the documents nobody labelled questions for (the held-out protocol, no memory, where the vote is 0), it
declined 30 of 37 answerable questions of fiction_tune14. Without the vote features (``--features`` of the
evidence signals only) the veto gains nothing out of fold (recall 0.942, hit@1 0.949) and the threshold chosen on
every set is 0: no veto helps. So the rules still decide.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import evaluation as E  # noqa: E402
from assistant.abstention import FEATURES, VOTE, vote_values  # noqa: E402
from assistant.answering import Coverage  # noqa: E402
from assistant.lexicon import REPORT_ONLY  # noqa: E402
from assistant.pipeline import PolicyQA  # noqa: E402

NOTICE_SETS = ("dev", "dev_extra", "dev_weak", "dev_parent", "dev_abstain", "dev_followup",
               "real_tune", "real2_tune", "real3_tune", "real4_tune", "real5_tune", "years_tune", "greetings_tune",
               "followup2_tune", "abstain2_tune", "abstain3_tune")  # fmt: skip
LAWS_SETS = ("laws_tune", "laws_tune2", "laws_tune3", "laws_tune4")
FICTION_SETS = ("fiction_tune", "fiction_tune2", "fiction_tune3")
HELD_OUT_FICTION = "qinglan-2021-kindergarten-subsidy-plan"  # fiction_heldout's document: never indexed here
STRENGTHS = (0.1, 1.0, 10.0)  # inverse L2 strengths tried (on standardized signals), chosen per fold
THRESHOLDS = tuple(round(0.02 + 0.01 * i, 2) for i in range(97))
MODES = ("replace", "rescue", "veto")
VETO_COST = 2.0  # a veto's answerable question declined weighs this many unanswerable ones declined


@dataclass(frozen=True)
class Row:
    """One tuning question: its signals at decision time and what each decision would score."""

    set: str
    id: str
    group: str
    answerable: bool
    hard: bool  # declined before the decision (a scope note, no shared word, no hit): the same either way
    rules: str  # what the rules decided: full, partial or none
    declined: str  # partial or none: how a declined answer reads (the fact is missing but the topic is quoted)
    gold: bool  # answering in full would cite a gold unit first
    keys_full: float  # share of the keys an answer in full (or a partial answer) holds
    keys_none: float  # share of the keys the abstention text holds
    keyed: bool
    signals: dict[str, float]


class Recorder(PolicyQA):
    """The pipeline, answering in full whenever the scope checks let it, noting what the rules would have done."""

    record: dict[str, Any] | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        evidence = self.builder.evidence

        def keep(retrieval, selections, facts):  # the abstention text of a declined answer needs the retrieval
            self.record = {"retrieval": retrieval}
            return evidence(retrieval, selections, facts)

        self.builder.evidence = keep

    def _decide(self, reading, ev, selections, doc, vote):
        note = self._scope_note(reading, selections, doc)
        hard = bool(note) or not self._shares_words(reading)
        quote = selections[0].quote
        missing = next((f for f in reading.facts if not f.satisfied_by(quote)), None)
        top = selections[0].hit.unit_key
        self.record = {
            "none_text": self.builder.abstention(self.record["retrieval"], note)[0] if self.record else "",
            "hard": hard,
            # What the pipeline decides: the rules, then the question memory's vote.
            "rules": Coverage.NONE.value if hard else super()._decide(reading, ev, selections, doc, vote)[0].value,
            "declined": self._declined(reading, ev, missing, quote)[0].value,
            "signals": self.signals(reading, ev).values() | vote_values(vote, top),
        }
        return (Coverage.NONE, None, note) if hard else (Coverage.FULL, None, "")


def _groups(args: argparse.Namespace) -> dict[str, tuple[dict, tuple[str, ...]]]:
    fiction = sorted(p for p in args.fiction_corpus.glob("*.txt") if p.stem != HELD_OUT_FICTION)
    return {
        "notice": ({"index_dir": args.notice_index}, NOTICE_SETS),
        "laws": ({"corpus": [ROOT / "corpus", args.laws_corpus], "index_dir": args.laws_index}, LAWS_SETS),
        "fiction": ({"corpus": fiction, "index_dir": args.fiction_index}, FICTION_SETS),
    }


def dump(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    for group, (kw, sets) in _groups(args).items():
        qa = Recorder.load(**kw)
        assert isinstance(qa, Recorder)
        default_doc = E.default_doc_id(qa)
        labelled, memory = qa.retriever.labelled, qa.retriever.memory
        for name in sets:
            assert name not in REPORT_ONLY, name
            qa.retriever.labelled, qa.retriever.memory = labelled, memory
            qa.forget([f"{name}.jsonl"])  # as policyqa eval does: a set's own labels never vote on it
            for q in E.load_questions(args.eval_dir / f"{name}.jsonl"):
                rows.append(_row(qa, q, name, group, default_doc))
            print(f"  {group} {name}: {sum(r.set == name for r in rows)} questions", file=sys.stderr, flush=True)
    return rows


def _row(qa: Recorder, q: E.Question, name: str, group: str, default_doc: str) -> Row:
    qa.record = None
    a = qa.ask(q.question, q.history)
    rec: dict[str, Any] = qa.record if qa.record and "hard" in qa.record else {"hard": True, "rules": "none", "declined": "none", "signals": {}}  # no hit
    keys = lambda text: sum(k in text for k in q.keys) / len(q.keys) if q.keys else 0.0  # noqa: E731
    full = not a.abstained
    gold = full and bool(a.citations) and E.is_gold(q, E.Ref(a.citations[0].doc_id, a.citations[0].point, a.citations[0].section), default_doc)
    none_text = a.answer if a.abstained else rec["none_text"]
    return Row(name, q.id, group, q.answerable, rec["hard"], rec["rules"], rec["declined"], gold,
               keys(a.answer) if full else 0.0, keys(none_text), bool(q.keys), rec["signals"])  # fmt: skip


# -- scoring a decision -------------------------------------------------------------------
def score(rows: Sequence[Row], answered: Sequence[bool]) -> dict[str, float]:
    """hit@1, keys, abstain recall and false abstain (as evaluation.metrics counts them) of answering exactly the ``answered`` rows."""
    pairs = list(zip(rows, answered))
    ans = [(r, a) for r, a in pairs if r.answerable]
    # A declined answer reads as the abstention text, or as the quote when it is a partial answer.
    keys = [r.keys_full if a or (r.declined == "partial" and not r.hard) else r.keys_none for r, a in ans if r.keyed]
    unans = [a for r, a in pairs if not r.answerable]
    return {
        "n": len(rows),
        "hit@1": sum(a and r.gold for r, a in ans) / len(ans) if ans else math.nan,
        "key_coverage": sum(keys) / len(keys) if keys else math.nan,
        "abstain_recall": sum(not a for a in unans) / len(unans) if unans else math.nan,
        "false_abstain": sum(not a for _, a in ans) / len(ans) if ans else math.nan,
    }


def by_rules(rows: Sequence[Row]) -> list[bool]:
    return [not r.hard and r.rules == "full" for r in rows]


def decide(rows: Sequence[Row], probs: np.ndarray, threshold: float, mode: str) -> list[bool]:
    """Answer when the model says so (replace), when the rules or the model say so (rescue), or when both do (veto:
    the model may only decline what the rules answer); scope checks first."""
    if mode == "veto":
        return [not r.hard and r.rules == "full" and p >= threshold for r, p in zip(rows, probs)]
    return [not r.hard and (p >= threshold or (mode == "rescue" and r.rules == "full")) for r, p in zip(rows, probs)]


def veto_net(rows: Sequence[Row], answered: Sequence[bool]) -> float:
    """Unanswerable questions a veto declines beyond the rules, less VETO_COST per answerable one it declines."""
    vetoed = [(r, not a) for r, a in zip(rows, answered) if not r.hard and r.rules == "full"]
    return sum(v and not r.answerable for r, v in vetoed) - VETO_COST * sum(v and r.answerable for r, v in vetoed)


def _better(m: dict[str, float], best: tuple[float, float] | None, floor: float) -> bool:
    """Fewer false abstentions, then more hits, never below the rules' abstain recall."""
    return m["abstain_recall"] >= floor - 1e-9 and (best is None or (m["false_abstain"], -m["hit@1"]) < best)


# -- the learned decision -----------------------------------------------------------------
def right(r: Row) -> bool:
    """The label: answering is right (answerable, and the first citation is gold or the answer holds every key)."""
    return r.answerable and (r.gold or (r.keyed and r.keys_full == 1.0))


def fit(rows: Sequence[Row], features: Sequence[str], c: float) -> tuple[np.ndarray, float]:
    """Weights on the raw signals and the intercept (standardized for the fit, then folded back)."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    train = [r for r in rows if not r.hard]  # the scope checks decline these whatever the model says
    x = np.asarray([[r.signals[f] for f in features] for r in train], dtype=float)
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd == 0] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000).fit((x - mu) / sd, [right(r) for r in train])
    w = lr.coef_[0] / sd
    return w, float(lr.intercept_[0] - (w * mu).sum())


def predict(rows: Sequence[Row], features: Sequence[str], w: np.ndarray, b: float) -> np.ndarray:
    x = np.asarray([[r.signals.get(f, 0.0) for f in features] for r in rows], dtype=float).reshape(len(rows), len(features))
    return 1 / (1 + np.exp(-(x @ w + b)))


def loso(rows: Sequence[Row], features: Sequence[str], c: float) -> np.ndarray:
    """Out-of-fold probabilities: each set's from a model fit on the other sets."""
    probs = np.zeros(len(rows))
    for name in dict.fromkeys(r.set for r in rows):
        idx = [i for i, r in enumerate(rows) if r.set == name]
        w, b = fit([r for r in rows if r.set != name], features, c)
        probs[idx] = predict([rows[i] for i in idx], features, w, b)
    return probs


def choose(rows: Sequence[Row], features: Sequence[str], mode: str) -> tuple[float, float]:
    """The L2 strength and threshold whose leave-one-set-out decisions on ``rows`` are best (see _better)."""
    floor = score(rows, by_rules(rows))["abstain_recall"]
    best, pick = None, (STRENGTHS[0], THRESHOLDS[-1])
    for c in STRENGTHS:
        probs = loso(rows, features, c)
        for t in THRESHOLDS:
            answered = decide(rows, probs, t, mode)
            if mode == "veto":  # the veto is judged by what it adds: the best net, the rules' own (0) to beat
                net = veto_net(rows, answered)
                if net > (best[0] if best else 0.0):
                    best, pick = (net, 0.0), (c, t)
                continue
            m = score(rows, answered)
            if _better(m, best, floor):
                best, pick = (m["false_abstain"], -m["hit@1"]), (c, t)
    return pick if best or mode != "veto" else (STRENGTHS[0], 0.0)  # no veto that helps: decline nothing


def learned_oof(rows: Sequence[Row], features: Sequence[str], mode: str) -> list[bool]:
    """Each held-out set decided by a model whose weights, strength and threshold come from the other sets alone."""
    answered = [False] * len(rows)
    for name in dict.fromkeys(r.set for r in rows):
        train = [r for r in rows if r.set != name]
        c, t = choose(train, features, mode)
        w, b = fit(train, features, c)
        idx = [i for i, r in enumerate(rows) if r.set == name]
        for i, a in zip(idx, decide([rows[i] for i in idx], predict([rows[i] for i in idx], features, w, b), t, mode)):
            answered[i] = a
    return answered


# -- the rules, re-tuned per fold (a fair baseline: the current values were tuned on all these sets) ---
GRID = [(round(float(c), 3), round(float(d), 3)) for c in np.arange(0.05, 0.41, 0.025) for d in np.arange(0.84, 0.931, 0.005)]


def rules_with(r: Row, open_: tuple[float, float], typed: tuple[float, float]) -> bool:
    """PolicyQA._by_rules with other thresholds: (coverage, dense) for open questions, (typed_coverage, typed_dense) for the rest."""
    s = r.signals
    if r.hard:
        return False
    if not s["asks_fact"]:
        return s["coverage"] >= open_[0] or s["top_dense"] >= open_[1]
    return bool(s["type_ok"]) and (s["coverage"] >= typed[0] or s["quote_dense"] >= typed[1])


def tune_rules(rows: Sequence[Row]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The four thresholds that are best on ``rows`` (see _better); open and fact questions are counted apart, then summed."""
    floor = score(rows, by_rules(rows))["abstain_recall"]
    unanswerable = sum(not r.answerable for r in rows)
    declined_hard = sum(r.hard and not r.answerable for r in rows)

    def counts(subset: list[Row], typed: bool) -> dict[tuple[float, float], tuple[int, int, int]]:
        out = {}
        for g in GRID:
            a = [rules_with(r, g, g) if typed == bool(r.signals["asks_fact"]) else False for r in subset]
            out[g] = (sum(not x and r.answerable for r, x in zip(subset, a)), sum(not x and not r.answerable for r, x in zip(subset, a)), sum(x and r.gold for r, x in zip(subset, a)))
        return out

    soft = [r for r in rows if not r.hard]
    opened, typed = counts([r for r in soft if not r.signals["asks_fact"]], False), counts([r for r in soft if r.signals["asks_fact"]], True)
    best, pick = None, (GRID[0], GRID[0])
    for go, (fo, ro, ho) in opened.items():
        for gt, (ft, rt, ht) in typed.items():
            if (declined_hard + ro + rt) / unanswerable >= floor - 1e-9 and (best is None or (fo + ft, -(ho + ht)) < best):
                best, pick = (fo + ft, -(ho + ht)), (go, gt)
    return pick


def rules_oof(rows: Sequence[Row]) -> list[bool]:
    answered = [False] * len(rows)
    for name in dict.fromkeys(r.set for r in rows):
        open_, typed = tune_rules([r for r in rows if r.set != name])
        for i, r in enumerate(rows):
            if r.set == name:
                answered[i] = rules_with(r, open_, typed)
    return answered


# -- reporting ----------------------------------------------------------------------------
METRICS = ("n", "hit@1", "key_coverage", "abstain_recall", "false_abstain")


def compare(rows: Sequence[Row], decisions: dict[str, list[bool]], per_set: bool = False) -> str:
    lines = ["| rows | decision | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    slices = [("all", list(range(len(rows))))] + [(g, [i for i, r in enumerate(rows) if r.group == g]) for g in dict.fromkeys(r.group for r in rows)]
    if per_set:
        slices += [(s, [i for i, r in enumerate(rows) if r.set == s]) for s in dict.fromkeys(r.set for r in rows)]
    for name, idx in slices:
        for label, dec in decisions.items():
            m = score([rows[i] for i in idx], [dec[i] for i in idx])
            lines.append(f"| {name} | {label} | " + " | ".join(f"{m[k]:.0f}" if k == "n" else f"{m[k]:.3f}" for k in METRICS) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--dump", type=Path, help="save the rows here (JSONL) after running the pipeline over the tuning sets")
    p.add_argument("--from-dump", type=Path, help="read the rows from a saved dump instead of running the pipeline")
    p.add_argument("--features", default=",".join(FEATURES + VOTE), help="comma-separated signals to fit on (default: all)")
    p.add_argument("--per-set", action="store_true", help="also compare set by set")
    p.add_argument("--eval-dir", type=Path, default=ROOT / "eval")
    p.add_argument("--notice-index", type=Path, default=ROOT / "index" / "current")
    p.add_argument("--laws-corpus", type=Path, default=Path("/work/shared/corpus/related"))
    p.add_argument("--laws-index", type=Path, default=ROOT / "index" / "fit-laws")
    p.add_argument("--fiction-corpus", type=Path, default=ROOT / "tests" / "data" / "fiction", help=f"folder of the fiction documents ({HELD_OUT_FICTION} is left out)")
    p.add_argument("--fiction-index", type=Path, default=ROOT / "index" / "fit-fiction")
    args = p.parse_args(argv)
    features = [f.strip() for f in args.features.split(",") if f.strip()]
    if unknown := set(features) - set(FEATURES + VOTE):
        p.error(f"unknown signals {sorted(unknown)}; choose from {', '.join(FEATURES + VOTE)}")
    logging.disable(logging.WARNING)
    rows = [Row(**json.loads(line)) for line in args.from_dump.read_text(encoding="utf-8").splitlines()] if args.from_dump else dump(args)
    if args.dump:
        args.dump.write_text("".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    decisions = {"rules (current)": by_rules(rows), "rules re-tuned": rules_oof(rows)}
    decisions |= {f"learned {mode}": learned_oof(rows, features, mode) for mode in MODES}
    print("Out of fold, leave one set out (nested):\n" + compare(rows, decisions, args.per_set))
    for mode in MODES:
        c, t = choose(rows, features, mode)
        w, b = fit(rows, features, c)
        print(f"{mode} fit on every set: C {c}, threshold {t:.2f}, intercept {b:.3f}; " + ", ".join(f"{f} {x:.3f}" for f, x in zip(features, w)))
    (cov, dense), (typed_cov, typed_dense) = tune_rules(rows)
    print(f"rules re-tuned on every set: coverage {cov}, dense {dense}, typed_coverage {typed_cov}, typed_dense {typed_dense}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
