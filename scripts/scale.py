"""How retrieval scales with corpus size (a measurement, not a test): FAISS Flat / HNSW / IVF-PQ and bm25s.

The corpus is recombined into N sentences (2–4 clauses of its own sentences each, seeded; no outside data).
For each N: build time, RSS growth, single-query search p50 and recall@10 against exact (Flat) search, for
the index types of assistant/vectors.py, and whether ``choose_kind(N)`` picks one with recall@10 ≥ 0.95.

Embedding a million sentences on two cores would take hours, so only the first --real sentences are
embedded with the real model (through ``embed_in_shards``, cached under artifacts/bench/shards). Beyond
that the vectors are SYNTHETIC: each mixes two real sentence vectors with random weights plus Gaussian
noise at the real per-dimension spread, then is L2-normalised, so it lies where real ones lie. Queries are
the real embeddings of the eval questions. Also shows that an interrupted ``embed_in_shards`` resumes
without recomputing the shards it had finished.

    .venv/bin/python scripts/scale.py --sizes 10000 100000
    .venv/bin/python scripts/scale.py --sizes 1000000 --kinds flat ivfsq8 --no-bm25   # merged into the same report

Writes artifacts/bench/scale.md and scale.json (results for other sizes already there are kept).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import config  # noqa: E402
from assistant.keywords import Tokenizer, harvest_terms  # noqa: E402
from assistant.parsing import parse_corpus  # noqa: E402
from assistant.vectors import IndexKind, Progress, build_vector_index, choose_kind, embed_in_shards, search_params  # noqa: E402

OUT = ROOT / "artifacts" / "bench"
SEED = 20200101
_CLAUSE = re.compile(r"[^，；：。！？]+[，；：。！？]?")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- the synthetic corpus ---------------------------------------------------------------------------
def clause_pool() -> tuple[list[str], list[str]]:
    """Distinct clauses of the corpus's sentences, and the policy terms the keyword index would harvest."""
    units = [u for d in parse_corpus(list(config.corpus_paths())) for u in d.units]
    pool = {m.group(0).strip("，；：。！？ ") for u in units for s in u.sentences for m in _CLAUSE.finditer(s)}
    return sorted(c for c in pool if len(c) >= 4), harvest_terms(u.text for u in units)


def recombine(pool: Sequence[str], n: int, seed: int = SEED) -> np.ndarray:
    """(n, 4) clause ids, -1 padded: sentence i joins 2–4 random clauses. Ids rather than strings keep 1M cheap.
    Ids and lengths come from separate streams, so the first k sentences are the same for every n (the cache holds)."""
    ids = np.random.default_rng(seed).integers(0, len(pool), size=(n, 4))
    length = np.random.default_rng(seed + 7).integers(2, 5, size=n)
    ids[np.arange(4)[None, :] >= length[:, None]] = -1
    return ids


def sentence(pool: Sequence[str], row: np.ndarray) -> str:
    return "，".join(pool[i] for i in row if i >= 0) + "。"


# -- vectors ----------------------------------------------------------------------------------------
class StopAfter:
    """An embedder that fails after ``limit`` calls (None: never) and counts them: stands in for a killed build."""

    def __init__(self, embedder: Any, limit: int | None):
        self.embedder, self.limit, self.calls = embedder, limit, 0
        self.model_id, self.dim = embedder.model_id, embedder.dim

    def encode_passages(self, texts: Sequence[str], **kw: Any) -> np.ndarray:
        if self.limit is not None and self.calls >= self.limit:
            raise KeyboardInterrupt("simulated interruption")
        self.calls += 1
        return self.embedder.encode_passages(texts, **kw)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.encode_queries(texts)


