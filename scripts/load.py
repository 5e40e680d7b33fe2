"""Closed-loop HTTP load on POST /api/ask (asyncio + httpx; a measurement, not a test).

Starts `policyqa serve --workers N` itself on a free loopback port (or uses --url), waits for
/api/health to answer 200, then runs C clients for T seconds: each sends the next question of
eval/test.jsonl (with its history) as soon as its previous answer arrives; the first --warmup seconds (10)
are not counted. Reports answers/s,
p50/p95/p99 latency, errors and the server's memory summed over its processes (RSS double-counts
shared pages such as the memory-mapped index; PSS splits them fairly, so PSS is the one to add up).

    .venv/bin/python scripts/load.py --workers 1 2 --clients 32 --seconds 120
    .venv/bin/python scripts/load.py --url http://127.0.0.1:7860 --clients 8 --seconds 20

Writes artifacts/bench/load.md and load.json. The load generator runs on the same machine as the
server, so on a small machine it takes CPU from the server: the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "artifacts" / "bench"
# `python -m assistant` from ROOT serves this checkout's code (the `policyqa` script of an editable install may
# point at another worktree).
POLICYQA = [sys.executable, "-m", "assistant"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class LoadResult:
    """One closed-loop run; latencies of successful answers only, errors counted by status."""

    clients: int
    seconds: float
    answers: int
    errors: dict[str, int]
    latencies_ms: list[float] = field(repr=False)
    server_rss_mb: float | None = None  # peak of the per-process RSS sum while under load (after warm-up)
    server_pss_mb: float | None = None  # per-process PSS sum right after the measured load
    server_processes: int = 0
    warm_rss_mb: float | None = None  # RSS sum at the end of the warm-up, before the measured load
    warm_pss_mb: float | None = None
    end_rss_mb: float | None = None  # RSS sum at the end of the measured load
    warmup_s: float = 0.0
    rss_timeline_mb: list[tuple[float, float]] = field(default_factory=list, repr=False)  # (s since measured load began, RSS sum)
    server_cpu_s: float | None = None  # CPU seconds (user + system) the server's processes used during the measured load
    client_cpu_s: float | None = None  # CPU seconds this load generator used meanwhile
    machine_busy_cpu_s: float | None = None  # CPU seconds all processes on the machine used meanwhile (other work included)

    @property
    def server_cpu_ms_per_answer(self) -> float | None:
        return 1000 * self.server_cpu_s / self.answers if self.server_cpu_s is not None and self.answers else None

    @property
    def client_cpu_ms_per_answer(self) -> float | None:
        return 1000 * self.client_cpu_s / self.answers if self.client_cpu_s is not None and self.answers else None

    @property
    def growth_after_warmup(self) -> float | None:
        """Peak RSS over the measured load relative to RSS right after warm-up (the figure the < 10% target is about)."""
        return self.server_rss_mb / self.warm_rss_mb - 1 if self.server_rss_mb and self.warm_rss_mb else None

    def pct(self, q: float) -> float:
        s = sorted(self.latencies_ms)
        return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")

    def summary(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "latencies_ms"}
        cpu = {"server_cpu_ms_per_answer": self.server_cpu_ms_per_answer, "client_cpu_ms_per_answer": self.client_cpu_ms_per_answer}
        return d | cpu | {"growth_after_warmup": self.growth_after_warmup, "rps": self.answers / self.seconds, "p50_ms": self.pct(0.5), "p95_ms": self.pct(0.95), "p99_ms": self.pct(0.99)}


# -- the server's processes and memory ------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    """ppid → pids, from /proc (no psutil needed): uvicorn's workers are children of its supervisor."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def process_tree(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += tree.get(p, [])
    return out


