"""The registered embedding function: offline, unit vectors, and collections that reopen in a new process."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.api.client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings

from app.domain.search.embedding import WordLlamaEmbedding, embed


def test_embeddings_are_unit_vectors_and_never_nan(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    vectors = embed(["idempotent retries", "\u200b\u200b"])
    assert vectors.shape == (2, 256)
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-3)
    assert not np.isnan(vectors).any()
    assert embed(["idempotent retries"], 64).shape == (1, 64)


def test_the_function_round_trips_through_its_config() -> None:
    function = WordLlamaEmbedding(128)
    rebuilt = WordLlamaEmbedding.build_from_config(function.get_config())
    assert rebuilt.dim == 128
    assert WordLlamaEmbedding.name() == "lyceum-wordllama"
    with pytest.raises(ValueError, match="dim"):
        WordLlamaEmbedding(100)


def test_a_collection_reopens_with_its_embedding_in_a_new_process(tmp_path: Path) -> None:
    """Written by this process, queried by text in another that never names the embedding function."""
    # The writer runs in-process (the model is loaded here already); only the reader needs a new process,
    # and starting a second one cost a whole Python + model start-up for nothing the test checks.
    client = chromadb.PersistentClient(path=str(tmp_path), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.create_collection("lyceum-org-test", embedding_function=WordLlamaEmbedding(64))
    collection.add(ids=["a", "b"], documents=["retry with exponential backoff", "hash passwords with argon2"])
    del collection, client
    SharedSystemClient.clear_system_cache()  # closes this process's handles on the directory
    read = textwrap.dedent(
        f"""
        import chromadb
        from chromadb.config import Settings
        import app.domain.search.embedding  # registers the function by name
        client = chromadb.PersistentClient(path={str(tmp_path)!r}, settings=Settings(anonymized_telemetry=False))
        collection = client.get_collection("lyceum-org-test")
        found = collection.query(query_texts=["how should passwords be stored"], n_results=1)
        rebuilt = collection.configuration["embedding_function"]  # what Chroma embeds the query with
        print(type(rebuilt).__name__, rebuilt.dim, found["ids"][0][0])
        """
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", read], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["WordLlamaEmbedding", "64", "b"]
