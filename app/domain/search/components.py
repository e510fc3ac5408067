"""The search's process-wide parts, built once with the Components: the vector index (Chroma client)."""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.domain.search.vectors import VectorIndex


@dataclass
class SearchComponents:
    vectors: VectorIndex

    @classmethod
    def build(cls, settings: Settings) -> SearchComponents:
        # The Chroma client itself is built on first use, on the index's thread pool: start-up never waits
        # for a Chroma server, and a missing one only degrades search to full text.
        return cls(vectors=VectorIndex(settings))

    async def aclose(self) -> None:
        self.vectors.close()
