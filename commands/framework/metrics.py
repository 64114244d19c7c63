"""Prometheus metrics of the dispatcher, exposed at ``GET /metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "rad_requests_total", "Requests dispatched, by kind and outcome", ["kind", "outcome"]
)
LATENCY = Histogram(
    "rad_request_seconds", "Time to handle a request, by kind", ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
