"""The RPO between the two sites' stores: Swift container sync's lag under a steady write load,
between two regions of one lab cloud (`regions`) and between two independent lab clouds
(`clouds`: two Keystones, the Swifts in one container-sync realm, cluster/openstack/peer_clouds),
measured one after the other in one run.

A writer at the first site runs the service's store at a fixed rate: each tick adds a
fractal, claims it and completes it with a PNG (three generations, the last with a body). A
reader at the other lists the same (paired) container every 0.1 s. The lag of a fractal is the
time from its completion's answer at the first to the first listing at the other that shows
it done: what a site lost at that moment would lose. Brings up its own lab clouds, or, for
`regions` alone, uses a running one (`--state`, after `fractal-ha cloud up --regions 2`).

    .venv/bin/python -m benchmarks.sync_lag [--seconds 60] [--rate 1]
        [--topologies regions,clouds] [--state DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.report import write
from cluster.geo.sites import CLOUD_NAMES, PUBLIC_ACCOUNTS, TOPOLOGIES
from cluster.openstack import cloud, peer_clouds, regions, swift
from cluster.openstack.layout import MEMBER_CLOUD, REGIONS, Layout
from fractal_service.params import FractalParams
from fractal_service.records import Fractal, Result, new_uuid
from fractal_service.store.swift import SwiftStore

PNG = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(20_000)  # a small fractal's size
DRAIN_S = 60.0  # after the load: how long the last writes may take to arrive


def _write(store: SwiftStore, done_at: dict[str, float], seconds: float, rate: float) -> None:
    start = time.monotonic()
    for tick in range(int(seconds * rate)):
        time.sleep(max(0.0, start + tick / rate - time.monotonic()))
        now = time.time()
        fractal = Fractal(new_uuid(now), FractalParams(width=64, height=64), created_at=now)
        store.add(fractal)
        lease = store.claim("bench", 60, time.time())
        assert lease is not None and lease.fractal.uuid == fractal.uuid
        store.complete(fractal.uuid, Result(PNG, "x", 0.1, "bench"), time.time())
        done_at[fractal.uuid] = time.time()


def _read(store: SwiftStore, seen_at: dict[str, float], stop: threading.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(Exception):  # a failed listing is retried, as a lag
            for job in store._jobs():
                if job.current.state == "done" and job.uuid not in seen_at:
                    seen_at[job.uuid] = time.time()
        time.sleep(0.1)


# A topology's two stores: pairs a new container, returns the two sites' store URLs.
Pairing = Callable[[str], tuple[str, str]]


def measure(pair: Pairing, seconds: float, rate: float) -> dict:
    container = f"bench-sync-{secrets.token_hex(3)}"
    one, two = (SwiftStore.from_url(url) for url in pair(container))
    done_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    stop = threading.Event()
    reader = threading.Thread(target=_read, args=(two, seen_at, stop), daemon=True)
    reader.start()
    _write(one, done_at, seconds, rate)
    deadline = time.monotonic() + DRAIN_S
    while set(done_at) - set(seen_at) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    reader.join()
    lags = sorted(seen_at[u] - done_at[u] for u in done_at if u in seen_at)
    return {"container": container, "seconds": seconds, "rate_per_s": rate,
            "sync_interval_s": swift.SYNC_INTERVAL_S, "written": len(done_at),
            "arrived": len(lags), "missing_after_drain": len(done_at) - len(lags),
            "lag_p50_s": round(statistics.median(lags), 2) if lags else None,
            "lag_p90_s": round(lags[int(len(lags) * 0.9) - 1], 2) if lags else None,
            "lag_max_s": round(lags[-1], 2) if lags else None}


@contextlib.contextmanager
def _regions(state: Path | None) -> Iterator[Pairing]:
    def pair_in(layout: Layout) -> Pairing:
        def pair(container: str) -> tuple[str, str]:
            regions.pair(layout, container)
            first, second = (regions.store_url(layout, container, r) for r in REGIONS)
            return first, second
        return pair

    if state is not None:
        layout = Layout(state=state, venv=Layout().venv)
        regions.up(layout)
        yield pair_in(layout)
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        layout = Layout(state=Path(tmp_name) / "cloud", venv=Layout().venv, netns_prefix="fsyn")
        try:
            cloud.up(layout, say=lambda _: None)
            regions.up(layout)
            yield pair_in(layout)
        finally:
            cloud.down(layout)


@contextlib.contextmanager
def _clouds() -> Iterator[Pairing]:
    """Two lab clouds as the two-site lab's `clouds` topology makes them."""
    with tempfile.TemporaryDirectory() as tmp_name:
        private = Layout(state=Path(tmp_name) / "a", venv=Layout().venv, netns_prefix="fsya")
        public = Layout(state=Path(tmp_name) / "b", venv=Layout().venv, netns_prefix="fsyb",
                        accounts=PUBLIC_ACCOUNTS, network_plan=REGIONS[1])
        names = CLOUD_NAMES["site-a"], CLOUD_NAMES["site-b"]

        def pair(container: str) -> tuple[str, str]:
            peer_clouds.pair(private, names[0], public, names[1], container)
            return (regions.store_url(private, container, REGIONS[0], MEMBER_CLOUD),
                    regions.store_url(public, container, REGIONS[0], MEMBER_CLOUD))

        try:
            peer_clouds.up(private, names[0], public, names[1], say=lambda _: None)
            yield pair
        finally:
            for layout in (private, public):
                cloud.down(layout)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=1.0, help="fractals completed per second")
    parser.add_argument("--topologies", default=",".join(TOPOLOGIES),
                        help="comma-separated, measured in this order (%(default)s)")
    parser.add_argument("--state", type=Path, help="a running two-region cloud's state dir")
    args = parser.parse_args([] if argv is None else argv)
    data = {}
    for topology in args.topologies.split(","):
        if topology not in TOPOLOGIES:
            parser.error(f"--topologies: {topology!r} is not one of {', '.join(TOPOLOGIES)}")
        stores = _regions(args.state) if topology == "regions" else _clouds()
        with stores as pair:
            data[topology] = measure(pair, args.seconds, args.rate)
        print(f"{topology}: {data[topology]}", flush=True)
    write("sync_lag", data, [[topology, d["written"], d["arrived"], d["lag_p50_s"],
                              d["lag_p90_s"], d["lag_max_s"]] for topology, d in data.items()],
          ["topology", "fractals completed at the first site", "seen done at the other",
           "lag p50 s", "lag p90 s", "lag max s"],
          note=f"{args.rate:g} fractal/s for {args.seconds:g} s, each added, claimed and "
               f"completed with a {len(PNG) // 1000} kB PNG at the first site (3 "
               "generations); the other site's container listed every 0.1 s; the lag is "
               "from the completion's answer to the first listing that shows it done. "
               "regions: RegionOne to RegionTwo of one cloud; clouds: the private cloud's "
               "Swift to the public one's, two Keystones. Container sync every "
               f"{swift.SYNC_INTERVAL_S:g} s (the lab's interval; Swift's default is 300 s). "
               "A site lost at a given moment loses (until it comes back) what was written "
               "less than the lag before.")
    return data


if __name__ == "__main__":
    main(sys.argv[1:])