def resume_demo(embedder: Any, texts: Sequence[str], shard: int, stop_after: int) -> dict[str, Any]:
    """Interrupt a sharded build after ``stop_after`` shards, run it again, and count the shards embedded each time."""
    total = -(-len(texts) // shard)
    with tempfile.TemporaryDirectory() as tmp:
        first = StopAfter(embedder, stop_after)
        t = time.perf_counter()
        try:
            embed_in_shards(texts, first, Path(tmp), shard_size=shard)
        except KeyboardInterrupt:
            pass
        first_s = time.perf_counter() - t
        second, seen = StopAfter(embedder, None), list[Progress]()
        t = time.perf_counter()
        vecs = embed_in_shards(texts, second, Path(tmp), seen.append, shard_size=shard)
        resume_s = time.perf_counter() - t
    ok = first.calls == stop_after and second.calls == total - stop_after and vecs.shape[0] == len(texts)
    return {
        "texts": len(texts), "shards": total, "interrupted_after_shards": first.calls, "first_s": first_s,
        "resume_embedded_shards": second.calls, "resume_s": resume_s, "resumed_texts": seen[-1].resumed if seen else len(texts), "ok": ok,
    }


def real_vectors(embedder: Any, texts: Sequence[str], shard: int) -> tuple[np.ndarray, str]:
    """Real passage embeddings, cached under artifacts/bench/shards (so a second run, or a resumed one, is quick); and the rate."""
    last: list[Progress] = []

    def say(p: Progress) -> None:
        last.append(p)
        print(f"  embedded {p.done}/{p.total} (resumed {p.resumed}), ETA {p.eta_seconds:.0f} s", file=sys.stderr, flush=True)

    vecs = embed_in_shards(texts, embedder, OUT / "shards", say, shard_size=shard)
    fresh = last[-1].done - last[-1].resumed if last else 0
    rate = f"{fresh / last[-1].seconds:.0f} sentences/s over {fresh} fresh sentences" if fresh else "all shards cached"
    return vecs, rate


def synthetic(real: np.ndarray, n: int, seed: int = SEED) -> np.ndarray:
    """``real`` followed by n − len(real) mixtures a·x_i + (1−a)·x_j + σ·ε (a ~ U(0.3, 1), σ = half the per-dimension std), normalised."""
    rng = np.random.default_rng(seed + 1)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    m = min(n, len(real))
    out[:m] = real[:m]
    sigma = 0.5 * real.std(axis=0)
    for lo in range(m, n, 100_000):
        hi = min(n, lo + 100_000)
        i, j = rng.integers(0, len(real), size=(2, hi - lo))
        a = rng.uniform(0.3, 1.0, size=(hi - lo, 1)).astype(np.float32)
        x = a * real[i] + (1 - a) * real[j] + sigma * rng.standard_normal((hi - lo, real.shape[1]), dtype=np.float32)
        out[lo:hi] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def mean_cosine(x: np.ndarray, rng: np.random.Generator, pairs: int = 20_000) -> float:
    i, j = rng.integers(0, len(x), size=(2, pairs))
    return float(np.mean(np.sum(x[i] * x[j], axis=1)))


# -- measuring --------------------------------------------------------------------------------------
def measure_faiss(x: np.ndarray, queries: np.ndarray, kind: IndexKind, exact: np.ndarray | None) -> tuple[dict[str, Any], np.ndarray]:
    """Build ``kind`` over ``x``; single-query p50 over the queries; recall@10 against ``exact`` ids (None: this is exact)."""
    gc.collect()
    before, t = rss_mb(), time.perf_counter()
    index = build_vector_index(x, kind)
    build_s, grown = time.perf_counter() - t, rss_mb() - before
    lat = []
    for q in queries:
        t = time.perf_counter()
        index.search(q[None, :], 10)
        lat.append((time.perf_counter() - t) * 1000)
    _, ids = index.search(queries, 10)
    recall = 1.0 if exact is None else float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=True)]))
    params = search_params(index)
    del index
    row = {"index": kind.value, "build_s": build_s, "rss_delta_mb": grown, "p50_ms": float(np.median(lat)), "p95_ms": float(np.percentile(lat, 95))}
    return row | {"recall@10": recall, "params": params}, ids


