"""Vector index by corpus size, and a resumable sharded embedding build.

Exact search (Flat) is cheapest below ``FLAT_MAX`` vectors; HNSW keeps recall@10 ≥ 0.95 up to
a few hundred thousand; beyond, IVF over 8-bit scalar codes (d bytes a vector instead of 4·d) keeps
memory bounded and recall@10 ≥ 0.95 by probing a quarter of its lists. IVF-PQ stays available but is not
chosen: on e5 vectors its 48-byte codes rank too coarsely (recall@10 0.76 at 1M even re-ranked exactly).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .embedding import Embedder

logger = logging.getLogger(__name__)

FLAT_MAX = 50_000
HNSW_MAX = 300_000
# Measured by scripts/scale.py at 100k (synthetic mixtures of real e5 vectors, 242 real queries): efSearch 128
# gave recall@10 0.955 (p95 0.5 ms), 256 gave 0.980 (p95 1.0 ms), 512 0.993 (p95 1.7 ms).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
# IVF-SQ8 at 1M (nlist 2048, same data): nprobe 128 → recall@10 0.935 (p95 4.1 ms), 256 → 0.950 (p95 5.5 ms);
# a quarter of the lists leaves a margin above 0.95 well inside the 100 ms budget.
IVF_PROBE_FRACTION = 4  # nprobe = nlist // this


class IndexKind(enum.Enum):
    FLAT = "flat"
    HNSW = "hnsw"
    IVFPQ = "ivfpq"
    IVFSQ8 = "ivfsq8"


def choose_kind(n: int) -> IndexKind:
    """The index type for ``n`` vectors."""
    if n <= FLAT_MAX:
        return IndexKind.FLAT
    return IndexKind.HNSW if n <= HNSW_MAX else IndexKind.IVFSQ8


#: Kinds whose stored vectors reconstruct exactly (a rebuild may reuse them); the others keep 8-bit or PQ codes.
EXACT_KINDS = frozenset({IndexKind.FLAT, IndexKind.HNSW})


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss is a core dependency
        raise ImportError(f"faiss is not installed ({exc}); run `pip install faiss-cpu`") from exc
    return faiss


def build_vector_index(vectors: np.ndarray, kind: str | IndexKind = "auto"):
    """An inner-product FAISS index over L2-normalised ``vectors`` (n, d), of ``kind`` or chosen by size."""
    faiss = _faiss()
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = x.shape
    k = choose_kind(n) if kind == "auto" else IndexKind(kind)
    if k is IndexKind.FLAT:
        index = faiss.IndexFlatIP(d)
    elif k is IndexKind.HNSW:
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif k is IndexKind.IVFSQ8:
        index = _ivf_sq8(x, faiss)
    else:
        index = _ivfpq_refined(x, faiss)
    index.add(x)
    return index


def _ivf_sq8(x: np.ndarray, faiss):
    """IVF with 8-bit scalar codes, 2·√n lists trained on ≤ 64 points each, probing ``nlist // IVF_PROBE_FRACTION``."""
    n, d = x.shape
    nlist = max(1, min(2 * int(math.sqrt(n)), n // 39))  # ≥ 39 training points per list
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(d), d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.nprobe = max(1, nlist // IVF_PROBE_FRACTION)
    index.train(x[np.random.default_rng(0).choice(n, size=min(n, 64 * nlist), replace=False)])
    return index


def _ivfpq_refined(x: np.ndarray, faiss):
    """IVF-PQ candidates re-ranked on 8-bit scalar codes: PQ alone reached recall@10 ≈ 0.4;
    the refine stage brings it above 0.95 at 4 + d bytes a vector instead of 4·d."""
    n, d = x.shape
    nlist = max(1, min(4 * int(math.sqrt(n)), n // 39))  # ≥ 39 training points per list
    ivf = faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, nlist, d // 8 if d % 8 == 0 else d // 4, 8, faiss.METRIC_INNER_PRODUCT)
    ivf.nprobe = min(nlist, 64)
    refine = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index = faiss.IndexRefine(ivf, refine)
    index.k_factor = 32
    index.train(x[np.random.default_rng(0).choice(n, size=min(n, 256 * nlist), replace=False)])
    return index


def search_params(index) -> dict[str, int]:
    """The settings that trade recall for speed in a FAISS index from :func:`build_vector_index` (empty for Flat)."""
    faiss = _faiss()
    out: dict[str, int] = {}
    if isinstance(index, faiss.IndexRefine):
        out["k_factor"] = int(index.k_factor)
        index = faiss.downcast_index(index.base_index)
    if isinstance(index, faiss.IndexHNSW):
        out |= {"M": int(index.hnsw.nb_neighbors(1)), "efSearch": int(index.hnsw.efSearch)}
    elif isinstance(index, faiss.IndexIVF):
        out |= {"nlist": int(index.nlist), "nprobe": int(index.nprobe)}
    return out


def kind_of(index) -> IndexKind:
    """The :class:`IndexKind` of a FAISS index built by :func:`build_vector_index` (or read back from disk)."""
    faiss = _faiss()
    if isinstance(index, faiss.IndexRefine):
        return IndexKind.IVFPQ
    if isinstance(index, faiss.IndexHNSW):
        return IndexKind.HNSW
    if isinstance(index, faiss.IndexIVFScalarQuantizer):
        return IndexKind.IVFSQ8
    if isinstance(index, faiss.IndexIVFPQ):
        return IndexKind.IVFPQ
    if isinstance(index, faiss.IndexFlat):
        return IndexKind.FLAT
    raise ValueError(f"unsupported FAISS index type {type(index).__name__}")


#: The :func:`search_params` keys that are only read at search time; the others (M, nlist) are fixed by the build.
TUNABLE_PARAMS = ("efSearch", "nprobe", "k_factor")


def apply_search_params(index, params: dict[str, int]) -> dict[str, int]:
    """Set the search-time settings in ``params`` (efSearch, nprobe, k_factor) on ``index`` where it has them;
    returns the settings now in effect (:func:`search_params`). Keys the index does not have are ignored."""
    faiss = _faiss()
    inner = index
    if isinstance(index, faiss.IndexRefine):
        if "k_factor" in params:
            index.k_factor = float(params["k_factor"])
        inner = faiss.downcast_index(index.base_index)
    if isinstance(inner, faiss.IndexHNSW) and "efSearch" in params:
        inner.hnsw.efSearch = int(params["efSearch"])
    elif isinstance(inner, faiss.IndexIVF) and "nprobe" in params:
        inner.nprobe = max(1, min(int(params["nprobe"]), int(inner.nlist)))
    return search_params(index)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    seconds: float
    resumed: int = 0  # texts found already embedded on disk, not counted in the rate

    @property
    def eta_seconds(self) -> float:
        fresh = self.done - self.resumed
        return self.seconds / fresh * (self.total - self.done) if fresh > 0 else float("nan")


def _texts_hash(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def embed_in_shards(
    texts: Sequence[str],
    embedder: Embedder,
    folder: Path,
    progress: Callable[[Progress], None] | None = None,
    *,
    shard_size: int = 4096,
) -> np.ndarray:
    """Embed ``texts`` as passages, one ``.npy`` per shard written atomically; shards already
    on disk (same texts, same model) are kept, so an interrupted build continues where it stopped."""
    folder = Path(folder)
    key = hashlib.sha256(f"{embedder.model_id}\0{_texts_hash(texts)}".encode()).hexdigest()[:16]
    shard_dir = folder / key
    shard_dir.mkdir(parents=True, exist_ok=True)
    start, parts, resumed = time.perf_counter(), [], 0
    for i, lo in enumerate(range(0, len(texts), shard_size)):
        path = shard_dir / f"{i:06d}.npy"
        if path.exists():
            parts.append(np.load(path))
            resumed += len(parts[-1])
            continue
        vecs = embedder.encode_passages(list(texts[lo : lo + shard_size]))
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vecs)
        os.replace(tmp, path)  # atomic: a killed build never leaves a half shard
        parts.append(vecs)
        if progress is not None:
            progress(Progress(min(lo + shard_size, len(texts)), len(texts), time.perf_counter() - start, resumed))
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.vstack(parts)