def _status_kb(pid: int, file: str, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants so far (from /proc/<pid>/stat)."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds spent on anything but idle and iowait, summed over all cores, since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICKS


def memory_mb(pid: int, *, pss: bool = True) -> tuple[float, float, int]:
    """(RSS sum, PSS sum, process count) over ``pid`` and its descendants. PSS walks every page table
    (/proc/<pid>/smaps_rollup holds the process's memory lock meanwhile, stalling its page faults): read it only
    outside the measured load. Sampled once a second during the load, it halved the answers/s of 2 workers
    (43 vs 76 answers/s against the same server)."""
    pids = process_tree(pid)
    rss = sum(_status_kb(p, "status", "VmRSS") for p in pids)
    pss_kb = sum(_status_kb(p, "smaps_rollup", "Pss") for p in pids) if pss else 0
    return rss / 1024, (pss_kb / 1024 if pss else float("nan")), len(pids)


# -- starting and stopping a server ---------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    ready_s: float  # process start until /api/health answered 200
    log: IO[bytes]
    data_dir: Path

    def stop(self) -> None:
        """SIGTERM the supervisor (uvicorn stops its workers), then its own process group if anything is left."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this script created for it
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_server(workers: int, *, index_dir: Path | None = None, log_path: Path | None = None, timeout: float = 300) -> Server:
    """`policyqa serve` on a free loopback port, in its own session (so it and its workers can be stopped together);
    feedback goes to a temporary data dir so a load test leaves no interaction log behind."""
    port = free_port()
    cmd = [*POLICYQA, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if index_dir is not None:
        cmd += ["--index-dir", str(index_dir)]
    data_dir = Path(tempfile.mkdtemp(prefix="policyqa-load-"))
    env = os.environ | {"POLICYQA_DATA_DIR": str(data_dir)}
    log = open(log_path, "wb") if log_path else open(os.devnull, "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=ROOT)
    server = Server(proc, f"http://127.0.0.1:{port}", float("nan"), log, data_dir)
    try:
        server.ready_s = wait_healthy(server.url, timeout, proc) - t0
    except BaseException:
        server.stop()
        raise
    return server


def wait_healthy(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Poll /api/health every 50 ms until it answers 200 (it says 503 while loading); returns the perf_counter then."""
    deadline = time.perf_counter() + timeout
    with httpx.Client(base_url=url, timeout=5) as http:
        while time.perf_counter() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")
            try:
                if http.get("/api/health").status_code == 200:
                    return time.perf_counter()
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    raise TimeoutError(f"{url}/api/health did not answer 200 within {timeout:.0f} s")


# -- the load ----------------------------------------------------------------------------------------
def load_questions(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"question": r["question"], "history": r.get("history") or []} for r in rows]


