"""Closed-loop HTTP load on POST /api/ask (asyncio + httpx; not a test): N clients for T seconds.

Each client sends the next question as soon as its previous answer arrives. Reports answers/s,
p50/p95/p99 latency, errors, and the server's RSS before/after when --pid is given.
Point it at any URL (one worker, several workers, a load balancer) on loopback:

    python scripts/load.py --url http://127.0.0.1:7860 --clients 32 --seconds 120 [--pid PID]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LoadResult:
    answers: int
    errors: int
    seconds: float
    latencies_ms: tuple[float, ...]

    def pct(self, q: float) -> float:
        s = sorted(self.latencies_ms)
        return s[min(len(s) - 1, int(q * (len(s) - 1)))] if s else float("nan")


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


async def _client(http: httpx.AsyncClient, questions: list[str], start: int, stop_at: float, lat: list[float], errors: list[int]) -> None:
    i = start
    while time.perf_counter() < stop_at:
        t = time.perf_counter()
        try:
            r = await http.post("/api/ask", json={"question": questions[i % len(questions)]})
            ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            lat.append((time.perf_counter() - t) * 1000)
        else:
            errors.append(1)
        i += 1


async def run(url: str, clients: int, seconds: float, questions: list[str]) -> LoadResult:
    lat: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(_client(http, questions, k, t0 + seconds, lat, errors) for k in range(clients)))
        elapsed = time.perf_counter() - t0
    return LoadResult(len(lat), len(errors), elapsed, tuple(lat))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:7860")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--pid", type=int, help="server process id, to report its RSS before/after")
    p.add_argument("--questions", type=Path, default=ROOT / "eval" / "dev.jsonl")
    args = p.parse_args()
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    before = rss_mb(args.pid)
    res = asyncio.run(run(args.url, args.clients, args.seconds, questions))
    after = rss_mb(args.pid)
    print(f"{args.clients} closed-loop clients x {res.seconds:.0f} s against {args.url}/api/ask")
    print(f"answers/s {res.answers / res.seconds:.1f}  answers {res.answers}  errors {res.errors}")
    if res.latencies_ms:
        print(f"latency ms p50 {statistics.median(res.latencies_ms):.0f}  p95 {res.pct(0.95):.0f}  p99 {res.pct(0.99):.0f}")
    if before is not None:
        print(f"server RSS MB before {before:.0f}  after {after:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