def measure_bm25(pool_tokens: Sequence[list[str]], rows: np.ndarray, queries: Sequence[list[str]]) -> dict[str, Any]:
    """bm25s over the sentences' tokens (clause tokens, tokenised once), searched as KeywordIndex.scores does."""
    import bm25s

    tokens = [[t for i in row if i >= 0 for t in pool_tokens[i]] or ["<empty>"] for row in rows]
    gc.collect()
    before, t = rss_mb(), time.perf_counter()
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    build_s, grown = time.perf_counter() - t, rss_mb() - before
    del tokens
    vocab = set(bm25.vocab_dict)
    lat = []
    for q in queries:
        t = time.perf_counter()
        known = [w for w in q if w in vocab]
        scores = bm25.get_scores(known) if known else np.zeros(len(rows), dtype=np.float32)
        np.argpartition(-scores, 10)[:10]
        lat.append((time.perf_counter() - t) * 1000)
    return {"index": "bm25s", "build_s": build_s, "rss_delta_mb": grown, "p50_ms": float(np.median(lat)), "p95_ms": float(np.percentile(lat, 95)), "recall@10": None}


def run_size(n: int, vectors: np.ndarray, queries: np.ndarray, kinds: Sequence[IndexKind], bm25_args: tuple[Any, Any, Any] | None) -> list[dict[str, Any]]:
    """Every index type at size n; Flat first, as the exact reference for recall."""
    say = lambda msg: print(f"scale {n}: {msg}", file=sys.stderr, flush=True)  # noqa: E731
    rows, exact = [], None
    for kind in [IndexKind.FLAT, *(k for k in kinds if k is not IndexKind.FLAT)]:
        say(f"{kind.value} …")
        row, ids = measure_faiss(vectors, queries, kind, exact)
        exact = ids if exact is None else exact
        rows.append(row)
    if bm25_args is not None:
        say("bm25s …")
        pool_tokens, ids, q_tokens = bm25_args
        rows.append(measure_bm25(pool_tokens, ids[:n], q_tokens))
    chosen = choose_kind(n).value
    for r in rows:
        r |= {"n": n, "chosen": r["index"] == chosen}
    return rows


