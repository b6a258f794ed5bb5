"""/metrics scrape time with thousands of fractals in Object Storage (the lab cloud's Swift):
a listing of the whole container per scrape (before) against the shared, reused listing of
store/shared.py (now: one listing per 30 s, or ten times what it took).

Brings up a lab cloud of its own, fills a container through SwiftStore.add from 16 threads
(up to --fractals, 10 000, within --fill-budget seconds: the lab's Swift stores about 8 a
second on the shared 2-core machine), then scrapes the API's /metrics in-process (Flask's test
client: the store's time, not HTTP's).

    .venv/bin/python -m benchmarks.metrics_swift [--fractals N] [--scrapes N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.report import write
from cluster.openstack import cloud
from cluster.openstack.layout import MEMBER_CLOUD, Layout
from fractal_service.api.app import create_app
from fractal_service.config import Settings
from fractal_service.params import FractalParams
from fractal_service.records import Fractal, new_uuid
from fractal_service.store.swift import SwiftStore


def _fill(store: SwiftStore, count: int, budget: float) -> tuple[int, float]:
    """Up to `count` fractals, for at most `budget` seconds (the lab's Swift on a shared
    2-core machine stores ~8 a second); returns how many were stored, and the time."""
    started = time.perf_counter()
    base = time.time() - count

    def add(i: int) -> int:
        if time.perf_counter() - started > budget:
            return 0
        store.add(Fractal(new_uuid(base + i), FractalParams(width=64, height=64),
                          created_at=base + i))
        return 1

    with ThreadPoolExecutor(16) as pool:
        stored = sum(pool.map(add, range(count)))
    return stored, time.perf_counter() - started


def _scrapes(client, store: SwiftStore, count: int, *, reuse: bool) -> list[float]:
    times = []
    for _ in range(count):
        if not reuse:
            store._counts._valid_until = 0.0  # what every scrape did before: list it all
        started = time.perf_counter()
        response = client.get("/metrics")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and b'fractal_fractals{state="pending"}' in \
            response.data
    return times


def _stats(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
            "max_ms": round(ordered[-1], 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fractals", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--fill-budget", type=float, default=360.0,
                        help="seconds to spend filling the container at most")
    args = parser.parse_args([] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        layout = Layout(state=Path(tmp_name) / "cloud", venv=Layout().venv,
                        netns_prefix="fmsw")
        try:
            cloud.up(layout, say=lambda _: None)
            url = (f"swift://{MEMBER_CLOUD}/bench-metrics?config={layout.clouds_yaml}"
                   "&region=RegionOne")
            store = SwiftStore.from_url(url)
            stored, fill_s = _fill(store, args.fractals, args.fill_budget)
            client = create_app(Settings(), store).test_client()
            listed = _count_listings(store)
            before = _scrapes(client, store, args.scrapes, reuse=False)
            per_scrape_before = listed["listings"] / args.scrapes
            listed["listings"] = 0
            now = _scrapes(client, store, args.scrapes, reuse=True)
            per_scrape_now = listed["listings"] / args.scrapes
        finally:
            cloud.down(layout)
    data = {"fractals": stored, "scrapes": args.scrapes, "fill_seconds": round(fill_s, 1),
            "before": {**_stats(before), "listing_requests_per_scrape": per_scrape_before},
            "now": {**_stats(now), "listing_requests_per_scrape": per_scrape_now}}
    write("metrics_swift", data, [
        ["a listing of the container per scrape (before)", data["before"]["p50_ms"],
         data["before"]["p95_ms"], data["before"]["max_ms"], per_scrape_before],
        ["shared, reused listing (now)", data["now"]["p50_ms"], data["now"]["p95_ms"],
         data["now"]["max_ms"], per_scrape_now],
    ], [f"/metrics, {stored} fractals on Swift", "p50 ms", "p95 ms", "max ms",
        "listing requests per scrape"],
        note=f"{args.scrapes} scrapes in a row each; {stored} pending fractals in the "
             "lab cloud's Swift (one generation each). Now, the first scrape of a period lists "
             "the container (as every scrape did before) and the others reuse it; the refresh "
             "is at most one per 30 s, or ten times the listing's own time.")
    return data


def _count_listings(store: SwiftStore) -> dict[str, int]:
    """Container listings (GETs of the container) the store makes from now on."""
    counts = {"listings": 0}
    request = store._request

    def counted(method: str, name: str | None = None, **kwargs):
        counts["listings"] += method == "GET" and name is None
        return request(method, name, **kwargs)

    store._request = counted  # type: ignore[method-assign]
    return counts


if __name__ == "__main__":
    main(sys.argv[1:])
