"""Benchmark policy-qa on this machine against two common peers (`make bench`; a measurement, not a test).

One run prints ONE markdown table and writes it with the raw figures to artifacts/bench/benchmark.{md,json}:
cold start of `policyqa ask` in fresh processes (imports / model load / index load / first answer, median
of --cold-runs), peak RSS of that process, index build time, warm in-process latency, HTTP throughput
and serve-ready time (via scripts/load.py), and hit@1 on the answerable questions of eval/test.jsonl for
this pipeline and for two peers run here on the same questions with the same embedder:

* BM25 over whole work points (rank_bm25 over jieba tokens), the usual keyword baseline;
* the common LangChain recipe: RecursiveCharacterTextSplitter(750, 150) chunks, FAISS dense + BM25,
  fused 0.5/0.5 by weighted reciprocal rank as EnsembleRetriever does. A peer's hit is its top chunk's
  work point: the unit sharing most character trigrams with the chunk.

    .venv/bin/python scripts/benchmark.py [--cold-runs 3] [--http-clients 8 --http-seconds 20]

Timings are single-run medians on a warm page cache: compare them within one run, not across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import jieba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import load  # noqa: E402  (scripts/load.py)

from assistant import config  # noqa: E402
from assistant.evaluation import Outcome, Question, Ref, is_gold, load_questions, metrics, run  # noqa: E402
from assistant.index import Index  # noqa: E402
from assistant.memory import load_memory  # noqa: E402
from assistant.parsing import Document, corpus_files  # noqa: E402
from assistant.pipeline import PolicyQA  # noqa: E402

OUT = ROOT / "artifacts" / "bench"
QUESTIONS = ROOT / "eval" / "test.jsonl"
COLD_QUESTION = "今年民办学校招生报名人数超过计划怎么办？"

# A fresh interpreter doing what `policyqa ask` does, timing each phase; it prints them and its peak RSS (VmHWM)
# as JSON. getrusage(RUSAGE_CHILDREN) would not do: a forked child inherits the parent's high-water mark.
COLD_PHASES = r"""
import json, re, sys, time
from pathlib import Path
t0 = time.perf_counter()
from assistant import config
from assistant.embedding import load_embedder
from assistant.index import load_or_build
from assistant.memory import load_memory
from assistant.pipeline import PolicyQA
t1 = time.perf_counter()
embedder = load_embedder()
embedder.encode_queries(["预热"])  # the engine maps its weights at load; they page in on the first encode
t2 = time.perf_counter()
index = load_or_build(config.corpus_paths(), Path(sys.argv[1]), embedder, allow_build=False)
t3 = time.perf_counter()
qa = PolicyQA(index, embedder, memory=load_memory(config.memory_paths(), embedder, Path(sys.argv[1]).parent / "memory-cache"))
t4 = time.perf_counter()
answer = qa.ask(sys.argv[2]).to_json()
t5 = time.perf_counter()
hwm = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"imports": t1 - t0, "model": t2 - t1, "index": t3 - t2, "pipeline": t4 - t3, "first_answer": t5 - t4, "vmhwm_mb": hwm / 1024}))
"""


def pct(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


# -- cold start -------------------------------------------------------------------------------------
def cold_start(index_dir: Path, runs: int) -> dict[str, float]:
    """Medians over ``runs`` fresh processes: the phases (our script) and the real `policyqa ask --json` wall time."""
    phases: list[dict[str, float]] = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", COLD_PHASES, str(index_dir), COLD_QUESTION], check=True, capture_output=True, text=True, cwd=ROOT)
        phases.append(json.loads(done.stdout.strip().splitlines()[-1]) | {"total": time.perf_counter() - t})
    cli = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([*load.POLICYQA, "ask", "--json", "--index-dir", str(index_dir), COLD_QUESTION], check=True, capture_output=True, cwd=ROOT)
        cli.append(time.perf_counter() - t)
    out = {k: statistics.median(p[k] for p in phases) for k in phases[0] if k != "vmhwm_mb"}
    return out | {"vmhwm_mb": max(p["vmhwm_mb"] for p in phases), "cli_total": statistics.median(cli)}


# -- this pipeline, warm ----------------------------------------------------------------------------
def warm_latency(qa: PolicyQA, questions: Sequence[Question]) -> list[float]:
    """Wall time of qa.ask per question (with its history), after ten warm-up answers."""
    for q in questions[:10]:
        qa.ask(q.question, q.history)
    lat = []
    for q in questions:
        t = time.perf_counter()
        qa.ask(q.question, q.history).to_json()
        lat.append((time.perf_counter() - t) * 1000)
    return lat


# -- peers ------------------------------------------------------------------------------------------
def tokens(text: str) -> list[str]:
    """jieba (accurate mode) words, lower-cased, without punctuation or spaces: what a Chinese BM25 recipe plugs in."""
    return [t for t in jieba.lcut(text.lower()) if t.strip() and any(ch.isalnum() for ch in t)]


def _grams(text: str, n: int = 3) -> set[str]:
    return {text[i : i + n] for i in range(max(1, len(text) - n + 1))}


@dataclass
class Units:
    """The citable units of the corpus, as evaluation names them, with their character trigrams."""

    refs: list[Ref]
    grams: list[set[str]]

    @classmethod
    def of(cls, documents: Sequence[Document]) -> Units:
        pairs = [(Ref(d.doc_id, u.number, u.section), u.text) for d in documents for u in d.units if u.text.strip()]
        return cls([r for r, _ in pairs], [_grams(t) for _, t in pairs])

    def owner(self, chunk: str) -> Ref:
        """The unit holding ``chunk``: the one sharing most character trigrams with it (the brief's strict hit)."""
        g = _grams(chunk)
        return self.refs[int(np.argmax([len(g & u) for u in self.grams]))]

    def covered(self, chunk: str) -> tuple[Ref, ...]:
        """Every unit a reader of ``chunk`` would see: half of the unit is in it, or half of it is that unit (lenient hit)."""
        g = _grams(chunk)
        return tuple(r for r, u in zip(self.refs, self.grams) if len(g & u) >= 0.5 * min(len(g), len(u))) or (self.owner(chunk),)


@dataclass
class Peer:
    name: str
    search: Callable[[str], list[int]]  # question → its ranked chunk ids, best first
    owners: list[Ref]  # chunk id → the unit it belongs to
    covered: list[tuple[Ref, ...]]  # chunk id → the units it shows


def bm25_units_peer(units: Units, texts: Sequence[str]) -> Peer:
    """BM25Okapi (rank_bm25) over whole work points."""
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([tokens(t) or ["<empty>"] for t in texts])

    def search(q: str) -> list[int]:
        return [int(i) for i in np.argsort(-bm25.get_scores(tokens(q)), kind="stable")[:10]]

    return Peer("BM25 over work points (rank_bm25, jieba)", search, units.refs, [(r,) for r in units.refs])


def weighted_rrf(rankings: Sequence[Sequence[int]], weights: Sequence[float], c: int = 60) -> list[int]:
    """LangChain EnsembleRetriever.weighted_reciprocal_rank: Σ w / (rank + c), rank from 1; ties keep first-seen order."""
    score: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ranking, start=1):
            score[doc] = score.get(doc, 0.0) + w / (rank + c)
    return sorted(score, key=lambda d: score[d], reverse=True)


