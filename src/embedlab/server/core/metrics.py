"""Prometheus metrics: requests, latency, batch sizes, queue depth, tokens and rejections.

Each app has its own registry (not prometheus_client's global one), so several apps in one
process, as in tests, never clash. Request metrics are labelled by route template
(``/v1/jobs/{job_id}``), never by raw path, so label cardinality stays bounded.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    """The server's metrics, in a registry of their own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "embedlab_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "embedlab_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "embedlab_batch_inputs",
            "Inputs per model batch",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "embedlab_batch_duration_seconds",
            "Compute time per model batch",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "embedlab_queue_depth",
            "Inputs waiting for a model's compute thread",
            ["model"],
            registry=r,
        )
        self.tokens_in_flight = Gauge(
            "embedlab_tokens_in_flight",
            "Tokens reserved by requests being tokenised, queued or computed",
            ["model"],
            registry=r,
        )
        self.tokens = Counter("embedlab_tokens", "Tokens embedded", ["model"], registry=r)
        self.inputs = Counter("embedlab_inputs", "Inputs embedded", ["model"], registry=r)
        self.rejected = Counter(
            "embedlab_rejected", "Requests refused before any work", ["reason"], registry=r
        )
        self.jobs = Gauge("embedlab_jobs", "Batch jobs by state", ["state"], registry=r)

    def observe_batch(self, model: str, inputs: int, tokens: int, seconds: float) -> None:
        self.batch_size.labels(model=model).observe(inputs)
        self.batch_seconds.labels(model=model).observe(seconds)
        self.tokens.labels(model=model).inc(tokens)
        self.inputs.labels(model=model).inc(inputs)

    def render(self) -> bytes:
        return generate_latest(self.registry)
