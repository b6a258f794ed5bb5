"""Jobs stored per second by N render loops through the API on the lab cloud's real Swift, with
a backlog and creations arriving at 2/s (issue 24's campaign load), the claim and upload of
before against now in one run.

Each case: a fresh container with --backlog pending fractals, an API in this process (werkzeug,
threaded, auth off) on a SwiftStore, --loops render loops (fractal_service.worker.runner.Worker,
real HTTP through fractal_service.client) whose render is --render seconds of sleep and a
64×64 PNG (the store is what is measured, not the kernel), and a creator posting 2 keyed
fractals a second for --seconds. Measured: results stored per second, Swift requests (and
their time) per stored job by kind, claim and upload latency at the workers' side.

"before" is the store of 999c568^, rebuilt by a subclass: every claim lists afresh
(SwiftStore._claim_listed, the old claim verbatim), no transition starts from get()'s read,
and an upload proves its lease with a heartbeat before the completion (the old API).

    flock /tmp/fractal-heavy.lock .venv/bin/python -m benchmarks.worker_throughput
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image
from werkzeug.serving import WSGIRequestHandler, make_server

from benchmarks.report import write
from cluster.openstack import cloud
from cluster.openstack.layout import MEMBER_CLOUD, Layout
from fractal_service.api.app import create_app
from fractal_service.client import FractalClient
from fractal_service.config import Settings
from fractal_service.params import FractalParams
from fractal_service.records import Fractal, Lease, Result, new_uuid
from fractal_service.store.base import Completion
from fractal_service.store.swift import SwiftStore
from fractal_service.worker.heartbeat import HeartbeatFile
from fractal_service.worker.runner import Worker, WorkerConfig

SIZE = 64
LEASE = 30.0


class BeforeStore(SwiftStore):
    """The claim and upload paths of 999c568^ (see the module's docstring)."""

    def claim(self, worker: str, lease_seconds: float, now: float,
              token: str | None = None) -> Lease | None:
        return self._claim_listed(worker, lease_seconds, now, token)

    def _recent(self, uuid: str):  # no transition from get()'s read
        return None

    def complete(self, uuid: str, result: Result, now: float,
                 token: str | None = None) -> Completion:
        if token is not None:  # the old API: a heartbeat proved the lease first
            self.heartbeat(uuid, token, LEASE, now)
        return super().complete(uuid, result, now)


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def _counted(store: SwiftStore) -> dict:
    """Swift requests by kind (listing, PUT, HEAD, GET, DELETE) and their seconds."""
    stats = {"n": Counter(), "s": defaultdict(float)}
    request, lock = store._request, threading.Lock()

    def counted(method: str, name: str | None = None, **kwargs):
        kind = "LIST" if method == "GET" and name is None else method
        started = time.perf_counter()
        try:
            return request(method, name, **kwargs)
        finally:
            with lock:
                stats["n"][kind] += 1
                stats["s"][kind] += time.perf_counter() - started

    store._request = counted  # type: ignore[method-assign]
    return stats


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (SIZE, SIZE), 128).save(out, "PNG")
    return out.getvalue()


def _case(store: SwiftStore, args: argparse.Namespace) -> dict:
    base = time.time() - args.backlog
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: store.add(Fractal(
            new_uuid(base + i), FractalParams(width=SIZE, height=SIZE),
            created_at=base + i)), range(args.backlog)))
    stats = _counted(store)
    app = create_app(Settings(auth="none", lease_seconds=LEASE), store)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    image = _png()

    def render(params: FractalParams, progress) -> bytes:
        time.sleep(args.render)
        progress(params.height, params.height)
        return image

    loops = [Worker(FractalClient(url, timeout=10),
                    WorkerConfig(f"w{i}", lease_seconds=LEASE, poll_interval=0.5),
                    HeartbeatFile(None), render) for i in range(args.loops)]
    stop = threading.Event()

    def creator() -> None:
        client, n = FractalClient(url, timeout=10), 0
        next_at = time.monotonic()
        while not stop.is_set():
            n += 1
            with contextlib.suppress(Exception):  # a shed creation is part of the load
                client.create({"width": SIZE, "height": SIZE, "iterations": 16}, f"k{n}")
            next_at += 0.5
            stop.wait(max(0.0, next_at - time.monotonic()))

    threads = [threading.Thread(target=w.run, daemon=True) for w in loops]
    threads.append(threading.Thread(target=creator, daemon=True))
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(args.seconds)
    done = sum(w.jobs_done for w in loops)
    took = time.monotonic() - started
    counts, seconds = Counter(stats["n"]), dict(stats["s"])
    stop.set()
    for w in loops:
        w.stop()
    for t in threads:
        t.join(30)
    server.shutdown()
    per_job = {k: round(v / max(done, 1), 2) for k, v in sorted(counts.items())}
    return {"stored": done, "seconds": round(took, 1), "jobs_per_s": round(done / took, 2),
            "requests_per_job": per_job,
            "request_seconds_per_job": round(sum(seconds.values()) / max(done, 1), 2),
            "mean_ms": {k: round(1000 * seconds[k] / counts[k], 1) for k in counts},
            "requests": dict(counts)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=6)
    parser.add_argument("--backlog", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--render", type=float, default=0.5)
    args = parser.parse_args([] if argv is None else argv)
    data: dict = {"loops": args.loops, "backlog": args.backlog, "render_s": args.render}
    with tempfile.TemporaryDirectory() as tmp_name:
        layout = Layout(state=Path(tmp_name) / "cloud", venv=Layout().venv,
                        netns_prefix="fwtp")
        try:
            cloud.up(layout, say=lambda _: None)
            for name, kind in (("before", BeforeStore), ("now", SwiftStore)):
                url = (f"swift://{MEMBER_CLOUD}/bench-work-{name}?config={layout.clouds_yaml}"
                       "&region=RegionOne")
                store = kind.from_url(url)
                assert isinstance(store, kind)
                data[name] = _case(store, args)
                print(name, data[name], flush=True)
        finally:
            cloud.down(layout)
    rows = [[name, data[name]["jobs_per_s"], data[name]["stored"],
             sum(data[name]["requests_per_job"].values()),
             data[name]["requests_per_job"].get("LIST", 0),
             data[name]["request_seconds_per_job"]] for name in ("before", "now")]
    write("worker_throughput", data, rows,
          ["store", "jobs/s stored", "stored", "Swift requests per job", "listings per job",
           "Swift seconds per job"],
          note=f"{args.loops} render loops ({args.render} s render each), {args.backlog} "
               f"pending at the start and 2 creations/s through the API, {args.seconds:.0f} s "
               "per case, the lab cloud's Swift on this shared 2-core machine. Requests per "
               "job count the creations' too (3 each, ~2 per stored job's time).")
    return data


if __name__ == "__main__":
    main(sys.argv[1:])
