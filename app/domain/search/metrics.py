from __future__ import annotations

from prometheus_client import Counter, Histogram

from app.lib.observability import REGISTRY

VECTOR_FALLBACKS = Counter(
    "lyceum_search_vector_fallbacks_total",
    "Searches answered from full text only because the vector index (Chroma) failed or timed out",
    ["mode"],
    registry=REGISTRY,
)
SEARCH_LATENCY = Histogram(
    "lyceum_search_seconds",
    "Hybrid search, by part (vector, text, total)",
    ["part"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
