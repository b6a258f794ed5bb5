"""Change-to-applied latency of settings in etcd (fractal_service/settings), across followers.

A real three-member etcd (Debian's 3.4, peer and client TLS, tests/support/etcd_cluster.py) on
loopback; FOLLOWERS settings sources as fractal-api and fractal-worker run them (watch + 1 s
linearizable read, TLS client certificates), each preferring a different member, in this one
process (their apply callbacks record the time: no polling error). Each change is one
`fractal config set`-style transaction (validated, guarded by the prefix's revision) through
the first member; its latency is from before that write to each follower's apply. Per change,
"all" is the slowest follower: when the whole cluster runs the new value.

    .venv/bin/python -m benchmarks.settings_latency [--changes 200] [--followers 6]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.report import write
from fractal_service.config import Settings
from fractal_service.settings.cache import ValuesCache
from fractal_service.settings.etcd import Etcd, Tls
from fractal_service.settings.keys import PREFIX, key_of, name_of, validate
from fractal_service.settings.live import LiveSettings
from fractal_service.settings.source import EtcdSettingsSource
from tests.support.etcd_cluster import EtcdCluster


def _follower(cluster: EtcdCluster, index: int, tls: Tls, tmp: Path,
              seen: dict[int, float], lock: threading.Lock) -> EtcdSettingsSource:
    urls = cluster.urls[index % 3:] + cluster.urls[:index % 3]

    def applied(new: Settings) -> None:
        with lock:
            seen.setdefault(new.limits.max_iterations, time.perf_counter())

    live = LiveSettings(lambda etcd: Settings.load(environ={}, etcd=etcd),
                        frozenset({"limits"}), applied)
    source = EtcdSettingsSource(Etcd(urls, tls=tls), live, ValuesCache(tmp / f"c{index}.json"))
    source.load_initial()
    source.start()
    return source


def _set(etcd: Etcd, name: str, value: str) -> None:
    snap = etcd.snapshot(PREFIX)
    validate({**{name_of(k): v for k, v in snap.values.items()}, name: value})
    assert etcd.put_all({key_of(name): value}, (), snap, PREFIX) is not None


def _stats(ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(ms, n=100)
    return {"p50_ms": round(statistics.median(ms), 1), "p99_ms": round(cuts[98], 1),
            "max_ms": round(max(ms), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--changes", type=int, default=200)
    p.add_argument("--followers", type=int, default=6)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        cluster = EtcdCluster(tmp / "etcd")
        cluster.start()
        try:
            pki = cluster.pki
            tls = Tls(str(pki["ca.crt"]), str(pki["client.crt"]), str(pki["client.key"]))
            writer = Etcd(cluster.urls, tls=tls)
            seen: list[dict[int, float]] = [{} for _ in range(args.followers)]
            lock = threading.Lock()
            sources = [_follower(cluster, i, tls, tmp, seen[i], lock)
                       for i in range(args.followers)]
            time.sleep(1.5)  # every watch open
            each, slowest = [], []
            for n in range(args.changes):
                value = 1000 + n
                started = time.perf_counter()
                _set(writer, "limits.max_iterations", str(value))
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    with lock:
                        if all(value in s for s in seen):
                            break
                    time.sleep(0.001)
                with lock:
                    times = [(s[value] - started) * 1000 for s in seen if value in s]
                assert len(times) == args.followers, f"change {n} not applied everywhere"
                each += times
                slowest.append(max(times))
                time.sleep(0.02)
            for source in sources:
                source.stop()
        finally:
            cluster.stop()
    data = {"changes": args.changes, "followers": args.followers,
            "per_follower": _stats(each), "all_followers": _stats(slowest)}
    table = [["one follower", *data["per_follower"].values()],
             ["all followers (the slowest)", *data["all_followers"].values()]]
    write("settings_latency", data, table, ["change applied by", "p50 ms", "p99 ms", "max ms"],
          note=f"{args.changes} changes of limits.max_iterations, each a validated transaction "
               f"through one member, followed by {args.followers} settings sources (watch + "
               "1 s linearizable read) spread over the three members of a TLS etcd 3.4 on "
               "loopback, in one process; from before the write to each source's apply.")


if __name__ == "__main__":
    main()
