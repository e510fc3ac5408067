"""The content index's embedding: wordllama's static embedding, registered with Chroma by name.

Chroma stores an embedding function's name and config with each collection; a registered function is
rebuilt from them when a collection is reopened (a new process, the worker, ``lyceum index rebuild``), so
a collection is never queried with vectors of another model. The choice of model and dimension is
measured on the gold set in docs/decisions/0010-embeddings-for-search.md.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from app.lib.wordllama import load_wordllama

DEFAULT_DIM = 256
_DIMS = (64, 128, 256)
_LOCKS = {dim: threading.Lock() for dim in _DIMS}  # one tokenizer per model, called from Chroma's threads


@functools.cache
def _model(dim: int) -> Any:
    return load_wordllama(None if dim == DEFAULT_DIM else dim)


def embed(texts: list[str], dim: int = DEFAULT_DIM) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Unit vectors of ``texts``; a text with no known token gets a zero vector (not NaN)."""
    with _LOCKS[dim]:
        model = _model(dim)
        with np.errstate(invalid="ignore"):
            vectors = model.embed(texts, norm=True)
    out: np.ndarray[Any, np.dtype[np.float32]] = np.asarray(vectors, dtype=np.float32).reshape(len(texts), dim)
    cleaned: np.ndarray[Any, np.dtype[np.float32]] = np.nan_to_num(out, copy=False)
    return cleaned


@register_embedding_function
class WordLlamaEmbedding(EmbeddingFunction[Documents]):
    """Chroma embedding function over :func:`embed` (cosine space; vectors are unit length)."""

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        if dim not in _DIMS:
            raise ValueError(f"dim must be one of {_DIMS}")
        self.dim = dim

    def __call__(self, input: Documents) -> Embeddings:
        return list(embed(list(input), self.dim))

    @staticmethod
    def name() -> str:
        return "lyceum-wordllama"

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> WordLlamaEmbedding:
        return WordLlamaEmbedding(int(config.get("dim", DEFAULT_DIM)))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if int(config.get("dim", DEFAULT_DIM)) not in _DIMS:
            raise ValueError(f"dim must be one of {_DIMS}")

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]


def warm_up() -> None:
    """Load the model now (about 0.2 s; seconds on a loaded machine) rather than in the first query."""
    embed(["warm up"])
