"""Vector index choice by size and the resumable sharded embedding build (small random data)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import vectors
from assistant.vectors import IndexKind, Progress, build_vector_index, choose_kind, embed_in_shards


def _unit(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_choose_kind_by_size():
    assert choose_kind(1_000) is IndexKind.FLAT
    assert choose_kind(vectors.FLAT_MAX + 1) is IndexKind.HNSW
    assert choose_kind(1_000_000) is IndexKind.IVFSQ8


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq", "ivfsq8"])
def test_recall_at_10_against_exact(kind):
    # clustered data, as real embeddings are: points near 200 centres
    centres = _unit(200, seed=1)
    x = centres[np.random.default_rng(2).integers(0, 200, 5000)] + 0.5 * _unit(5000, seed=3)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:50] + 0.05 * _unit(50, seed=4)
    exact = build_vector_index(x, "flat").search(q, 10)[1]
    got = build_vector_index(x, kind).search(q, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, got, strict=True)])
    assert recall >= 0.95, recall


class CountingEmbedder:
    model_id, dim = "count-8", 8

    def __init__(self, fail_after: int | None = None):
        self.calls, self.fail_after = 0, fail_after

    def encode_queries(self, texts):
        return self.encode_passages(texts)

    def encode_passages(self, texts, *, batch_size=32, show_progress=False):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("interrupted")
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = [len(t) for t in texts]
        return out


def test_interrupted_build_resumes_where_it_stopped(tmp_path):
    texts = [f"句子{i}" * (i % 5 + 1) for i in range(100)]
    with pytest.raises(KeyboardInterrupt):
        embed_in_shards(texts, CountingEmbedder(fail_after=3), tmp_path, shard_size=10)
    seen: list[Progress] = []
    resumed = CountingEmbedder()
    out = embed_in_shards(texts, resumed, tmp_path, seen.append, shard_size=10)
    assert resumed.calls == 7  # 3 shards were kept from the first run
    np.testing.assert_array_equal(out, CountingEmbedder().encode_passages(texts))
    assert seen[-1].done == 100 and seen[0].resumed == 30 and seen[-1].eta_seconds == 0
    assert not list(tmp_path.rglob("*.tmp.npy"))


def test_other_texts_do_not_reuse_shards(tmp_path):
    embed_in_shards(["a", "b"], CountingEmbedder(), tmp_path, shard_size=1)
    again = CountingEmbedder()
    embed_in_shards(["a", "c"], again, tmp_path, shard_size=1)
    assert again.calls == 2


def test_search_params_name_the_recall_settings():
    x = _unit(3000)
    assert vectors.search_params(build_vector_index(x, "flat")) == {}
    assert vectors.search_params(build_vector_index(x, "hnsw"))["efSearch"] == vectors.HNSW_EF_SEARCH
    assert {"nlist", "nprobe", "k_factor"} <= set(vectors.search_params(build_vector_index(x, "ivfpq")))
    ivf = vectors.search_params(build_vector_index(x, "ivfsq8"))
    assert ivf["nprobe"] == ivf["nlist"] // vectors.IVF_PROBE_FRACTION


@pytest.mark.parametrize(("kind", "params", "expected"), [
    ("flat", {"efSearch": 9, "nprobe": 9}, {}),
    ("hnsw", {"efSearch": 40, "M": 4}, {"M": vectors.HNSW_M, "efSearch": 40}),  # M is fixed by the build
    ("ivfsq8", {"nprobe": 10_000}, {"nlist": 20, "nprobe": 20}),  # never more lists than there are
    ("ivfpq", {"k_factor": 8, "nprobe": 2}, {"k_factor": 8, "nlist": 20, "nprobe": 2}),
])
def test_search_settings_are_applied_and_reported(kind, params, expected):
    index = build_vector_index(_unit(800), kind)
    assert vectors.kind_of(index) is IndexKind(kind)
    assert vectors.apply_search_params(index, params) == expected == vectors.search_params(index)
