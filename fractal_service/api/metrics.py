"""Prometheus metrics of the API process (one process, many threads: no multiprocess mode).

Names follow prometheus_client's rules: base units, `_total` for counters, `_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from fractal_service.store import Store, StoreError

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})


class ApiMetrics:
    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fractal_http_requests", "HTTP requests answered, by route and status",
            ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "fractal_http_request_duration_seconds", "Time to answer an HTTP request",
            ["method", "route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.compute = Histogram(
            "fractal_worker_compute_seconds", "Render time of stored fractals, as workers report",
            registry=self.registry, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.pixels = Counter(
            "fractal_pixels_computed", "Pixels of stored fractals", registry=self.registry)
        self.results = Counter(
            "fractal_results_uploaded", "Result uploads, by whether they were stored",
            ["stored"], registry=self.registry)
        self.shed = Counter(
            "fractal_http_requests_shed", "Store-bound requests answered 503 at once because "
            "every store slot was busy (api/admission.py)", registry=self.registry)
        self.store_in_flight = Gauge(
            "fractal_store_requests_in_flight", "Requests holding a store slot",
            registry=self.registry)
        self.store_slots = Gauge(
            "fractal_store_slots", "Requests that may wait on the store at once (threads - "
            "spare_threads; api/admission.py)", registry=self.registry)
        self.store_overdue = Gauge(
            "fractal_store_requests_overdue", "Store slots held by requests past their "
            "deadline (a wedge: /healthz fails when the store itself answers)",
            registry=self.registry)
        self.deadline_exceeded = Counter(
            "fractal_http_requests_deadline_exceeded", "Requests answered 504 because the "
            "store did not answer within their deadline", registry=self.registry)
        self.registry.register(_StateCollector(store))

    def install(self, app: Flask) -> None:
        @app.before_request
        def _start() -> None:
            g.request_started = time.perf_counter()

        @app.after_request
        def _record(response: Response) -> Response:
            # The rule, not the path: uuids in paths would explode label cardinality.
            route = request.url_rule.rule if request.url_rule else "unmatched"
            # Any token is a valid HTTP method: only known ones may name a series.
            method = request.method if request.method in METHODS else "other"
            started = g.get("request_started")
            if started is not None:
                self.latency.labels(method, route).observe(time.perf_counter() - started)
            self.requests.labels(method, route, str(response.status_code)).inc()
            return response

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), mimetype=CONTENT_TYPE_LATEST)


class _StateCollector:
    """Fractals by state, read from the store at scrape time (one query per scrape)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("fractal_fractals", "Fractals in the store, by state",
                                   labels=["state"])
        up = GaugeMetricFamily("fractal_store_up", "1 if the store answered the last scrape")
        try:
            counts = self.store.count_by_state()
        except StoreError:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for state, n in counts.items():
                family.add_metric([state.value], n)
            yield family
        yield up
        yield from _replica(self.store)


def _replica(store: Store) -> Iterator[GaugeMetricFamily]:
    """The synced copy in another region, where the store URL names one (`peer=`)."""
    peer = store.replica_peer
    if peer is None:
        return
    up = GaugeMetricFamily("fractal_store_replica_up", "1 if both regions answered the last "
                           "replica measurement", labels=["peer"])
    try:
        age = store.replica_age()
    except StoreError:
        up.add_metric([peer], 0)
        yield up
        return
    up.add_metric([peer], 1)
    yield up
    family = GaugeMetricFamily(
        "fractal_store_replica_age_seconds", "Age of the newest of this region's writes that "
        "the peer region's synced copy holds (the RPO now; +Inf: none yet)", labels=["peer"])
    family.add_metric([peer], age)
    yield family
