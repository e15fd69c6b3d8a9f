"""Prometheus metrics of the station API (one registry per app, so tests can build many apps)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    verifications: Counter
    logins: Counter


def build_metrics() -> Metrics:
    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        requests=Counter(
            "cancuoc_http_requests_total",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "cancuoc_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            registry=registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        ),
        verifications=Counter(
            "cancuoc_verification_decisions_total",
            "Verification decisions",
            ["decision"],
            registry=registry,
        ),
        logins=Counter(
            "cancuoc_logins_total",
            "Authentication attempts",
            ["method", "outcome"],
            registry=registry,
        ),
    )