def langchain_peer(text: str, units: Units, embedder: Any, k: int = 4) -> Peer:
    """RecursiveCharacterTextSplitter 750/150 → [BM25, FAISS] top-k each (LangChain's default k=4) → weighted RRF 0.5/0.5."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from rank_bm25 import BM25Okapi

    chunks = RecursiveCharacterTextSplitter(chunk_size=750, chunk_overlap=150).split_text(text)
    bm25 = BM25Okapi([tokens(c) or ["<empty>"] for c in chunks])
    dense = faiss.IndexFlatIP(embedder.dim)
    dense.add(embedder.encode_passages(chunks))

    def search(q: str) -> list[int]:
        sparse = [int(i) for i in np.argsort(-bm25.get_scores(tokens(q)), kind="stable")[:k]]
        _, ids = dense.search(embedder.encode_queries([q]), k)
        return weighted_rrf([sparse, [int(i) for i in ids[0] if i >= 0]], [0.5, 0.5])

    name = f"LangChain recipe ({len(chunks)} chunks ≤750 chars, FAISS + BM25, RRF 0.5/0.5)"
    return Peer(name, search, [units.owner(c) for c in chunks], [units.covered(c) for c in chunks])


def score_peer(peer: Peer, questions: Sequence[Question], default_doc: str) -> dict[str, float]:
    """hit@1 / hit@3 / MRR with evaluation.metrics (a chunk counts as its owner unit), the lenient hit@1 (any unit the
    top chunk shows is gold), and per-question latency. Peers see the question alone, not its history."""
    outcomes, lat, lenient = [], [], 0
    for q in questions:
        t = time.perf_counter()
        ids = peer.search(q.question)
        lat.append((time.perf_counter() - t) * 1000)
        outcomes.append(Outcome(q, ranked={"peer": [peer.owners[i] for i in ids]}))
        lenient += bool(ids) and any(is_gold(q, r, default_doc) for r in peer.covered[ids[0]])
    m = metrics(outcomes, default_doc, "peer")
    return m | {"hit@1_lenient": lenient / len(questions), "p50_ms": statistics.median(lat), "p95_ms": pct(lat, 0.95)}


# -- the run ----------------------------------------------------------------------------------------
def build_index(index_dir: Path, embedder: Any) -> tuple[Index, dict[str, float]]:
    """Index.build on the corpus (parse, chunk, embed, BM25), then save; chunks/s over the build alone."""
    t = time.perf_counter()
    index = Index.build(config.corpus_paths(), embedder, progress=lambda _: None)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    index.save(index_dir)
    return index, {"build_s": build_s, "save_s": time.perf_counter() - t, "chunks": index.manifest.chunk_count, "chunks_per_s": index.manifest.chunk_count / build_s}


def settings(index: Index, embedder: Any) -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return {
        "model": embedder.model_id,
        "corpus_hash": index.manifest.corpus_hash,
        "cores": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "platform": platform.platform(),
        "commit": commit,
        "questions": str(QUESTIONS.relative_to(ROOT)),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "loadavg_1min_at_start": os.getloadavg()[0],  # other work on the machine skews every timing
    }


def table(r: dict[str, Any]) -> str:
    """The one table: every figure of the run, ours first, then the peers on the same questions."""
    c, b, w, h, s = r["cold"], r["build"], r["warm_ms"], r["http"], r["settings"]
    n = r["ours"]["final"]["answerable"]
    rows = [
        ("cold start `policyqa ask` (fresh process), median", f"{c['cli_total']:.2f} s"),
        (
            "  ↳ imports / model load + first encode / index load + verify / pipeline set-up (question memory read from its cache) / first answer",
            f"{c['imports']:.2f} / {c['model']:.2f} / {c['index']:.2f} / {c['pipeline']:.2f} / {c['first_answer']:.2f} s",
        ),
        ("  ↳ total of the phased run (incl. interpreter start)", f"{c['total']:.2f} s"),
        ("peak RSS of that process (VmHWM)", f"{c['vmhwm_mb']:.0f} MB"),
        (f"index build ({b['chunks']} chunks: parse, embed, BM25) / save", f"{b['build_s']:.1f} s ({b['chunks_per_s']:.0f} chunks/s) / {b['save_s']:.2f} s"),
        (f"warm answer latency p50 / p95 in-process ({len(w)} questions)", f"{statistics.median(w):.1f} / {pct(w, 0.95):.1f} ms"),
        (f"HTTP, 1 worker, {h['clients']} clients × {h['seconds']:.0f} s: answers/s, p50 / p95", f"{h['rps']:.1f}/s, {h['p50_ms']:.0f} / {h['p95_ms']:.0f} ms, {sum(h['errors'].values())} errors"),
        ("serve-ready (process start → /api/health 200, 1 worker)", f"{h['ready_s']:.1f} s"),
    ]
    for name, m in r["ours"].items():
        label = "final answer (first citation; declining = miss)" if name == "final" else f"{name} retrieval, top unit"
        rows.append((f"hit@1 policy-qa {label} (n={n})", f"{m['hit@1']:.3f}"))
    for name, m in r["peers"].items():
        rows.append((f"hit@1 peer: {name}", f"{m['hit@1']:.3f} (top chunk shows a gold unit: {m['hit@1_lenient']:.3f}; hit@3 {m['hit@3']:.3f}), p50 {m['p50_ms']:.1f} ms"))
    head = f"| {s['model']} · {s['cores']} cores · Python {s['python']} · corpus {s['corpus_hash'][:12]} | value |\n|---|---|\n"
    return head + "".join(f"| {a} | {v} |\n" for a, v in rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cold-runs", type=int, default=3)
    p.add_argument("--http-clients", type=int, default=8)
    p.add_argument("--http-seconds", type=float, default=20)
    args = p.parse_args()
    from assistant.embedding import load_embedder

    say = lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    embedder = load_embedder()
    questions = load_questions(QUESTIONS)
    answerable = [q for q in questions if q.answerable]
    r: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index" / "current"
        say("building the index …")
        index, r["build"] = build_index(index_dir, embedder)
        # The shipped pipeline, question memory included (embedded here once; the cold starts read its cache).
        qa = PolicyQA(index, embedder, memory=load_memory(config.memory_paths(), embedder, index_dir.parent / "memory-cache"))
        r["settings"] = settings(index, embedder)
        say(f"warm latency and hit@1 on {QUESTIONS.name} …")
        r["warm_ms"] = warm_latency(qa, questions)
        default_doc = index.documents[0].doc_id
        outcomes = run(qa, answerable, ("hybrid", "final"), progress=False)
        r["ours"] = {m: metrics(outcomes, default_doc, m) for m in ("final", "hybrid")}
        say("peers …")
        units = Units.of(index.documents)
        text = "\n".join(f.read_text(encoding="utf-8") for f in corpus_files(config.corpus_paths()))
        unit_texts = [u.text for d in index.documents for u in d.units if u.text.strip()]
        peers = (bm25_units_peer(units, unit_texts), langchain_peer(text, units, embedder))
        r["peers"] = {peer.name: score_peer(peer, answerable, default_doc) for peer in peers}
        say(f"cold start × {args.cold_runs} …")
        r["cold"] = cold_start(index_dir, args.cold_runs)
        say(f"HTTP: 1 worker, {args.http_clients} clients × {args.http_seconds:.0f} s …")
        r["http"] = load.load_test(1, args.http_clients, args.http_seconds, load.load_questions(QUESTIONS), index_dir)
    r["settings"]["loadavg_1min_at_end"] = os.getloadavg()[0]
    md = table(r) + f"\nLoad average (1 min) at start / end: {r['settings']['loadavg_1min_at_start']:.1f} / {r['settings']['loadavg_1min_at_end']:.1f}.\n"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "benchmark.md").write_text(md, encoding="utf-8")
    (OUT / "benchmark.json").write_text(json.dumps(r, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
