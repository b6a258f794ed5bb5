"""Checkers that do not take the cluster's word: each node's own processes (the isolated and
crashed-then-booted ones too), Neutron's own record of the floating IP, the store's own count of
every submission, and the cluster's leftovers. tests/cluster uses them as well."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Protocol

from cluster.openstack.layout import Layout
from cluster.openstack.topology import Topology
from resource_agents.metrics import crm_mon


class Skewed(Protocol):
    clock_skew_s: float  # between the nodes' clocks


# From inside a node: each fractal-api process (a gunicorn master and its worker) with its start
# as epoch seconds, and the node's clock, in one call (the node's own PID namespace and /proc).
_API_PROCESSES = (
    "tck=$(getconf CLK_TCK); boot=$(awk '/^btime/ {print $2}' /proc/stat); "
    "for pid in $(pgrep -x fractal-api); do "
    "  ticks=$(cut -d' ' -f22 /proc/$pid/stat 2>/dev/null) || continue; "
    "  echo $pid $(( boot * tck + ticks )) $tck; done; echo now $(date +%s.%N)")


class ApiWatch:
    """Which nodes run an API process, seen from inside every node (the lost and isolated ones
    too, unlike crm_mon's quorate view). Each process is known from its exact start to the last
    sample that saw it; two on different nodes whose spans overlap ran at the same moment."""

    def __init__(self, cluster, pace: Skewed | None = None) -> None:
        self.cluster = cluster
        self.skew = pace.clock_skew_s if pace is not None else 0.0
        # (node, pid) -> [started, last seen], epoch seconds in the node's clock
        self.spans: dict[tuple[str, int], list[float]] = {}
        self.samples = 0
        self.gaps = Gaps()

    def sample(self) -> None:
        # Every node at once: one after the other, three nsenters on a loaded host took longer
        # than the half second a sample may take.
        running = [n for n in self.cluster.nodes if n.running]  # crashed or fenced: nothing
        with ThreadPoolExecutor(max(1, len(running))) as pool:
            for node, output in zip(running, pool.map(_look, running), strict=True):
                self.record(node.name, output)
        self.samples += 1
        self.gaps.tick()

    def record(self, node: str, output: str) -> None:
        lines = output.split("\n")
        now = next((float(ln.split()[1]) for ln in lines if ln.startswith("now ")), None)
        if now is None:
            return
        for line in lines:
            fields = line.split()
            if len(fields) == 3 and all(f.isdigit() for f in fields):
                pid, ticks, tck = (int(f) for f in fields)
                span = self.spans.setdefault((node, pid), [ticks / tck, now])
                span[1] = now

    def overlaps(self) -> list[tuple[str, str]]:
        by_node: dict[str, list[list[float]]] = {}
        for (node, _pid), span in self.spans.items():
            by_node.setdefault(node, []).append(span)
        found = []
        nodes = sorted(by_node)
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                for sa in by_node[a]:
                    for sb in by_node[b]:
                        if max(sa[0], sb[0]) + self.skew < min(sa[1], sb[1]):
                            found.append((a, b))
        return found

    def running_at(self, when: float) -> set[str]:
        """The nodes seen running an API process at `when` (epoch seconds)."""
        return {node for (node, _pid), (start, last) in self.spans.items()
                if start - self.skew <= when <= last + self.skew}

    def assert_never_two(self) -> None:
        assert self.samples, "no node was sampled for API processes"
        assert not self.overlaps(), f"API processes on two nodes at once: {self.spans}"


def _look(node) -> str:
    return _run(node, _API_PROCESSES)


# From inside a node: "held" when the service address is on one of its devices (IPaddr2, or
# a rogue), the node whose API a request to the address reaches from here, and the node's clock.
_ADDRESS_VIEW = (
    "ip -o addr show to {address} | grep -q . && echo held; "
    "echo via $(curl -s -m {timeout} -o /dev/null -D - http://{address}:{port}/healthz "
    "| tr -d '\\r' | awk -F': ' 'tolower($1) == \"x-fractal-node\" {{print $2}}'); "
    "echo now $(date +%s.%N)")


class AddressWatch:
    """Where the service address leads, from every side at each sample: each node's devices,
    the router's NAT for the floating IP (the lab), and whose API answers a request to it from
    the client's network and from each node (the isolated and lost ones too). Every node runs
    an API, so split brain is the address answering from two nodes, not two API processes."""

    def __init__(self, cluster, pace: Skewed | None = None, timeout: float = 0.5) -> None:
        self.cluster = cluster
        self.timeout = timeout
        self.samples = 0
        self.gaps = Gaps()
        # per sample: (epoch, nodes holding it on a device, NAT targets, {viewer: answerer})
        self.seen: list[tuple[float, set[str], list[str], dict[str, str]]] = []

    def sample(self) -> None:
        running = [n for n in self.cluster.nodes if n.running]  # crashed or fenced: nothing
        script = _ADDRESS_VIEW.format(address=self.cluster.service.address,
                                      port=self.cluster.service.api_port, timeout=self.timeout)
        with ThreadPoolExecutor(len(running) + 2) as pool:
            client = pool.submit(self._client_view)
            nat = pool.submit(self._nat_targets)
            views = list(pool.map(lambda n: _run(n, script), running))
        held = {n.name for n, out in zip(running, views, strict=True) if "held" in out.split()}
        answers = {n.name: out.split("via", 1)[1].split()[0] for n, out in
                   zip(running, views, strict=True)
                   if "via" in out and out.split("via", 1)[1].split()[:1] != ["now"]}
        if (by := client.result()) is not None:
            answers["client"] = by
        self.record(time.time(), held, nat.result(), answers)

    def record(self, when: float, held: set[str], nat: list[str],
               answers: dict[str, str]) -> None:
        self.seen.append((when, held, nat, answers))
        self.samples += 1
        self.gaps.tick()

    def _client_view(self) -> str | None:
        """Whose API answers the client on the cloud's external network."""
        answer = self.cluster.request("GET", "/healthz", timeout=self.timeout)
        return answer.headers.get("x-fractal-node") if answer is not None else None

    def _nat_targets(self) -> list[str]:
        """The nodes the cloud router's DNAT rules send the floating IP to."""
        rules = subprocess.run(["ip", "netns", "exec", self.cluster.net.router, "iptables",
                                "-t", "nat", "-S"], capture_output=True, text=True,
                               timeout=10, check=True).stdout
        by_address = {n.address: n.name for n in self.cluster.nodes}
        return [by_address.get(r.split()[-1], r.split()[-1]) for r in rules.splitlines()
                if f"-d {self.cluster.service.address}/32" in r and "DNAT" in r]

    def problems(self) -> list[str]:
        """Each sample where the address was held twice (devices, NAT), and each pair of
        consecutive samples whose answers came from two nodes (a failover flips the NAT between
        two requests of one sample at most once; two nodes serving it persist)."""
        found = [f"at {t:.1f}: held on {sorted(held)}" for t, held, _, _ in self.seen
                 if len(held) > 1]
        found += [f"at {t:.1f}: NAT to {nat}" for t, _, nat, _ in self.seen if len(nat) > 1]
        split = [len(set(answers.values())) > 1 for *_, answers in self.seen]
        found += [f"at {self.seen[i][0]:.1f}: answered by {self.seen[i][3]}, then "
                  f"{self.seen[i + 1][3]}" for i in range(len(split) - 1)
                  if split[i] and split[i + 1]]
        return found

    def assert_never_two(self) -> None:
        assert self.samples, "the service address was never sampled"
        assert not self.problems(), f"the service address in two places: {self.problems()}"


def _run(node, script: str) -> str:
    try:
        return node.exec(["sh", "-c", script], check=False, timeout=10).stdout
    except Exception:  # a node going down mid-call
        return ""


class Gaps:
    """The longest time between two samples of a checker: a checker that stalls sees less."""

    def __init__(self) -> None:
        self.last: float | None = None
        self.longest = 0.0

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.last is not None:
            self.longest = max(self.longest, now - self.last)
        self.last = now


class FipWatch:
    """Which node's port Neutron associates the floating IP with, read from Neutron's own
    database (read-only): what the cloud has recorded and serves, whatever the agents believe or
    the injected faults make of the public endpoint. (Neutron's API, past its token check on
    this loaded host, takes ~2 s a call: too slow to sample twice a second.)"""

    def __init__(self, layout: Layout, topology: Topology) -> None:
        self.db = layout.dir("neutron") / "neutron.db"
        self.fip_id = topology.floating_ip_id
        self.node_of_port = {port: node for node, port in topology.ports.items()}
        self.samples: list[tuple[float, str | None]] = []  # (epoch, node or None: no port)
        self.errors: list[str] = []
        self.gaps = Gaps()

    def sample(self) -> None:
        try:
            with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True,
                                         timeout=0.2)) as db:
                row = db.execute("SELECT fixed_port_id FROM floatingips WHERE id = ?",
                                 (self.fip_id,)).fetchone()
            if row is None:
                raise LookupError(f"no floating IP {self.fip_id} in Neutron's database")
            self.record(time.time(), row[0])
        except (sqlite3.Error, LookupError) as exc:
            self.errors.append(str(exc))
        self.gaps.tick()

    def record(self, when: float, port_id: str | None) -> None:
        self.samples.append((when, self.node_of_port.get(port_id, port_id) if port_id else None))

    def at(self, when: float) -> str | None:
        """The association at the last sample at or before `when`."""
        before = [node for t, node in self.samples if t <= when]
        return before[-1] if before else None