async def _client(http: httpx.AsyncClient, bodies: list[dict[str, Any]], start: int, stop_at: float, lat: list[float], errors: Counter[str]) -> None:
    i = start
    while time.perf_counter() < stop_at:
        t = time.perf_counter()
        try:
            r = await http.post("/api/ask", json=bodies[i % len(bodies)])
            status = str(r.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        if status == "200":
            lat.append((time.perf_counter() - t) * 1000)
        else:
            errors[status] += 1
        i += 1


async def _sample_memory(pid: int, every: float, peaks: list[float], timeline: list[tuple[float, float]]) -> None:
    """Peak RSS sum while the load runs (workers grow as they answer), once a second, from the cheap VmRSS counter."""
    t0 = time.perf_counter()
    while True:
        rss, _, n = await asyncio.to_thread(memory_mb, pid, pss=False)
        peaks[0], peaks[2] = max(peaks[0], rss), max(peaks[2], n)
        timeline.append((round(time.perf_counter() - t0, 1), round(rss, 1)))
        await asyncio.sleep(every)


async def run(url: str, clients: int, seconds: float, bodies: list[dict[str, Any]], pid: int | None = None, warmup: float = 10.0) -> LoadResult:
    """``clients`` closed-loop clients for ``seconds`` after ``warmup`` seconds of the same load whose answers are not
    counted; the server's memory right after warm-up is the baseline its growth under load is measured from."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    peaks = [0.0, 0.0, 0.0]
    timeline: list[tuple[float, float]] = []
    warm = (float("nan"), float("nan"), 0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        if warmup > 0:
            await asyncio.gather(*(_client(http, bodies, k, time.perf_counter() + warmup, [], Counter()) for k in range(clients)))
        if pid:
            warm = memory_mb(pid)
        sampler = asyncio.create_task(_sample_memory(pid, 1.0, peaks, timeline)) if pid else None
        lat: list[float] = []
        errors: Counter[str] = Counter()
        cpu0 = (cpu_seconds(pid) if pid else float("nan"), time.process_time(), machine_busy_seconds())
        t0 = time.perf_counter()
        await asyncio.gather(*(_client(http, bodies, k * 7, t0 + seconds, lat, errors) for k in range(clients)))
        elapsed = time.perf_counter() - t0
        cpu1 = (cpu_seconds(pid) if pid else float("nan"), time.process_time(), machine_busy_seconds())
        if sampler is not None:
            sampler.cancel()
    res = LoadResult(clients, elapsed, len(lat), dict(errors), lat, warmup_s=warmup)
    res.server_cpu_s = cpu1[0] - cpu0[0] if pid else None
    res.client_cpu_s, res.machine_busy_cpu_s = cpu1[1] - cpu0[1], cpu1[2] - cpu0[2]
    if pid:
        res.server_rss_mb, res.server_processes = peaks[0], int(peaks[2])
        res.warm_rss_mb, res.warm_pss_mb = warm[0], warm[1]
        res.end_rss_mb, res.server_pss_mb, _ = memory_mb(pid)  # PSS only now, after the measured load
        res.rss_timeline_mb = timeline
    return res


def load_test(workers: int, clients: int, seconds: float, bodies: list[dict[str, Any]], index_dir: Path | None = None, warmup: float = 10.0) -> dict[str, Any]:
    """Start a server with ``workers`` workers, load it, stop it; the summary includes its ready time."""
    OUT.mkdir(parents=True, exist_ok=True)
    busy = os.getloadavg()[0]  # other work on the machine takes CPU from the server
    server = start_server(workers, index_dir=index_dir, log_path=OUT / f"server-w{workers}.log")
    try:
        idle_rss, idle_pss, _ = memory_mb(server.proc.pid)
        res = asyncio.run(run(server.url, clients, seconds, bodies, server.proc.pid, warmup))
        per_process = [(p, _status_kb(p, "status", "VmRSS") // 1024, _status_kb(p, "smaps_rollup", "Pss") // 1024) for p in process_tree(server.proc.pid)]
    finally:
        server.stop()
    idle = {"idle_rss_mb": idle_rss, "idle_pss_mb": idle_pss, "per_process_pid_rss_pss_mb": per_process}
    return {"workers": workers, "ready_s": server.ready_s, "loadavg_1min_before": busy} | idle | res.summary()


def _cpu_cell(r: dict[str, Any]) -> str:
    """CPU milliseconds per answer: the server's, the load generator's, and the whole machine's (2 cores = 2000 ms/s)."""
    if not r.get("answers"):
        return "–"
    server = f"{r['server_cpu_ms_per_answer']:.1f}" if r.get("server_cpu_ms_per_answer") is not None else "–"
    machine = 1000 * r["machine_busy_cpu_s"] / r["answers"] if r.get("machine_busy_cpu_s") is not None else float("nan")
    return f"{server} / {r['client_cpu_ms_per_answer']:.1f} / {machine:.1f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| workers | clients × s | answers/s | p50 ms | p95 ms | p99 ms | errors | ready s "
        "| RSS MB idle → after warm-up → peak (growth after warm-up) | PSS MB after warm-up → after load (processes) "
        "| CPU ms/answer server / load generator / whole machine | load avg before |\n"
    )
    head += "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    lines = []
    for r in rows:
        idle = f"{r['idle_rss_mb']:.0f}" if r.get("idle_rss_mb") else "–"
        growth = r.get("growth_after_warmup")
        rss = f"{idle} → {r['warm_rss_mb']:.0f} → {r['server_rss_mb']:.0f} ({growth:+.1%})" if r.get("server_rss_mb") and growth is not None else "–"
        mem = f"{r['warm_pss_mb']:.0f} → {r['server_pss_mb']:.0f} ({r['server_processes']})" if r.get("server_pss_mb") else "–"
        errs = sum(r["errors"].values())
        err = f"{errs} {r['errors']}" if errs else "0"
        cpu = _cpu_cell(r)
        lines.append(
            f"| {r.get('workers', '–')} | {r['clients']} × {r['seconds']:.0f} | {r['rps']:.1f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} "
            f"| {err} | {r.get('ready_s', float('nan')):.1f} | {rss} | {mem} | {cpu} | {r.get('loadavg_1min_before', float('nan')):.1f} |\n"
        )
    return head + "".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="load a server that is already running instead of starting one")
    p.add_argument("--pid", type=int, help="with --url: the server's process id, to report its memory")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="start one server per value, one after the other")
    p.add_argument("--index-dir", type=Path, help="passed to `policyqa serve`")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--warmup", type=float, default=10, help="seconds of uncounted load first; memory growth is measured from its end")
    p.add_argument("--questions", type=Path, default=ROOT / "eval" / "test.jsonl")
    p.add_argument("--out", default="load", help="name of the .md/.json written to artifacts/bench/")
    args = p.parse_args()
    bodies = load_questions(args.questions)
    rows: list[dict[str, Any]] = []
    if args.url:
        rows.append(asyncio.run(run(args.url, args.clients, args.seconds, bodies, args.pid, args.warmup)).summary())
    for w in [] if args.url else args.workers:
        print(f"load: {w} worker(s), {args.clients} clients × {args.seconds:.0f} s …", file=sys.stderr, flush=True)
        rows.append(load_test(w, args.clients, args.seconds, bodies, args.index_dir, args.warmup))
    settings = {"cores": os.cpu_count(), "python": sys.version.split()[0], "questions": str(args.questions.relative_to(ROOT)), "url": args.url}
    md = f"# Closed-loop load on POST /api/ask\n\n{markdown(rows)}\nQuestions: {settings['questions']} ({len(bodies)}, cycled); {settings['cores']} cores; "
    md += f"load generator on the same machine; {args.warmup:.0f} s of uncounted warm-up load first. Idle: after /api/health says ready, before any "
    md += "question; growth is the measured load's peak over the RSS right after warm-up. RSS sums double-count shared pages; PSS does not.\n"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.out}.md").write_text(md, encoding="utf-8")
    (OUT / f"{args.out}.json").write_text(json.dumps({"settings": settings, "runs": rows}, ensure_ascii=False, indent=2), encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
