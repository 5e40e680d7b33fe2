"""Median latency of POST /api/ask over HTTP against a running `policyqa serve` (not a test).

    .venv/bin/python scripts/http_latency.py [--url http://127.0.0.1:7860] [--n 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:7860")
    p.add_argument("--n", type=int, default=100)
    args = p.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    with httpx.Client(base_url=args.url, timeout=30) as client:
        for q in questions[:5]:  # warm-up
            client.post("/api/ask", json={"question": q}).raise_for_status()
        times = []
        for i in range(args.n):
            t = time.perf_counter()
            client.post("/api/ask", json={"question": questions[i % len(questions)]}).raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"POST /api/ask over HTTP, {args.n} sequential requests: p50 {statistics.median(times):.1f} ms, p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
