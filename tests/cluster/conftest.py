"""Failover tests start from a healthy cluster (`healthy`); an observer watches each fault play
out. The cluster is the lab or the Vagrant VMs (FRACTAL_HA_CLUSTER, see tests/conftest.py);
`pace` holds what differs between them: bounds, how often to probe, how long to wait."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cluster import operations
from cluster.lab.campaign.checkers import AddressWatch, list_all, stored_twice
from cluster.lab.lab import Lab
from cluster.vagrant.driver import VagrantCluster
from fractal_service.worker.backoff import Backoff
from resource_agents.metrics import crm_mon
from tests.support.processes import wait_until

Cluster = Lab | VagrantCluster


@dataclass(frozen=True)
class Pace:
    restart_bound_s: float  # an API killed answers again within this (users' bound)
    failover_bound_s: float  # a lost node's service answers again within this
    api_monitor_s: float  # the API's depth-0 monitor interval (cluster/config/fractal.crm)
    probe_every: float  # the observer's probes of the service address
    submit_every: float  # and its fractal submissions
    watch_every: float  # each node's API processes, the lost and isolated ones included
    clock_skew_s: float  # between nodes' clocks (lab nodes share the host's)
    slow: float  # factor on every other wait (placement, submissions, rejoin)
    # An API server SIGKILLed: the longest the service may go unanswered (the lab: its lame
    # duck hands over to its successor; measured 0 s in 9 of 10 trials, 1.15 s in one, a move
    # of the address ~2-3 s), and whether the orphaned worker's lame duck (10 s at most)
    # outlasts the restart in place, so that the address stays (else the failed monitor
    # moves it to a serving instance)
    api_kill_gap_s: float = 2.0
    lame_duck_outlasts_restart: bool = True


LAB = Pace(restart_bound_s=20, failover_bound_s=45, api_monitor_s=1, probe_every=0.05,
           submit_every=0.25, watch_every=0.25, clock_skew_s=0, slow=1)
# Software-emulated VMs on 2 shared cores (docs/vagrant.md): token 10 s, timeouts ×4, monitors 3x as
# far apart (the API's every 15 s); each probe is a curl from the client namespace that a guest
# answers, each submission a POST a guest answers, each look at a node's processes an ssh session
# the starved guest pays for (every 10 s). The takeover does not wait for fencing (the floating IP:
# requires=quorum, as in the lab), but detection takes the token and consensus (~22 s) and every
# action a Python process in a guest; the bound leaves room for a guest starved for a minute while
# fence_openstack runs in another.
# An API killed under the observer's load restarted in place after 95.8 s there (the service
# itself answered again after 25 s, from another VM): the restart's bound is 240 s.
VMS = Pace(restart_bound_s=240, failover_bound_s=300, api_monitor_s=15, probe_every=0.25,
           submit_every=1.0, watch_every=10.0, clock_skew_s=1.0, slow=6,
           # a restart takes tens of seconds in a guest: the lame duck's 10 s, then up to a
           # 15 s monitor, then the address's move (each action a Python process in a guest)
           api_kill_gap_s=60, lame_duck_outlasts_restart=False)


@pytest.fixture(scope="session")
def pace(ha_cluster: Cluster) -> Pace:
    return VMS if isinstance(ha_cluster, VagrantCluster) else LAB


@pytest.fixture
def healthy(ha_cluster: Cluster, pace: Pace) -> Iterator[Cluster]:
    """Every test starts from (and leaves) a whole cluster with the service up, failures and
    injected cloud faults cleared."""
    cluster = ha_cluster
    yield cluster
    from cluster.openstack.faults import control

    control.clear(cluster.cloud)
    for node in cluster.nodes:
        cluster.isolate(node.name, cut=False)
    operations.boot_the_fenced(cluster, timeout=90 * pace.slow)
    cluster.wait_formed(timeout=120 * pace.slow)
    operations.clear_failures(cluster, timeout=240 * pace.slow)
    wait_until(lambda: cluster.client("GET", "/healthz"), 60 * pace.slow,
               "the service after the test")


class Observer:
    """While a fault plays out: probes the service address every 50 ms, submits fractals
    continuously through it and samples where the address is held (crm_mon), whom it reaches
    (from the client and from every node) and who holds it on a network device or in the
    router's NAT, so a test can assert on what users and operators saw."""

    def __init__(self, lab: Cluster, pace: Pace) -> None:
        self.lab = lab
        self.pace = pace
        self.submit_every = pace.submit_every
        self.probe_every = pace.probe_every
        self.accepted: list[str] = []  # uuids the API acknowledged (201)
        # Each submission's own xa (a marker no other submission shares): the store is counted
        # by it at the end, so a submission stored twice is seen whatever uuids it got.
        self.markers: list[float] = []
        self.marked: dict[str, float] = {}  # accepted uuid -> its submission's marker
        self.posts: list[tuple[float, bool]] = []  # (seconds, answered) of every POST
        self.holders: list[list[str]] = []  # the address's locations per crm_mon sample
        # The address from every side, the lost and isolated nodes included
        self.address = AddressWatch(lab, pace)
        self.probes: list[tuple[float, bool]] = []  # (when, answered) since the fault
        self.recovery: int | None = None  # probes made when `recovered` first held
        self.fault_at: float | None = None
        self._run = random.randrange(1, 10**5)
        self._stop = threading.Event()
        self._numbers = itertools.count()
        # Two submitters: a keyed creation on Object Storage is a verified write (~1-2 s on
        # the loaded lab), and one client alone would submit too slowly to show the service.
        self._threads = [threading.Thread(target=loop, daemon=True)
                         for loop in (self._submit, self._submit, self._probe, self._sample,
                                      self._watch)]

    def __enter__(self) -> Observer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)
        took = sorted(s for s, _ in self.posts)
        if took:
            print(f"\nobserver: {len(took)} POSTs, {sum(not ok for _, ok in self.posts)} "
                  f"unanswered, p50 {took[len(took) // 2]:.2f} s, max {took[-1]:.2f} s; "
                  f"{len(self.accepted)} accepted; {self.address.samples} address samples; "
                  f"{self.failed_after_recovery} probes failed after the recovery")

    def fault(self) -> None:
        self.fault_at = time.monotonic()

    def _submit(self) -> None:
        while not self._stop.wait(self.submit_every):
            n = next(self._numbers)
            marker = -2.2 - (self._run * 10**4 + n) * 1e-12
            self.markers.append(marker)
            body = {"width": 48, "height": 48, "iterations": 64, "xa": marker}
            key = {"Idempotency-Key": f"observer-{self._run}-{n}"}
            # As a client does (the CLI, the workers): the same request with the same key,
            # backing off, until it is answered (through the outage) or the test ends.
            backoff = Backoff(maximum=2.0)
            while not self._stop.is_set():
                began = time.monotonic()
                record = self.lab.client("POST", "/v1/fractals", body, timeout=5, headers=key)
                self.posts.append((time.monotonic() - began, record is not None))
                if record:
                    self.accepted.append(record["uuid"])
                    self.marked[record["uuid"]] = marker
                    break
                self._stop.wait(backoff.next_delay())

    def _probe(self) -> None:
        while not self._stop.wait(self.probe_every):
            answered = self.lab.client("GET", "/healthz", timeout=0.5) is not None
            if self.fault_at is not None:
                self.probes.append((time.monotonic(), answered))

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            state = self.lab.status()  # the quorate partition's view
            if state and state.quorate:
                self.holders.append(state.serving("fractal-ip"))

    def _watch(self) -> None:
        while not self._stop.wait(self.pace.watch_every):
            self.address.sample()

    @property
    def recovered(self) -> bool:
        """The fault was felt (a probe failed) and the last three probes answered. The first
        time it holds is the recovery (self.recovery: how many probes had been made)."""
        probes = list(self.probes)
        ok = (any(not ok for _, ok in probes) and len(probes) >= 3
              and all(ok for _, ok in probes[-3:]))
        if ok and self.recovery is None:
            self.recovery = len(probes)
        return ok

    @property
    def downtime(self) -> float:
        """From the fault to the first answer after the last failed probe before the recovery
        (a probe failing later, e.g. one curl timing out on a starved VM, is counted apart:
        failed_after_recovery)."""
        assert self.fault_at is not None and self.recovery is not None, \
            "the service never came back"
        probes = list(self.probes)[:self.recovery]
        last_failure = max(i for i, (_, ok) in enumerate(probes) if not ok)
        return probes[last_failure + 1][0] - self.fault_at

    @property
    def longest_silence(self) -> float:
        """The longest time without an answer: from a failed probe to the next answered one
        (one still failing at the end: to that last probe, plus one probe's pace)."""
        longest, since, last = 0.0, None, None
        for when, ok in list(self.probes):
            if not ok and since is None:
                since = when
            elif ok and since is not None:
                longest, since = max(longest, when - since), None
            last = when
        if since is not None and last is not None:
            longest = max(longest, last - since + self.probe_every)
        return longest

    @property
    def failed_after_recovery(self) -> int:
        return 0 if self.recovery is None else sum(
            not ok for _, ok in list(self.probes)[self.recovery:])

    def assert_no_split_brain(self) -> None:
        """The service address never answered from two nodes: neither the quorate side's view
        nor the router's NAT nor any node's own devices had it twice, and the answers through
        it (from the client and from each node, the isolated and lost ones included) never
        came from two nodes in turn. (Every node runs an API: two API processes are normal.)"""
        assert self.holders, "no crm_mon sample was taken"
        # (crm_mon itself is no check: it lists a migrating address on both nodes, from
        # migrate_to to the source's stop, while Neutron has it on one port)
        self.address.assert_never_two()

    def assert_nothing_lost(self, timeout: float = 120) -> None:
        """Every acknowledged fractal ends up done, and no submission is stored twice: the
        store's fractals are counted by each submission's marker."""
        assert self.accepted, "no fractal was accepted during the test"

        def all_done() -> bool:
            return all((self.lab.client("GET", f"/v1/fractals/{u}") or {}).get("state") == "done"
                       for u in self.accepted)

        wait_until(all_done, timeout, f"{len(self.accepted)} fractals to be done", interval=1)
        stored = Counter(f["xa"] for f in list_all(self.lab))
        twice = stored_twice(stored, self.markers)
        assert not twice, f"submissions stored more than once: {twice}"
        assert all(stored[self.marked[u]] == 1 for u in self.accepted)


