from __future__ import annotations

from prometheus_client import Histogram

from app.lib.observability import REGISTRY

RECOMMENDATION_LATENCY = Histogram(
    "lyceum_recommendation_seconds",
    "Recommendations by endpoint (next: the next best steps of a course; related: items related by meaning)",
    ["endpoint"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