def interleaved(answers: Iterable[tuple[float, str]], window: float = 5.0) -> list[str]:
    """Two nodes answering the service address in turn (A, B, A within `window` s): two APIs
    behind one address, which a failover (A, then B) never shows."""
    found = []
    ordered = sorted(answers)
    for (t0, a), (_t1, b), (t2, c) in zip(ordered, ordered[1:], ordered[2:], strict=False):
        if a == c != b and t2 - t0 <= window:
            found.append(f"{a}, {b}, {a} answered within {t2 - t0:.1f} s at {t0:.1f}")
    return found


def stored_twice(stored: Counter, markers: Iterable[float]) -> dict[float, int]:
    """The submissions (by their unique marker) the store holds more than once."""
    return {m: stored[m] for m in markers if stored[m] > 1}


def list_all(lab) -> list[dict]:
    """Every stored fractal, page by page; a page that does not come raises."""
    listed: list[dict] = []
    marker = ""
    while True:
        page = lab.client("GET", f"/v1/fractals?limit=1000{marker}", timeout=10)
        assert page is not None, "the API did not answer a listing"
        listed += page["fractals"]
        if not page["next_marker"]:
            return listed
        marker = f"&marker={page['next_marker']}"


def leftovers(state: crm_mon.ClusterState | None, configuration: str) -> list[str]:
    """What a healed cluster must not keep: failed actions, ban or move constraints
    (crm resource ban/move write cli-ban-*/cli-prefer-*), UNCLEAN or offline nodes."""
    if state is None:
        return ["no node answers crm_mon"]
    found = [f"failed action {f.get('op_key')} on {f.get('node')}: "
             f"{f.get('exitreason') or f.get('status')}" for f in state.failures]
    found += [f"constraint left: {line.strip()}" for line in configuration.splitlines()
              if line.startswith("location cli-")]
    found += [f"node {n.name} UNCLEAN" for n in state.nodes.values() if n.unclean]
    found += [f"node {n.name} offline" for n in state.nodes.values() if not n.online]
    if not state.quorate:
        found.append("no quorum")
    return found