def full_state(lab: Cluster, node_name: str) -> crm_mon.ClusterState:
    """The cluster with its whole fencing history and operation history, from `node_name`."""
    xml = lab.node(node_name).exec(["crm_mon", "-1", "--output-as=xml", "--fence-history=3",
                                    "--include=operations"]).stdout
    return crm_mon.parse(xml)


def assert_fenced_and_taken_over(lab: Cluster, victim: str, survivor: str,
                                 timeout: float = 60.0) -> float:
    """The lost node was fenced through the cloud (within `timeout`), and the survivor started
    the address (requires=quorum: without waiting for the fencing, so the fencing may still
    be running when the service answers). Returns how long after the fencing completed the
    address started (negative: before; one-second resolution)."""
    def fenced_view() -> crm_mon.ClusterState | None:
        state = full_state(lab, survivor)
        done = any(e.target == victim and e.status == "success" for e in state.fence_events)
        return state if done else None

    try:
        state = wait_until(fenced_view, timeout, f"{victim} fenced", interval=0.5)
    except AssertionError:
        raise AssertionError(f"{victim} was not fenced within {timeout:.0f} s: "
                             f"{full_state(lab, survivor).fence_events}") from None
    fenced = [e for e in state.fence_events if e.target == victim and e.status == "success"]
    starts = [op.last_rc_change for h in state.history
              if h.resource == "fractal-ip" and h.node == survivor
              for op in h.operations if op.task == "start" and op.last_rc_change]
    assert starts, "no start of the address on the survivor in its history"
    return max(starts) - max(e.completed or 0 for e in fenced)