# -- report -----------------------------------------------------------------------------------------
def markdown(res: dict[str, Any]) -> str:
    head = "| N | vectors | index (search settings) | build s | RSS Δ MB | search p50 / p95 ms | recall@10 vs Flat | choose_kind(N) |\n|---|---|---|---|---|---|---|---|\n"
    lines = []
    for n in sorted(res["sizes"], key=int):
        size = res["sizes"][n]
        for r in size["rows"]:
            rec = "–" if r["recall@10"] is None else f"{r['recall@10']:.3f}"
            ok = r["recall@10"] is not None and r["recall@10"] >= 0.95 and r.get("p95_ms", float("inf")) <= 100
            mark = ("✓ recall ≥ 0.95, p95 ≤ 100 ms" if ok else "✗ short of recall ≥ 0.95 / p95 ≤ 100 ms") if r["chosen"] and r["recall@10"] is not None else ""
            mark = f"**chosen** {mark}" if r["chosen"] else ""
            params = ", ".join(f"{k} {v}" for k, v in (r.get("params") or {}).items())
            name = f"{r['index']} ({params})" if params else r["index"]
            p95 = f"{r['p95_ms']:.2f}" if "p95_ms" in r else "–"
            lines.append(f"| {int(n):,} | {size['vectors']} | {name} | {r['build_s']:.1f} | {r['rss_delta_mb']:.0f} | {r['p50_ms']:.2f} / {p95} | {rec} | {mark} |\n")
    d, s = res.get("resume", {}), res["settings"]
    notes = [
        f"\nSentences: the corpus's {s['clauses']} clauses recombined 2–4 at a time (seed {s['seed']}). "
        f"Vectors beyond the first {s['real']:,} are SYNTHETIC (mixtures of two real sentence vectors plus noise, normalised); "
        f"mean cosine of random pairs: real {s['mean_cos_real']:.3f}, synthetic {s.get('mean_cos_synthetic', float('nan')):.3f}.",
        f"Queries: {s['queries']} real eval-question embeddings (latency over all of them, one query at a time, {s['cores']} cores). "
        "bm25s is built from tokens cached per clause; its search is `get_scores` + top-10 as in KeywordIndex.",
        f"Model {s['model']}; real embedding: {s.get('embed_rate', 'cached')}.",
    ]
    if d:
        notes.append(
            f"Resumability: a build of {d['texts']} texts in {d['shards']} shards was interrupted after {d['interrupted_after_shards']} shards; "
            f"the rerun embedded {d['resume_embedded_shards']} shards and took {d['resumed_texts']} texts from disk "
            f"({'as expected' if d['ok'] else 'NOT as expected'}; {d['first_s']:.1f} s + {d['resume_s']:.1f} s)."
        )
    return "# Retrieval at scale\n\n" + head + "".join(lines) + "\n".join(notes) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--kinds", nargs="+", default=[k.value for k in IndexKind], choices=[k.value for k in IndexKind])
    p.add_argument("--real", type=int, default=10_000, help="sentences embedded with the real model (the rest are synthetic)")
    p.add_argument("--shard-size", type=int, default=1000)
    p.add_argument("--no-bm25", action="store_true")
    p.add_argument("--demo", type=int, nargs=3, default=[600, 100, 2], metavar=("TEXTS", "SHARD", "STOP"), help="resumability demo; STOP 0 skips it")
    args = p.parse_args()
    from assistant.embedding import load_embedder

    embedder = load_embedder()
    pool, terms = clause_pool()
    ids = recombine(pool, max(*args.sizes, args.real))
    texts = [sentence(pool, r) for r in ids[: args.real]]
    res: dict[str, Any] = {"sizes": {}}
    if args.demo[2] > 0:
        res["resume"] = resume_demo(embedder, texts[: args.demo[0]], args.demo[1], args.demo[2])
    real, rate = real_vectors(embedder, texts, args.shard_size)
    questions = [json.loads(line)["question"] for f in ("test.jsonl", "dev.jsonl") for line in (ROOT / "eval" / f).read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = embedder.encode_queries(questions)
    tok = Tokenizer(terms)
    bm25_args = None if args.no_bm25 else ([tok(c) for c in pool], ids, [tok(q) for q in questions])
    rng = np.random.default_rng(SEED)
    res["settings"] = {"model": embedder.model_id, "seed": SEED, "clauses": len(pool), "real": len(real), "queries": len(questions), "cores": len(os.sched_getaffinity(0)),
                       "mean_cos_real": mean_cosine(real, rng), "embed_rate": rate}
    for n in args.sizes:
        x = synthetic(real, n)
        if n > len(real):
            res["settings"]["mean_cos_synthetic"] = mean_cosine(x[len(real) :], rng)
        vectors = "real" if n <= len(real) else f"{len(real) / n:.0%} real, rest synthetic"
        res["sizes"][str(n)] = {"vectors": vectors, "rows": run_size(n, x, queries, [IndexKind(k) for k in args.kinds], bm25_args)}
        del x
        gc.collect()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "scale.json"
    if path.exists():  # keep the sizes measured by an earlier run (1M is run on its own)
        old = json.loads(path.read_text(encoding="utf-8"))
        res = old | res | {"sizes": old.get("sizes", {}) | res["sizes"], "resume": res.get("resume") or old.get("resume", {})}
    path.write_text(json.dumps(res, ensure_ascii=False, indent=2), encoding="utf-8")
    md = markdown(res)
    (OUT / "scale.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
